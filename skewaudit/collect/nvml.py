"""GPU facts from NVML: the only module that imports ``pynvml`` (from nvidia-ml-py), lazily.

:func:`collect_gpus` returns a :class:`~skewaudit.model.observed.GpuReport`. It works in two steps:
:func:`record` walks NVML and writes down every answer (or error) as plain JSON-able data, then a
pure builder turns that recording into the report. A failure that makes GPU facts unverifiable
(no driver, driver not loaded, no permission, GPU lost, library/driver version mismatch) gives
``GpuReport(status="unavailable", reason=<one line>)``, never an exception; a call a device does not
support leaves that one field ``None``. ``nvmlShutdown`` always follows a successful ``nvmlInit``.

Works with old bindings that return ``bytes`` (nvidia-ml-py <= 11.510.69) and new ones that return
``str``; struct fields such as the PCI bus id are ``bytes`` in every version.

Visible devices: NVML lists every GPU whose device node is in the container and ignores
``CUDA_VISIBLE_DEVICES``, so the report keeps only the devices the engine can use:
``NVIDIA_VISIBLE_DEVICES`` first (UUIDs; indices already applied by the container runtime are
recognised), then ``CUDA_VISIBLE_DEVICES`` (indices in NVML order, ``GPU-``/``MIG-`` UUIDs or
unique prefixes; parsing stops at the first invalid entry, as CUDA does). What was applied is
recorded in ``GpuReport.visible_devices``.

Record and replay (for CI, bug reports, or auditing a GPU box from elsewhere)::

    python -m skewaudit.collect.nvml record gpu-box.json      # on the GPU machine
    SKEWAUDIT_NVML_REPLAY=gpu-box.json skewaudit collect --local   # anywhere, no driver needed

A recording is JSON: top-level keys are NVML function names with their return value (or
``{"error": "GpuIsLost"}``), ``devices`` holds one such object per GPU (``mig_devices`` for MIG
instances, ``nvmlDeviceGetNvLinkState`` as a list by link), and ``binding`` is ``"bytes"`` when
the recorded binding returned bytes. :class:`~skewaudit.collect.nvml_replay.ReplayNvml` answers from it exactly like the
``pynvml`` module would; the test suite's fake NVML is the same class.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Mapping

import msgspec

from skewaudit.errors import InputError
from skewaudit.model.observed import GpuDevice, GpuReport, MigDevice

REPLAY_ENV = "SKEWAUDIT_NVML_REPLAY"
RECORDING_SCHEMA = "skewaudit.io/nvml-recording/v1"

# NVML_ERROR_* codes and the names pynvml gives their exception classes (NVMLError_<Name>).
ERROR_NAMES: dict[int, str] = {
    1: "Uninitialized", 2: "InvalidArgument", 3: "NotSupported", 4: "NoPermission", 5: "AlreadyInitialized",
    6: "NotFound", 7: "InsufficientSize", 8: "InsufficientPower", 9: "DriverNotLoaded", 10: "Timeout",
    11: "IrqIssue", 12: "LibraryNotFound", 13: "FunctionNotFound", 14: "CorruptedInforom", 15: "GpuIsLost",
    16: "ResetRequired", 17: "OperatingSystem", 18: "LibRmVersionMismatch", 19: "InUse", 20: "Memory",
    21: "NoData", 22: "VgpuEccNotSupported", 23: "InsufficientResources", 24: "FreqNotSupported",
    25: "ArgumentVersionMismatch", 26: "Deprecated", 27: "NotReady", 28: "GpuNotFound", 29: "InvalidState",
    30: "ResetTypeNotSupported", 999: "Unknown",
    -1: "ImportError",   # not NVML's: a recording made where nvidia-ml-py was missing
}
_ERROR_CODES = {v: k for k, v in ERROR_NAMES.items()}

# Failure class -> (CollectionIssue kind, one-line reason). Reasons are stable prefixes: see failure_kind.
FAILURES: dict[str, tuple[str, str]] = {
    "ImportError": ("unsupported", "nvidia-ml-py is not installed (Python module pynvml)"),
    "LibraryNotFound": ("unsupported", "no NVIDIA driver: libnvidia-ml.so.1 not found"),
    "DriverNotLoaded": ("unreachable", "NVIDIA driver not loaded: libnvidia-ml.so.1 is present but the "
                                       "kernel module is not running"),
    "NoPermission": ("forbidden", "no permission to use the GPU through NVML (cannot open /dev/nvidiactl "
                                  "or /dev/nvidia*)"),
    "GpuIsLost": ("unreachable", "GPU is lost (fell off the bus, needs a reset)"),
    "LibRmVersionMismatch": ("unreachable", "NVML library and kernel driver versions differ (driver "
                                            "upgraded without a reboot?)"),
    "Uninitialized": ("unreachable", "NVML is not initialized"),
    "FunctionNotFound": ("unsupported", "this driver's NVML lacks a function skewaudit needs"),
}
# Errors that mean the whole report is untrustworthy wherever they appear; other errors on a
# per-field call (NotSupported, FunctionNotFound, NoPermission on one query, …) only blank that field.
_FATAL = {"GpuIsLost", "LibRmVersionMismatch", "DriverNotLoaded", "Uninitialized", "LibraryNotFound"}

_DEVICE_CALLS = ("nvmlDeviceGetName", "nvmlDeviceGetUUID", "nvmlDeviceGetMemoryInfo",
                 "nvmlDeviceGetCudaComputeCapability", "nvmlDeviceGetMigMode", "nvmlDeviceGetPciInfo",
                 "nvmlDeviceGetPersistenceMode", "nvmlDeviceGetEccMode", "nvmlDeviceGetEnforcedPowerLimit",
                 "nvmlDeviceGetPowerManagementLimit")
_STRUCT_FIELDS = {"nvmlDeviceGetMemoryInfo": ("total", "free", "used"), "nvmlDeviceGetPciInfo": ("busId",),
                  "nvmlDeviceGetAttributes": ("memorySizeMB", "gpuInstanceSliceCount",
                                              "computeInstanceSliceCount", "multiprocessorCount")}


def _err(rec: Any) -> str | None:
    return rec.get("error") if isinstance(rec, dict) and "error" in rec else None


def _err_name(e: BaseException) -> str:
    code = getattr(e, "value", None)
    return ERROR_NAMES.get(code, f"code {code}") if isinstance(code, int) else type(e).__name__


# --- walking NVML ------------------------------------------------------------------------------


class _Walker:
    """Calls NVML functions and writes each answer, plain, into a recording."""

    def __init__(self, lib: Any):
        self.lib = lib
        self.binding = "str"

    def plain(self, v: Any, fields: tuple[str, ...] = ()) -> Any:
        if fields:   # ctypes struct: char arrays are bytes in every binding, so no hint there
            return {f: _text(getattr(v, f, None)) for f in fields}
        if isinstance(v, bytes):
            self.binding = "bytes"
            return _text(v)
        if isinstance(v, (list, tuple)):
            return [self.plain(x) for x in v]
        return v

    def call(self, out: dict, name: str, *args: Any, key: str | None = None, keep: bool = True) -> Any:
        """Call ``lib.name(*args)``; store the plain result (or the error) under ``key``.
        Returns the raw result, or None after an error."""
        fn = getattr(self.lib, name, None)
        if fn is None:   # an older binding without this function
            out[key or name] = {"error": "FunctionNotFound"}
            return None
        try:
            v = fn(*args)
        except self.lib.NVMLError as e:
            out[key or name] = {"error": _err_name(e)}
            return None
        if keep:
            out[key or name] = self.plain(v, _STRUCT_FIELDS.get(name, ()))
        return v


def _text(v: Any) -> Any:
    return v.decode("utf-8", "replace").rstrip("\x00") if isinstance(v, bytes) else v


def record(lib: Any = None) -> dict:
    """Walk NVML (``pynvml`` by default) and return the recording :func:`collect_gpus` builds on."""
    if lib is None:
        lib = _load_lib()
        if lib is None:
            return {"schema": RECORDING_SCHEMA, "nvmlInit": {"error": "ImportError"}}
    w = _Walker(lib)
    rec: dict[str, Any] = {"schema": RECORDING_SCHEMA}
    w.call(rec, "nvmlInit", keep=False)
    if _err(rec.get("nvmlInit")):
        return rec
    rec["nvmlInit"] = None
    try:
        w.call(rec, "nvmlSystemGetDriverVersion")
        w.call(rec, "nvmlSystemGetCudaDriverVersion_v2")
        w.call(rec, "nvmlSystemGetCudaDriverVersion")
        w.call(rec, "nvmlSystemGetNVMLVersion")
        count = w.call(rec, "nvmlDeviceGetCount")
        max_links = int(getattr(lib, "NVML_NVLINK_MAX_LINKS", 18))
        rec["nvlink_max_links"] = max_links
        rec["devices"] = [_walk_device(w, i, max_links) for i in range(count or 0)]
    finally:
        try:
            lib.nvmlShutdown()
        except lib.NVMLError:
            pass   # shutting down a lost GPU's session can fail; the facts are already recorded
    rec["binding"] = w.binding
    return rec


def _walk_device(w: _Walker, i: int, max_links: int) -> dict:
    d: dict[str, Any] = {}
    h = w.call(d, "nvmlDeviceGetHandleByIndex", i, keep=False)
    if h is None:
        return d
    for name in _DEVICE_CALLS:
        w.call(d, name, h)
    mig = d.get("nvmlDeviceGetMigMode")
    if isinstance(mig, list) and mig and mig[0] == int(getattr(w.lib, "NVML_DEVICE_MIG_ENABLE", 1)):
        d["mig_devices"] = []
        for j in range(w.call(d, "nvmlDeviceGetMaxMigDeviceCount", h) or 0):
            m: dict[str, Any] = {"index": j}
            mh = w.call(m, "nvmlDeviceGetMigDeviceHandleByIndex", h, j, keep=False)
            if mh is None:
                continue   # an empty slot answers NotFound
            w.call(m, "nvmlDeviceGetUUID", mh)
            w.call(m, "nvmlDeviceGetAttributes", mh)
            d["mig_devices"].append(m)
    links: list[Any] = []
    for link in range(max_links):
        slot: dict[str, Any] = {}
        w.call(slot, "nvmlDeviceGetNvLinkState", h, link, key="v")
        links.append(slot["v"])
    while len(links) > 1 and _err(links[-1]) and links[-1] == links[-2]:
        links.pop()   # absent links all answer the same error: keep one
    d["nvmlDeviceGetNvLinkState"] = links
    return d


# --- building the report -----------------------------------------------------------------------


class _Unavailable(Exception):
    pass


def _fail(name: str, where: str = "") -> _Unavailable:
    _, reason = FAILURES.get(name, ("unreachable", f"NVML error: {name}"))
    return _Unavailable(f"{reason}: {where}" if where else reason)


def _val(rec: dict, key: str, where: str = "") -> Any:
    """The recorded value, None for a per-field error; raises for errors that void the report."""
    v = rec.get(key)
    name = _err(v)
    if name in _FATAL:
        raise _fail(name, where)
    return None if name else v


def mig_profile(attrs: Mapping[str, Any], total_bytes: int | None) -> str | None:
    """MIG profile name from instance attributes, the way NVIDIA's tools name it (``1g.10gb``,
    ``1c.3g.20gb`` when the compute instance is smaller than its GPU instance)."""
    gi, ci, mb = attrs.get("gpuInstanceSliceCount"), attrs.get("computeInstanceSliceCount"), attrs.get("memorySizeMB")
    if not gi or not mb:
        return None
    if total_bytes:
        frac = math.ceil(mb * 2**20 / total_bytes * 8) / 8   # memory comes in eighths of the GPU
        gb = round(frac * math.ceil(total_bytes / 2**30))
    else:
        gb = math.ceil(mb / 1024)
    return f"{ci}c.{gi}g.{gb}gb" if ci and ci != gi else f"{gi}g.{gb}gb"


def _device(i: int, d: dict) -> GpuDevice:
    pci = d.get("nvmlDeviceGetPciInfo")
    where = f"GPU {i} at {pci['busId']}" if isinstance(pci, dict) and pci.get("busId") else f"GPU {i}"
    for key in ("nvmlDeviceGetHandleByIndex", "nvmlDeviceGetName"):
        if name := _err(d.get(key)):
            raise _fail(name, where) if name in FAILURES else _Unavailable(f"cannot read GPU {i}: NVML error {name}")
    mem = _val(d, "nvmlDeviceGetMemoryInfo", where)
    total = mem.get("total") if isinstance(mem, dict) else None
    cc = _val(d, "nvmlDeviceGetCudaComputeCapability", where)
    mig = _val(d, "nvmlDeviceGetMigMode", where)
    pci = _val(d, "nvmlDeviceGetPciInfo", where)
    ecc = _val(d, "nvmlDeviceGetEccMode", where)
    persist = _val(d, "nvmlDeviceGetPersistenceMode", where)
    power = _val(d, "nvmlDeviceGetEnforcedPowerLimit", where) or _val(d, "nvmlDeviceGetPowerManagementLimit", where)
    links = d.get("nvmlDeviceGetNvLinkState") or []
    for v in links:
        if _err(v) in _FATAL:
            raise _fail(_err(v), where)
    states = [v for v in links if isinstance(v, int)]
    migs = []
    for m in d.get("mig_devices", []):
        attrs = _val(m, "nvmlDeviceGetAttributes", where) or {}
        migs.append(MigDevice(index=m["index"], profile=mig_profile(attrs, total),
                              uuid=_val(m, "nvmlDeviceGetUUID", where), memory_mib=attrs.get("memorySizeMB")))
    return GpuDevice(
        index=i, name=d["nvmlDeviceGetName"], uuid=_val(d, "nvmlDeviceGetUUID", where), memory_total_bytes=total,
        compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
        mig_mode=bool(mig[0]) if mig else None, mig_devices=migs,
        pci_bus_id=pci.get("busId") if isinstance(pci, dict) else None,
        persistence_mode=bool(persist) if persist is not None else None,
        ecc_mode=bool(ecc[0]) if ecc else None,
        power_limit_w=power / 1000 if power is not None else None,
        # None when no link answered at all (a PCIe card): unsupported, not "zero links".
        nvlink_active=sum(1 for s in states if s == 1) if states else None)


def build_report(rec: dict, *, object: str = "local", env: Mapping[str, str] | None = None,
                 visible: str | None = None) -> GpuReport:
    """Turn a :func:`record` recording into a report, applying device visibility (``env``
    defaults to this process's environment; pure otherwise)."""
    try:
        if name := _err(rec.get("nvmlInit")):
            raise _fail(name)
        if name := _err(rec.get("nvmlDeviceGetCount")):
            raise _fail(name) if name in FAILURES else _Unavailable(f"NVML could not count GPUs: {name}")
        driver = _val(rec, "nvmlSystemGetDriverVersion")
        cuda = _val(rec, "nvmlSystemGetCudaDriverVersion_v2") or _val(rec, "nvmlSystemGetCudaDriverVersion")
        nvml_version = _val(rec, "nvmlSystemGetNVMLVersion")
        devices = [_device(i, d) for i, d in enumerate(rec.get("devices", []))]
    except _Unavailable as e:
        return GpuReport(source="nvml", object=object, status="unavailable", reason=str(e))
    from skewaudit.gpus import cuda_from_int

    devices, label = apply_visibility(devices, os.environ if env is None else env, visible)
    return GpuReport(source="nvml", object=object, driver_version=driver,
                     cuda_driver_version=cuda_from_int(cuda) if isinstance(cuda, int) and cuda > 0 else None,
                     nvml_version=nvml_version, devices=devices, visible_devices=label)


def failure_kind(report: GpuReport) -> str:
    """The CollectionIssue kind for an unavailable report: unsupported | unreachable | forbidden."""
    for kind, reason in FAILURES.values():
        if (report.reason or "").startswith(reason):
            return kind
    return "unreachable"


# --- visibility --------------------------------------------------------------------------------


def _select(devices: list[GpuDevice], value: str, runtime_applied: bool) -> list[GpuDevice]:
    v = value.strip()
    if v.lower() == "all":
        return devices
    if v.lower() in ("void", "none", ""):
        return []
    toks = [t.strip() for t in v.split(",")]
    if runtime_applied and (len(toks) == len(devices) and all(t.isdigit() for t in toks)
                            or not all(t.isdigit() or t.upper().startswith(("GPU-", "MIG-")) for t in toks)):
        # The container runtime already mounted exactly these devices and NVML renumbered them, or
        # the value is a runtime mechanism (the device plugin's /var/run/nvidia-container-devices).
        return devices
    out: dict[int, GpuDevice] = {}
    for tok in toks:
        if tok.isdigit() and int(tok) < len(devices):
            d = devices[int(tok)]
            out.setdefault(d.index, d)
        elif tok.upper().startswith("GPU-") and (hits := [d for d in devices if (d.uuid or "").startswith(tok)]):
            if len(hits) > 1:
                break
            out.setdefault(hits[0].index, hits[0])
        elif tok.upper().startswith("MIG-") and (hits := [(d, m) for d in devices for m in d.mig_devices
                                                           if (m.uuid or "").startswith(tok)]):
            d, m = hits[0]
            prev = out.get(d.index)
            if prev is None:
                out[d.index] = msgspec.structs.replace(d, mig_devices=[m])
            elif m not in prev.mig_devices:
                out[d.index] = msgspec.structs.replace(prev, mig_devices=[*prev.mig_devices, m])
        else:
            break   # CUDA ignores everything from the first entry it cannot use
    return list(out.values())


def apply_visibility(devices: list[GpuDevice], env: Mapping[str, str],
                     visible: str | None = None) -> tuple[list[GpuDevice], str | None]:
    """Keep the devices ``NVIDIA_VISIBLE_DEVICES`` then ``CUDA_VISIBLE_DEVICES`` (or ``visible``,
    which overrides the latter) leave to the engine; return them and what was applied."""
    applied = []
    nv = env.get("NVIDIA_VISIBLE_DEVICES")
    if nv:   # empty: the runtime was not asked to do anything
        devices = _select(devices, nv, runtime_applied=True)
        applied.append(f"NVIDIA_VISIBLE_DEVICES={nv}")
    cuda = visible if visible is not None else env.get("CUDA_VISIBLE_DEVICES")
    if cuda is not None:
        devices = _select(devices, cuda, runtime_applied=False)
        applied.append(f"CUDA_VISIBLE_DEVICES={cuda}")
    return devices, "; ".join(applied) or None


# --- entry points ------------------------------------------------------------------------------


def _load_lib() -> Any:
    try:
        import pynvml   # nvidia-ml-py; loading it does not touch the driver, nvmlInit does
    except ImportError:
        return None
    return pynvml


def collect_gpus(lib: Any = None, *, object: str = "local", visible: str | None = None,
                 env: Mapping[str, str] | None = None) -> GpuReport:
    """GPU facts of this machine. ``lib`` is a pynvml-like module (default: a replay when
    ``SKEWAUDIT_NVML_REPLAY`` is set, else ``pynvml``); ``env`` is the environment whose
    ``*_VISIBLE_DEVICES`` apply (default: this process's); ``visible`` overrides CUDA_VISIBLE_DEVICES."""
    replay = lib is None and os.environ.get(REPLAY_ENV)
    if replay:
        from skewaudit.collect.nvml_replay import load_replay

        lib = load_replay(replay)
    if not replay:
        return build_report(record(lib), object=object, env=env, visible=visible)
    try:
        report = build_report(record(lib), object=object, env=env, visible=visible)
        # a recording is hand-editable: its values get the types pynvml's would have, or exit 2
        return msgspec.convert(msgspec.to_builtins(report), GpuReport)
    except (TypeError, KeyError, AttributeError, IndexError, ValueError, ArithmeticError,
            msgspec.ValidationError) as e:
        raise InputError(f"{replay}: malformed NVML recording ({type(e).__name__}: {e})") from None


def _main(argv: list[str]) -> None:
    """``python -m skewaudit.collect.nvml record [FILE]``: write this machine's recording."""
    if not argv or argv[0] != "record":
        sys.stderr.write("usage: python -m skewaudit.collect.nvml record [FILE]\n")
        return
    text = json.dumps(record(), indent=2, sort_keys=True) + "\n"
    if len(argv) > 1:
        from skewaudit.fsutil import write_atomic

        write_atomic(argv[1], text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    _main(sys.argv[1:])
