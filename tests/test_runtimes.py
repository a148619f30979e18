"""Engine parsers: the table cases in tests/argv/<engine>.yaml, the registry, detection,
number parsing and secret handling."""

from __future__ import annotations

import importlib
import pathlib

import msgspec
import pytest
import yaml

from skewaudit.model.observed import ENGINE_FIELDS, Prov
from skewaudit.runtimes import ContainerInput, detect, effective_argv, engines, parse
from skewaudit.runtimes._argv import sglang_int, vllm_int

TABLES = pathlib.Path(__file__).parent / "argv"
BASE = "spec.containers[0]"
MIN_CASES = {"vllm": 8, "tgi": 8, "sglang": 8, "kserve_hf": 4, "triton": 2}
_MISSING = object()


def _module_names() -> list[str]:
    import pkgutil

    import skewaudit.runtimes as pkg

    return sorted(m.name for m in pkgutil.iter_modules(pkg.__path__) if not m.name.startswith("_"))


def _cases():
    for table in sorted(TABLES.glob("*.yaml")):
        for i, case in enumerate(yaml.safe_load(table.read_text())["cases"]):
            yield pytest.param(table.stem, case, id=f"{table.stem}:{i}:{case['name']}")


def _run(case: dict):
    env = {k: (None if v is None else str(v)) for k, v in (case.get("env") or {}).items()}
    res = effective_argv(case.get("command"), case.get("args"), env, case.get("image", ""), BASE)
    prov = {k: Prov(**v) for k, v in (case.get("env_prov") or {}).items()}
    ci = ContainerInput(argv=res.argv, arg_paths=res.paths, env=env, env_prov=prov, image=case.get("image", ""),
                        object="Deployment/ml/llm", container="server", note=res.note)
    return res, parse(ci)


@pytest.mark.parametrize("table, case", list(_cases()))
def test_argv_table(table: str, case: dict) -> None:
    res, facts = _run(case)
    exp = case["expect"]
    if exp.get("none"):
        assert facts is None
        return
    assert facts is not None, f"no engine recognised for {res.argv!r}"
    for key in ("engine", "detected_by", "confidence", "entrypoint", "config_file"):
        if key in exp:
            assert getattr(facts, key) == exp[key], key
    if "argv" in exp:
        assert res.argv == exp["argv"]
    if "argv_note" in exp:
        assert exp["argv_note"] in (res.note or "")
    if "unknown_args" in exp:
        assert facts.unknown_args == exp["unknown_args"]
    for tok in exp.get("unknown_contains", []):
        assert tok in facts.unknown_args
    blob = msgspec.json.encode(facts).decode()
    for secret in exp.get("unknown_absent", []):
        assert secret not in blob
    for text in exp.get("notes", []):
        assert any(text in n for n in facts.notes), (text, facts.notes)
    if exp.get("no_notes"):
        assert facts.notes == []
    for name, want in (exp.get("fields") or {}).items():
        if want == "absent":
            assert name not in facts.fields
            continue
        assert name in facts.fields, f"{name} missing; have {sorted(facts.fields)}"
        fact = facts.fields[name]
        if "value" in want:
            assert fact.value == want["value"] and type(fact.value) is type(want["value"]), (name, fact.value)
        for key, actual in (("source", fact.prov.source), ("path", fact.prov.path), ("raw", fact.raw)):
            if key in want:
                assert actual == want[key], (name, key, actual)
        if "note" in want and want["note"] is None:
            assert fact.note is None, (name, fact.note)
        elif "note" in want:
            assert want["note"] in (fact.note or ""), (name, fact.note)
        assert fact.prov.object == "Deployment/ml/llm" and fact.prov.container == "server" or \
            fact.prov.source in ("env", "configmap", "secret")


def test_every_engine_module_has_its_table_and_enough_cases() -> None:
    modules = _module_names()
    assert set(modules) >= {"vllm", "tgi", "sglang", "kserve_hf", "triton"}
    tables = {p.stem for p in TABLES.glob("*.yaml")}
    assert tables == set(modules), "one tests/argv/<module>.yaml per engine module, and no stale tables"
    for name in modules:
        mod = importlib.import_module(f"skewaudit.runtimes.{name}")
        cases = yaml.safe_load((TABLES / f"{name}.yaml").read_text())["cases"]
        assert len(cases) >= MIN_CASES.get(name, 2), name
        assert callable(mod.matches) and callable(mod.parse) and isinstance(mod.ENGINE, str)
        produced = {c["expect"].get("engine") for c in cases} - {None}
        assert produced <= {mod.ENGINE, "tensorrt-llm"}, (name, produced)


def test_engines_are_sorted_names() -> None:
    assert engines() == ["kserve-hf", "llama-cpp", "nim", "sglang", "tensorrt-llm", "tgi", "triton", "vllm"]


@pytest.mark.parametrize("argv, image, env, want", [
    (["vllm", "serve", "m"], "ghcr.io/huggingface/text-generation-inference:3", {}, ("vllm", "argv: vllm serve", "high")),
    (["/entry.sh"], "lmsysorg/sglang:v0.5.2-cu126", {}, ("sglang", "image: lmsysorg/sglang", "medium")),
    (None, "registry.local/serving:1", {"MODEL_ID": "x"}, ("tgi", "env: MODEL_ID", "low")),
    (["python3", "-u", "-m", "sglang.launch_server", "--model-path", "m"], "vllm/vllm-openai:v0.10.0", {},
     ("sglang", "argv: python -m sglang.launch_server", "high")),
    (["tini", "--", "text-generation-launcher"], "", {}, ("tgi", "argv: text-generation-launcher", "high")),
    (["env", "A=1", "/usr/local/bin/vllm", "serve", "m"], "", {}, ("vllm", "argv: vllm serve", "high")),
    (["nginx", "-g", "daemon off;"], "nginx:1.27", {}, None),
])
def test_detect_prefers_argv_then_image_then_env(argv, image, env, want) -> None:
    assert detect(argv, image, env) == want


