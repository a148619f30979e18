"""Opt-in ``--exec``: GPU facts from ``nvidia-smi`` run inside a pod through the Kubernetes exec API.

Off by default because it needs ``get`` (and, on clusters 1.30+, ``create``) on ``pods/exec``, which
many read-only roles lack. A refusal is one line in the report ("forbidden: pods/exec in namespace
ml …; using node labels"), any other failure one line with its HTTP status, and the audit goes on with node-label facts. :func:`parse_nvidia_smi` is pure and holds the format
knowledge; :func:`exec_gpu_report` only moves bytes. ``kubernetes`` is imported inside functions.
"""

from __future__ import annotations

import json
import re
from typing import Any

from skewaudit.model.observed import GpuDevice, GpuReport

FIELDS = ("name", "memory.total", "driver_version", "compute_cap")
COMMAND = ["nvidia-smi", f"--query-gpu={','.join(FIELDS)}", "--format=csv,noheader"]
# nvidia-smi before driver 510 has no compute_cap field; then we ask again without it.
COMMAND_OLD = ["nvidia-smi", f"--query-gpu={','.join(FIELDS[:3])}", "--format=csv,noheader"]

_MEMORY = re.compile(r"^(\d+)\s*MiB$", re.IGNORECASE)
_NA = {"[n/a]", "[not supported]", "n/a", ""}


def _rows(csv_text: str) -> list[list[str]]:
    rows = []
    for n, line in enumerate(csv_text.splitlines(), 1):
        if not line.strip():
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) not in (3, 4) or (len(cols) == 4 and not re.match(r"^\d+\.\d+$|^\[", cols[3])):
            raise ValueError(f"line {n}: unexpected nvidia-smi output: {line.strip()[:120]}")
        rows.append(cols)
    return rows


def parse_nvidia_smi(csv_text: str) -> list[GpuDevice]:
    """Devices from ``nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap
    --format=csv,noheader`` (``NVIDIA A100-SXM4-80GB, 81920 MiB, 550.107.02, 8.0``).
    Raises ValueError (with the line) on anything else, e.g. nvidia-smi's own error text."""
    devices = []
    for i, cols in enumerate(_rows(csv_text)):
        mem = _MEMORY.match(cols[1])
        cc = cols[3] if len(cols) == 4 and cols[3].lower() not in _NA else None
        devices.append(GpuDevice(index=i, name=cols[0], memory_total_bytes=int(mem.group(1)) * 2**20 if mem else None,
                                 compute_capability=cc))
    return devices


def report_from_csv(csv_text: str, object: str) -> GpuReport:
    """A report from nvidia-smi CSV; unparsable output becomes an unavailable report."""
    try:
        rows, devices = _rows(csv_text), parse_nvidia_smi(csv_text)
    except ValueError as e:
        return GpuReport(source="exec", object=object, status="unavailable", reason=str(e))
    drivers = sorted({r[2] for r in rows if r[2].lower() not in _NA})
    return GpuReport(source="exec", object=object, devices=devices, driver_version=drivers[0] if drivers else None)


_HANDSHAKE = re.compile(r"Handshake status (\d{3})\s*([^\n]*?)\s*(?:-\+-\+-|$)")


def _handshake(text: str) -> tuple[int, str, str] | None:
    """(HTTP status, reason phrase, Status message) of a refused websocket upgrade.

    The kubernetes client raises ``ApiException(status=0, reason="Handshake status 400 Bad
    Request -+-+- {headers dict} -+-+- b'{Status JSON}'")``: the headers are noise (and cut
    mid-dictionary if printed), the Status body's ``message`` is what the server said."""
    m = _HANDSHAKE.search(text)
    if m is None:
        return None
    message = ""
    parts = text.split(" -+-+- ")
    if len(parts) >= 3:
        body = parts[-1].strip()
        try:
            if body[:2] in ("b'", 'b"'):   # older clients print the body as a bytes literal
                import ast

                body = ast.literal_eval(body).decode("utf-8", "replace")
            st = json.loads(body)
            message = str(st.get("message", "")) if isinstance(st, dict) else ""
        except (ValueError, SyntaxError, AttributeError):
            message = ""
    return int(m.group(1)), m.group(2).strip(), " ".join(message.split())[:200]


