"""Recorded fake NVML for tests: ``pynvml``'s functions and error classes, answered from JSON.

The fake is :class:`skewaudit.collect.nvml_replay.ReplayNvml`, the same class users get with
``SKEWAUDIT_NVML_REPLAY=file.json``, so the tests exercise the shipped replay path. Recordings
live in ``tests/fixtures/nvml/`` (format in the ``skewaudit.collect.nvml`` docstring):

- ``a100x4_nvlink``: 4 x NVIDIA A100-SXM4-80GB, 12 active NVLinks each, MIG off
- ``h100x8_mig``: 8 x NVIDIA H100 80GB HBM3, MIG on (1g.10gb x7 on GPUs 0-5, 4g.40gb+3g.40gb, 7g.80gb)
- ``t4_bytes``: Tesla T4 through an old binding that returns ``bytes``
- ``l4``: NVIDIA L4
- failures: ``no_library``, ``driver_not_loaded``, ``no_permission``, ``version_mismatch``,
  ``gpu_lost`` (GPU 1 of 2), ``not_supported`` (A10G whose optional queries are unsupported)
"""

from __future__ import annotations

import json
from pathlib import Path

from skewaudit.collect.nvml_replay import ReplayNvml

FIXTURES = Path(__file__).parent / "fixtures" / "nvml"
NAMES = sorted(p.stem for p in FIXTURES.glob("*.json"))


def path(name: str) -> str:
    """Path of the recording ``name`` (without ``.json``)."""
    p = FIXTURES / f"{name}.json"
    if not p.exists():
        raise FileNotFoundError(f"no NVML recording {name!r}; have {', '.join(NAMES)}")
    return str(p)


def recording(name: str) -> dict:
    return json.loads(Path(path(name)).read_text())


def load(name: str) -> ReplayNvml:
    """A fresh fake ``pynvml`` module answering from recording ``name``."""
    return ReplayNvml(recording(name))
