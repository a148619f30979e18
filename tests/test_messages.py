"""Messages that match what a real kube-apiserver does, through the loopback API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import main_inprocess as run
from kube_server import FakeKube

LIVE = Path(__file__).resolve().parent / "fixtures" / "baseline" / "live.yaml"


@pytest.fixture
def cluster(kube: FakeKube, kubeconfig: Path) -> tuple[FakeKube, Path]:
    kube.load_yaml(LIVE)
    return kube, kubeconfig


def issue_lines(out: str) -> list[str]:
    return [ln.strip() for ln in out.splitlines() if "--exec failed" in ln]


@pytest.mark.parametrize("status, expected", [
    (400, "exec into ml/llama-7c9f6d5b8-abcde failed: HTTP 400 Bad Request: the server rejected our request for "
          "an unknown reason; using node labels"),
    (500, "exec into ml/llama-7c9f6d5b8-abcde failed: HTTP 500 Internal Server Error: Internal error occurred: "
          "injected failure; using node labels"),
    (403, "forbidden: pods/exec in namespace ml (--exec needs get, and create on clusters 1.30+, on pods/exec); "
          "using node labels"),
])
def test_a_failed_exec_is_one_clean_line_with_the_http_status(cluster, monkeypatch, capsys, status, expected):
    kube, kc = cluster
    kube.fail(r"/exec$", status, times=4)
    code, out, err = run(monkeypatch, capsys, "collect", "--kubeconfig", kc, "-n", "ml", "--exec", "--timeout", "3")
    assert code == 0, err
    (line,) = issue_lines(out)
    assert line.endswith(f"e.g. {expected}")
    # Never the websocket client's raw text (headers dict, separators).
    assert "-+-+-" not in out and "Handshake" not in out and "{'" not in out


def test_forbidden_names_exactly_the_verb_refused(cluster, monkeypatch, capsys):
    kube, kc = cluster
    kube.deny("list", "pods", "ml")
    code, out, err = run(monkeypatch, capsys, "collect", "--kubeconfig", kc, "-n", "ml")
    assert code == 3 and err.startswith("error: forbidden: skewaudit needs list on pods in namespace ml; ")
    assert "get/list" not in err
