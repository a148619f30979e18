"""Nonsense values in a spec are input errors with a location (exit 2), under both apiVersions."""

from __future__ import annotations

import pytest

from clirun import main_inprocess as run

HEAD = """\
apiVersion: skewaudit.io/v1alpha1
kind: ModelSpec
metadata: {name: x}
spec:
  identity:
    model: {id: m/one, family: one, task: chat, framework: vllm}
  runtime:
    accelerator: {vendor: nvidia, type: l4, count: 1}
"""

CASES = [
    # (text appended under spec:, line, col, path, message)
    ("    engine:\n      maxModelLen: " + "9" * 5000 + "\n", 10, 20, "",
     "a 5000-digit integer is beyond any sane value for a spec field"),
    ("    engine:\n      maxModelLen: " + "9" * 4000 + "\n", 10, 20, "spec.runtime.engine.maxModelLen: ",
     "a 4000-digit number is beyond any sane value here (at most 2,147,483,647)"),
    ("    engine:\n      maxModelLen: '" + "9" * 30 + "K'\n", 10, 20, "spec.runtime.engine.maxModelLen: ",
     "a 31-character value is beyond any sane value here (at most 2,147,483,647)"),
    ("    engine:\n      maxModelLen: '>= 99999999999'\n", 10, 20, "spec.runtime.engine.maxModelLen: ",
     "'99999999999' is beyond any sane value here (at most 2,147,483,647)"),
    ("    engine:\n      maxNumSeqs: 100000000000000000000000000\n", 10, 19, "spec.runtime.engine.maxNumSeqs: ",
     "a 27-digit number is beyond any sane value here (at most 2,147,483,647)"),
    ("    engine:\n      gpuMemoryUtilization: '1" + "0" * 400 + " ± 0.1'\n", 10, 29,
     "spec.runtime.engine.gpuMemoryUtilization: ", "a 407-character value is beyond any sane value here"),
    ("    engine: {tensorParallelSize: 100000000000000000000000000}\n", 9, 34,
     "spec.runtime.engine.tensorParallelSize: ", "must be at most 2,147,483,647, got a 27-digit number"),
    ("  operations:\n    orchestration:\n      requests: {memory: 1e999Gi}\n", 11, 26,
     "spec.operations.orchestration.requests.memory: ",
     "'1e999Gi' is beyond any sane value here (at most 9,223,372,036,854,775,807)"),
    ("    resources: {cpuCores: .inf}\n", 9, 27, "spec.runtime.resources.cpuCores: ", "finite number"),
    ("    resources: {memoryGb: .nan}\n", 9, 27, "spec.runtime.resources.memoryGb: ", "finite number"),
    ("  policy:\n    ignore: [{check: runtime.dtype, reason: r, expires: 2025-13-45}]\n", 10, 57, "",
     "cannot read '2025-13-45' as a timestamp: month must be in 1..12"),
]


@pytest.mark.parametrize("extra, line, col, path, message", CASES, ids=[c[4][:30] for c in CASES])
def test_nonsense_value_is_a_located_input_error(monkeypatch, capsys, tmp_path, extra, line, col, path, message):
    spec = tmp_path / "s.yaml"
    spec.write_text(HEAD + extra)
    code, out, err = run(monkeypatch, capsys, "validate", spec)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"{spec}:{line}:{col}: {path}") and message in err, err
