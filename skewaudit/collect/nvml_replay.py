"""Replay of a recorded NVML session: a stand-in for the ``pynvml`` module.

``SKEWAUDIT_NVML_REPLAY=recording.json`` makes :func:`skewaudit.collect.nvml.collect_gpus`
answer from a recording made with ``python -m skewaudit.collect.nvml record FILE`` on a GPU
machine, so a GPU box can be audited (and the collector tested) where no driver exists. The
recording format is described in :mod:`skewaudit.collect.nvml`.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from skewaudit.collect.nvml import _ERROR_CODES, _STRUCT_FIELDS, ERROR_NAMES, REPLAY_ENV, _err
from skewaudit.errors import InputError


def load_replay(path: str) -> "ReplayNvml":
    """A :class:`ReplayNvml` for a recording file; bad files are the user's input error."""
    try:
        with open(path, encoding="utf-8") as f:
            rec = json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read NVML recording ({REPLAY_ENV}): {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: not an NVML recording: {e.msg}") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("devices", []), list):
        raise InputError(f"{path}:1:1: not an NVML recording: expected an object with a 'devices' list")
    return ReplayNvml(rec)




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
