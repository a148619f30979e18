"""CI gating, suppression, output formats and per-replica skew, through the CLI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import msgspec
import pytest
import yaml

from clirun import EXAMPLES, MANIFESTS, skewaudit
from test_diff_scenarios import container, mutate, set_arg

LLAMA = EXAMPLES / "llama-3.1-70b-vllm.yaml"
LLAMA_M = MANIFESTS / "llama-3.1-70b-vllm.yaml"
DRIFTED = MANIFESTS / "llama-3.1-70b-vllm-drifted.yaml"
SARIF_SCHEMA = Path(__file__).parent / "fixtures" / "sarif-2.1.0-min.schema.json"


def spec_with(tmp_path: Path, fn) -> Path:
    doc = yaml.safe_load(LLAMA.read_text())
    fn(doc)
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def results(out: str) -> list[dict]:
    return json.loads(out)["results"]


def last_line(out: str) -> str:
    return out.rstrip().splitlines()[-1]


def test_any_drift_fails_the_default_gate_and_fail_on_narrows_it(tmp_path):
    # Only a warning-level drift: max-num-seqs.
    m = mutate(LLAMA_M, tmp_path / "w.yaml", lambda d: set_arg(d, "--max-num-seqs", "128"))
    r = skewaudit("diff", LLAMA, "-f", m)
    assert r.code == 1 and last_line(r.out).startswith("1 drifted, ")
    assert "not gating" not in r.out
    assert skewaudit("diff", LLAMA, "-f", m, "--fail-on", "drift").code == 1
    assert skewaudit("diff", LLAMA, "-f", m, "--fail-on", "warning").code == 1
    assert skewaudit("diff", LLAMA, "-f", m, "--fail-on", "info").code == 1
    # Narrowed: exit 0, and the summary line says why the drift does not gate.
    r = skewaudit("diff", LLAMA, "-f", m, "--fail-on", "error")
    assert r.code == 0 and last_line(r.out).startswith("1 drifted (not gating: --fail-on error), ")
    r = skewaudit("diff", LLAMA, "-f", m, env={"SKEWAUDIT_FAIL_ON": "error"})
    assert r.code == 0 and "(not gating: --fail-on error)" in last_line(r.out)
    r = skewaudit("diff", LLAMA, "-f", DRIFTED, "--fail-on", "never")
    assert r.code == 0 and "drifted (not gating: --fail-on never)" in last_line(r.out)
    assert skewaudit("diff", LLAMA, "-f", DRIFTED, "--fail-on", "error").code == 1
    bad = skewaudit("diff", LLAMA, "-f", m, "--fail-on", "sometimes")
    assert bad.code == 2 and "--fail-on must be one of" in bad.err and "Traceback" not in bad.err


def test_partly_gating_drift_is_counted_in_the_summary(tmp_path):
    # An error (dtype) and a warning (max-num-seqs) under --fail-on error: one gates, one does not.
    m = mutate(LLAMA_M, tmp_path / "w.yaml", lambda d: (set_arg(d, "--max-num-seqs", "128"),
                                                        set_arg(d, "--dtype", "float16")))
    r = skewaudit("diff", LLAMA, "-f", m, "--fail-on", "error")
    assert r.code == 1 and last_line(r.out).startswith("2 drifted (1 not gating: --fail-on error), ")


def test_gate_block_in_the_json_report(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "w.yaml", lambda d: set_arg(d, "--max-num-seqs", "128"))
    gate = json.loads(skewaudit("diff", LLAMA, "-f", m, "--format", "json").out)["gate"]
    assert gate["threshold"] == "drift" and gate["result"] == "fail" and gate["exit_code"] == 1
    assert gate["failing"] == {"drift": 1} and gate["not_gating"] == 0
    assert (gate["fail_on_unpinned"], gate["fail_on_unverifiable"]) == (False, False)
    assert gate["reason"] == "1 drifted"
    r = skewaudit("diff", LLAMA, "-f", m, "--format", "json", "--fail-on", "error")
    gate = json.loads(r.out)["gate"]
    assert r.code == gate["exit_code"] == 0 and gate["result"] == "pass"
    assert gate["not_gating"] == 1 and gate["reason"] == "1 drifted below --fail-on error"


def unpinned_manifest(tmp_path: Path) -> Path:
    def latest(docs):
        c = container(docs)
        c["image"] = c["image"].split(":")[0].split("@")[0] + ":latest"
    return mutate(LLAMA_M, tmp_path / "latest.yaml", latest)


def unpin_spec(doc: dict, **policy) -> None:
    """The spec leaves the image open (no image, no digest): ':latest' is then unpinned, not drift."""
    for k in ("image", "imageDigest"):
        doc["spec"]["runtime"]["engine"].pop(k, None)
    doc["spec"]["policy"].update(policy)


def test_unpinned_never_fails_the_default_gate_only_its_switch_or_policy(tmp_path):
    m = unpinned_manifest(tmp_path)
    open_spec = spec_with(tmp_path, unpin_spec)
    r = skewaudit("diff", open_spec, "-f", m, "--format", "json")
    rep = json.loads(r.out)
    assert rep["summary"]["unpinned"] >= 1 and rep["summary"]["drift"] == 0
    assert r.code == 0 and rep["gate"]["result"] == "pass"
    r = skewaudit("diff", open_spec, "-f", m, "--fail-on-unpinned")
    assert r.code == 1 and "unpinned (gating: --fail-on-unpinned)" in last_line(r.out)
    # The same gate from the spec's policy.
    spec = spec_with(tmp_path, lambda d: unpin_spec(d, failOn={"unpinned": True}))
    r = skewaudit("diff", spec, "-f", m)
    assert r.code == 1 and "unpinned (gating: policy.failOn.unpinned)" in last_line(r.out)
    gate = json.loads(skewaudit("diff", spec, "-f", m, "--format", "json").out)["gate"]
    assert gate["policy_unpinned"] == ["llama-3-1-70b"] and gate["failing"] == {"unpinned": 1}
    # --fail-on never reports only, whatever the switches say.
    assert skewaudit("diff", spec, "-f", m, "--fail-on-unpinned", "--fail-on", "never").code == 0


def test_fail_on_unverifiable(tmp_path):
    # Offline, the driver version cannot be verified: exit 0 by default, 1 when asked.
    r = skewaudit("diff", LLAMA, "-f", LLAMA_M)
    assert r.code == 0 and last_line(r.out).startswith("0 drifted, 2 unverifiable, 0 unpinned")
    r = skewaudit("diff", LLAMA, "-f", LLAMA_M, "--fail-on-unverifiable")
    assert r.code == 1 and "2 unverifiable (gating: --fail-on-unverifiable)" in last_line(r.out)
    spec = spec_with(tmp_path, lambda d: d["spec"]["policy"].update(failOn={"unverifiable": True}))
    assert skewaudit("diff", spec, "-f", LLAMA_M).code == 1
    # A policy applies to its own spec's results only: the other spec of the fleet does not gate.
    other = tmp_path / "other"
    other.mkdir()
    (other / "qwen.yaml").write_text((EXAMPLES / "qwen2.5-7b-tgi-l4.yaml").read_text())
    (other / "llama.yaml").write_text(LLAMA.read_text())
    both = tmp_path / "both.yaml"
    both.write_text(LLAMA_M.read_text() + "\n---\n" + (MANIFESTS / "qwen2.5-7b-tgi-l4.yaml").read_text())
    assert skewaudit("diff", other, "-f", both).code == 0
    (other / "llama.yaml").write_text(spec.read_text())
    rep = json.loads(skewaudit("diff", other, "-f", both, "--format", "json").out)
    mine = [x for x in rep["results"] if x["status"] == "unverifiable" and x["spec"] == "llama-3-1-70b"]
    assert 0 < len(mine) < rep["summary"]["unverifiable"]     # qwen's unverifiable results do not gate
    assert rep["gate"]["failing"] == {"unverifiable": len(mine)}


def test_policy_fail_on_rejects_non_booleans(tmp_path):
    spec = spec_with(tmp_path, lambda d: d["spec"]["policy"].update(failOn={"unpinned": "yes"}))
    r = skewaudit("validate", spec)
    assert r.code == 2 and "failOn" in r.err


def test_severity_override_and_off(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "w.yaml", lambda d: set_arg(d, "--max-num-seqs", "128"))
    spec = spec_with(tmp_path, lambda d: d["spec"]["policy"].update(severity={"runtime.max-num-seqs": "error"}))
    r = skewaudit("diff", spec, "-f", m, "--format", "json")
    assert r.code == 1
    assert next(x for x in results(r.out) if x["check"] == "runtime.max-num-seqs")["level"] == "error"
    spec = spec_with(tmp_path, lambda d: d["spec"]["policy"].update(severity={"runtime.max-num-seqs": "off"}))
    r = skewaudit("diff", spec, "-f", m, "--format", "json", "--fail-on", "warning")
    assert r.code == 0
    assert not [x for x in results(r.out) if x["check"] == "runtime.max-num-seqs"]


def test_policy_ignore_is_shown_as_skipped_with_reason(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "w.yaml", lambda d: set_arg(d, "--dtype", "float16"))
    spec = spec_with(tmp_path, lambda d: d["spec"]["policy"]["ignore"].append(
        {"check": "runtime.dtype", "reason": "fp16 validated on 2025-05-01 (EVAL-77)"}))
    r = skewaudit("diff", spec, "-f", m, "--format", "json")
    assert r.code == 0
    dt = next(x for x in results(r.out) if x["check"] == "runtime.dtype")
    assert dt["status"] == "suppressed" and "EVAL-77" in dt["reason"]
    table = skewaudit("diff", spec, "-f", m)
    assert "EVAL-77" in table.out and table.code == 0


def test_expired_ignore_stops_applying_and_says_so(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "w.yaml", lambda d: set_arg(d, "--dtype", "float16"))
    spec = spec_with(tmp_path, lambda d: d["spec"]["policy"]["ignore"].append(
        {"check": "runtime.dtype", "reason": "temporary", "expires": "2024-01-31"}))
    r = skewaudit("diff", spec, "-f", m, "--format", "json")
    assert r.code == 1
    dt = next(x for x in results(r.out) if x["check"] == "runtime.dtype")
    assert dt["status"] == "drift" and "ignore expired on 2024-01-31" in dt["message"]


def test_annotation_ignore_and_no_inline_ignores(tmp_path):
    def annotate(docs):
        set_arg(docs, "--dtype", "float16")
        dep = next(d for d in docs if d["kind"] == "Deployment")
        dep["metadata"]["annotations"] = {"skewaudit.io/ignore": "runtime.dtype=canary runs fp16 by design"}

    m = mutate(LLAMA_M, tmp_path / "a.yaml", annotate)
    r = skewaudit("diff", LLAMA, "-f", m, "--format", "json")
    assert r.code == 0
    dt = next(x for x in results(r.out) if x["check"] == "runtime.dtype")
    assert dt["status"] == "suppressed" and "canary runs fp16 by design" in dt["reason"]
    # CI owners can forbid self-exemption.
    r = skewaudit("diff", LLAMA, "-f", m, "--format", "json", "--no-inline-ignores")
    assert r.code == 1
    assert next(x for x in results(r.out) if x["check"] == "runtime.dtype")["status"] == "drift"


def test_several_formats_in_one_run_and_machine_formats_written_when_clean(tmp_path):
    out = {f: tmp_path / f"report.{f}" for f in ("json", "sarif", "junit", "markdown")}
    args = []
    for f, p in out.items():
        args += ["--format", f, "--output", p]
    r = skewaudit("diff", LLAMA, "-f", LLAMA_M, *args, "--format", "table")
    assert r.code == 0
    assert "0 drifted" in r.out  # the table went to stdout
    assert json.loads(out["json"].read_text())["schema"] == "skewaudit.io/report/v1"
    sarif = json.loads(out["sarif"].read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    suite = ET.parse(out["junit"]).getroot()
    assert int(suite.get("tests")) > 10 and int(suite.get("failures")) == 0
    assert out["markdown"].read_text().startswith("#") or "skewaudit" in out["markdown"].read_text()


def test_sarif_and_junit_of_a_drifted_run(tmp_path):
    sarif_p, junit_p = tmp_path / "r.sarif.json", tmp_path / "r.junit.xml"
    r = skewaudit("diff", LLAMA, "-f", DRIFTED, "-o", sarif_p, "-o", junit_p)
    assert r.code == 1 and r.out == ""
    sarif = json.loads(sarif_p.read_text())
    jsonschema.validate(sarif, json.loads(SARIF_SCHEMA.read_text()))
    res = {x["ruleId"]: x for x in sarif["runs"][0]["results"]}
    dt = res["runtime.dtype"]
    assert dt["level"] == "error"
    region = dt["locations"][0]["physicalLocation"]["region"]
    line = next(i for i, l in enumerate(LLAMA.read_text().splitlines(), 1) if l.strip().startswith("dtype:"))
    assert region["startLine"] == line
    cases = ET.parse(junit_p).getroot().iter("testcase")
    failed = {c.get("name").split(" ")[0] for c in cases if c.find("failure") is not None}
    assert {"runtime.dtype", "hardware.gpu-class", "runtime.quantization"} <= failed


def test_unknown_format_and_two_stdout_formats_are_usage_errors():
    r = skewaudit("diff", LLAMA, "-f", LLAMA_M, "--format", "html")
    assert r.code == 2 and "unknown" in r.err and "html" in r.err
    r = skewaudit("diff", LLAMA, "-f", LLAMA_M, "--format", "json", "--format", "sarif")
    assert r.code == 2 and "stdout" in r.err


def test_replicas_that_disagree_are_reported_as_n_of_m_pods(tmp_path):
    """Live-shaped facts (4 pods, 2 on another node pool with another dtype) saved as a snapshot."""
    from skewaudit.collect import SourceRequest, gather
    from skewaudit.collect import snapshot as snap_io
    from skewaudit.model.observed import NodeObs, PodObs

    snap = gather(SourceRequest(manifests=(str(LLAMA_M),)))
    w = snap.workloads[0]
    c = w.template.containers[0]
    c16 = msgspec.structs.replace(c, engine=msgspec.structs.replace(c.engine, fields={
        **c.engine.fields, "dtype": msgspec.structs.replace(c.engine.fields["dtype"], value="float16")}))
    pods = [PodObs(name=f"llama-{i}", namespace="ml", node=f"node-{i % 2}", containers=[c if i < 2 else c16])
            for i in range(4)]
    nodes = {"node-0": NodeObs(name="node-0", labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}),
             "node-1": NodeObs(name="node-1", labels={"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"})}
    live = msgspec.structs.replace(snap, source="live", nodes=nodes,
                                   workloads=[msgspec.structs.replace(w, pods=pods, pods_collected=True)])
    path = tmp_path / "live.json"
    snap_io.save(live, str(path))
    r = skewaudit("diff", LLAMA, "--snapshot", path, "--format", "json")
    assert r.code == 1
    rs = {x["check"]: x for x in results(r.out) if x["status"] == "drift"}
    dt = rs["runtime.dtype"]
    assert dt["scope"] == "2 of 4 pods"
    assert sorted(dt["observed"][0]["pods"]) == ["llama-2", "llama-3"]
    gpu = rs["hardware.gpu-class"]
    assert gpu["scope"] == "2 of 4 pods"
    assert {e["value"] for e in gpu["observed"]} == {"a100-80gb", "h100-80gb"} or \
        any("h100" in str(e["value"]) for e in gpu["observed"])
    assert gpu["observed"][0]["prov"]["source"] == "node-label"
    table = skewaudit("diff", LLAMA, "--snapshot", path)
    assert "2 of 4 pods" in table.out


@pytest.mark.parametrize("args,msg", [
    (["diff"], "give at least one ModelSpec"),
    (["diff", "nope.yaml", "-f", str(LLAMA_M)], "nope.yaml"),
    (["diff", str(LLAMA), "-f", "missing.yaml"], "missing.yaml"),
    (["diff", str(LLAMA), "-f", str(LLAMA_M), "--snapshot", "x.json"], "cannot be combined"),
    (["explain", "runtime.dtyp"], "did you mean runtime.dtype"),
])
def test_usage_errors_are_one_line_exit_2(args, msg):
    r = skewaudit(*args)
    assert r.code == 2, r.err
    assert msg in r.err and "Traceback" not in r.err


def test_checks_and_explain():
    r = skewaudit("checks")
    assert r.code == 0 and "runtime.dtype" in r.out and "hardware.gpu-class" in r.out
    r = skewaudit("explain", "runtime.dtype")
    assert r.code == 0 and "--dtype" in r.out and "Why it matters" in r.out