def test_parse_returns_none_for_a_non_engine_container() -> None:
    ci = ContainerInput(["nginx"], ["spec.containers[1].command[0]"], {}, {}, "nginx:1.27", "Pod/ml/p", "sidecar")
    assert parse(ci) is None


@pytest.mark.parametrize("text, want", [
    ("1k", 1000), ("1K", 1024), ("32k", 32000), ("32K", 32768), ("25.6k", 25600), ("2m", 2_000_000),
    ("1M", 1_048_576), ("1g", 10**9), ("8192", 8192), ("1.5K", None), ("32Ki", None), ("big", None), ("-1", -1),
])
def test_vllm_human_readable_int(text, want) -> None:
    assert vllm_int(text) == want


@pytest.mark.parametrize("text, want", [
    ("32k", 32000), ("32Ki", 32768), ("1M", 1_000_000), ("1Mi", 1_048_576), ("2G", 2 * 10**9), ("4096", 4096),
    ("32K", None), ("32m", None), ("1.5Ki", None), ("", None),
])
def test_sglang_human_readable_int_is_case_sensitive(text, want) -> None:
    assert sglang_int(text) == want


@pytest.mark.parametrize("command, args, env, image", [
    (["vllm", "serve", "m", "--api-key", "s3cr3t-api-key-value", "--hf-token", "hf_AbCdEfGhIjKlMnOpQrSt"], None, {}, ""),
    (["/bin/sh", "-c"], ["vllm serve m --api-key=$(API_KEY) --hf-token $HF_TOKEN"],
     {"API_KEY": "s3cr3t-api-key-value", "HF_TOKEN": "hf_AbCdEfGhIjKlMnOpQrSt"}, ""),
    (["python", "-m", "sglang.launch_server", "--model-path", "m", "--api-key=s3cr3t-api-key-value",
      "--admin-api-key", "hf_AbCdEfGhIjKlMnOpQrSt"], None, {}, ""),
    (["text-generation-launcher", "--model-id", "m", "--api-key", "s3cr3t-api-key-value"], None,
     {"HF_TOKEN": "hf_AbCdEfGhIjKlMnOpQrSt"}, ""),
    (None, ["--model_id=m", "--api-key s3cr3t-api-key-value", "--hf-token", "hf_AbCdEfGhIjKlMnOpQrSt"], {},
     "kserve/huggingfaceserver:v0.15.0"),
    # flags no parser knows, secret only by their name
    (["vllm", "serve", "m", "--wandb-api-key", "s3cr3t-api-key-value", "--db-password=hf_AbCdEfGhIjKlMnOpQrSt"],
     None, {}, ""),
])
def test_secret_flag_values_never_reach_engine_facts(command, args, env, image) -> None:
    # parse() must be safe even when a caller forgets to redact argv first
    res = effective_argv(command, args, env, image, BASE)
    facts = parse(ContainerInput(res.argv, res.paths, env, {}, image, "Pod/ml/p", "c", res.note))
    assert facts is not None
    blob = msgspec.json.encode(facts).decode()
    assert "s3cr3t-api-key-value" not in blob and "hf_AbCdEfGhIjKlMnOpQrSt" not in blob
    assert "<redacted:" in blob


def test_every_engine_emits_only_canonical_fields() -> None:
    for argv in (["vllm", "serve", "m"], ["text-generation-launcher"], ["sglang", "serve", "m"],
                 ["python", "-m", "huggingfaceserver", "--model_id", "m", "--backend", "vllm"],
                 ["tritonserver"], ["trtllm-serve", "m"]):
        facts = parse(ContainerInput(argv, [""] * len(argv), {}, {}, "", "Pod/ml/p", "c"))
        assert facts is not None and facts.fields
        assert set(facts.fields) <= set(ENGINE_FIELDS), argv


def test_argv_none_makes_flag_fields_unknown_but_env_still_counts() -> None:
    # an image skewaudit has no ENTRYPOINT for: only env and the image name are known
    env = {"MODEL_ID": "tiiuae/falcon-7b"}
    res = effective_argv(None, None, env, "registry.local/text-generation-inference-fork:2", BASE)
    facts = parse(ContainerInput(res.argv, res.paths, env, {}, "registry.local/tgi-fork:2", "Pod/ml/p", "c", res.note))
    assert facts is not None and facts.engine == "tgi"
    assert facts.fields["model"].value == "tiiuae/falcon-7b"
    res2 = effective_argv(None, None, env, "registry.local/serving:2", BASE)
    assert res2.argv is None and "image ENTRYPOINT decides (registry.local/serving:2)" in res2.note
    facts2 = parse(ContainerInput(None, [], env, {}, "registry.local/serving:2", "Pod/ml/p", "c", res2.note))
    assert facts2.confidence == "low"
    assert facts2.fields["max_model_len"].prov.source == "unknown"
    assert facts2.fields["model"].prov.path == "env[MODEL_ID]"
