"""A real Prometheus server (Debian's prometheus package) scrapes `skewaudit serve`, which audits the
loopback API server; the drift gauge is then read back through Prometheus's HTTP query API."""

from __future__ import annotations

import json
import shutil
import urllib.parse
from pathlib import Path

import pytest
import yaml

from kube_server import FakeKube
from ports import spawn_listening, stop
from test_serve import DRIFTED, get, start_serve, wait_for

PROMETHEUS = shutil.which("prometheus")


def query(base: str, expr: str) -> list[dict]:
    code, _, body = get(f"{base}/api/v1/query?query={urllib.parse.quote(expr)}")
    if code != 200:
        return []
    answer = json.loads(body)
    return answer["data"]["result"] if answer.get("status") == "success" else []


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not installed (Debian package prometheus; .ci/run "
                    "installs it when it can)")
def test_prometheus_scrapes_serve_and_answers_the_drift_query(tmp_path: Path) -> None:
    with FakeKube() as kube:
        kube.load_yaml(DRIFTED)
        kc = kube.write_kubeconfig(tmp_path / "kc")
        serve, base = start_serve(kc)
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "skewaudit", "static_configs": [
                {"targets": [base.removeprefix("http://")]}]}]}))
        argv = lambda port: [PROMETHEUS, f"--config.file={config}",  # noqa: E731
                             f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
                             "--log.level=warn"]
        try:
            prom, api = spawn_listening(argv, lambda url: get(f"{url}/-/ready")[0] == 200, "prometheus")
        except BaseException:
            stop(serve)
            raise
        try:
            gate = wait_for(lambda: query(api, 'skewaudit_gate_failed{job="skewaudit"}'), "Prometheus to scrape",
                            limit=120)
            assert [r["value"][1] for r in gate] == ["1"]
            drift = query(api, 'sum by (workload, namespace) (skewaudit_findings{status="drift"})')
            assert [(r["metric"], r["value"][1]) for r in drift] == [
                ({"namespace": "ml", "workload": "Deployment/llama-3-1-70b"}, "10")]
            up = query(api, 'up{job="skewaudit"}')
            assert [r["value"][1] for r in up] == ["1"]
        finally:
            for p in (prom, serve):
                stop(p)
        assert prom.returncode is not None and prom.stderr.read().count("level=error") == 0
