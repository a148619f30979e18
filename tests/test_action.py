"""The GitHub Action: action.yml and its example workflow pass actionlint, and its run logic
(skewaudit.integrations.action) is executed with the same INPUT_* variables action.yml sets."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
SPEC = EXAMPLES / "llama-3.1-70b-vllm.yaml"
CLEAN = EXAMPLES / "manifests" / "llama-3.1-70b-vllm.yaml"
DRIFTED = EXAMPLES / "manifests" / "llama-3.1-70b-vllm-drifted.yaml"
SARIF_SCHEMA = json.loads((ROOT / "tests" / "fixtures" / "sarif-2.1.0-min.schema.json").read_text())
ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
ACTIONLINT = shutil.which("actionlint", path=str(Path(sys.executable).parent)) or shutil.which("actionlint")


def _lint_repo(tmp_path: Path, workflow: str) -> subprocess.CompletedProcess:
    # The example workflow uses the action by its published name; here it uses this checkout's action.yml
    # (`uses: ./`), so actionlint checks every `with:` key against the inputs action.yml defines.
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", tmp_path / "action.yml")
    (tmp_path / ".github" / "workflows" / "skewaudit.yml").write_text(workflow.replace("<org>/skewaudit@v0", "./"))
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return subprocess.run([ACTIONLINT, "-color=false", "-oneline"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)


def test_actionlint_accepts_the_example_workflow_and_action_yml(tmp_path):
    text = (ROOT / "examples" / "github-workflow.yml").read_text()
    assert "<org>/skewaudit@v0" in text
    ok = _lint_repo(tmp_path / "ok", text)
    assert (ok.returncode, ok.stdout) == (0, ""), ok.stdout + ok.stderr
    # The same check fails on a misspelt input: the lint really reads action.yml.
    bad = _lint_repo(tmp_path / "bad", text.replace("fail-on-unpinned:", "fail-on-unpined:"))
    assert bad.returncode == 1 and 'input "fail-on-unpined" is not defined in action "skewaudit"' in bad.stdout


def test_readme_shows_the_example_workflow():
    readme = (ROOT / "README.md").read_text()
    assert (ROOT / "examples" / "github-workflow.yml").read_text().strip() in readme


def test_action_yml_hands_every_input_to_the_runner():
    run_step = next(s for s in ACTION["runs"]["steps"] if s.get("id") == "run")
    assert run_step["run"] == "python -m skewaudit.integrations.action"
    source = (ROOT / "skewaudit" / "integrations" / "action.py").read_text()
    for name in ACTION["inputs"]:
        if name in ("python-version", "install"):
            continue
        var = "INPUT_" + name.upper().replace("-", "_")
        assert run_step["env"][var] == "${{ inputs.%s }}" % name
        assert var.removeprefix("INPUT_") in source, var
    for name, out in ACTION["outputs"].items():
        assert out["value"] == "${{ steps.run.outputs.%s }}" % name


def action(tmp_path: Path, **inputs: str) -> tuple[int, str, str, dict[str, str]]:
    """Run the action's script as the composite step does: INPUT_* env, GitHub's summary and output files."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    summary.write_text("## an earlier step\n")      # GitHub's files are appended to, never replaced
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env.update({"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), "NO_COLOR": "1",
                "PYTHONPATH": str(ROOT)})
    env.update({"INPUT_" + k.upper(): v for k, v in inputs.items()})
    p = subprocess.run([sys.executable, "-m", "skewaudit.integrations.action"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=300)
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines()) if output.exists() else {}
    earlier, ours = summary.read_text().split("\n", 1)
    assert earlier == "## an earlier step"
    return p.returncode, p.stdout, ours, outputs


def _sarif(path: Path) -> dict:
    doc = json.loads(path.read_text())
    assert list(Draft202012Validator(SARIF_SCHEMA).iter_errors(doc)) == []
    return doc


def test_drift_fails_the_step_with_sarif_summary_and_outputs(tmp_path):
    code, out, summary, outputs = action(tmp_path, specs=str(SPEC), manifests=str(DRIFTED), junit="junit.xml")
    assert code == 1
    results = _sarif(tmp_path / "skewaudit.sarif")["runs"][0]["results"]
    assert any(r["ruleId"] == "runtime.dtype" for r in results)
    assert "runtime.dtype" in summary and "| " in summary          # the Markdown report, as a table
    assert outputs["exit-code"] == "1" and int(outputs["drift"]) > 0 and outputs["sarif"] == "skewaudit.sarif"
    assert "<testsuite" in (tmp_path / "junit.xml").read_text()
    assert "runtime.dtype" in out                                   # the table in the job log


def test_clean_manifests_pass_and_gate_switches_are_honoured(tmp_path):
    code, _, summary, outputs = action(tmp_path / "clean", specs=str(SPEC), manifests=str(CLEAN))
    assert code == 0 and outputs["drift"] == "0" and summary
    code, _, _, outputs = action(tmp_path / "never", specs=str(SPEC), manifests=str(DRIFTED), fail_on="never")
    assert code == 0 and int(outputs["drift"]) > 0


def test_fail_on_unpinned_and_unverifiable(tmp_path):
    spec = tmp_path / "spec.yaml"   # the clean example, minus its pins: unpinned results, no drift
    spec.write_text(SPEC.read_text().replace("      revision: 1605565b47bb9346c5515c34102e054115b4f98b\n", ""))
    base = {"specs": str(spec), "manifests": str(CLEAN)}
    code, _, _, outputs = action(tmp_path / "a", **base)
    assert code == 0 and outputs["drift"] == "0" and int(outputs["unpinned"]) > 0
    code, _, _, _ = action(tmp_path / "b", **base, fail_on_unpinned="true")
    assert code == 1
    code, _, _, outputs = action(tmp_path / "c", **base, fail_on_unverifiable="true")
    assert code == (1 if int(outputs["unverifiable"]) else 0)


def test_a_broken_spec_is_annotated_at_its_line(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.read_text().replace("count: 4", "count: four", 1))
    line = next(i for i, ln in enumerate(spec.read_text().splitlines(), 1) if "count: four" in ln)
    code, out, summary, outputs = action(tmp_path, specs=str(spec), manifests=str(DRIFTED))
    assert code == 2 and outputs == {"exit-code": "2", "sarif": ""}
    assert re.search(rf"^::error file={re.escape(str(spec))},line={line},col=\d+::spec\.runtime\.accelerator\.count: ",
                     out, re.M), out
    assert summary.startswith("## skewaudit could not run (exit 2)")


@pytest.mark.parametrize("inputs, message", [
    ({"specs": ""}, "input specs is required"),
    ({"specs": "x.yaml", "fail_on_unpinned": "yes please"}, "input fail-on-unpinned must be true or false"),
])
def test_bad_inputs_exit_2_with_an_error_annotation(tmp_path, inputs, message):
    code, out, _, _ = action(tmp_path, **inputs)
    assert code == 2 and out.startswith("::error::skewaudit action: " + message)
