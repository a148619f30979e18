"""Intent from the validation run: init --from-eval, validate --against-eval, diff --intent-from-eval.

Fixtures in tests/fixtures/eval (README there says what each follows): lm-evaluation-harness results for
the vLLM and HF backends, a Hugging Face cache snapshot of a Llama-3.1-style model, an MLflow model.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import EXAMPLES, skewaudit
from evalrecords import DRIFTED, EVAL, HF, MANIFEST, MODEL_DIR, REV, VLLM


def _fill_hardware(path: Path) -> None:
    text = path.read_text()
    text = text.replace("      # TODO vendor: e.g. nvidia (required: the record says nothing about hardware)\n",
                        "      vendor: nvidia\n")
    text = text.replace("      # TODO type: the accelerator class served on, e.g. h100 (required)\n",
                        "      type: a100-80gb\n")
    path.write_text(text)


def test_init_from_eval_writes_each_value_with_its_source_and_todos(tmp_path):
    out = tmp_path / "spec.yaml"
    r = skewaudit("init", "--from-eval", VLLM, "--model-dir", MODEL_DIR, "--target", "deployment/llama-3-1-70b",
                  "-o", out)
    assert r.code == 0, r.err
    text = out.read_text()
    assert "apiVersion: skewaudit.io/v1alpha1" in text
    assert "id: meta-llama/Llama-3.1-70B-Instruct  # from lm-eval-vllm-results.json config.model_args.pretrained" in text
    assert "maxModelLen: 8192  # from lm-eval-vllm-results.json config.model_args.max_length" in text
    assert "tensorParallelSize: 4  # from lm-eval-vllm-results.json config.model_args.tensor_parallel_size" in text
    assert f'revision: "{REV}"' in text and "dtype: bfloat16" in text and "quantization: none" in text
    assert "task: chat" in text and "family: llama-3.1" in text
    # hardware is not in a validation record: required TODOs, named on stderr, never a placeholder value
    assert "# TODO vendor" in text and "# TODO type" in text and "unknown" not in text
    assert "TODO vendor" in r.err
    # the owner fills in the hardware: it validates and diffs clean against the matching manifest
    _fill_hardware(out)
    v = skewaudit("validate", out, "--against-eval", VLLM, "--model-dir", MODEL_DIR)
    assert v.code == 0 and "warning" not in v.err, v.err
    d = skewaudit("diff", out, "--manifest", _greedy_manifest(tmp_path))
    assert d.code == 0, d.out
    assert "0 drifted" in d.out.strip().splitlines()[-1]
    # the example manifest as shipped serves the model's sampling defaults (vLLM 0.10.0), not greedy
    d = skewaudit("diff", out, "--manifest", MANIFEST)
    assert d.code == 1 and "runtime.generation-defaults" in d.out


def test_mlflow_model_alone_gives_model_and_revision(tmp_path):
    r = skewaudit("init", "--mlflow-model", EVAL / "mlflow-model")
    assert r.code == 0, r.err
    assert "id: meta-llama/Llama-3.1-70B-Instruct  # from MLmodel flavors.transformers.source_model_name" in r.out
    assert f'revision: "{REV}"  # from MLmodel flavors.transformers.source_model_revision' in r.out
    assert "precision: bf16" in r.out and "task: text-generation" in r.out


def _greedy_manifest(tmp_path: Path, source: Path = MANIFEST, extra: str = "") -> Path:
    """The example manifest with serving defaults set to the evaluated greedy sampling."""
    text = source.read_text().replace("            - --port=8000\n",
                                      "            - --port=8000\n"
                                      "            - '--override-generation-config={\"temperature\": 0.0}'\n" + extra)
    p = tmp_path / source.name
    p.write_text(text)
    return p


def test_diff_against_the_record_catches_what_was_never_evaluated(tmp_path):
    clean = skewaudit("diff", "--intent-from-eval", VLLM, "--eval-model-dir", MODEL_DIR, "--eval-target",
                      "deployment/llama-3-1-70b", "--manifest", _greedy_manifest(tmp_path), "--format", "json")
    assert clean.code == 0, clean.out
    r = skewaudit("diff", "--intent-from-eval", VLLM, "--eval-model-dir", MODEL_DIR, "--eval-target",
                  "llama-3-1-70b", "--manifest", DRIFTED, "--format", "json")
    assert r.code == 1
    drift = {x["check"]: x for x in json.loads(r.out)["results"] if x["status"] == "drift"}
    assert set(drift) == {"runtime.dtype", "runtime.max-model-len", "runtime.quantization"}
    # the drifted image is :latest: which sampling defaults it applies depends on a version nobody pinned
    gen = next(x for x in json.loads(r.out)["results"] if x["check"] == "runtime.generation-defaults")
    assert gen["status"] == "unverifiable" and "version" in gen["reason"]
    assert drift["runtime.max-model-len"]["expected"] == 8192
    assert [e["value"] for e in drift["runtime.max-model-len"]["observed"]] == [32768]
    assert [e["value"] for e in drift["runtime.quantization"]["observed"]] == ["fp8"]
    # hardware is not compared against a validation record (the drifted A100-40GB pool is not a finding here)
    assert not any(x["check"].startswith("hardware.") for x in json.loads(r.out)["results"])


def test_validate_against_eval_warns_where_the_spec_claims_more_than_was_evaluated(tmp_path):
    spec = tmp_path / "spec.yaml"
    text = (EXAMPLES / "llama-3.1-70b-vllm.yaml").read_text()
    text = text.replace("maxModelLen: 8192 ", "maxModelLen: 32768").replace("dtype: bfloat16 ", "dtype: float16 ")
    spec.write_text(text)
    r = skewaudit("validate", spec, "--against-eval", HF, "--model-dir", MODEL_DIR)
    assert r.code == 0, r.err
    lines = [line for line in r.err.splitlines() if "warning" in line]
    by_field = {line.split(": warning: ")[1].split(":")[0]: line for line in lines}
    assert "evaluated with max_length 4096" in by_field["spec.runtime.engine.maxModelLen"]
    assert "never validated" in by_field["spec.runtime.engine.maxModelLen"]
    assert "spec dtype float16, evaluated bfloat16" in by_field["spec.runtime.engine.dtype"]
    # located: file:line:col of the field in the spec
    loc = by_field["spec.runtime.engine.maxModelLen"].split(": warning")[0]
    assert loc.startswith(str(spec)) and int(loc.split(":")[-2]) > 1


def test_context_above_the_model_position_limit_without_rope_scaling(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    cfg = json.loads((MODEL_DIR / "config.json").read_text())
    cfg.pop("rope_scaling")
    cfg["max_position_embeddings"] = 8192
    (model / "config.json").write_text(json.dumps(cfg))
    spec = tmp_path / "spec.yaml"
    spec.write_text((EXAMPLES / "llama-3.1-70b-vllm.yaml").read_text().replace("maxModelLen: 8192 ", "maxModelLen: 16384"))
    r = skewaudit("validate", spec, "--model-dir", model)
    assert r.code == 0 and "above the model's max_position_embeddings 8192" in r.err and "no rope_scaling" in r.err


@pytest.mark.parametrize("name, content, needle", [
    ("notjson.json", "{ not json", "not valid JSON"),
    ("list.json", "[1, 2]", "not an lm-evaluation-harness results file"),
    ("args.json", json.dumps({"results": {}, "config": {"model": "vllm", "model_args": 7}}), "config.model_args"),
    ("pair.json", json.dumps({"results": {}, "config": {"model": "vllm", "model_args": "pretrained"}}),
     "is not key=value"),
    ("tp.json", json.dumps({"results": {}, "config": {"model": "vllm", "model_args": {"tensor_parallel_size": "x"}}}),
     "tensor_parallel_size must be an integer"),
    ("deep.json", '{"results": {}, "config": ' + "[" * 100_000 + "]" * 100_000 + "}", "nests too deeply"),
])
def test_malformed_records_are_one_line_exit_2(tmp_path, name, content, needle):
    p = tmp_path / name
    p.write_text(content)
    for args in (["init", "--from-eval", p], ["diff", "--intent-from-eval", p, "--manifest", MANIFEST],
                 ["validate", EXAMPLES / "llama-3.1-70b-vllm.yaml", "--against-eval", p]):
        r = skewaudit(*args)
        assert r.code == 2, (args, r.err)
        assert needle in r.err and name in r.err and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_missing_mlmodel_and_model_dir_are_input_errors(tmp_path):
    r = skewaudit("init", "--mlflow-model", tmp_path)
    assert r.code == 2 and "no MLmodel file" in r.err
    (tmp_path / "MLmodel").write_text("flavors: " + "[" * 50_000 + "]" * 50_000 + "\n")
    r = skewaudit("init", "--mlflow-model", tmp_path)
    assert r.code == 2 and "MLmodel" in r.err and "nests too deeply" in r.err and "Traceback" not in r.err
    r = skewaudit("init", "--from-eval", VLLM, "--model-dir", tmp_path / "nope")
    assert r.code == 2 and "not a directory" in r.err


def test_generation_defaults_follow_the_vllm_version_and_flags(tmp_path):
    args = ("diff", "--intent-from-eval", VLLM, "--eval-model-dir", MODEL_DIR, "--eval-target",
            "deployment/llama-3-1-70b", "--format", "json", "--manifest")

    def result(manifest: Path) -> dict:
        r = skewaudit(*args, manifest)
        return next(x for x in json.loads(r.out)["results"] if x["check"] == "runtime.generation-defaults")

    # vLLM 0.10.0 applies the model's generation_config.json (temperature 0.6); evaluation ran greedy
    r = result(MANIFEST)
    assert r["status"] == "drift" and r["observed"][0]["value"] == 0.6
    assert "generation_config.json (default for vLLM 0.10.0)" in r["observed"][0]["note"]
    # before 0.8.0 the default was vLLM's own (temperature 1.0): still not what was evaluated
    old = tmp_path / "old.yaml"
    old.write_text(MANIFEST.read_text().replace("vllm/vllm-openai:v0.10.0@", "vllm/vllm-openai:v0.7.3@"))
    r = result(old)
    assert r["status"] == "drift" and r["observed"][0]["value"] == 1.0
    # an image that does not say its vLLM version: unverifiable, with the reason
    custom = tmp_path / "custom.yaml"
    custom.write_text(MANIFEST.read_text().replace("vllm/vllm-openai:v0.10.0@", "registry.example/team/llm:1.2@"))
    r = result(custom)
    assert r["status"] == "unverifiable" and "depends on the vLLM version" in r["reason"]


def test_chat_template_override_is_compared_by_hash(tmp_path):
    args = ("diff", "--intent-from-eval", VLLM, "--eval-model-dir", MODEL_DIR, "--eval-target",
            "deployment/llama-3-1-70b", "--format", "json", "--manifest")

    def result(extra: str) -> dict:
        r = skewaudit(*args, _greedy_manifest(tmp_path, extra=extra))
        return next(x for x in json.loads(r.out)["results"] if x["check"] == "model.chat-template")

    assert result("")["status"] == "match"
    inline = result("            - '--chat-template={% for m in messages %}{{ m.content }}{% endfor %}'\n")
    assert inline["status"] == "drift" and "inline --chat-template" in inline["observed"][0]["note"]
    path = result("            - --chat-template=/templates/chat.jinja\n")
    assert path["status"] == "unverifiable" and "/templates/chat.jinja" in path["reason"]
