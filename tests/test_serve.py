"""`skewaudit serve`: continuous audits of the loopback API server exposed as Prometheus metrics,
/healthz and /report; `--once [--textfile]` for CronJobs. The exposition is parsed with
prometheus_client's own parser and checked with the real `promtool` when it is installed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from clirun import EXAMPLES, MANIFESTS, ROOT, skewaudit
from kube_server import FakeKube

SPEC = EXAMPLES / "llama-3.1-70b-vllm.yaml"
DRIFTED = MANIFESTS / "llama-3.1-70b-vllm-drifted.yaml"
CLEAN = MANIFESTS / "llama-3.1-70b-vllm.yaml"
PROMTOOL = shutil.which("promtool")


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, tuple(sorted(labels.items())))]


def total(text: str, name: str, **match: str) -> float:
    return sum(v for (n, labels), v in samples(text).items()
               if n == name and all(dict(labels).get(k) == want for k, want in match.items()))


@pytest.fixture
def cluster(tmp_path: Path):
    with FakeKube() as kube:
        kube.load_yaml(DRIFTED)
        yield kube, kube.write_kubeconfig(tmp_path / "kc", extra_contexts={"down": "http://127.0.0.1:1"})


def promtool_check(text: str) -> None:
    if PROMTOOL is None:
        return
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr


def test_once_reports_drift_by_check_and_workload(cluster) -> None:
    kube, kc = cluster
    r = skewaudit("serve", SPEC, "--kubeconfig", kc, "--once")
    assert r.code == 0, r.err        # the audit ran; its drift is in the metrics, not the exit code
    m = r.out
    assert value(m, "skewaudit_gate_failed") == 1
    assert value(m, "skewaudit_gate_failing_findings", status="drift") == 10
    assert total(m, "skewaudit_findings", status="drift") == 10
    wl = dict(spec="llama-3-1-70b", namespace="ml", workload="Deployment/llama-3-1-70b")
    assert value(m, "skewaudit_findings", **wl, check="hardware.gpu-class", level="error", status="drift") == 1
    assert value(m, "skewaudit_last_run_success") == 1
    assert value(m, "skewaudit_runs_total", result="success") == 1
    assert value(m, "skewaudit_last_run_timestamp_seconds") > 1.7e9
    # Bounded labels: only these names, never an observed value.
    names = {k for (n, labels) in samples(m) if n == "skewaudit_findings" for k, _ in labels}
    assert names == {"spec", "namespace", "workload", "check", "level", "status"}
    promtool_check(m)


def test_once_textfile_is_written_whole_and_records_a_failed_run(cluster, tmp_path: Path) -> None:
    kube, kc = cluster
    out = tmp_path / "skewaudit.prom"
    r = skewaudit("serve", SPEC, "--kubeconfig", kc, "--once", "--textfile", out)
    assert (r.code, r.out) == (0, ""), r.err
    text = out.read_text()
    assert value(text, "skewaudit_gate_failed") == 1
    assert out.stat().st_mode & 0o022 == 0                                  # nobody else may rewrite it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kc", "skewaudit.prom"]   # no temporary file left
    # An unreachable cluster: exit 3 (the CronJob fails) and the textfile says the run failed.
    r = skewaudit("serve", SPEC, "--kubeconfig", kc, "--context", "down", "--timeout", "2", "--once",
                  "--textfile", out)
    assert r.code == 3 and r.err.startswith("error: ") and "Traceback" not in r.err
    text = out.read_text()
    assert value(text, "skewaudit_last_run_success") == 0 and value(text, "skewaudit_runs_total", result="error") == 1
    assert total(text, "skewaudit_findings") == 0
    promtool_check(text)


def test_bad_input_is_a_usage_error_not_a_server(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: piqc.ai/v1alpha1\nkind: ModelSpec\nspec: [\n")
    r = skewaudit("serve", bad, "--manifest", DRIFTED)
    assert r.code == 2 and r.err.count("\n") == 1 and str(bad) in r.err
    r = skewaudit("serve", SPEC, "--manifest", DRIFTED, "--textfile", tmp_path / "x.prom")
    assert (r.code, r.err) == (2, "error: --textfile writes one run's metrics: use it with --once\n")


def gate(text: str) -> float | None:
    return samples(text).get(("skewaudit_gate_failed", ()))


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:   # generous: serve audits on a loaded machine
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def wait_for(pred, what: str, limit: float = 60.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def start_serve(kc: Path, *extra: str) -> tuple[subprocess.Popen, str]:
    p = subprocess.Popen([sys.executable, "-m", "skewaudit", "serve", str(SPEC), "--kubeconfig", str(kc), "--port", "0",
                          "--interval", "1", *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env={**os.environ, "NO_COLOR": "1"})
    line = p.stderr.readline()
    assert line.startswith("skewaudit serve: listening on http://127.0.0.1:"), line
    return p, line.split("listening on ", 1)[1].split(" ", 1)[0]


def test_serve_scrapes_follow_the_cluster_and_stop_cleanly(cluster) -> None:
    kube, kc = cluster
    p, base = start_serve(kc)
    try:
        metrics = wait_for(lambda: (t := get(base + "/metrics")[2]) and gate(t) == 1 and t, "the first audit")
        code, ctype, _ = get(base + "/metrics")
        assert code == 200 and ctype.startswith("text/plain; version=0.0.4")
        assert total(metrics, "skewaudit_findings", status="drift") == 10
        promtool_check(metrics)
        code, _, body = get(base + "/healthz")
        assert code == 200 and body.startswith("ok\n")
        code, ctype, body = get(base + "/report")
        report = json.loads(body)
        assert code == 200 and ctype == "application/json" and report["summary"]["drift"] == 10
        assert report["gate"]["exit_code"] == 1
        assert get(base + "/nope")[0] == 404
        # The drift is fixed in the cluster: a later run clears the gauge (specs and cluster re-read each run).
        kube.load_yaml(CLEAN)
        wait_for(lambda: gate(get(base + "/metrics")[2]) == 0, "the fixed cluster's audit")
        assert json.loads(get(base + "/report")[2])["summary"]["drift"] == 0
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            code = p.wait(timeout=60)
        finally:
            p.kill()
    assert code == 0, p.stderr.read()
