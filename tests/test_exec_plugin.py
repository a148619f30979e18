"""Exec credential plugins (kubeconfig ``users[].user.exec``) against the loopback API server.

Real tiny plugins written to tmp: one that prints a valid ExecCredential, one
that hangs, one that fails with a message, one that prints junk, one that is
missing. A failing plugin must end the run with exit 3 and its message, never an
anonymous run; a hanging one is killed after ``--timeout``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from clirun import main_inprocess
from kube_server import FakeKube
from test_collect_manifests import FIXTURES, K8S

API = "client.authentication.k8s.io/v1"


def plugin(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text("#!/bin/sh\n" + body + "\n")
    p.chmod(0o755)
    return p


def exec_kubeconfig(kube: FakeKube, tmp_path: Path, command: str, **extra) -> Path:
    user = {"exec": {"apiVersion": API, "command": command, "interactiveMode": "Never", **extra}}
    cfg = {"apiVersion": "v1", "kind": "Config",
           "clusters": [{"name": "loopback", "cluster": {"server": kube.url}}],
           "users": [{"name": "sso", "user": user}],
           "contexts": [{"name": "loopback", "context": {"cluster": "loopback", "user": "sso", "namespace": "ml"}}],
           "current-context": "loopback"}
    out = tmp_path / "kubeconfig"
    out.write_text(yaml.safe_dump(cfg))
    return out


@pytest.fixture
def loaded(kube: FakeKube) -> FakeKube:
    kube.load_yaml(*(K8S / f for f in FIXTURES))
    return kube


def run(monkeypatch, capsys, kc: Path, *extra: str) -> tuple[int, str, str, float]:
    t0 = time.monotonic()
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kc), *extra)
    return code, out, err, time.monotonic() - t0


def test_a_valid_exec_credential_is_used(loaded: FakeKube, tmp_path: Path, monkeypatch, capsys) -> None:
    seen = tmp_path / "exec-info.json"
    plugin(tmp_path, "corp-login", f'printf "%s" "$KUBERNETES_EXEC_INFO" > {seen}\n'
           f'printf \'{{"apiVersion":"{API}","kind":"ExecCredential","status":{{"token":"%s",'
           f'"expirationTimestamp":"2099-01-01T00:00:00Z"}}}}\' "$SSO_TOKEN"')
    # a relative command with a slash is relative to the kubeconfig's directory (client-go)
    kc = exec_kubeconfig(loaded, tmp_path, "./corp-login", env=[{"name": "SSO_TOKEN", "value": loaded.token}],
                         provideClusterInfo=True)
    code, out, err, _ = run(monkeypatch, capsys, kc)
    assert code == 0 and "llama-3-1-70b" in out, err
    info = json.loads(seen.read_text())
    assert info["kind"] == "ExecCredential" and info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == loaded.url
    assert loaded.token not in out + err


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (it may be reaped while we read)."""
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False


def test_a_hanging_plugin_is_killed_after_the_timeout(loaded: FakeKube, tmp_path: Path, monkeypatch, capsys) -> None:
    pid_file = tmp_path / "child.pid"
    plugin(tmp_path, "sso-wait", f"sleep 300 &\necho $! > {pid_file}\nwait")
    kc = exec_kubeconfig(loaded, tmp_path, str(tmp_path / "sso-wait"))
    # 3 s: time enough for the plugin's shell to start its child even on a loaded machine
    code, out, err, took = run(monkeypatch, capsys, kc, "--timeout", "3")
    assert code == 3 and out == ""
    assert err == "error: kubeconfig: exec credential plugin sso-wait did not finish within 3 s (--timeout); killed it\n"
    assert took < 60     # killed after the timeout, not waited for (its child sleeps 300 s); generous for a cold start
    child = int(pid_file.read_text())
    end = time.monotonic() + 30
    while _running(child):   # the plugin's own children die with it (its process group)
        if time.monotonic() > end:
            os.kill(child, 9)
            pytest.fail("the plugin's child outlived the run")
        time.sleep(0.1)
    assert not [r for r in loaded.requests if r[1] != "/version"], "no request may go out without credentials"


@pytest.mark.parametrize("body, message", [
    ('echo "error: SSO session expired; run corp-login --refresh" >&2\nexit 1',
     "exec credential plugin bad-plugin failed (exit 1): error: SSO session expired; run corp-login --refresh"),
    ("echo '<html>Sign in</html>'", "exec credential plugin bad-plugin printed no valid ExecCredential "
                                    "(not JSON at line 1 column 1)"),
    ("echo '{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{}}'",
     "exec credential plugin bad-plugin printed no valid ExecCredential (apiVersion "
     "'client.authentication.k8s.io/v1beta1', the kubeconfig asks for 'client.authentication.k8s.io/v1')"),
    (f"echo '{{\"apiVersion\":\"{API}\",\"kind\":\"ExecCredential\",\"status\":{{\"expirationTimestamp\":\"x\"}}}}'",
     "exec credential plugin bad-plugin printed no valid ExecCredential (status has neither token nor "
     "clientCertificateData and clientKeyData)"),
])
def test_a_failing_plugin_is_exit_3_never_an_anonymous_run(loaded: FakeKube, tmp_path: Path, monkeypatch, capsys,
                                                           body: str, message: str) -> None:
    plugin(tmp_path, "bad-plugin", body)
    kc = exec_kubeconfig(loaded, tmp_path, str(tmp_path / "bad-plugin"))
    code, out, err, _ = run(monkeypatch, capsys, kc)
    assert code == 3 and out == ""
    assert err == f"error: kubeconfig: {message}\n"
    assert loaded.requests == []


def test_a_missing_plugin_names_its_install_hint(loaded: FakeKube, tmp_path: Path, monkeypatch, capsys) -> None:
    kc = exec_kubeconfig(loaded, tmp_path, "/nonexistent/kubelogin",
                         installHint="kubelogin is required: see https://azure.github.io/kubelogin/\nmore text")
    code, out, err, _ = run(monkeypatch, capsys, kc)
    assert code == 3
    assert err == ("error: kubeconfig: exec credential plugin '/nonexistent/kubelogin' not found "
                   "(kubelogin is required: see https://azure.github.io/kubelogin/)\n")
    assert loaded.requests == []


def test_a_plugin_message_carrying_a_secret_is_redacted(loaded: FakeKube, tmp_path: Path, monkeypatch, capsys) -> None:
    plugin(tmp_path, "leaky", 'echo "refresh failed for --client-secret s3cr3t-VALUE-123" >&2\nexit 2')
    kc = exec_kubeconfig(loaded, tmp_path, str(tmp_path / "leaky"))
    code, out, err, _ = run(monkeypatch, capsys, kc)
    assert code == 3 and "failed (exit 2): refresh failed for --client-secret" in err
    assert "s3cr3t-VALUE-123" not in err
