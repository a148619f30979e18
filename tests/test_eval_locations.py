"""``diff --intent-from-eval`` findings point into the validation record, never into a temporary spec.

The intent is held in memory; each finding's location is the record field its value came from: the
results JSON (line, column and key path; inside lm-eval's ``model_args`` string, the ``k=`` item), the
model directory's ``config.json`` / ``generation_config.json``. Fixtures: tests/fixtures/eval (README).
"""

from __future__ import annotations

import json
from pathlib import Path

from clirun import skewaudit
from evalrecords import DRIFTED, HF, MANIFEST, MODEL_DIR, VLLM


def _diff(record: Path, manifest: Path, *extra: str) -> tuple[int, dict, str]:
    r = skewaudit("diff", "--intent-from-eval", record, "--eval-model-dir", MODEL_DIR, "--eval-target",
                  "deployment/llama-3-1-70b", "--manifest", manifest, *extra)
    return r.code, r.out, r.err


def _at(loc: dict) -> str:
    """The record text at a finding's line and column."""
    return Path(loc["file"]).read_text().splitlines()[loc["line"] - 1][loc["col"] - 1:]


def test_findings_point_at_the_record_field_each_value_came_from():
    code, out, err = _diff(HF, DRIFTED, "--format", "json")
    assert code == 1, err
    results = {x["check"]: x for x in json.loads(out)["results"]}
    dtype = results["runtime.dtype"]["location"]
    # inside lm-eval's "pretrained=…,dtype=bfloat16" string: the dtype item itself
    assert dtype["file"] == str(HF) and dtype["key"] == "config.model_args.dtype"
    assert _at(dtype).startswith("dtype=bfloat16")
    # the HF record's max_length is a top-level key: its own line
    length = results["runtime.max-model-len"]["location"]
    assert length["key"] == "max_length" and _at(length).startswith('"max_length": 4096')
    # quantization "none" came from the model directory: config.json without quantization_config
    assert results["runtime.quantization"]["location"]["file"] == str(MODEL_DIR / "config.json")
    gen = results["runtime.generation-defaults"]["location"]
    assert gen["key"] == "configs.gsm8k.generation_kwargs.temperature" and _at(gen).startswith('"temperature"')
    lib = next(x for x in json.loads(out)["results"] if x["field"] == "spec.validation.libraries.transformers.version")
    assert _at(lib["location"]).startswith('"transformers_version": "4.46.3"')
    # nothing points into a spec file that no longer exists
    for x in json.loads(out)["results"]:
        assert Path(x["location"]["file"]).exists(), x
        assert "intent.yaml" not in x["location"]["file"]


def test_table_and_sarif_show_the_record_position(tmp_path):
    sarif = tmp_path / "out.sarif.json"
    code, out, _ = _diff(HF, DRIFTED, "--format", "table", "--output", "-", "--format", "sarif", "--output", sarif)
    assert code == 1
    assert f"{HF}:" in out and "(config.model_args.dtype)" in out and "intent.yaml" not in out
    runs = json.loads(sarif.read_text())["runs"][0]["results"]
    dtype = next(r for r in runs if r["ruleId"] == "runtime.dtype")
    where = dtype["locations"][0]["physicalLocation"]
    assert where["artifactLocation"]["uri"].endswith("lm-eval-hf-results.json")
    line = HF.read_text().splitlines()[where["region"]["startLine"] - 1]
    assert "dtype=bfloat16" in line


def test_clean_against_the_record_and_no_warning_about_placeholders(tmp_path):
    manifest = tmp_path / "greedy.yaml"
    manifest.write_text(MANIFEST.read_text().replace(
        "            - --port=8000\n",
        "            - --port=8000\n            - '--override-generation-config={\"temperature\": 0.0}'\n"))
    code, out, err = _diff(VLLM, manifest)
    assert code == 0, out
    # the audit spec's hardware placeholders are skewaudit's own: no warning names them or a temp file
    assert "warning" not in err and "/tmp" not in err


def test_a_record_value_the_spec_refuses_is_one_line_at_the_record(tmp_path):
    bad = tmp_path / "results.json"
    bad.write_text(VLLM.read_text().replace("max_length=8192", "max_length=-4"))
    code, out, err = _diff(bad, MANIFEST)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    where, _, rest = err.strip().partition(": config.model_args.max_length: ")
    assert rest, err
    file, line, col = where.rsplit(":", 2)
    assert file == str(bad)
    assert bad.read_text().splitlines()[int(line) - 1][int(col) - 1:].startswith("max_length=-4")


def test_mlflow_pins_are_located_at_their_requirements_line():
    mlflow = HF.parent / "mlflow-model"
    code, out, err = _diff(HF, MANIFEST, "--eval-mlflow-model", str(mlflow), "--format", "json")
    assert code == 1, err
    vllm = next(x for x in json.loads(out)["results"] if x["field"] == "spec.validation.libraries.vllm.version")
    assert vllm["status"] == "drift" and "requirements.txt vllm==0.6.4.post1" in vllm["message"]
    assert vllm["location"]["file"] == str(mlflow / "requirements.txt")
    assert _at(vllm["location"]) == "vllm==0.6.4.post1"


def test_values_from_the_mlmodel_point_at_its_yaml_key(tmp_path):
    mlflow = HF.parent / "mlflow-model"
    record = tmp_path / "results.json"
    record.write_text(HF.read_text().replace(",revision=1605565b47bb9346c5515c34102e054115b4f98b", ""))
    r = skewaudit("diff", "--intent-from-eval", record, "--eval-mlflow-model", mlflow, "--eval-target",
                  "deployment/llama-3-1-70b", "--manifest", MANIFEST, "--format", "json", "--show-matches")
    assert r.code in (0, 1), r.err
    rev = next(x for x in json.loads(r.out)["results"] if x["check"] == "model.revision")
    assert rev["status"] == "match" and rev["location"]["file"] == str(mlflow / "MLmodel")
    assert rev["location"]["key"] == "flavors.transformers.source_model_revision"
    assert _at(rev["location"]).startswith("source_model_revision: 1605565b")