def exec_error_report(e: Exception, namespace: str, pod: str) -> GpuReport:
    """One clean line for a failed exec, with the HTTP status. The kubernetes client reports a
    refused websocket handshake as ``ApiException(status=0, reason="Handshake status 403 Forbidden …")``."""
    status = getattr(e, "status", None)
    text = str(getattr(e, "reason", None) or e)
    obj = f"Pod/{namespace}/{pod}"
    hs = _handshake(text)
    if hs is not None:
        status = hs[0]
    if status == 403 or (hs is None and re.search(r"\b403\b", text)):
        reason = (f"forbidden: pods/exec in namespace {namespace} (--exec needs get, and create on clusters "
                  "1.30+, on pods/exec); using node labels")
    elif status == 404 or (hs is None and re.search(r"\b404\b", text)):
        reason = f"pod {namespace}/{pod} not found for exec; using node labels"
    elif hs is not None:
        code, phrase, message = hs
        reason = (f"exec into {namespace}/{pod} failed: HTTP {code}{' ' + phrase if phrase else ''}"
                  f"{': ' + message if message else ''}; using node labels")
    else:
        lines = text.strip().splitlines()
        first = lines[0][:160] if lines else type(e).__name__
        reason = f"exec into {namespace}/{pod} failed: {first}; using node labels"
    return GpuReport(source="exec", object=obj, status="unavailable", reason=reason)


def exec_status(error_channel: str) -> tuple[int | None, str]:
    """(exit code, message) from the exec error channel's Status JSON. Exit code None when the
    command never ran (e.g. ``executable file not found``); message is empty on success."""
    try:
        st = json.loads(error_channel) if error_channel.strip() else {}
    except ValueError:
        return None, error_channel.strip()[:160]
    if not st or st.get("status") == "Success":
        return 0, ""
    for cause in (st.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode" and str(cause.get("message", "")).isdigit():
            return int(cause["message"]), str(st.get("message", ""))
    return None, str(st.get("message", "exec failed"))


def _run(api_client: Any, namespace: str, pod: str, container: str | None, command: list[str],
         timeout: float) -> tuple[str, str, int | None, str]:
    from kubernetes import client
    from kubernetes.stream import stream

    api = client.CoreV1Api(api_client)
    kwargs = {"container": container} if container else {}
    ws = stream(api.connect_get_namespaced_pod_exec, pod, namespace, command=command, stderr=True, stdin=False,
                stdout=True, tty=False, _preload_content=False, _request_timeout=timeout, **kwargs)
    try:
        ws.run_forever(timeout=timeout)
        if ws.is_open():
            return "", "", None, f"nvidia-smi did not finish within {timeout:g}s"
        rc, message = exec_status(ws.read_channel(3))   # 3: the error channel
        return ws.read_stdout(timeout=0) or "", ws.read_stderr(timeout=0) or "", rc, message
    finally:
        ws.close()


def exec_gpu_report(api_client: Any, namespace: str, pod: str, container: str | None = None,
                    timeout: float = 10.0) -> GpuReport:
    """Run nvidia-smi in ``pod`` and report its GPUs; never raises for exec failures."""
    from kubernetes.client.exceptions import ApiException

    obj = f"Pod/{namespace}/{pod}"
    try:
        out, err, rc, message = _run(api_client, namespace, pod, container, COMMAND, timeout)
        if rc and "compute_cap" in out + err:   # nvidia-smi older than driver 510
            out, err, rc, message = _run(api_client, namespace, pod, container, COMMAND_OLD, timeout)
    except ApiException as e:
        return exec_error_report(e, namespace, pod)
    if rc != 0:
        if "executable file not found" in message or "no such file" in message.lower():
            detail = "nvidia-smi is not in the container"
        else:
            lines = (err or out or message).strip().splitlines()
            detail = lines[0][:160] if lines else f"exit code {rc}"
        return GpuReport(source="exec", object=obj, status="unavailable",
                         reason=f"nvidia-smi failed in {obj}: {detail}; using node labels")
    return report_from_csv(out, obj)
