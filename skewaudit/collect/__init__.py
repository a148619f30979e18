"""Collectors: the only code that reads the outside world.

:func:`gather` dispatches one :class:`SourceRequest` to the collector for its
mode and returns a :class:`~skewaudit.model.observed.Snapshot`. Collectors
record per-target failures as ``CollectionIssue`` entries and raise
``EnvironmentUnavailable`` only when the whole source cannot be read.
Each collector imports its heavy library (``kubernetes``, ``pynvml``) lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from skewaudit.collect.request import SourceRequest, Target

if TYPE_CHECKING:
    from skewaudit.model.observed import Snapshot

__all__ = ["SourceRequest", "Target", "gather"]


def gather(req: SourceRequest) -> "Snapshot":
    """Collect the facts ``req`` asks for."""
    mode = req.mode
    if mode == "snapshot":
        from skewaudit.collect import snapshot

        return snapshot.load(req.snapshot or "")
    if mode == "local":
        from skewaudit.collect import local

        return local.collect(req)
    if mode == "manifest":
        from skewaudit.collect import manifests

        return manifests.collect(req)
    from skewaudit.collect import kube

    return kube.collect(req)
