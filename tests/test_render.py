"""Report renderers: goldens for every format, plus format-specific checks.

Every format is rendered from ONE hand-built ``Report`` (``REPORT`` below: a
drift with replicas that disagree, an unpinned image, an unverifiable field, a
suppressed and a not-applicable result, a match, an info-level drift, a
redacted secret and a collection issue) and compared byte for byte with
``tests/golden/report<SUFFIX>``. After an intended output change, rewrite the
goldens and review the diff::

    SKEWAUDIT_UPDATE_GOLDEN=1 .venv/bin/pytest -q tests/test_render.py
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import msgspec
import pytest

from skewaudit import render
from skewaudit.audit import apply_gate
from skewaudit.model.finding import CheckInfo, Evidence, Gate, Location, Report, Result, Summary, TargetRef
from skewaudit.model.observed import CollectionIssue, Prov

GOLDEN = Path(__file__).parent / "golden"
SARIF_SCHEMA = Path(__file__).parent / "fixtures" / "sarif-2.1.0-min.schema.json"
UPDATE = os.environ.get("SKEWAUDIT_UPDATE_GOLDEN") == "1"

SPEC = "llama-3.1-70b-vllm"
SPEC_FILE = "specs/llama-3.1-70b-vllm.yaml"
MARKER_SPEC = "<redacted:1a2b3c4d>"
MARKER_POD = "<redacted:9f8e7d6c>"
VLLM = TargetRef(kind="Deployment", name="llama", namespace="ml", container="vllm")
WORKLOAD = TargetRef(kind="Deployment", name="llama", namespace="ml")


def _pod(name: str, path: str, source: str = "arg") -> Prov:
    return Prov(source=source, object=f"Pod/ml/{name}", path=path, container="vllm")


CHECKS = {
    "model.dtype": CheckInfo(
        id="model.dtype", category="model", title="Weights dtype matches the spec", level="error",
        why="A different dtype changes numerics and memory: fp32 halves throughput, fp16 can overflow.",
        remediation="Set the engine's --dtype (or DTYPE) to the declared precision."),
    "runtime.image-pinned": CheckInfo(
        id="runtime.image-pinned", category="runtime", title="Image is pinned by digest", level="warning",
        why="A moving tag such as :latest changes the engine under a running spec.",
        remediation="Pin the image by digest (image@sha256:...)."),
    "runtime.env": CheckInfo(
        id="runtime.env", category="runtime", title="Declared environment variables are set", level="warning",
        remediation="Set the variable in the container env."),
    "runtime.max-model-len": CheckInfo(
        id="runtime.max-model-len", category="runtime", title="Max model length matches", level="error"),
    "hardware.driver-version": CheckInfo(
        id="hardware.driver-version", category="hardware", title="Driver satisfies the constraint",
        level="error", why="Older drivers lack the CUDA version the image was built for."),
    "serving.probe-timeout": CheckInfo(
        id="serving.probe-timeout", category="serving", title="Probe timeouts match", level="info"),
    "serving.max-concurrency": CheckInfo(
        id="serving.max-concurrency", category="serving", title="Admission limit matches", level="warning"),
    "orchestration.hpa-metric": CheckInfo(
        id="orchestration.hpa-metric", category="orchestration", title="HPA scales on the declared metric",
        level="warning"),
}

RESULTS = [
    Result(
        check="model.dtype", category="model", status="drift", level="error", spec=SPEC,
        field="identity.model.precision", target=VLLM,
        message="dtype is float16 on 2 of 4 pods, spec says bf16",
        expected="bf16", scope="2 of 4 pods", location=Location(SPEC_FILE, 12, 7),
        observed=[
            Evidence("float16", _pod("llama-7d9f8c-a1b2c", "spec.containers[0].args[4]"),
                     pods=["llama-7d9f8c-a1b2c", "llama-7d9f8c-d3e4f"], count=2),
            Evidence("bfloat16", _pod("llama-5b6a4e-g5h6i", "spec.containers[0].args[4]"),
                     pods=["llama-5b6a4e-g5h6i", "llama-5b6a4e-j7k8l"], count=2),
        ],
        hint="Set --dtype bfloat16 in Deployment/ml/llama container vllm and finish the rollout.",
        next_steps=["Check which ReplicaSet runs float16.", "Roll the old ReplicaSet out."],
        commands=["kubectl -n ml get pods -l app=llama -o wide",
                  "kubectl -n ml rollout status deployment/llama"]),
    Result(
        check="runtime.image-pinned", category="runtime", status="unpinned", level="warning", spec=SPEC,
        field="runtime.image", target=VLLM, message="image uses the moving tag :latest",
        expected="vllm/vllm-openai:v0.6.3", location=Location(SPEC_FILE, 20, 5),
        observed=[Evidence("vllm/vllm-openai:latest",
                           Prov("workload-spec", "Deployment/ml/llama", "spec.template.spec.containers[0].image"),
                           count=4)],
        hint="Pin the image by digest in the Deployment.",
        commands=["kubectl -n ml set image deployment/llama vllm=vllm/vllm-openai:v0.6.3"]),
    Result(
        check="runtime.env", category="runtime", status="drift", level="warning", spec=SPEC,
        field="runtime.environment.variables.HF_TOKEN", target=VLLM, message="HF_TOKEN differs from the spec",
        expected=MARKER_SPEC, location=Location(SPEC_FILE, 31, 9),
        observed=[Evidence(MARKER_POD, Prov("env", "Deployment/ml/llama", "env[HF_TOKEN]"), count=4)]),
    Result(
        check="runtime.max-model-len", category="runtime", status="match", level="error", spec=SPEC,
        field="runtime.batch.maxSequenceLengthTokens", target=VLLM, message="max model length matches",
        expected=8192, location=Location(SPEC_FILE, 24, 7),
        observed=[Evidence(8192, _pod("llama-7d9f8c-a1b2c", "spec.containers[0].args[6]"), count=4)]),
    Result(
        check="hardware.driver-version", category="hardware", status="unverifiable", level="error", spec=SPEC,
        field="runtime.accelerator.driverVersion", target=VLLM, message="driver version not known",
        expected=">=550", location=Location(SPEC_FILE, 17, 7),
        reason="GPU facts not collected: pods/exec is forbidden (grant it and run with --exec)"),
    Result(
        check="serving.probe-timeout", category="serving", status="drift", level="info", spec=SPEC,
        field="operations.serving.probes.liveness.timeoutSeconds", target=VLLM,
        message="liveness probe timeout is 10s, spec says 5s", expected=5, location=Location(SPEC_FILE, 41, 11),
        observed=[Evidence(10, Prov("pod-spec", "Deployment/ml/llama",
                                    "spec.template.spec.containers[0].livenessProbe.timeoutSeconds"), count=4)],
        hint="Set livenessProbe.timeoutSeconds: 5."),
    Result(
        check="serving.max-concurrency", category="serving", status="suppressed", level="warning", spec=SPEC,
        field="operations.serving.maxConcurrency", target=VLLM, message="vLLM has no admission limit flag",
        expected=64, location=Location(SPEC_FILE, 38, 7),
        reason="policy.ignore: the gateway enforces concurrency (expires 2026-06-30)"),
    Result(
        check="orchestration.hpa-metric", category="orchestration", status="not-applicable", level="warning",
        spec=SPEC, field="operations.scaling.metric", target=WORKLOAD, message="no HPA",
        expected="vllm:num_requests_waiting", location=Location(SPEC_FILE, 45, 7),
        reason="no HPA targets Deployment/ml/llama; replicas are checked instead"),
]

# Gated at --fail-on warning: the info-level drift does not gate, and every human format says so.
REPORT = apply_gate(Report(
    source="live", context="prod-eu", skewaudit_version="0.1.0", generated_at="2025-01-15T10:00:00Z",
    specs=[SPEC_FILE], checks=CHECKS, results=RESULTS,
    summary=Summary(drift=3, unverifiable=1, unpinned=1, match=1, suppressed=1, not_applicable=1,
                    errors=1, warnings=2, infos=1, specs=1, workloads=1, pods=4),
    issues=[CollectionIssue(scope="Pod/ml/llama-7d9f8c-a1b2c", kind="forbidden",
                            message="pods/exec is forbidden for user ci-bot", area="gpu")],
), "warning")

CLEAN = Report(
    source="manifest", results=[RESULTS[3]],
    summary=Summary(match=12, specs=1, workloads=1, pods=4),
)

FORMATS = ["json", "junit", "markdown", "sarif", "table"]


def _render(report: Report, name: str, **opts) -> str:
    opts.setdefault("width", 120)
    opts.setdefault("color", False)
    return render.render(report, name, **opts)


# --- registry ----------------------------------------------------------------


def test_registry_lists_every_report_format_and_nothing_else():
    assert render.names() == FORMATS
    assert [render.suffix(n) for n in FORMATS] == [".json", ".junit.xml", ".md", ".sarif.json", ".txt"]


def test_unknown_format_is_an_input_error_naming_the_choices():
    from skewaudit.errors import InputError

    with pytest.raises(InputError, match="unknown format 'yaml': choose one of json, junit, markdown, sarif, table"):
        render.render(REPORT, "yaml")


# --- goldens -----------------------------------------------------------------


@pytest.mark.parametrize("name", render.names())
def test_output_matches_golden(name):
    golden = GOLDEN / f"report{render.suffix(name)}"
    out = _render(REPORT, name)
    if UPDATE:
        golden.write_text(out, encoding="utf-8")
    assert golden.exists(), f"missing {golden}: run with SKEWAUDIT_UPDATE_GOLDEN=1"
    assert out == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", FORMATS)
def test_output_is_deterministic_whatever_the_result_order(name):
    shuffled = msgspec.structs.replace(REPORT, results=list(reversed(RESULTS)))
    assert _render(shuffled, name) == _render(REPORT, name)


# --- secrets and hostile values ------------------------------------------------


@pytest.mark.parametrize("name", FORMATS)
def test_redaction_markers_render_verbatim_and_nothing_secret_shaped_appears(name):
    from skewaudit import redact

    out = _render(REPORT, name)
    if name == "junit":
        out = "".join(ET.fromstring(out.encode()).itertext())
    assert MARKER_SPEC in out and MARKER_POD in out
    # Nothing in the output looks like a credential to the redactor itself.
    assert redact.text(out) == out


def test_markdown_keeps_markers_in_code_spans_so_github_does_not_eat_them_as_html():
    out = _render(REPORT, "markdown")
    assert f"`{MARKER_SPEC}`" in out
    assert MARKER_SPEC not in out.replace(f"`{MARKER_SPEC}`", "")


HOSTILE = Result(
    check="runtime.env", category="runtime", status="drift", level="error", spec=SPEC,
    field="runtime.environment.variables.MODE", target=VLLM, message="MODE differs",
    expected="a|b", location=Location(SPEC_FILE, 3, 1),
    observed=[Evidence("\x1b[31mred\x00[bold]x[/bold]\nnext", Prov("env", "Deployment/ml/llama", "env[MODE]"))])
HOSTILE_REPORT = msgspec.structs.replace(REPORT, results=[HOSTILE], summary=Summary(drift=1, pods=1, workloads=1,
                                                                                   specs=1))


@pytest.mark.parametrize("name", FORMATS)
def test_control_characters_in_observed_values_are_escaped(name):
    out = _render(HOSTILE_REPORT, name)
    assert "\x1b" not in out and "\x00" not in out
    if name in ("table", "markdown"):
        assert "\\x1b[31mred\\x00[bold]x[/bold]\\nnext" in out
    if name == "junit":
        ET.fromstring(out.encode())  # still well-formed XML


def test_table_does_not_interpret_rich_markup_in_values_when_coloured():
    out = _render(HOSTILE_REPORT, "table", color=True)
    assert "[bold]x[/bold]" in out


def test_markdown_escapes_pipes_in_table_cells():
    row = next(line for line in _render(HOSTILE_REPORT, "markdown").splitlines() if line.startswith("| `runtime.env`"))
    assert "`a\\|b`" in row
    assert row.count(" | ") == 5  # still six cells


# --- table ---------------------------------------------------------------------


def test_table_row_shows_field_location_intended_observed_replicas_provenance_and_hint():
    out = _render(REPORT, "table", width=200)
    row = next(line for line in out.splitlines() if line.strip().startswith("model.dtype"))
    assert row.split() == ["model.dtype", "error", "identity.model.precision", "bf16", "float16", "(2", "of", "4",
                           "pods)"]
    assert "specs/llama-3.1-70b-vllm.yaml:12:7" in out
    assert "float16 (2 of 4 pods)" in out and "bfloat16 (2 of 4 pods)" in out
    assert "from Pod/ml/llama-7d9f8c-a1b2c spec.containers[0].args[4] (arg)" in out
    assert "hint: Set --dtype bfloat16" in out
    assert "$ kubectl -n ml rollout status deployment/llama" in out
    assert "unverifiable: GPU facts not collected" in out
    assert "skipped: policy.ignore: the gateway enforces concurrency" in out


def test_table_groups_by_category_in_playbook_order():
    out = _render(REPORT, "table")
    headings = [line for line in out.splitlines() if line.isupper() and line.strip()]
    assert headings == ["MODEL", "RUNTIME", "HARDWARE", "SERVING", "COLLECTION ISSUES"]


def test_table_hides_matches_and_not_applicable_unless_asked():
    hidden = _render(REPORT, "table")
    shown = _render(REPORT, "table", show_matches=True)
    for text in ("runtime.max-model-len", "orchestration.hpa-metric"):
        assert text not in hidden and text in shown
    assert "not applicable: no HPA targets Deployment/ml/llama" in shown


def test_table_ends_with_the_summary_line():
    out = _render(REPORT, "table")
    assert out.splitlines()[-1] == \
        "3 drifted (1 not gating: --fail-on warning), 1 unverifiable, 1 unpinned across 4 pods (1 workload, 1 spec), " \
        "1 suppressed"


def test_clean_report_prints_only_the_no_drift_line():
    assert _render(CLEAN, "table") == "no drift: 12 checks matched across 4 pods\n"
    assert _render(CLEAN, "markdown").startswith("## skewaudit: no drift\n")


@pytest.mark.parametrize("width", [60, 80, 100, 120, 160])
def test_table_fits_the_width_except_commands_and_the_summary_line(width):
    # Commands must paste as one line and the summary stays one greppable line.
    for line in _render(REPORT, "table", width=width).splitlines()[:-1]:
        if not line.lstrip().startswith("$ "):
            assert len(line) <= width, line


def test_no_color_env_disables_colour(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert "\x1b" not in render.render(REPORT, "table", width=120)
    monkeypatch.delenv("NO_COLOR")
    assert "\x1b[" in render.render(REPORT, "table", width=120)  # a terminal without NO_COLOR gets colour


def test_color_false_and_non_terminal_give_plain_text(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert "\x1b" not in render.render(REPORT, "table", width=120, color=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert "\x1b" not in render.render(REPORT, "table", width=120)


def _large(n: int) -> Report:
    results = [msgspec.structs.replace(RESULTS[i % 3], target=TargetRef(kind="Deployment", name=f"w{i:04d}",
                                                                        namespace="ml", container="vllm"))
               for i in range(n)]
    return apply_gate(msgspec.structs.replace(REPORT, results=results, issues=[],
                                              summary=Summary(drift=667, unpinned=333, pods=n, workloads=n, specs=1)))


def test_large_table_lists_every_row_and_ends_with_counts_per_check():
    out = _render(_large(1000), "table")
    assert out.count("Deployment/ml/w") == 1000
    tail = out.splitlines()[-10:]
    assert "1000 results by check" in tail
    assert any(line.split()[:5] == ["model.dtype", "error", "334", "0", "0"] for line in tail)
    assert tail[-1].startswith("667 drifted, 0 unverifiable, 333 unpinned across 1000 pods")


# --- summary line ----------------------------------------------------------------


@pytest.mark.parametrize("summary, line", [
    (Summary(drift=1, unpinned=2, pods=1, workloads=1, specs=2),
     "1 drifted, 0 unverifiable, 2 unpinned across 1 pod (1 workload, 2 specs)"),
    (Summary(unverifiable=1, workloads=2, specs=1),
     "0 drifted, 1 unverifiable, 0 unpinned across 2 workloads (1 spec)"),
    (Summary(match=1, suppressed=2, pods=3), "no drift: 1 check matched across 3 pods, 2 suppressed"),
])
def test_summary_line(summary, line):
    from skewaudit.render import _text

    assert _text.summary_line(summary) == line


@pytest.mark.parametrize("gate, line", [
    (Gate(threshold="error", not_gating=2), "2 drifted (not gating: --fail-on error), 1 unverifiable, 1 unpinned"),
    (Gate(threshold="error", not_gating=1, result="fail", exit_code=1, failing={"drift": 1}),
     "2 drifted (1 not gating: --fail-on error), 1 unverifiable, 1 unpinned"),
    (Gate(threshold="never", not_gating=2), "2 drifted (not gating: --fail-on never)"),
    (Gate(fail_on_unverifiable=True, result="fail", exit_code=1, failing={"drift": 2, "unverifiable": 1}),
     "2 drifted, 1 unverifiable (gating: --fail-on-unverifiable), 1 unpinned"),
    (Gate(policy_unpinned=["llama"], result="fail", exit_code=1, failing={"drift": 2, "unpinned": 1}),
     "2 drifted, 1 unverifiable, 1 unpinned (gating: policy.failOn.unpinned)"),
])
def test_summary_line_says_what_the_gate_did(gate, line):
    from skewaudit.render import _text

    s = Summary(drift=2, unverifiable=1, unpinned=1, pods=1, workloads=1, specs=1)
    assert _text.summary_line(s, gate).startswith(line)


# --- sarif -----------------------------------------------------------------------


def _sarif(report: Report = REPORT) -> dict:
    return json.loads(_render(report, "sarif"))


def test_sarif_validates_against_the_2_1_0_schema():
    import jsonschema

    schema = json.loads(SARIF_SCHEMA.read_text())
    jsonschema.validate(_sarif(), schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    jsonschema.validate(_sarif(CLEAN), schema)


def test_sarif_schema_rejects_a_broken_log():
    import jsonschema

    log = _sarif()
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(log, json.loads(SARIF_SCHEMA.read_text()))


def test_sarif_results_are_problems_unverifiable_and_suppressed_only():
    run = _sarif()["runs"][0]
    rules = [r["id"] for r in run["tool"]["driver"]["rules"]]
    got = {r["ruleId"]: r for r in run["results"]}
    assert sorted(got) == ["hardware.driver-version", "model.dtype", "runtime.env", "runtime.image-pinned",
                           "serving.max-concurrency", "serving.probe-timeout"]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] for r in run["results"])
    dtype = got["model.dtype"]
    assert (dtype["level"], dtype["kind"]) == ("error", "fail")
    assert dtype["locations"][0]["physicalLocation"]["region"] == {"startLine": 12, "startColumn": 7}
    assert dtype["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == SPEC_FILE
    assert dtype["locations"][0]["logicalLocations"] == [{"fullyQualifiedName": "ml/llama/vllm", "kind": "resource"}]
    assert got["serving.probe-timeout"]["level"] == "note"
    assert (got["hardware.driver-version"]["kind"], got["hardware.driver-version"]["level"]) == ("review", "none")
    assert got["serving.max-concurrency"]["suppressions"] == [
        {"kind": "external", "justification": "policy.ignore: the gateway enforces concurrency (expires 2026-06-30)"}]
    driver = run["tool"]["driver"]
    assert driver["name"] == "skewaudit" and driver["version"] == "0.1.0"
    rule = driver["rules"][rules.index("model.dtype")]
    assert rule["shortDescription"]["text"] == "Weights dtype matches the spec"
    assert rule["help"]["text"] == "Set the engine's --dtype (or DTYPE) to the declared precision."
    assert rule["defaultConfiguration"]["level"] == "error"


def test_sarif_fingerprint_is_stable_when_the_observed_value_changes():
    other = msgspec.structs.replace(RESULTS[0], observed=[Evidence("float32")])
    first = _sarif()["runs"][0]["results"][0]
    second = _sarif(msgspec.structs.replace(REPORT, results=[other]))["runs"][0]["results"][0]
    assert first["partialFingerprints"] == second["partialFingerprints"]


# --- junit -----------------------------------------------------------------------


def _junit(report: Report = REPORT) -> ET.Element:
    return ET.fromstring(_render(report, "junit").encode("utf-8"))


def test_junit_counts_and_one_case_per_check_and_target():
    root = _junit()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert suite.get("name") == SPEC
    assert {k: suite.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {"tests": "8", "failures": "3", "errors": "0", "skipped": "3"}
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {"tests": "8", "failures": "3", "errors": "0", "skipped": "3"}
    assert len(cases) == int(suite.get("tests"))
    assert len([c for c in cases if c.find("failure") is not None]) == 3
    assert len([c for c in cases if c.find("skipped") is not None]) == 3


def test_junit_case_outcomes():
    cases = {c.get("name"): c for c in _junit().iter("testcase")}
    dtype = cases["model.dtype Deployment/ml/llama [vllm]"]
    assert dtype.get("classname") == f"{SPEC}.model"
    failure = dtype.find("failure")
    assert failure.get("type") == "error"
    assert "observed: float16 (2 of 4 pods)" in failure.text
    assert "$ kubectl -n ml rollout status deployment/llama" in failure.text
    assert cases["runtime.image-pinned Deployment/ml/llama [vllm]"].find("failure").get("type") == "warning"
    probe = cases["serving.probe-timeout Deployment/ml/llama [vllm]"]
    assert probe.find("failure") is None and "intended: 5" in probe.find("system-out").text
    assert cases["hardware.driver-version Deployment/ml/llama [vllm]"].find("skipped").get("message") == \
        "unverifiable: GPU facts not collected: pods/exec is forbidden (grant it and run with --exec)"
    assert cases["serving.max-concurrency Deployment/ml/llama [vllm]"].find("skipped").get("message") == \
        "suppressed: policy.ignore: the gateway enforces concurrency (expires 2026-06-30)"
    assert cases["orchestration.hpa-metric Deployment/ml/llama"].find("skipped") is not None
    match = cases["runtime.max-model-len Deployment/ml/llama [vllm]"]
    assert list(match) == []  # a plain pass


def test_junit_clean_report_still_lists_passes():
    suite = _junit(CLEAN).find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("1", "0", "0")


# --- markdown -------------------------------------------------------------------


def test_markdown_heading_table_details_and_summary():
    out = _render(REPORT, "markdown")
    lines = out.splitlines()
    assert lines[0] == "## skewaudit: 3 drifted (1 not gating: --fail-on warning), 1 unverifiable, 1 unpinned"
    assert "| Check | Level | Target | Intended | Observed | Where |" in lines
    assert out.count("<details>") == 5 == out.count("</details>")
    assert "```sh\nkubectl -n ml get pods -l app=llama -o wide\nkubectl -n ml rollout status deployment/llama\n```" in out
    assert "- `serving.max-concurrency` on `Deployment/ml/llama [vllm]`: skipped: policy.ignore" in out
    assert lines[-1] == ("**3 drifted (1 not gating: --fail-on warning), 1 unverifiable, 1 unpinned across 4 pods "
                         "(1 workload, 1 spec), 1 suppressed**")
