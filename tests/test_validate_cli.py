"""`skewaudit validate` and `skewaudit schema` as a user runs them: output lines and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clirun import main_inprocess as run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
SPECS = ROOT / "tests" / "fixtures" / "specs"

BASE = """\
apiVersion: skewaudit.io/v1alpha1
kind: ModelSpec
metadata:
  name: m
spec:
  identity:
    model:
      id: org/m
      family: f
      task: chat
      framework: vllm
      precision: {precision}
  runtime:
    accelerator:
      vendor: nvidia
      type: {gpu}
      count: {count}
    engine:
      name: {engine}
{engine_lines}
"""


def spec_text(*, precision="bf16", gpu="a100-80gb", count=1, engine="vllm", **engine_fields) -> str:
    lines = "\n".join(f"      {k}: {v}" for k, v in engine_fields.items()) or "      version: '0.10.0'"
    return BASE.format(precision=precision, gpu=gpu, count=count, engine=engine, engine_lines=lines)




@pytest.fixture
def validate(monkeypatch, capsys, tmp_path):
    """validate(text_or_bytes) -> (exit code, stdout, stderr with the file path replaced by 'spec.yaml')."""
    def _run(content: str | bytes, *, name: str = "spec.yaml") -> tuple[int, str, str]:
        path = tmp_path / name
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
        code, out, err = run(monkeypatch, capsys, "validate", str(path))
        return code, out.replace(str(path), name), err.replace(str(path), name)
    return _run


def test_examples_are_valid(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "validate", str(EXAMPLES))
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"{EXAMPLES}/llama-3.1-70b-vllm.yaml: ok (1 spec: llama-3-1-70b)",
        f"{EXAMPLES}/minimal-piqc.yaml: ok (1 spec: llama-3-8b-chat)",
        f"{EXAMPLES}/mistral-7b-sglang-h100.yaml: ok (1 spec: mistral-7b)",
        f"{EXAMPLES}/qwen2.5-7b-tgi-l4.yaml: ok (1 spec: qwen2-5-7b)",
    ]


def test_every_piqc_and_extension_shape_is_accepted(monkeypatch, capsys):
    files = [str(SPECS / "piqc-all-fields.yaml"), str(SPECS / "extensions-all-fields.yaml")]
    code, out, err = run(monkeypatch, capsys, "validate", *files)
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"{files[0]}: ok (1 spec: llama-2-70b-chat-prod)",
                                f"{files[1]}: ok (1 spec: every-extension)"]


def test_multi_document_file_and_directory(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "validate", str(SPECS / "fleet"))
    assert code == 0
    assert out.splitlines() == [f"{SPECS}/fleet/a-specs.yaml: ok (2 specs: first, second)",
                                f"{SPECS}/fleet/team-b/c.yml: ok (1 spec: third)"]


def test_stdin(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "validate", "-", stdin=spec_text().encode())
    assert (code, out) == (0, "<stdin>: ok (1 spec: m)\n")
    code, _, err = run(monkeypatch, capsys, "validate", "-", stdin=b"a: \xff\n")
    assert (code, err) == (2, "<stdin>:1:4: not valid UTF-8 (byte 0xff); ModelSpec files must be UTF-8 text\n")


def test_unknown_field_with_did_you_mean(validate):
    text = spec_text().replace("    accelerator:", "    acclerator:")
    assert validate(text)[0::2] == (2, "spec.yaml:14:5: spec.runtime.acclerator: unknown field; did you mean "
                                       "'accelerator'?\n")
    text = spec_text(maxModelLen=8192).replace("maxModelLen", "max_model_len")
    assert validate(text)[2] == "spec.yaml:20:7: spec.runtime.engine.max_model_len: unknown field; did you mean " \
                                "'maxModelLen'?\n"
    text = spec_text() + "  engine:\n    name: vllm\n"
    assert validate(text)[2] == "spec.yaml:21:3: spec.engine: unknown field here; 'engine' belongs under " \
                                "spec.runtime\n"


def test_wrong_types_and_values(validate):
    code, _, err = validate(spec_text(count='"4"', tensorParallelSize="four", dtype="{a: 1}"))
    assert code == 2
    assert err.splitlines() == [
        "spec.yaml:17:14: spec.runtime.accelerator.count: expected an integer, got the string '4' (remove the quotes)",
        "spec.yaml:20:27: spec.runtime.engine.tensorParallelSize: expected an integer, got the string 'four'",
        "spec.yaml:21:14: spec.runtime.engine.dtype: expected a string or a list of strings (any one of them)",
    ]
    assert validate(spec_text(engine="VLLM"))[2] == (
        "spec.yaml:19:13: spec.runtime.engine.name: expected 'vllm', 'tgi', 'sglang', 'kserve-hf', 'triton', "
        "'tensorrt-llm', 'nim', 'llama-cpp' or 'other', got the string 'VLLM'; did you mean 'vllm'?\n")
    assert validate(spec_text(gpuMemoryUtilization='"0.9 +- "'))[2] == (
        "spec.yaml:20:29: spec.runtime.engine.gpuMemoryUtilization: expected a number, got '0.9 +- '\n")


def test_missing_required_fields_point_at_the_parent(validate):
    text = spec_text().replace("      framework: vllm\n", "")
    assert validate(text)[2] == "spec.yaml:7:5: spec.identity.model.framework: required field is missing\n"


@pytest.mark.parametrize("content, message", [
    (b"", "spec.yaml:1:1: empty file: expected a ModelSpec document (apiVersion, kind, metadata, spec)"),
    (b"[1, 2]\n", "spec.yaml:1:1: document 1 is a list, not a mapping; a ModelSpec starts with 'apiVersion:' "
     "and 'kind: ModelSpec'"),
    (b"metadata:\n  name: [x\n", "spec.yaml:3:1: YAML syntax error: did not find expected ',' or ']' (while "
     "parsing a flow sequence)"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "spec.yaml:3:1: binary data (NUL byte): not a YAML text file"),
    (b"\x89PNG\r\n", "spec.yaml:1:1: not valid UTF-8 (byte 0x89); ModelSpec files must be UTF-8 text"),
    (b"GIF89a\x01\x00\x01\x00\x00", "spec.yaml:1:8: binary data (NUL byte): not a YAML text file"),
    (b"name: \xc3\x28\n", "spec.yaml:1:7: not valid UTF-8 (byte 0xc3); ModelSpec files must be UTF-8 text"),
])
def test_bad_input_gets_one_line_and_exit_2(validate, content, message):
    assert validate(content) == (2, "", message + "\n")


def test_missing_path_and_empty_directory(monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, "validate", str(tmp_path / "nope.yaml"), str(tmp_path))
    assert code == 2
    assert err.splitlines() == [f"{tmp_path / 'nope.yaml'}: no such file or directory",
                                f"{tmp_path}: no *.yaml or *.yml files in this directory"]


def test_no_path_is_a_usage_error(monkeypatch, capsys):
    assert run(monkeypatch, capsys, "validate")[0] == 2


def test_parallelism_must_match_the_gpu_count(validate):
    code, _, err = validate(spec_text(count=8, tensorParallelSize=4))
    assert (code, err) == (2, "spec.yaml:20:27: spec.runtime.engine.tensorParallelSize: tensorParallelSize × "
                              "pipelineParallelSize = 4 × 1 = 4, but runtime.accelerator.count is 8; each replica "
                              "uses exactly tp × pp GPUs\n")
    assert validate(spec_text(count=8, tensorParallelSize=4, pipelineParallelSize=2))[0] == 0


def test_min_replicas_above_max(validate):
    text = spec_text() + "  operations:\n    scaling: {minReplicas: 5, maxReplicas: 2}\n"
    assert validate(text)[0::2] == (2, "spec.yaml:22:28: spec.operations.scaling.minReplicas: minReplicas (5) is "
                                       "greater than maxReplicas (2)\n")


@pytest.mark.parametrize("engine, field, value, message", [
    ("vllm", "dtype", "bf16", "vLLM does not accept dtype 'bf16'; use 'bfloat16'"),
    ("sglang", "dtype", "fp16", "SGLang does not accept dtype 'fp16'; use 'float16'"),
    ("tgi", "dtype", "float32", "TGI does not accept dtype 'float32'; valid: bfloat16, float16"),
    ("vllm", "quantization", "awq-marlin", "vLLM does not accept quantization 'awq-marlin'; use 'awq'"),
    ("tgi", "quantization", "gptqq", "TGI does not accept quantization 'gptqq'; did you mean 'gptq'?"),
])
def test_dtype_and_quantization_names_for_the_engine(validate, engine, field, value, message):
    code, _, err = validate(spec_text(engine=engine, **{field: value}))
    assert (code, err) == (2, f"spec.yaml:20:{9 + len(field)}: spec.runtime.engine.{field}: {message}\n")


def test_quantization_none_and_engine_spellings_are_accepted(validate):
    assert validate(spec_text(engine="tgi", dtype="bfloat16", quantization="none"))[0] == 0
    assert validate(spec_text(engine="vllm", dtype="[half, bfloat16]", quantization="awq_marlin"))[0] == 0


def test_bf16_on_a_gpu_without_bf16_is_a_warning(validate):
    code, out, err = validate(spec_text(gpu="t4", dtype="bfloat16"))
    assert code == 0
    assert out == "spec.yaml: ok (1 spec: m)\n"
    assert err.splitlines() == [
        f"spec.yaml:{line}:{col}: warning: {path}: bfloat16 declared but t4 GPUs have no bfloat16 support (compute "
        "capability 7.5); engines refuse to start or fall back to float16: declare float16"
        for line, col, path in ((12, 18, "spec.identity.model.precision"), (20, 14, "spec.runtime.engine.dtype"))]
    assert validate(spec_text(gpu="v100", precision="fp16", dtype="float16"))[2] == ""


def test_lowercase_k_is_a_warning(validate):
    code, out, err = validate(spec_text(maxModelLen="32k"))
    assert (code, out) == (0, "spec.yaml: ok (1 spec: m)\n")
    assert err == "spec.yaml:20:20: warning: spec.runtime.engine.maxModelLen: 32k means 32000 tokens; write 32K " \
                  "or 32768 for 32768\n"
    assert validate(spec_text(maxModelLen="32K"))[2] == ""


def test_unquoted_float_version_is_a_warning(validate):
    text = spec_text() + "    gpu:\n      cudaVersion: 12.10\n"
    assert validate(text)[2] == 'spec.yaml:22:20: warning: spec.runtime.gpu.cudaVersion: YAML reads 12.10 as the ' \
                                'number 12.1; quote versions ("12.10")\n'


def test_policy_check_ids_and_fields_are_checked(validate):
    text = spec_text() + """\
  policy:
    severity: {runtime.dtyp: "off"}
    ignore:
      - {check: runtime.dtype, reason: ok}
      - {field: spec.runtime.engine.maxNumSeq, reason: ok}
