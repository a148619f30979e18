"""Replay of a recorded NVML session: a stand-in for the ``pynvml`` module.

``SKEWAUDIT_NVML_REPLAY=recording.json`` makes :func:`skewaudit.collect.nvml.collect_gpus`
answer from a recording made with ``python -m skewaudit.collect.nvml record FILE`` on a GPU
machine, so a GPU box can be audited (and the collector tested) where no driver exists. The
recording format is described in :mod:`skewaudit.collect.nvml`.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from skewaudit.collect import recording
from skewaudit.collect.nvml import _ERROR_CODES, _STRUCT_FIELDS, ERROR_NAMES, REPLAY_ENV, _err


def load_replay(path: str) -> "ReplayNvml":
    """A :class:`ReplayNvml` for a recording file; bad files are the user's input error."""
    rec = recording.read(path, REPLAY_ENV, cannot_read="NVML recording", not_a="an NVML recording",
                         shape=_shape)
    return ReplayNvml(rec)


# Counts the replay loops over: bounded, so a recording cannot make a run loop for hours
# (NVML has 18 NVLink slots, at most 7 MIG instances a GPU; 4,096 GPUs is no single machine).
_COUNTS = {"nvlink_max_links": 64, "nvmlDeviceGetCount": 4096}
_DEVICE_COUNTS = {"nvmlDeviceGetMaxMigDeviceCount": 64}


def _shape(rec: Any) -> str | None:
    if not isinstance(rec, dict) or not isinstance(rec.get("devices", []), list):
        return "expected an object with a 'devices' list"
    if not isinstance(rec.get("nvlink_max_links", 18), int):
        return "'nvlink_max_links' must be an integer"
    checks = [("", rec, _COUNTS)] + [(f"devices[{i}].", d, _DEVICE_COUNTS)
                                      for i, d in enumerate(rec["devices"] if "devices" in rec else ())
                                      if isinstance(d, dict)]
    for where, obj, limits in checks:
        for key, limit in limits.items():
            v = obj.get(key)
            if isinstance(v, int) and not isinstance(v, bool) and not 0 <= v <= limit:
                return f"{where}{key}: {v} is out of range (0 to {limit})"
    return None


class NVMLError(Exception):
    """Replay's NVMLError: like pynvml's, ``NVMLError(code)`` builds the ``NVMLError_<Name>`` subclass."""

    _classes: dict[int, type] = {}

    def __new__(cls, value: int):
        typ = NVMLError._classes.get(value, cls) if cls is NVMLError else cls
        obj = Exception.__new__(typ)
        obj.value = value
        return obj

    def __init__(self, value: int):
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return ERROR_NAMES.get(self.value, f"NVML error {self.value}")


for _code, _name in ERROR_NAMES.items():
    NVMLError._classes[_code] = type(f"NVMLError_{_name}", (NVMLError,), {})


class _Handle:
    def __init__(self, rec: dict, label: str):
        self.rec, self.label = rec, label

    def __repr__(self) -> str:
        return f"<replay handle {self.label}>"


class ReplayNvml:
    """Stands in for the ``pynvml`` module, answering from a recording (see the module docstring).

    Enforces what the real library does: calls before ``nvmlInit`` raise Uninitialized, string
    getters return bytes when the recording says so, PCI bus ids are always bytes. ``calls``
    lists every function called, so tests can check that ``nvmlShutdown`` ran.
    """

    NVMLError = NVMLError
    NVML_DEVICE_MIG_ENABLE = 1

    def __init__(self, recording: dict):
        self._rec = recording
        self._inits = 0
        self.calls: list[str] = []
        self.NVML_NVLINK_MAX_LINKS = int(recording.get("nvlink_max_links", 18))
        for cls in NVMLError._classes.values():
            setattr(self, cls.__name__, cls)

    def _check_init(self) -> None:
        if not self._inits:
            raise NVMLError(_ERROR_CODES["Uninitialized"])

    def _devices(self) -> list[dict]:
        self._check_init()
        return self._rec.get("devices", [])

    def _answer(self, name: str, rec: dict, index: int | None = None) -> Any:
        self._check_init()
        # Hand-written recordings leave out what a device does not support.
        v = rec.get(name, {"error": "NotSupported"})
        if index is not None and isinstance(v, list):   # per link; links past the list repeat the last error
            v = v[index] if index < len(v) else (v[-1] if v and _err(v[-1]) else {"error": "InvalidArgument"})
        if name_ := _err(v):
            raise NVMLError(_ERROR_CODES.get(name_, 999))
        if name in _STRUCT_FIELDS:
            fields = {k: (x.encode() if isinstance(x, str) else x) if k == "busId" else x for k, x in v.items()}
            return SimpleNamespace(**fields)
        if name == "nvmlDeviceGetCudaComputeCapability":
            return tuple(v)
        if isinstance(v, str) and self._rec.get("binding") == "bytes":
            return v.encode()
        return v

    def nvmlInit(self) -> None:
        self.calls.append("nvmlInit")
        if name := _err(self._rec.get("nvmlInit")):
            raise NVMLError(_ERROR_CODES.get(name, 999))
        self._inits += 1

    def nvmlShutdown(self) -> None:
        self.calls.append("nvmlShutdown")
        if not self._inits:
            raise NVMLError(_ERROR_CODES["Uninitialized"])
        self._inits -= 1

    def nvmlDeviceGetHandleByIndex(self, i: int) -> _Handle:
        self.calls.append("nvmlDeviceGetHandleByIndex")
        devices = self._devices()
        if i >= len(devices):
            raise NVMLError(_ERROR_CODES["InvalidArgument"])
        if name := _err(devices[i].get("nvmlDeviceGetHandleByIndex")):
            raise NVMLError(_ERROR_CODES.get(name, 999))
        return _Handle(devices[i], f"GPU {i}")

    def nvmlDeviceGetMigDeviceHandleByIndex(self, h: _Handle, j: int) -> _Handle:
        self.calls.append("nvmlDeviceGetMigDeviceHandleByIndex")
        self._check_init()
        for m in h.rec.get("mig_devices", []):
            if m.get("index") == j:
                return _Handle(m, f"{h.label} MIG {j}")
        raise NVMLError(_ERROR_CODES["NotFound"])

    def nvmlDeviceGetNvLinkState(self, h: _Handle, link: int) -> int:
        self.calls.append("nvmlDeviceGetNvLinkState")
        return self._answer("nvmlDeviceGetNvLinkState", h.rec, index=link)

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("nvml"):
            raise AttributeError(name)
        if name.startswith("nvmlDevice") and name != "nvmlDeviceGetCount":
            def device_fn(h: _Handle, *args: Any) -> Any:
                self.calls.append(name)
                return self._answer(name, h.rec)
            return device_fn

        def system_fn(*args: Any) -> Any:
            self.calls.append(name)
            if name == "nvmlDeviceGetCount" and "nvmlDeviceGetCount" not in self._rec:
                return len(self._devices())
            return self._answer(name, self._rec)
        return system_fn
