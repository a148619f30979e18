"""Serving checked against the validation record beyond vLLM's flags: library versions
(runtime.library-versions) and TGI/SGLang chat templates and sampling defaults.

Fixtures in tests/fixtures/eval (README there): lm-eval results (vLLM backend, transformers 4.53.2 /
torch 2.7.1; HF backend, 4.46.3 / 2.5.1), an MLflow model pinning vllm 0.6.4.post1, and the evaluated
Llama-3.1-70B served by TGI 3.3.7 and SGLang 0.5.3 (tests/fixtures/eval/serving).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import EXAMPLES, skewaudit
from evalrecords import EVAL, HF, MANIFEST, MODEL_DIR, SGLANG, TGI, VLLM


def _results(record: Path, manifest: Path, target: str, *extra: str | Path) -> dict[tuple[str, str], dict]:
    r = skewaudit("diff", "--intent-from-eval", record, "--eval-model-dir", MODEL_DIR, "--eval-target", target,
                  "--manifest", manifest, "--format", "json", "--show-matches", *extra)
    assert r.code in (0, 1), r.err
    return {(x["check"], x["field"]): x for x in json.loads(r.out)["results"]}


def _lib(results: dict, lib: str) -> dict:
    return results[("runtime.library-versions", f"spec.validation.libraries.{lib}.version")]


def _copy(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    text = source.read_text()
    assert old in text
    out = tmp_path / f"{source.stem}-{abs(hash(new)) % 10_000}.yaml"
    out.write_text(text.replace(old, new))
    return out


# --- runtime.library-versions ---------------------------------------------------------------------------

def test_an_older_transformers_and_torch_at_evaluation_are_warnings_naming_both_sources():
    res = _results(HF, MANIFEST, "deployment/llama-3-1-70b")
    torch, tf = _lib(res, "torch"), _lib(res, "transformers")
    assert torch["status"] == tf["status"] == "drift" and torch["level"] == tf["level"] == "warning"
    # vLLM 0.10.0 pins torch==2.7.1: the evaluated 2.5.1 came from lm-eval's environment report
    assert "2.5.1+cu124 at evaluation (lm-eval-hf-results.json pretty_env_info (PyTorch version))" in torch["message"]
    assert "2.7.1 (vLLM 0.10.0 pins torch==2.7.1 (image tag v0.10.0))" in torch["message"]
    # only a floor for transformers, but it lies above the evaluated minor: a difference for certain
    assert tf["observed"][0]["value"] == ">=4.53.2"
    assert "4.46.3 at evaluation (lm-eval-hf-results.json transformers_version)" in tf["message"]
    assert "vLLM 0.10.0 requires transformers>=4.53.2" in tf["message"]


def test_the_same_minor_matches_and_a_floor_alone_is_unverifiable_never_a_pass():
    res = _results(VLLM, MANIFEST, "deployment/llama-3-1-70b")
    assert _lib(res, "torch")["status"] == "match"
    tf = _lib(res, "transformers")
    assert tf["status"] == "unverifiable"
    assert "requires only transformers>=4.53.2" in tf["reason"] and "cannot be told" in tf["reason"]


def test_unknown_engine_releases_are_unverifiable_with_the_reason(tmp_path):
    latest = _copy(tmp_path, MANIFEST, "vllm/vllm-openai:v0.10.0@", "vllm/vllm-openai:latest@")
    tf = _lib(_results(HF, latest, "deployment/llama-3-1-70b"), "transformers")
    assert tf["status"] == "unverifiable" and "no version tag" in tf["reason"]
    unrecorded = _copy(tmp_path, MANIFEST, "vllm/vllm-openai:v0.10.0@", "vllm/vllm-openai:v0.9.1@")
    tf = _lib(_results(HF, unrecorded, "deployment/llama-3-1-70b"), "transformers")
    assert tf["status"] == "unverifiable" and "no record of the transformers vLLM 0.9.1 installs" in tf["reason"]
    own = _copy(tmp_path, MANIFEST, "vllm/vllm-openai:v0.10.0@", "registry.example/team/llm:0.10.0@")
    tf = _lib(_results(HF, own, "deployment/llama-3-1-70b"), "transformers")
    assert tf["status"] == "unverifiable" and "not an official vLLM image" in tf["reason"]


def test_tgi_and_sglang_releases_pin_their_transformers():
    tgi = _lib(_results(HF, TGI, "deployment/llama-3-1-70b-tgi"), "transformers")
    assert tgi["status"] == "drift" and "TGI 3.3.7 pins transformers==4.51.0 (image tag 3.3.7)" in tgi["message"]
    sgl = _results(VLLM, SGLANG, "deployment/llama-3-1-70b-sglang")
    assert _lib(sgl, "transformers")["observed"][0]["value"] == "4.57.0"
    assert _lib(sgl, "torch")["status"] == "drift" and "SGLang 0.5.3 pins torch==2.8.0" in _lib(sgl, "torch")["message"]


def test_engine_version_from_mlflow_requirements(tmp_path):
    spec = tmp_path / "spec.yaml"
    r = skewaudit("init", "--from-eval", HF, "--mlflow-model", EVAL / "mlflow-model", "--model-dir", MODEL_DIR,
                  "--target", "deployment/llama-3-1-70b", "-o", spec)
    assert r.code == 0, r.err
    text = spec.read_text()
    assert 'version: "0.6.4.post1"' in text and 'source: "requirements.txt vllm==0.6.4.post1"' in text
    text = text.replace("      # TODO vendor: e.g. nvidia (required: the record says nothing about hardware)\n",
                        "      vendor: nvidia\n").replace(
        "      # TODO type: the accelerator class served on, e.g. h100 (required)\n", "      type: a100-80gb\n").replace(
        "      # TODO count: accelerators per replica (required)\n", "      count: 4\n").replace(
        "      # TODO framework: the serving engine, e.g. vllm (required)\n", "      framework: vllm\n")
    spec.write_text(text)
    d = skewaudit("diff", spec, "--manifest", MANIFEST, "--format", "json")
    assert d.code == 1, d.err
    vllm = next(x for x in json.loads(d.out)["results"] if x["field"] == "spec.validation.libraries.vllm.version")
    assert vllm["status"] == "drift" and vllm["level"] == "warning"
    assert "0.6.4.post1 at evaluation (requirements.txt vllm==0.6.4.post1)" in vllm["message"]
    assert "0.10.0 (vLLM 0.10.0 (image tag v0.10.0))" in vllm["message"]
    # the same engine version matches, and a different engine is not compared by version
    d = skewaudit("diff", spec, "--manifest", _copy(tmp_path, MANIFEST, "v0.10.0@", "v0.6.4.post1@"),
                  "--format", "json", "--show-matches")
    vllm = next(x for x in json.loads(d.out)["results"] if x["field"] == "spec.validation.libraries.vllm.version")
    assert vllm["status"] == "match"


@pytest.mark.parametrize("value, needle", [
    ('"transformers_version": 4.46', "transformers_version must be a version string"),
    ('"transformers_version": "four"', "transformers_version must be a version string"),
])
def test_a_malformed_version_in_the_record_is_one_line_exit_2(tmp_path, value, needle):
    bad = tmp_path / "results.json"
    bad.write_text(HF.read_text().replace('"transformers_version": "4.46.3"', value))
    for args in (["init", "--from-eval", bad], ["diff", "--intent-from-eval", bad, "--manifest", MANIFEST]):
        r = skewaudit(*args)
        assert r.code == 2 and needle in r.err and "results.json" in r.err, r.err
        assert len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err


def test_a_malformed_library_version_in_a_spec_is_located(tmp_path):
    spec = tmp_path / "spec.yaml"
    text = (EXAMPLES / "llama-3.1-70b-vllm.yaml").read_text()
    spec.write_text(text + "  validation:\n    libraries:\n      transformers:\n        version: [4, 46]\n")
    r = skewaudit("validate", spec)
    assert r.code == 2 and "Traceback" not in r.err
    line = next(x for x in r.err.splitlines() if "libraries" in x)
    assert line.startswith(f"{spec}:") and "spec.validation.libraries.transformers.version" in line


# --- TGI and SGLang: chat template and sampling defaults --------------------------------------------------

def test_tgi_uses_the_tokenizer_template_and_samples_at_temperature_one(tmp_path):
    res = _results(VLLM, TGI, "deployment/llama-3-1-70b-tgi")
    tmpl = res[("model.chat-template", "spec.validation.chatTemplateSha")]
    assert tmpl["status"] == "match" and "TGI has no --chat-template flag" in tmpl["observed"][0]["note"]
    gen = res[("runtime.generation-defaults", "spec.validation.sampling.temperature")]
    assert gen["status"] == "drift" and gen["observed"][0]["value"] == 1.0
    assert "TGI 3.3.7's OpenAI-compatible endpoints" in gen["observed"][0]["note"]
    # a replaced tokenizer config (env, as the launcher reads it) carries its own template: unverifiable
    own = _copy(tmp_path, TGI, "            - {name: PORT, value: \"80\"}\n",
                "            - {name: PORT, value: \"80\"}\n"
                "            - {name: TOKENIZER_CONFIG_PATH, value: /config/tokenizer_config.json}\n")
    tmpl = _results(VLLM, own, "deployment/llama-3-1-70b-tgi")[("model.chat-template", "spec.validation.chatTemplateSha")]
    assert tmpl["status"] == "unverifiable" and "/config/tokenizer_config.json" in tmpl["reason"]
    # a release whose defaults are not recorded: unverifiable, with the reason
    old = _copy(tmp_path, TGI, "text-generation-inference:3.3.7", "text-generation-inference:2.0.4")
    gen = _results(VLLM, old, "deployment/llama-3-1-70b-tgi")[("runtime.generation-defaults",
                                                               "spec.validation.sampling.temperature")]
    assert gen["status"] == "unverifiable" and "TGI 2.0.4" in gen["reason"]


def test_tgi_defaults_match_an_evaluation_that_sampled_at_temperature_one(tmp_path):
    record = tmp_path / "sampled.json"
    record.write_text(VLLM.read_text().replace('"temperature": 0.0', '"temperature": 1.0')
                      .replace('"do_sample": false', '"do_sample": true'))
    gen = _results(record, TGI, "deployment/llama-3-1-70b-tgi")[("runtime.generation-defaults",
                                                                 "spec.validation.sampling.temperature")]
    assert gen["status"] == "match", gen


def test_sglang_defaults_follow_its_release_and_sampling_defaults_flag(tmp_path):
    key = ("runtime.generation-defaults", "spec.validation.sampling.temperature")
    gen = _results(VLLM, SGLANG, "deployment/llama-3-1-70b-sglang")[key]
    assert gen["status"] == "drift" and gen["observed"][0]["value"] == 0.7 and "SGLang 0.5.3" in gen["observed"][0]["note"]
    new = _copy(tmp_path, SGLANG, "sglang:v0.5.3-cu126", "sglang:v0.5.4-cu129")
    gen = _results(VLLM, new, "deployment/llama-3-1-70b-sglang")[key]
    # 0.5.4 applies the model's generation_config.json (temperature 0.6) to chat requests by default
    assert gen["observed"][0]["value"] == 0.6 and "--sampling-defaults" not in gen["observed"][0]["note"]
    assert "default for SGLang 0.5.4" in gen["observed"][0]["note"]
    openai = _copy(tmp_path, new, "            - --port=30000\n",
                   "            - --port=30000\n            - --sampling-defaults=openai\n")
    gen = _results(VLLM, openai, "deployment/llama-3-1-70b-sglang")[key]
    assert gen["observed"][0]["value"] == 1.0 and "--sampling-defaults openai" in gen["observed"][0]["note"]
    # without the model directory the generation_config.json serving applies is unknown
    r = skewaudit("diff", "--intent-from-eval", VLLM, "--eval-target", "deployment/llama-3-1-70b-sglang",
                  "--manifest", new, "--format", "json")
    gen = next(x for x in json.loads(r.out)["results"] if x["check"] == "runtime.generation-defaults")
    assert gen["status"] == "unverifiable" and "--model-dir" in gen["reason"]


@pytest.mark.parametrize("flag, needle", [
    ("--chat-template=llama-3-instruct", "built-in conversation template"),
    ("--chat-template=/templates/llama.jinja", "/templates/llama.jinja is a file"),
])
def test_sglang_chat_template_overrides_are_unverifiable_with_the_reason(tmp_path, flag, needle):
    m = _copy(tmp_path, SGLANG, "            - --port=30000\n", f"            - --port=30000\n            - {flag}\n")
    tmpl = _results(VLLM, m, "deployment/llama-3-1-70b-sglang")[("model.chat-template",
                                                                 "spec.validation.chatTemplateSha")]
    assert tmpl["status"] == "unverifiable" and needle in tmpl["reason"]
    clean = _results(VLLM, SGLANG, "deployment/llama-3-1-70b-sglang")[("model.chat-template",
                                                                      "spec.validation.chatTemplateSha")]
    assert clean["status"] == "match"


def test_validate_warns_when_the_spec_allows_an_engine_version_never_evaluated(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text((EXAMPLES / "llama-3.1-70b-vllm.yaml").read_text())
    r = skewaudit("validate", spec, "--mlflow-model", EVAL / "mlflow-model")
    assert r.code == 0, r.err
    line = next(x for x in r.err.splitlines() if "spec.runtime.engine.version" in x)
    assert line.startswith(f"{spec}:") and ": warning: " in line
    assert 'spec vllm 0.10.0, evaluated with vllm 0.6.4.post1 (requirements.txt vllm==0.6.4.post1)' in line
    # a constraint the evaluated version satisfies: no warning
    spec.write_text(spec.read_text().replace('version: "0.10.0"', 'version: ">=0.6,<0.11"'))
    r = skewaudit("validate", spec, "--mlflow-model", EVAL / "mlflow-model")
    assert r.code == 0 and "spec.runtime.engine.version" not in r.err, r.err


def test_a_malformed_mlflow_transformers_version_is_one_line_exit_2(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "MLmodel").write_text((EVAL / "mlflow-model" / "MLmodel").read_text().replace(
        "transformers_version: 4.46.3", "transformers_version: {major: 4}"))
    r = skewaudit("init", "--mlflow-model", model)
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "Traceback" not in r.err
    assert "MLmodel" in r.err and "flavors.transformers.transformers_version must be a version string" in r.err