"""
    assert validate(text)[2].splitlines() == [
        "spec.yaml:22:16: spec.policy.severity.runtime.dtyp: unknown check id 'runtime.dtyp'; did you mean "
        "'runtime.dtype'?",
        "spec.yaml:25:17: spec.policy.ignore[1].field: no field 'spec.runtime.engine.maxNumSeq' in a ModelSpec; "
        "did you mean 'maxNumSeqs'?",
    ]


def test_secret_values_are_never_printed(validate):
    text = spec_text() + "      env:\n        HF_TOKEN: hf_abcdefghijklmnopqrstuvwxyz\n"
    code, out, err = validate(text)
    assert code == 0 and "hf_abcdefghijklmnopqrstuvwxyz" not in out + err
    assert err == "spec.yaml:22:19: warning: spec.runtime.engine.env.HF_TOKEN: looks like a secret value; keep " \
                  "credentials out of spec files (the audit never prints them, but the file is plain text)\n"


def test_problems_and_warnings_come_together_in_line_order(validate):
    code, out, err = validate(spec_text(maxModelLen="8k", dtype="bf16"))
    assert (code, out) == (2, "")
    assert [line.split(": ", 2)[:2] for line in err.splitlines()] == [["spec.yaml:20:20", "warning"],
                                                                      ["spec.yaml:21:14", "spec.runtime.engine.dtype"]]


def test_schema_command_prints_the_checked_in_file(monkeypatch, capsys):
    code, out, _ = run(monkeypatch, capsys, "schema")
    assert code == 0
    assert out == (ROOT / "specs" / "modelspec.schema.json").read_text(), "run `make schema`"
    assert json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_hostile_files_in_a_real_process(tmp_path):
    """Nesting deep enough to crash libyaml's composer, and an alias bomb, through the installed CLI."""
    (tmp_path / "deep.yaml").write_text("[" * 50000 + "]" * 50000)
    (tmp_path / "bomb.yaml").write_text("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi")))
    proc = subprocess.run([sys.executable, "-m", "skewaudit", "validate", "deep.yaml", "bomb.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)   # a hang check: generous on a loaded machine
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        "deep.yaml:1:201: YAML nesting is deeper than 200 levels; refusing to load",
        "bomb.yaml:5:36: YAML aliases expand to more than 100000 nodes; refusing to load (a 'billion laughs' "
        "document?)",
    ]
