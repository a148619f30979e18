"""`skewaudit serve --once --pushgateway URL` (the CronJob style) pushing to a real Prometheus Pushgateway
(Debian's prometheus-pushgateway package; `.ci/run` installs it when missing), which audits the loopback
API server. What the gateway then serves is parsed with prometheus_client's own parser."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from clirun import ROOT, skewaudit
from ports import spawn_listening, stop
from test_serve import SPEC, cluster, get, samples  # noqa: F401 - cluster is a fixture

PUSHGATEWAY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")
needs_gateway = pytest.mark.skipif(PUSHGATEWAY is None, reason="prometheus-pushgateway not installed (Debian "
                                   "package prometheus-pushgateway; .ci/run installs it when it can)")


@pytest.fixture
def gateway(tmp_path: Path):
    # Debian's build persists to /var/lib/prometheus by default: each test gets its own file.
    argv = lambda port: [PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn",  # noqa: E731
                         f"--persistence.file={tmp_path / 'pushgateway.data'}"]
    proc, url = spawn_listening(argv, lambda url: get(f"{url}/-/ready")[0] == 200, "the pushgateway")
    try:
        yield url
    finally:
        stop(proc)


def pushed(url: str, job: str = "skewaudit") -> dict:
    """The samples the gateway serves for ``job`` (its own labels job and instance dropped)."""
    code, _, text = get(f"{url}/metrics")
    assert code == 200
    out = {}
    for (name, labels), v in samples(text).items():
        d = dict(labels)
        if d.pop("job", None) == job:
            d.pop("instance", None)
            out[(name, tuple(sorted(d.items())))] = v
    return out


@needs_gateway
def test_once_pushes_the_run_to_a_real_pushgateway(cluster, gateway) -> None:
    kube, kc = cluster
    r = skewaudit("serve", SPEC, "--kubeconfig", kc, "--once", "--pushgateway", gateway)
    assert (r.code, r.out) == (0, ""), r.err
    got = pushed(gateway)
    assert got[("skewaudit_gate_failed", ())] == 1
    assert got[("skewaudit_last_run_success", ())] == 1
    assert sum(v for (n, labels), v in got.items() if n == "skewaudit_findings" and ("status", "drift") in labels) == 10
    # A failed run replaces the group: the gateway now says the last run failed, and the CronJob fails (3).
    r = skewaudit("serve", SPEC, "--kubeconfig", kc, "--context", "down", "--timeout", "2", "--once",
                  "--pushgateway", gateway, "--push-job", "skewaudit")
    assert r.code == 3 and r.err.startswith("error: ") and "Traceback" not in r.err
    got = pushed(gateway)
    assert got[("skewaudit_last_run_success", ())] == 0
    assert got[("skewaudit_runs_total", (("result", "error"),))] == 1
    assert not [k for k in got if k[0] == "skewaudit_findings"]


CRONJOB = ROOT / "deploy" / "examples" / "cronjob-pushgateway.yaml"


def test_the_cronjob_example_is_valid() -> None:
    from kube_server import VERSION_INFO

    doc = yaml.safe_load(CRONJOB.read_text())
    kubernetes_validate.validate(doc, f"{VERSION_INFO['major']}.{VERSION_INFO['minor']}", strict=True)


@needs_gateway
def test_the_cronjob_examples_arguments_push(cluster, gateway) -> None:
    """The example's own arguments, run by the real CLI: the spec directory and gateway URL pointed here."""
    kube, kc = cluster
    doc = yaml.safe_load(CRONJOB.read_text())
    args = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["serve", "/etc/skewaudit/specs"]
    args = [str(SPEC) if a == "/etc/skewaudit/specs" else f"--pushgateway={gateway}" if a.startswith("--pushgateway=")
            else a for a in args[1:]]
    r = skewaudit("serve", *args, "--kubeconfig", kc)
    assert (r.code, r.out) == (0, ""), r.err
    assert pushed(gateway)[("skewaudit_gate_failed", ())] == 1


@needs_gateway
def test_push_job_names_the_group(cluster, gateway) -> None:
    kube, kc = cluster
    r = skewaudit("serve", SPEC, "--kubeconfig", kc, "--once", "--pushgateway", gateway, "--push-job", "skew-prod")
    assert r.code == 0, r.err
    assert pushed(gateway, "skew-prod")[("skewaudit_gate_failed", ())] == 1 and pushed(gateway) == {}


def test_an_unreachable_gateway_is_exit_3_naming_it(cluster) -> None:
    kube, kc = cluster
    r = skewaudit("serve", SPEC, "--kubeconfig", kc, "--once", "--pushgateway", "http://127.0.0.1:1")
    assert r.code == 3 and r.err.count("\n") == 1
    assert r.err.startswith("error: cannot push to pushgateway http://127.0.0.1:1")


def test_a_gateway_that_never_answers_is_bounded_by_timeout(cluster) -> None:
    kube, kc = cluster
    with socket.socket() as silent:          # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            silent.settimeout(0.2)
            while not stop.is_set():
                try:
                    held.append(silent.accept()[0])
                except OSError:
                    continue

        t = threading.Thread(target=accept, daemon=True)
        t.start()
        try:
            url = f"http://127.0.0.1:{silent.getsockname()[1]}"
            r = skewaudit("serve", SPEC, "--kubeconfig", kc, "--once", "--pushgateway", url, "--timeout", "1")
        finally:
            stop.set()
            t.join(timeout=10)
            for c in held:
                c.close()
    assert r.code == 3 and "no answer within 1 s" in r.err, r.err


@pytest.mark.parametrize("args,message", [
    (["--pushgateway", "http://127.0.0.1:9091"], "use it with --once"),
    (["--once", "--pushgateway", "127.0.0.1:9091"], "must be an http:// or https:// URL"),
])
def test_pushgateway_flag_errors_are_usage_errors(args, message) -> None:
    r = skewaudit("serve", SPEC, "--manifest", SPEC, *args)
    assert r.code == 2 and message in r.err
