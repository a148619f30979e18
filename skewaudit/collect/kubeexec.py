"""Exec credential plugins (kubeconfig ``users[].user.exec``), run by skewaudit, bounded.

The ``kubernetes`` client runs these plugins itself, but with no timeout (a
plugin waiting for an SSO login hangs the run) and it only *logs* a failure and
goes on without credentials, so a broken plugin ended in an anonymous run: a
401, or against a permissive server a partial collection read as drift. Here
the plugin runs with stdin closed (non-interactive), in its own process group
killed after ``--timeout`` (or at the run's deadline), and any failure (exit
≠ 0, missing binary, output that is not an ``ExecCredential``) raises
``EnvironmentUnavailable`` with the plugin's own message. The credential it
returns replaces the ``exec`` entry in the loaded kubeconfig (in memory only),
so the client never runs the plugin itself.

The protocol is client-go's (k8s.io/client-go/plugin/pkg/client/auth/exec):
``KUBERNETES_EXEC_INFO`` carries an ``ExecCredential`` with
``spec.interactive: false`` (and ``spec.cluster`` with ``provideClusterInfo``),
a relative command with a path separator is relative to the kubeconfig's
directory, and the answer's ``status`` holds a ``token`` or
``clientCertificateData`` + ``clientKeyData``.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
from typing import Any

from skewaudit import deadline
from skewaudit.errors import EnvironmentUnavailable
from skewaudit.redact import text as redact_text

MAX_OUTPUT = 1 << 20   # an ExecCredential is a few KB; more is not one


def _value(node: Any) -> Any:
    return getattr(node, "value", node)


def resolve_exec_user(config: Any, context: str, timeout: float) -> None:
    """If ``context``'s user authenticates with an exec plugin, run it (bounded) and
    put the credential it returns in its place in ``config`` (a merged kubeconfig
    as the ``kubernetes`` loader holds it). Raises EnvironmentUnavailable on failure."""
    cfg = _value(config)
    ctx = next((_value(c) for c in cfg.get("contexts") or [] if _value(c).get("name") == context), None)
    user_name = ((ctx or {}).get("context") or {}).get("user")
    users = cfg.get("users") or []
    for i, node in enumerate(users):
        entry = _value(node)
        if not isinstance(entry, dict) or entry.get("name") != user_name:
            continue
        user = entry.get("user") or {}
        if not isinstance(user, dict) or "exec" not in user:
            return
        cluster_name = (ctx.get("context") or {}).get("cluster")
        cluster = next((_value(c).get("cluster") for c in cfg.get("clusters") or []
                        if _value(c).get("name") == cluster_name), None) or {}
        path = getattr(node, "path", None)
        status = run_plugin(_value(user["exec"]), os.path.dirname(path) if path else None, _value(cluster), timeout)
        creds = {k: v for k, v in user.items() if k != "exec"}
        if status.get("token"):
            creds["token"] = status["token"]
        else:
            creds["client-certificate-data"] = base64.b64encode(status["clientCertificateData"].encode()).decode()
            creds["client-key-data"] = base64.b64encode(status["clientKeyData"].encode()).decode()
        new = {**entry, "user": creds}
        users[i] = type(node)(node.name, new, path) if hasattr(node, "value") else new
        return


def run_plugin(spec: dict, base_dir: str | None, cluster: dict, timeout: float) -> dict:
    """Run one exec plugin; its ``ExecCredential.status`` (token or client cert/key)."""
    command = spec.get("command") if isinstance(spec, dict) else None
    if not command or not isinstance(command, str):
        raise EnvironmentUnavailable("kubeconfig: the exec credential plugin has no command")
    api_version = spec.get("apiVersion") or "client.authentication.k8s.io/v1"
    name = os.path.basename(command)
    if not os.path.isabs(command) and os.sep in command and base_dir:
        command = os.path.join(base_dir, command)
    argv = [command, *[str(a) for a in spec.get("args") or []]]
    env = dict(os.environ)
    for item in spec.get("env") or []:
        if isinstance(item, dict) and item.get("name"):
            env[str(item["name"])] = str(item.get("value", ""))
    info: dict[str, Any] = {"apiVersion": api_version, "kind": "ExecCredential", "spec": {"interactive": False}}
    if spec.get("provideClusterInfo"):
        info["spec"]["cluster"] = _cluster_info(cluster)
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    what = f"running the exec credential plugin {name}"
    hint = f" ({spec['installHint'].strip().splitlines()[0]})" if str(spec.get("installHint") or "").strip() else ""
    with deadline.waiting(what):
        wait, by_deadline = deadline.budget(timeout)
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    cwd=base_dir or None, env=env, start_new_session=True)
        except FileNotFoundError:
            raise EnvironmentUnavailable(f"kubeconfig: exec credential plugin {command!r} not found{hint}") from None
        except OSError as e:
            raise EnvironmentUnavailable(f"kubeconfig: cannot run exec credential plugin {command!r}: "
                                         f"{e.strerror or e}") from None
        try:
            out, err = proc.communicate(timeout=wait)
        except subprocess.TimeoutExpired:
            _kill(proc)
            if by_deadline:
                raise deadline.reached(what) from None
            raise EnvironmentUnavailable(f"kubeconfig: exec credential plugin {name} did not finish within "
                                         f"{timeout:g} s (--timeout); killed it") from None
    if proc.returncode != 0:
        said = _last_line(err)
        raise EnvironmentUnavailable(f"kubeconfig: exec credential plugin {name} failed (exit {proc.returncode})"
                                     + (f": {said}" if said else ""))
    return _status(out, name, api_version)


def _status(out: bytes, name: str, api_version: str) -> dict:
    bad = f"kubeconfig: exec credential plugin {name} printed no valid ExecCredential"
    if len(out) > MAX_OUTPUT:
        raise EnvironmentUnavailable(f"{bad} (more than {MAX_OUTPUT} bytes)")
    try:
        doc = json.loads(out)
    except (ValueError, UnicodeDecodeError) as e:
        # never echo the output: it may hold half a token
        where = f" at line {e.lineno} column {e.colno}" if isinstance(e, json.JSONDecodeError) else ""
        raise EnvironmentUnavailable(f"{bad} (not JSON{where})") from None
    if not isinstance(doc, dict) or doc.get("kind") != "ExecCredential":
        raise EnvironmentUnavailable(f"{bad} (kind is not ExecCredential)")
    if doc.get("apiVersion") != api_version:
        raise EnvironmentUnavailable(f"{bad} (apiVersion {str(doc.get('apiVersion'))[:80]!r}, the kubeconfig "
                                     f"asks for {api_version!r})")
    status = doc.get("status")
    if not isinstance(status, dict):
        raise EnvironmentUnavailable(f"{bad} (no status)")
    if isinstance(status.get("token"), str) and status["token"]:
        return status
    if isinstance(status.get("clientCertificateData"), str) and isinstance(status.get("clientKeyData"), str):
        return status
    raise EnvironmentUnavailable(f"{bad} (status has neither token nor clientCertificateData and clientKeyData)")


def _cluster_info(cluster: dict) -> dict:
    keys = {"server": "server", "tls-server-name": "tlsServerName", "insecure-skip-tls-verify":
            "insecureSkipTLSVerify", "certificate-authority-data": "certificateAuthorityData", "proxy-url": "proxyURL"}
    out = {new: cluster[old] for old, new in keys.items() if old in cluster}
    for ext in cluster.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "client.authentication.k8s.io/exec":
            out["config"] = ext.get("extension")
    return out


def _kill(proc: subprocess.Popen) -> None:
    """Kill the plugin and everything it started (its own process group), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    try:
        proc.communicate(timeout=2)
    except subprocess.TimeoutExpired:   # a grandchild left the group and holds the pipes
        for f in (proc.stdout, proc.stderr):
            if f:
                f.close()
        proc.wait(timeout=2)


def _last_line(err: bytes) -> str:
    lines = [" ".join(ln.split()) for ln in err[-4096:].decode("utf-8", "replace").splitlines()]
    said = next((ln for ln in reversed(lines) if ln), "")
    said = redact_text(said)
    return said if len(said) <= 300 else said[:299] + "…"
