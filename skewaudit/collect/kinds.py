"""Kinds beyond the core workloads: the registry one module per CRD family plugs into.

Each family (KEDA, Argo Rollouts, Gateway API / Ingress / Istio routes, …) is one
module of :mod:`skewaudit.collect` that owns its partial schema (msgspec structs),
how its objects turn into facts, and one or more :class:`ExtKind` rows listed in
:data:`REGISTRY`. The shared collectors only consult this table:

* offline (:mod:`~skewaudit.collect.manifests`): a document whose ``apiVersion`` group
  and ``kind`` match a row is converted to the row's struct and kept in
  ``Inventory.crds[kind]``;
* live (:mod:`~skewaudit.collect.kube`): each row is one optional list call; a cluster
  without the CRD answers 404 and that is quiet (the kind simply does not exist
  there), a 403 is a ``forbidden`` issue in the row's ``area``;
* RBAC (``specs/rbac.yaml``) grants ``list`` on exactly these plurals, a test keeps
  the two in step.

``role`` says what the object is to an audit: ``around`` objects (autoscalers,
routes) attach facts to a workload found otherwise; ``workload`` objects are audit
targets themselves (``target.kind``). A workload row also says how it becomes a
``WorkloadObs`` (the hooks below); the shared join (:mod:`~skewaudit.collect.build`),
pod bookkeeping (:mod:`~skewaudit.collect.pods`) and live pod listing ask the rows
instead of naming the kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class ExtKind:
    """One custom (or non-core) resource skewaudit reads."""

    kind: str              # canonical kind, as targets and provenance name it
    group: str             # API group ("keda.sh"); "" for the core group
    version: str           # served version listed live ("v1alpha1")
    plural: str            # REST plural ("scaledobjects")
    struct: type           # msgspec struct of one object
    list_struct: type      # msgspec struct of a list page
    role: str = "around"   # "around" | "workload"
    api_kind: str = ""     # the kind as written in YAML when it differs (Knative "Service")
    area: str = "workload"   # issue area when it cannot be read
    aliases: tuple[str, ...] = ()
    # --- workload rows (role "workload") -------------------------------------------
    # (path, PodSpec) of every pod template the object stamps out: quantities are
    # canonicalised, ConfigMap refs read and "serving" judged from them.
    pod_specs: Callable[[Any], list[tuple[str, Any]]] | None = None
    template_labels: Callable[[Any], dict[str, str]] | None = None   # labels its pods carry
    # build(join, candidate, common kwargs) -> WorkloadObs
    build: Callable[[Any, Any, dict[str, Any]], Any] | None = None
    # a label every pod of the object carries with the object's name as value: pods
    # are joined (and, live, listed) by it, never through generated controllers
    pod_label: str | None = None
    # the pod label's values that mark the object's pods when they are not its name (KubeRay:
    # ray.io/cluster names the RayCluster a RayService generated)
    pod_label_values: Callable[[Any], list[str]] | None = None
    extra_pod_labels: tuple[str, ...] = ()   # more pod labels the build reads (PodRec.tags)
    # pods joined through a generated ReplicaSet instead (Argo Rollouts): (pod metadata,
    # (controller kind, name) | None) -> the object's name, or None
    pod_owner: Callable[[Any, Any], str | None] | None = None

    def label_values(self, o: Any) -> list[str]:
        """Values of ``pod_label`` on the pods of ``o``."""
        return self.pod_label_values(o) if self.pod_label_values is not None else [o.metadata.name]

    @property
    def written_kind(self) -> str:
        return self.api_kind or self.kind

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


def _registry() -> tuple[ExtKind, ...]:
    # Imported here, not at module level: the family modules import build helpers,
    # and build consults this table.
    from skewaudit.collect import (
        dra, keda, knative, llmisvc, lws, nimservice, rayservice, rollouts, routes,
    )

    return (*keda.KINDS, *lws.KINDS, *rollouts.KINDS, *routes.KINDS, *knative.KINDS, *llmisvc.KINDS,
            *rayservice.KINDS, *nimservice.KINDS, *dra.KINDS)


_CACHE: dict[str, object] = {}


def registry() -> tuple[ExtKind, ...]:
    """Every registered kind, in a stable order."""
    if "all" not in _CACHE:
        _CACHE["all"] = _registry()
    return _CACHE["all"]  # type: ignore[return-value]


def by_api(api_version: object, kind: object) -> ExtKind | None:
    """The row for a document's ``apiVersion``/``kind`` (any served version of the group)."""
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return None
    table = _CACHE.get("api")
    if table is None:
        table = _CACHE["api"] = {(e.group, e.written_kind): e for e in registry()}
    group = api_version.rpartition("/")[0]
    return table.get((group, kind))  # type: ignore[union-attr]


def by_kind(kind: str) -> ExtKind | None:
    return next((e for e in registry() if e.kind == kind), None)


def workload_kinds() -> tuple[str, ...]:
    return tuple(e.kind for e in registry() if e.role == "workload")


def aliases() -> dict[str, str]:
    """Lower-case spellings a target may use for the workload kinds, -> canonical kind."""
    out: dict[str, str] = {}
    for e in registry():
        if e.role == "workload":
            for a in (e.kind, e.plural, *e.aliases):
                out[a.lower()] = e.kind
    return out


def workloads() -> dict[str, ExtKind]:
    """Workload rows that build their own ``WorkloadObs`` (LeaderWorkerSet…), by kind."""
    if "workloads" not in _CACHE:
        _CACHE["workloads"] = {e.kind: e for e in registry() if e.role == "workload" and e.build is not None}
    return _CACHE["workloads"]  # type: ignore[return-value]


def get(kind: str | None) -> ExtKind | None:
    """The workload row of ``kind`` (None for built-in and around kinds)."""
    return workloads().get(kind) if kind else None


def pod_labels() -> tuple[tuple[str, str], ...]:
    """(pod label key, kind) of every workload row that joins its pods by label."""
    return tuple((e.pod_label, e.kind) for e in workloads().values() if e.pod_label)


def tag_labels() -> tuple[str, ...]:
    """Pod labels some workload row reads from each pod (kept on ``PodRec.tags``)."""
    return tuple(t for e in workloads().values() for t in e.extra_pod_labels)
