"""What ``skewaudit init`` writes for one field: a value, a majority value with a comment, or a TODO.

Mixed node pools and mid-rollout workloads run different values on different
pods; :class:`Replicas` looks at every current pod's serving container so init
never pins one pod's value silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import msgspec
import yaml

from skewaudit.model.observed import ContainerObs, Snapshot, WorkloadObs


@dataclass(frozen=True)
class Todo:
    """A field left for the owner, emitted as a ``# TODO`` comment line.

    No placeholder value is ever written under it (``type: unknown`` would read
    as intent); a ``required`` field left as a TODO means the spec does not
    validate until the owner fills it in, and ``init`` says so on stderr.
    """

    why: str
    required: bool = False


@dataclass(frozen=True)
class Noted:
    """A value written with a comment line above it: the majority value when the pods disagree."""

    value: Any
    comment: str


def plain(v: Any) -> Any:
    """The value a ``Noted`` carries; None for a ``Todo``."""
    return v.value if isinstance(v, Noted) else None if isinstance(v, Todo) else v


class Replicas:
    """The serving container of every current pod (the pod template offline) of one workload.

    Mixed node pools and mid-rollout workloads run different values: ``agree``
    writes the majority value with a comment naming the others, or a ``# TODO``
    when there is no majority, never one pod's value silently. ``disagreements``
    lists what init reports on stderr."""

    def __init__(self, w: WorkloadObs, snap: Snapshot):
        pods = [p for p in w.pods if p.current and p.containers]
        self.members: list[tuple[str, ContainerObs | None]] = (
            [(p.name, _serving(p.containers)) for p in pods] or [("pod template", _serving(w.template.containers))])
        # Multi-host groups (LeaderWorkerSet): a worker that runs no engine itself (a Ray worker)
        # runs its leader's settings; count it with its leader's container, never as "unset".
        leaders = {p.group: _serving(p.containers) for p in pods if p.worker == 0}
        if leaders:
            from skewaudit.checks._base import worker_defers

            by_name = {p.name: p for p in pods}
            self.members = [(n, leaders.get(by_name[n].group) if n in by_name and by_name[n].worker and
                             worker_defers(c, leaders.get(by_name[n].group)) else c) for n, c in self.members]
        self.nodes = {p.name: snap.nodes.get(p.node) if p.node else None for p in pods}
        self.disagreements: list[str] = []
        # The container written for what is not compared value by value (probes, resources):
        # the most common one among the pods.
        counts: dict[bytes, list[ContainerObs]] = {}
        for _, c in self.members:
            if c is not None:
                counts.setdefault(msgspec.json.encode(c), []).append(c)
        self.container = max(counts.values(), key=len)[0] if counts else None

    def agree(self, key: str, get: Callable[[ContainerObs], Any]) -> Any:
        """``get`` of every pod's container, as one value, a ``Noted`` majority or a ``Todo``."""
        return self.agree_values(key, [(name, get(c) if c is not None else None) for name, c in self.members])

    def agree_values(self, key: str, values: list[tuple[str, Any]]) -> Any:
        groups: dict[str, tuple[Any, list[str]]] = {}
        for name, v in values:
            groups.setdefault(repr(v), (v, []))[1].append(name)
        if len(groups) <= 1:
            return values[0][1] if values else None
        n = len(values)
        ranked = sorted(groups.values(), key=lambda g: -len(g[1]))
        shown = "; ".join(f"{_scalar(v) if v is not None else 'unset'} on {len(ps)} ({_names(ps)})" for v, ps in ranked)
        top_v, top = ranked[0]
        if len(top) * 2 > n and top_v is not None:
            others = "; ".join(f"{_scalar(v) if v is not None else 'unset'} on {len(ps)} ({_names(ps)})"
                               for v, ps in ranked[1:])
            self.disagreements.append(f"{key}: pods disagree; wrote the majority value {_scalar(top_v)} "
                                      f"({len(top)} of {n} pods); also running: {others}")
            return Noted(top_v, f"{len(top)} of {n} pods run this; also running: {others}")
        self.disagreements.append(f"{key}: pods disagree with no majority ({shown}); left as a TODO")
        return Todo(f"{key}: the pods disagree ({shown}); write the intended value")


def _required(v: Any) -> Any:
    """A required field's TODO (pods without a majority) says the spec needs it to validate."""
    return Todo(v.why, required=True) if isinstance(v, Todo) else v


def _names(pods: list[str], limit: int = 3) -> str:
    return ", ".join(pods[:limit]) + (f" and {len(pods) - limit} more" if len(pods) > limit else "")


def _serving(containers: list[ContainerObs]) -> ContainerObs | None:
    return next((c for c in containers if c.engine is not None), containers[0] if containers else None)


def _scalar(v: Any) -> str:
    return yaml.safe_dump(v, default_flow_style=True, width=10_000).strip().removesuffix("...").strip()
