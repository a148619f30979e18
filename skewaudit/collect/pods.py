"""Pod bookkeeping: pods kept compactly as list pages arrive, indexed for the join.

Owns :class:`PodStore` and its :class:`PodRec` records: a small record per
pod (node, phase, controller, revision hash, container statuses) plus one
decoded copy of each *distinct* container spec, so memory follows the number
of templates, not the number of pods; and the owner / InferenceService
indexes the join uses instead of scanning. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import msgspec

from skewaudit.collect import k8s_types as k
from skewaudit.collect import kinds
from skewaudit.collect.quantities import canonical_quantities
from skewaudit.collect.kserve import ISVC_LABEL

# Pods of a controller that names its ReplicaSets "<workload>-<hash>", by the hash label
# the controller sets: they join their workload even when the ReplicaSet is not in the input.
RS_HASH_LABELS = (("pod-template-hash", "Deployment>"), ("rollouts-pod-template-hash", "Rollout>"))


@dataclass(slots=True)
class PodRec:
    """One pod, compactly: container specs are ids into :attr:`PodStore.specs`."""

    name: str
    ns: str
    node: str | None
    phase: str | None
    owner: tuple[str, str] | None          # controller (kind, name)
    revision: str | None                   # pod-template-hash / controller-revision-hash
    specs: tuple[int, ...]
    statuses: tuple[tuple[str, bool | None, int | None] | None, ...]   # (imageID, ready, restarts)
    observed: bool                         # has a status: a running pod, not a manifest
    full: k.Pod | None = None              # kept for bare / explicitly targeted pods
    tags: dict[str, str] | None = None     # labels a registered kind reads (LWS group/worker index)


class KnownQuantities:
    """Resource dicts (``limits`` / ``requests``) already found valid, so the pods of one
    template are checked once, not once each (10,000 pods run a few hundred distinct dicts).

    Only all-string dicts are remembered (what an API server sends): ``1``, ``1.0`` and
    ``"1"`` stay apart, and a dict with an int or float is always checked in full. A dict
    with a bad quantity is never remembered, so every pod carrying one gets its issue."""

    def __init__(self) -> None:
        self._ok: set[tuple] = set()

    @staticmethod
    def _dicts(spec: k.PodSpec) -> Iterator[dict]:
        for c in (*spec.containers, *spec.init_containers):
            r = c.resources
            if r is not None:
                if r.limits:
                    yield r.limits
                if r.requests:
                    yield r.requests

    def known(self, spec: k.PodSpec) -> bool:
        """Every quantity of this pod spec is one already found valid under the same resource name."""
        ok = self._ok
        for cs in (spec.containers, spec.init_containers):
            for c in cs:
                r = c.resources
                if r is not None and ((r.limits and tuple(r.limits.items()) not in ok)
                                      or (r.requests and tuple(r.requests.items()) not in ok)):
                    return False
        return True

    def remember(self, spec: k.PodSpec) -> None:
        """This pod spec's quantities were just checked and found valid."""
        for d in self._dicts(spec):
            if all(type(v) is str for v in d.values()):
                self._ok.add(tuple(d.items()))


class PodStore:
    """Pods as they arrive page by page, indexed for the join.

    Each distinct (namespace, index, container spec) is decoded once and
    shared, so a 10,000-pod fleet of 50 templates holds 50 container specs.
    ``keep_full(pod)`` says which pods keep their whole spec (they are
    workloads themselves: bare pods, pods a target names).
    """

    def __init__(self, keep_full: Callable[[k.Pod], bool] | None = None):
        self.recs: list[PodRec] = []
        self.specs: list[tuple[str, k.Container]] = []
        self._ids: dict[bytes, int] = {}
        # (namespace, owner kind, owner name, index) -> the last (spec, id) seen there: pods
        # of one ReplicaSet nearly always run the same spec, and comparing two decoded
        # structs is much cheaper than encoding one.
        self._last: dict[tuple, tuple[k.Container, int]] = {}
        self._keep_full = keep_full
        self.by_owner: dict[tuple[str, str, str], list[PodRec]] = {}
        self.by_isvc: dict[tuple[str, str], list[PodRec]] = {}
        # (kind, namespace, name) -> pods of a registered kind, joined by its pod label
        self.by_label: dict[tuple[str, str, str], list[PodRec]] = {}
        self._pod_labels = kinds.pod_labels()
        self._tag_keys = kinds.tag_labels()
        self.count = 0

    def spec_id(self, ns: str, i: int, c: k.Container, owner: tuple[str, str] | None = None) -> int:
        slot = (ns, *owner, i) if owner is not None else None
        if slot is not None:
            last = self._last.get(slot)
            # Equal structs encode equally (quantities are canonical strings by now).
            if last is not None and last[0] == c:
                return last[1]
        key = f"{ns}\x00{i}\x00".encode() + msgspec.json.encode(c)
        sid = self._ids.get(key)
        if sid is None:
            sid = self._ids[key] = len(self.specs)
            self.specs.append((ns, c))
        if slot is not None:
            self._last[slot] = (self.specs[sid][1], sid)
        return sid

    def find_id(self, ns: str, i: int, c: k.Container) -> int | None:
        """The id of this exact container spec if some pod runs it."""
        return self._ids.get(f"{ns}\x00{i}\x00".encode() + msgspec.json.encode(c))

    def add(self, pod: k.Pod) -> None:
        md, ns = pod.metadata, pod.metadata.namespace
        canonical_quantities(pod.spec)
        ctrl = next((o for o in md.owner_references if o.controller), None) or \
            (md.owner_references[0] if md.owner_references else None)
        owner = (ctrl.kind, ctrl.name) if ctrl is not None else None
        st = pod.status
        by_name = {s.name: s for s in st.container_statuses} if st is not None else {}
        statuses = tuple((s.image_id, s.ready, s.restart_count) if (s := by_name.get(c.name)) else None
                         for c in pod.spec.containers)
        keep = owner is None or (self._keep_full is not None and self._keep_full(pod))
        rec = PodRec(name=md.name, ns=ns, node=pod.spec.node_name, phase=st.phase if st else None, owner=owner,
                     revision=md.labels.get("pod-template-hash") or md.labels.get("rollouts-pod-template-hash")
                     or md.labels.get("controller-revision-hash"),
                     specs=tuple(self.spec_id(ns, i, c, owner) for i, c in enumerate(pod.spec.containers)),
                     statuses=statuses, observed=st is not None and (st.phase is not None or bool(by_name)),
                     full=pod if keep else None,
                     tags={t: md.labels[t] for t in self._tag_keys if t in md.labels} or None)
        self.recs.append(rec)
        self.count += 1
        if owner is not None:
            self.by_owner.setdefault((ns, *owner), []).append(rec)
            if owner[0] == "ReplicaSet":
                for label, key in RS_HASH_LABELS:
                    h = md.labels.get(label)
                    if h and owner[1].endswith("-" + h):
                        self.by_owner.setdefault((ns, key, owner[1][:-len(h) - 1]), []).append(rec)
                        break
        isvc = md.labels.get(ISVC_LABEL)
        if isvc:
            self.by_isvc.setdefault((ns, isvc), []).append(rec)
        for key, kind in self._pod_labels:
            value = md.labels.get(key)
            if value:
                self.by_label.setdefault((kind, ns, value), []).append(rec)

    def labelled(self, kind: str, ns: str, name: str) -> list[PodRec]:
        """Pods of a registered kind's object (by its pod label)."""
        return self.by_label.get((kind, ns, name), [])

    def owned(self, ns: str, kind: str, name: str) -> list[PodRec]:
        return self.by_owner.get((ns, kind, name), [])
