"""Serving kinds this version does not read, named live instead of "not found".

Offline, every object of an unread kind leaves its name in ``Inventory.others`` and a
target naming it hears "RayCluster/x found; that kind is not supported by this
version (supported: …)" (:func:`skewaudit.collect.build._other_kind`). A live run
never lists kinds it does not read, so without this module the same target was
"not found". :func:`probe` closes the gap at the smallest cost: only for targets that
matched nothing, and only with name-filtered list calls (``fieldSelector
metadata.name=NAME``; past :data:`FEW` names, one list per namespace, of names only) on
the CRDs in :data:`UNREAD`, the serving kinds people point a spec at. A cluster
without the CRD answers 404 and a denied list 403: both are quiet (the target stays
"not found"), since a probe may only ever add a name, never an error. ``specs/rbac.yaml`` grants ``list`` on these plurals as an optional tier.
"""

from __future__ import annotations

from typing import Any, Iterable

import msgspec

from skewaudit.collect import k8s_types as k
from skewaudit.collect.kubehttp import HttpError, Res, pages

# (group, version, plural, kind) of serving CRDs skewaudit names but does not read.
UNREAD: tuple[tuple[str, str, str, str], ...] = (
    ("ray.io", "v1", "rayclusters", "RayCluster"),
    ("ray.io", "v1", "rayjobs", "RayJob"),
    ("machinelearning.seldon.io", "v1", "seldondeployments", "SeldonDeployment"),
    ("serving.kserve.io", "v1alpha1", "inferencegraphs", "InferenceGraph"),
)


class _Named(k._K):
    metadata: k.ObjectMeta = msgspec.field(default_factory=k.ObjectMeta)


class _NamedList(k._K):
    metadata: k.ListMeta = msgspec.field(default_factory=k.ListMeta)
    items: list[_Named] = []


FEW = 8   # up to this many missing names: one name-filtered call each; more: one list per namespace


def resources() -> list[Res]:
    return [Res(kind, plural, f"/apis/{group}/{version}", _NamedList, crd=True)
            for group, version, plural, kind in UNREAD]


def missing_names(targets: Iterable[Any], selected: Iterable[Any]) -> set[tuple[str | None, str]]:
    """(namespace, name) of each kind-less target that matched no workload by that name."""
    chosen = [(c.ns, c.name) for c in selected]
    out: set[tuple[str | None, str]] = set()
    for t in targets:
        name = t.name or t.fallback_name
        if t.kind or not name:
            continue
        if not any(n == name and (not t.namespace or not ns or ns == t.namespace) for ns, n in chosen):
            out.add((t.namespace, name))
    return out


def probe(api: Any, run: Any, wanted: set[tuple[str | None, str]], others: dict[str, list[tuple[str, str]]]) -> bool:
    """Look each wanted name up under every unread kind (``run`` runs the calls on the
    collector's workers); found objects go into ``others``. True when any was found."""
    found: list[tuple[str, str, str]] = []

    def one(res: Res, ns: str | None, names: set[str], field: str) -> None:
        try:
            for page in pages(api, res.path(ns), lambda data: msgspec.json.decode(data, type=_NamedList), field=field):
                found.extend((res.kind, o.metadata.namespace, o.metadata.name) for o in page.items
                             if o.metadata.name in names and (ns is None or o.metadata.namespace == ns))
        except (HttpError, msgspec.DecodeError, msgspec.ValidationError):
            return   # CRD absent (404), denied (403) or an odd answer: the target stays "not found"

    if len(wanted) <= FEW:
        calls = [(ns, {name}, f"metadata.name={name}") for ns, name in sorted(wanted, key=str)]
    else:   # a fleet of missing names: one name-only list per namespace and kind, not one call per name
        by_ns: dict[str | None, set[str]] = {}
        for ns, name in wanted:
            by_ns.setdefault(ns, set()).add(name)
        if None in by_ns:
            by_ns = {None: {n for names in by_ns.values() for n in names}}
        calls = [(ns, names, "") for ns, names in sorted(by_ns.items(), key=str)]
    run([lambda r=r, c=c: one(r, *c) for r in resources() for c in calls])
    for kind, ns, name in found:
        others.setdefault(name, []).append((kind, ns))
    return bool(found)
