"""Kubernetes objects -> ``WorkloadObs`` / ``NodeObs``: the join both collectors share.

Pure: takes the partial structs of :mod:`skewaudit.collect.k8s_types` (decoded
from live pages or converted from manifests) gathered in an :class:`Inventory`,
and returns observed facts. No I/O, no ``kubernetes`` import.

The pieces, in the order a collection uses them:

* :class:`~skewaudit.collect.pods.PodStore` (in :mod:`skewaudit.collect.pods`)
  keeps pods compactly as they arrive page by page.
* :func:`select` picks the workloads the targets name (near-name suggestions
  when one is missing) or, with no targets, every workload that runs a
  recognised engine or requests GPUs
  (:func:`~skewaudit.collect.containers.looks_serving`).
* :func:`build` joins each selected workload with its pods (by owner, never a
  scan), ReplicaSets (current revision), nodes, HPA, Services and ConfigMaps.

Container facts (env, argv, engine, image) come from
:mod:`skewaudit.collect.containers`; InferenceServices are resolved into their
predictor container the way KServe does it by :mod:`skewaudit.collect.kserve`.
This module keeps selection, the join, and the node / HPA / Service facts.
"""

from __future__ import annotations

import difflib
import functools
from dataclasses import dataclass, field
from typing import Any, Iterable

import msgspec

from skewaudit.collect import k8s_types as k
from skewaudit.collect import dra, keda
from skewaudit.collect import kinds, routes
from skewaudit.collect.containers import (
    ConfigMaps, _obj, _redact_value, labels_obs, _retarget, _with_status, container_obs, looks_serving, plain_source,
    template_obs,
)
from skewaudit.collect.quantities import quantity_str
from skewaudit.collect.kserve import ISVC_LABEL, _isvc_pod_labels, _isvc_template
from skewaudit.collect.pods import PodRec, PodStore
from skewaudit.collect.request import Target
from skewaudit.model.observed import (
    CollectionIssue, ContainerObs, Fact, HpaObs, NodeObs, PodObs, PodTemplateObs, Prov, ServiceObs,
    AutoscaleTarget, ServicePort, SourceKind, WorkloadObs,
)

# Node labels worth keeping (NodeObs contract); everything else is noise here.
NODE_LABEL_PREFIXES = ("nvidia.com/", "cloud.google.com/gke-", "karpenter.k8s.aws/",
                       "node.kubernetes.io/instance-type", "topology.kubernetes.io/",
                       "feature.node.kubernetes.io/pci-10de", "kubernetes.azure.com/accelerator",
                       # other vendors' accelerators (skewaudit.accelerators.classes)
                       "amd.com/gpu.", "beta.amd.com/gpu.", "feature.node.kubernetes.io/pci-1002",
                       "feature.node.kubernetes.io/pci-1da3",
                       # NFD's default fields put the PCI class first: 1200 (processing accelerator) is Gaudi's
                       "feature.node.kubernetes.io/pci-1200_1da3")

RS_REVISION = "deployment.kubernetes.io/revision"

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "Job", "Pod", "InferenceService")
_KIND_ALIASES = {
    "deploy": "Deployment", "deployment": "Deployment", "deployments": "Deployment",
    "sts": "StatefulSet", "statefulset": "StatefulSet", "statefulsets": "StatefulSet",
    "rs": "ReplicaSet", "replicaset": "ReplicaSet", "replicasets": "ReplicaSet",
    "job": "Job", "jobs": "Job", "po": "Pod", "pod": "Pod", "pods": "Pod",
    "isvc": "InferenceService", "inferenceservice": "InferenceService", "inferenceservices": "InferenceService",
}


@functools.lru_cache(maxsize=64)
def kind_of(name: str | None) -> str | None:
    """Canonical workload kind for a target's ``kind`` (``deploy`` -> Deployment); None if unknown."""
    if name is None:
        return None
    low = name.strip().lower()
    return _KIND_ALIASES.get(low) or kinds.aliases().get(low)


def supported_kinds() -> tuple[str, ...]:
    """Every workload kind this version reads: the built-in ones, then the registered ones."""
    return (*WORKLOAD_KINDS, *kinds.workload_kinds())


def node_obs(node: k.Node) -> NodeObs:
    """The GPU-relevant part of a Node."""
    labels = {key: v for key, v in node.metadata.labels.items() if key.startswith(NODE_LABEL_PREFIXES)}
    st = node.status or k.NodeStatus()
    return NodeObs(name=node.metadata.name, labels=labels,
                   allocatable={key: quantity_str(v) for key, v in st.allocatable.items()},
                   capacity={key: quantity_str(v) for key, v in st.capacity.items()})


def selector_str(sel: k.LabelSelector | None) -> str:
    """A LabelSelector as the API's ``labelSelector`` query string."""
    if sel is None:
        return ""
    parts = [f"{key}={v}" for key, v in sorted(sel.match_labels.items())]
    for e in sel.match_expressions:
        op = e.operator
        if op in ("In", "NotIn"):
            parts.append(f"{e.key} {op.lower()} ({','.join(e.values)})")
        elif op == "Exists":
            parts.append(e.key)
        elif op == "DoesNotExist":
            parts.append(f"!{e.key}")
    return ",".join(parts)


# --- inventory and selection -------------------------------------------------


@dataclass
class Inventory:
    """Everything read from one source, before the join."""

    deployments: list[k.Deployment] = field(default_factory=list)
    statefulsets: list[k.StatefulSet] = field(default_factory=list)
    replicasets: list[k.ReplicaSet | k.ReplicaSetMeta] = field(default_factory=list)
    jobs: list[k.Job] = field(default_factory=list)
    isvcs: list[k.InferenceService] = field(default_factory=list)
    # name -> (kind, namespace) of objects of kinds skewaudit does not read (manifests),
    # so a target naming one is told so instead of "not found"
    others: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    runtimes: list[k.ServingRuntime] = field(default_factory=list)
    pods: PodStore = field(default_factory=PodStore)
    nodes: dict[str, NodeObs] = field(default_factory=dict)
    hpas: list[k.HorizontalPodAutoscaler] = field(default_factory=list)
    services: list[k.Service] = field(default_factory=list)
    configmaps: ConfigMaps = field(default_factory=ConfigMaps)
    # objects of the kinds in skewaudit.collect.kinds, by canonical kind
    crds: dict[str, list[Any]] = field(default_factory=dict)
    # names of every object seen per (kind, namespace), also those dropped while
    # paging, so a missing target can suggest near names
    names: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    names_cache: dict[tuple[str | None, str], list[str]] = field(default_factory=dict, repr=False)
    pods_listed: bool = False
    # optional sources that could not be read: source -> why (issue already recorded)
    unavailable: dict[str, str] = field(default_factory=dict)
    issues: list[CollectionIssue] = field(default_factory=list)

    def saw(self, kind: str, ns: str, name: str) -> None:
        self.names.setdefault((kind, ns), set()).add(name)


@dataclass
class Candidate:
    kind: str
    ns: str
    name: str
    obj: Any
    labels: dict[str, str]
    template_labels: dict[str, str]
    spec: k.PodSpec | None        # pod spec to judge "serving" (None for InferenceService)


def _controller(md: k.ObjectMeta) -> k.OwnerReference | None:
    return next((o for o in md.owner_references if o.controller), None)


def candidates(inv: Inventory) -> list[Candidate]:
    """Every object that can be a serving workload: controllers, standalone
    ReplicaSets (no controller) and pods kept whole (bare or targeted)."""
    out: list[Candidate] = []
    for kind, objs in (("Deployment", inv.deployments), ("StatefulSet", inv.statefulsets), ("Job", inv.jobs),
                       ("InferenceService", inv.isvcs)):
        out += [candidate(kind, o) for o in objs]
    for kind in kinds.workloads():
        out += [candidate(kind, o) for o in inv.crds.get(kind, ())]
    out += [candidate("ReplicaSet", rs) for rs in inv.replicasets
            if isinstance(rs, k.ReplicaSet) and _controller(rs.metadata) is None]
    out += [candidate("Pod", rec.full) for rec in inv.pods.recs if rec.full is not None]
    return out


def _subset(sel: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == v for key, v in sel.items())


def _serving(c: Candidate) -> bool:
    if c.kind == "InferenceService":
        return True
    return c.spec is not None and looks_serving(c.spec)


def matches(t: Target, c: Candidate) -> bool:
    """Does target ``t`` select candidate ``c``? A target with neither name nor
    selector selects only serving workloads (engine recognised or GPUs)."""
    if t.kind and c.kind != kind_of(t.kind):
        return False
    if t.namespace and c.ns and c.ns != t.namespace:
        return False
    if t.name and c.name != t.name:
        return False
    if t.selector and not (_subset(t.selector, c.labels) or _subset(t.selector, c.template_labels)):
        return False
    return bool(t.name or t.selector) or _serving(c)


def candidate(kind: str, o: Any) -> Candidate:
    """A workload object as a selection candidate."""
    md = o.metadata
    if kind == "InferenceService":
        return Candidate(kind, md.namespace, md.name, o, md.labels, _isvc_pod_labels(md.name), None)
    if kind == "Pod":
        return Candidate(kind, md.namespace, md.name, o, md.labels, md.labels, o.spec)
    wk = kinds.get(kind)
    if wk is not None:
        specs = wk.pod_specs(o)
        serving = next((sp for _, sp in specs if looks_serving(sp)), specs[0][1] if specs else None)
        return Candidate(kind, md.namespace, md.name, o, md.labels, wk.template_labels(o), serving)
    return Candidate(kind, md.namespace, md.name, o, md.labels, o.spec.template.metadata.labels,
                     o.spec.template.spec)


def select(inv: Inventory, targets: Iterable[Target]) -> tuple[list[Candidate], list[CollectionIssue]]:
    """The workloads ``targets`` name; with none, every serving workload.

    A target without a name or selector selects the serving workloads of its
    kind/namespace. A named target that matches nothing becomes a
    ``not-found`` issue listing up to 3 near names, never an exception.
    """
    cands = candidates(inv)
    targets = list(targets) or [Target()]
    chosen: dict[tuple[str, str, str], Candidate] = {}
    issues: list[CollectionIssue] = []
    isvc_keys = {(c.ns, c.name) for c in cands if c.kind == "InferenceService"}
    custom_keys = {(c.kind, c.ns, c.name) for c in cands if c.kind in inv.crds}
    generated_by = kinds.pod_labels()
    registered = kinds.workloads()
    index = _Index(cands)
    for t in targets:
        kind = kind_of(t.kind)
        if t.kind and kind is None:
            issues.append(CollectionIssue(scope=f"{t.kind}/{t.namespace or '*'}/{t.name or '*'}", kind="unsupported",
                                          area="workload", message=f"kind {t.kind!r} is not supported; "
                                          f"use one of {', '.join(supported_kinds())}"))
            continue
        hits = []
        for c in index.pool(t):
            if not matches(t, c):
                continue
            if not t.name and not t.selector:
                # "every serving workload": skip what an InferenceService generated itself
                ctrl = _controller(c.obj.metadata)
                if ctrl is not None and ctrl.kind == "InferenceService" and (c.ns, ctrl.name) in isvc_keys:
                    continue
            # Without an explicit kind, skip what a registered kind generated: an LWS's leader
            # StatefulSet has the LWS's name and both carry its pod label.
            if not t.kind and (any(c.kind != kd and (kd, c.ns, c.labels.get(key) or c.template_labels.get(key))
                                   in custom_keys for key, kd in generated_by)
                               or (_controller(c.obj.metadata) or k.OwnerReference()).kind in registered):
                continue
            hits.append(c)
        if not hits and (t.name or t.selector):
            issues.append(_not_found(inv, t, kind))
        elif t.fallback_name and not kind and not any(c.name == t.fallback_name for c in hits):
            # the spec audits the workload named like itself: if that name is an unread kind, say so
            other = _other_kind(inv, t.fallback_name, t.namespace or "")
            if other is not None:
                issues.append(other)
        for c in hits:
            chosen.setdefault((c.kind, c.ns, c.name), c)
    return sorted(chosen.values(), key=lambda c: (c.ns, c.kind, c.name)), issues


class _Index:
    """Candidates by name and by label, so a fleet of specs costs specs + objects, not their product."""

    def __init__(self, cands: list[Candidate]):
        self.all = cands
        self.by_name: dict[str, list[Candidate]] = {}
        for c in cands:
            self.by_name.setdefault(c.name, []).append(c)
        self._by_label: dict[tuple[str, str], list[Candidate]] | None = None

    def pool(self, t: Target) -> list[Candidate]:
        """The candidates that can match ``t`` (a superset; ``matches`` decides)."""
        if t.name:
            return self.by_name.get(t.name, [])
        if t.selector:
            if self._by_label is None:
                self._by_label = {}
                for c in self.all:
                    for kv in {*c.labels.items(), *c.template_labels.items()}:
                        self._by_label.setdefault(kv, []).append(c)
            return min((self._by_label.get(kv, []) for kv in t.selector.items()), key=len)
        return self.all


def _other_kind(inv: Inventory, name: str, ns: str) -> CollectionIssue | None:
    """``name`` exists in the input as a kind skewaudit does not read: the issue that says so."""
    other = next((kd for kd, o_ns in inv.others.get(name, ()) if not ns or not o_ns or o_ns == ns), None)
    if other is None:
        return None
    return CollectionIssue(scope=f"{other}/{ns or '*'}/{name}", kind="unsupported", area="workload",
                           message=f"{other}/{name} found; that kind is not supported by this version of skewaudit "
                                   f"(supported: {', '.join(supported_kinds())})")


def _not_found(inv: Inventory, t: Target, kind: str | None) -> CollectionIssue:
    kind_s, ns = kind or "Workload", t.namespace or ""
    where = f"namespace {ns}" if ns else "any namespace"
    other = _other_kind(inv, t.name, ns) if t.name and not kind else None
    if other is not None:
        return other
    if t.name:
        scope = f"{kind_s}/{ns or '*'}/{t.name}"
        near = difflib.get_close_matches(t.name, _names(inv, kind, ns), n=3, cutoff=0.5)
        msg = f"{kind_s} {t.name!r} not found in {where}"
        msg += f"; did you mean: {', '.join(near)}?" if near else ""
    else:
        sel = ",".join(f"{key}={v}" for key, v in sorted(t.selector.items()))
        scope = f"{kind_s}/{ns or '*'}/{sel}"
        msg = f"no {kind_s} in {where} has labels {sel}"
    return CollectionIssue(scope=scope, kind="not-found", message=msg, area="workload")


def _names(inv: Inventory, kind: str | None, ns: str) -> list[str]:
    """Names of workloads of ``kind`` visible from ``ns`` (computed once per pair)."""
    cache = inv.names_cache
    key = (kind, ns)
    if key not in cache:
        cache[key] = sorted({n for (kd, n_s), names in inv.names.items() for n in names
                             if (kind is None or kd == kind) and (not ns or not n_s or n_s == ns)})
    return cache[key]


# --- the join ------------------------------------------------------------------


def _metric(m: k.MetricSpec) -> str:
    def tgt(t: k.MetricTarget | None) -> str:
        if t is None:
            return ""
        val = {"Utilization": t.average_utilization, "AverageValue": t.average_value, "Value": t.value}.get(t.type)
        return f" {t.type}={quantity_str(val)}" if val is not None else f" {t.type}"
    if m.type == "Resource" and m.resource is not None:
        return f"Resource/{m.resource.name}{tgt(m.resource.target)}"
    if m.type == "ContainerResource" and m.container_resource is not None:
        r = m.container_resource
        return f"ContainerResource/{r.name}/{r.container}{tgt(r.target)}"
    src = {"Pods": m.pods, "Object": m.object, "External": m.external}.get(m.type)
    if src is not None:
        return f"{m.type}/{src.metric.name if src.metric else ''}{tgt(src.target)}"
    return m.type


_TARGET_FIELD = {"Utilization": "averageUtilization", "AverageValue": "averageValue", "Value": "value"}


def _scale_target(m: k.MetricSpec, i: int) -> AutoscaleTarget | None:
    """One HPA metric's target value and the field it is written in."""
    field, src = next(((f, s) for f, s in (("resource", m.resource), ("containerResource", m.container_resource),
                                           ("pods", m.pods), ("object", m.object), ("external", m.external))
                       if s is not None), ("", None))
    if src is None:
        return None
    name = src.name if isinstance(src, k.ResourceMetricSource) else (src.metric.name if src.metric else "")
    t = src.target or k.MetricTarget()
    val = {"Utilization": t.average_utilization, "AverageValue": t.average_value, "Value": t.value}.get(t.type)
    return AutoscaleTarget(name, t.type, quantity_str(val) if val is not None else None,
                       f"spec.metrics[{i}].{field}.target.{_TARGET_FIELD.get(t.type, 'type')}")


def hpa_obs(h: k.HorizontalPodAutoscaler) -> HpaObs:
    ref = h.spec.scale_target_ref
    # autoscaling/v2 defaulting: no metrics means 80% CPU utilization
    metrics = [_metric(m) for m in h.spec.metrics] or ["Resource/cpu Utilization=80"]
    targets = [t for i, m in enumerate(h.spec.metrics) if (t := _scale_target(m, i)) is not None] or [
        AutoscaleTarget("cpu", "Utilization", "80", "spec.metrics")]
    st = h.status or k.HPAStatus()
    return HpaObs(name=h.metadata.name, namespace=h.metadata.namespace,
                  min_replicas=h.spec.min_replicas if h.spec.min_replicas is not None else 1,
                  max_replicas=h.spec.max_replicas, metrics=metrics, target=f"{ref.kind}/{ref.name}", targets=targets,
                  current_replicas=st.current_replicas, desired_replicas=st.desired_replicas)


def service_obs(s: k.Service) -> ServiceObs:
    return ServiceObs(name=s.metadata.name, namespace=s.metadata.namespace, type=s.spec.type,
                      ports=[ServicePort(port=p.port, target_port=p.target_port, name=p.name, protocol=p.protocol)
                             for p in s.spec.ports],
                      selector=labels_obs(s.spec.selector),
                      annotations={key: v for key, v in s.metadata.annotations.items() if "timeout" in key.lower()})


def _annotations(a: dict[str, str]) -> dict[str, str]:
    # last-applied-configuration repeats the whole object, env values included
    return {key: _redact_value(key, v) for key, v in a.items()
            if key != "kubectl.kubernetes.io/last-applied-configuration" and len(v) <= 2048}


def _int(s: str | None) -> int:
    try:
        return int(s or 0)
    except ValueError:
        return 0


class _Join:
    """Indexes over an Inventory, built once; each lookup is a dict access."""

    def __init__(self, inv: Inventory):
        self.inv = inv
        self.issues: list[CollectionIssue] = []
        self.nodes_used: set[str] = set()
        self.memo: dict[int, ContainerObs] = {}
        self.status_memo: dict[tuple, ContainerObs] = {}
        self.rs_by_deploy: dict[tuple[str, str], list] = {}
        for rs in inv.replicasets:
            ctrl = _controller(rs.metadata)
            if ctrl is not None and ctrl.kind == "Deployment":
                self.rs_by_deploy.setdefault((rs.metadata.namespace, ctrl.name), []).append(rs)
        self.hpa: dict[tuple[str, str, str], k.HorizontalPodAutoscaler] = {}
        self.hpa_by_name: dict[tuple[str, str], k.HorizontalPodAutoscaler] = {}
        # KEDA: ScaledObjects by target; the HPA KEDA generates is attributed to its
        # ScaledObject (its status gives the replica counts) and never reported twice.
        self.scaled = keda.by_target(inv.crds.get(keda.KIND, []))
        keda_names = {(so.metadata.namespace, so.metadata.name) for so in self.scaled.values()}
        self.keda_status: dict[tuple[str, str], k.HPAStatus | None] = {}
        for h in inv.hpas:
            owner = keda.generated_by(h)
            if owner is not None and (h.metadata.namespace, owner) in keda_names:
                self.keda_status[(h.metadata.namespace, owner)] = h.status
                continue
            ref = h.spec.scale_target_ref
            self.hpa[(h.metadata.namespace, ref.kind, ref.name)] = h
            self.hpa_by_name[(h.metadata.namespace, h.metadata.name)] = h
        self.svcs: dict[str, list[k.Service]] = {}
        for s in inv.services:
            self.svcs.setdefault(s.metadata.namespace, []).append(s)
        # Services by (namespace, one of their selector pairs): a workload's labels must
        # contain that pair, so each workload looks at a handful of candidates instead
        # of every Service in its namespace.
        self.svc_index: dict[tuple[str, str, str], list[tuple[int, k.Service]]] = {}
        for ns, svcs in self.svcs.items():
            for pos, s in enumerate(svcs):
                if s.spec.selector:
                    self.svc_index.setdefault((ns, *next(iter(s.spec.selector.items()))), []).append((pos, s))
        self.deploys = {(d.metadata.namespace, d.metadata.name): d for d in inv.deployments}
        # HTTPRoutes / Ingresses / VirtualServices by the Service they send traffic to
        self.routes = routes.routes_by_service(inv.crds)

    def find_hpa(self, ns: str, kind: str, name: str) -> k.HorizontalPodAutoscaler | None:
        return self.hpa.get((ns, kind, name)) or self.hpa.get(("", kind, name))

    def autoscaler(self, ns: str, kind: str, name: str, hpa_name: str | None = None) -> HpaObs | None:
        """What scales ``kind/name``: a KEDA ScaledObject, else an HPA (by target, or named ``hpa_name``)."""
        so = self.scaled.get((ns, kind, name)) or self.scaled.get(("", kind, name))
        if so is not None:
            return keda.hpa_obs(so, self.keda_status.get((so.metadata.namespace, so.metadata.name)))
        h = (self.hpa_by_name.get((ns, hpa_name)) if hpa_name else None) or self.find_hpa(ns, kind, name)
        if h is None:
            return None
        owner = keda.generated_by(h)   # its ScaledObject was not read (forbidden, or not in the input)
        return msgspec.structs.replace(hpa_obs(h), generated_by=f"{keda.KIND}/{owner}") if owner else hpa_obs(h)

    def services(self, ns: str, labels: dict[str, str]) -> list[ServiceObs]:
        """Services selecting ``labels`` in ``ns`` (then those written without a namespace), in input order."""
        found: list[k.Service] = []
        for group in ((ns, "") if ns else ("",)):
            hits: dict[int, k.Service] = {}
            for kv in labels.items():
                for pos, s in self.svc_index.get((group, *kv), ()):
                    hits[pos] = s
            found += [s for _, s in sorted(hits.items(), key=lambda x: x[0]) if _subset(s.spec.selector, labels)]
        out = []
        for s in found:
            obs = service_obs(s)
            rts = self.routes.get((s.metadata.namespace, s.metadata.name)) or self.routes.get(("", s.metadata.name))
            out.append(msgspec.structs.replace(obs, routes=rts) if rts else obs)
        return out

    # pods -------------------------------------------------------------------

    def pod_obs(self, rec: PodRec, current: bool) -> PodObs:
        """A pod; its containers are shared with every pod running the same
        spec and status (provenance names the first such pod), which keeps a
        10,000-pod fleet to a few hundred ContainerObs and lets the audit group
        identical replicas cheaply."""
        obj = _obj("Pod", rec.ns, rec.name)
        containers = []
        for i, (sid, st) in enumerate(zip(rec.specs, rec.statuses)):
            shared = self.status_memo.get((sid, st))
            if shared is None:
                base = self.memo.get(sid)
                if base is None:
                    ns, c = self.inv.pods.specs[sid]
                    base = self.memo[sid] = container_obs(plain_source(c, obj, f"spec.containers[{i}]"), ns,
                                                          self.inv.configmaps)
                shared = self.status_memo[(sid, st)] = _with_status(base, st)
            containers.append(shared)
        if rec.node:
            self.nodes_used.add(rec.node)
        owner = f"{rec.owner[0]}/{rec.owner[1]}" if rec.owner else None
        return PodObs(name=rec.name, namespace=rec.ns, node=rec.node, phase=rec.phase, owner=owner,
                      revision=rec.revision, current=current, containers=containers)

    def seed(self, ns: str, spec: k.PodSpec, template: PodTemplateObs, obj: str, base: str,
             recs: list[PodRec]) -> None:
        """Pods that run exactly the template's container reuse its facts,
        re-pointed at the pod, instead of parsing the same argv again."""
        for i, c in enumerate(spec.containers):
            sid = self.inv.pods.find_id(ns, i, c)
            if sid is None or sid in self.memo or i >= len(template.containers):
                continue
            first = next((r for r in recs if i < len(r.specs) and r.specs[i] == sid), None)
            if first is not None:
                self.memo[sid] = _retarget(template.containers[i], obj, _obj("Pod", first.ns, first.name),
                                           f"{base}.containers[{i}]", f"spec.containers[{i}]")

    def rollout(self, ns: str, name: str, pods: list[PodRec], spec: k.PodSpec | None, obj: str
                ) -> tuple[str | None, str | None, list[str]]:
        """(current ReplicaSet name, current pod-template-hash, old ReplicaSets still running)."""
        rs_list = self.rs_by_deploy.get((ns, name), [])
        cur_rs = cur_hash = None
        if rs_list:
            cur = max(rs_list, key=lambda r: _int(r.metadata.annotations.get(RS_REVISION)))
            cur_rs, cur_hash = cur.metadata.name, cur.metadata.labels.get("pod-template-hash")
        else:
            revs = {p.revision for p in pods}
            if len(revs) == 1:
                cur_hash = next(iter(revs))
            elif len(revs) > 1:
                # No ReplicaSets in the input: the current revision is the one whose
                # pods run exactly the Deployment's template.
                same: set = set()
                if spec is not None:
                    ids = tuple(self.inv.pods.spec_id(ns, i, c) for i, c in enumerate(spec.containers))
                    same = {p.revision for p in pods if p.specs == ids}
                if len(same) == 1:
                    cur_hash = same.pop()
                else:
                    self.issues.append(CollectionIssue(scope=obj, kind="not-collected", area="pods", message=(
                        f"pods of {len(revs)} revisions and no ReplicaSets to tell which is current; "
                        "all are reported as current")))
        if pods:
            old = {p.owner[1] for p in pods if p.owner and not self._current(p, cur_rs, cur_hash)}
        else:
            old = {r.metadata.name for r in rs_list if r.metadata.name != cur_rs
                   and ((r.status.replicas if r.status else None) or r.spec.replicas or 0) > 0}
        return cur_rs, cur_hash, sorted(old)

    @staticmethod
    def _current(p: PodRec, cur_rs: str | None, cur_hash: str | None) -> bool:
        if cur_rs is not None and p.owner is not None:
            return p.owner[1] == cur_rs
        return cur_hash is None or p.revision == cur_hash


def _replicas(obj: str, value: int | None, path: str, hpa: HpaObs | None) -> Fact:
    note = f"managed by {hpa.kind} {hpa.name}" if hpa is not None else None
    if value is None:
        return Fact(value=1, prov=Prov(source=SourceKind.DEFAULT, object=obj, path=path),
                    note=f"{path} absent: 1" + (f"; {note}" if note else ""))
    return Fact(value=value, prov=Prov(source=SourceKind.WORKLOAD, object=obj, path=path), note=note)


def build(inv: Inventory, selected: list[Candidate]) -> tuple[list[WorkloadObs], dict[str, NodeObs],
                                                             list[CollectionIssue]]:
    """Join each selected workload with its pods, revision, nodes, HPA and Services.

    Returns (workloads, nodes of their pods, issues). Offline inputs without
    pods return every node of the input (placement can still be checked).
    """
    j = _Join(inv)
    out = dra.with_claims([_workload(j, c) for c in selected], inv.crds, inv.issues)
    nodes = {n: inv.nodes[n] for n in sorted(j.nodes_used) if n in inv.nodes}
    if not inv.pods_listed:
        nodes = dict(sorted(inv.nodes.items()))
    return out, nodes, j.issues + inv.configmaps.issues


def _workload(j: _Join, c: Candidate) -> WorkloadObs:
    inv, ns, name = j.inv, c.ns, c.name
    obj = _obj(c.kind, ns, name)
    md: k.ObjectMeta = c.obj.metadata
    common = dict(kind=c.kind, name=name, namespace=ns, object=obj, labels=labels_obs(md.labels),
                  annotations=_annotations(md.annotations), pods_collected=inv.pods_listed)
    hpa = None
    if c.kind == "InferenceService":
        isvc: k.InferenceService = c.obj
        template, extra = _isvc_template(isvc, inv, obj, j.issues)
        recs = inv.pods.by_isvc.get((ns, name), [])
        hpa = j.autoscaler(ns, "Deployment", f"{name}-predictor", hpa_name=f"{name}-predictor")
        pred = j.deploys.get((ns, f"{name}-predictor"))
        cur_rs, cur_hash, old = j.rollout(ns, f"{name}-predictor", recs,
                                          pred.spec.template.spec if pred is not None else None, obj)
        pods = [j.pod_obs(p, j._current(p, cur_rs, cur_hash)) for p in recs]
        svc_labels = pred.spec.template.metadata.labels if pred is not None else template.labels
        return WorkloadObs(**common, selector={ISVC_LABEL: name}, template=template, pods=pods,
                           current_revision=cur_hash, old_revisions=old,
                           hpa=hpa, services=j.services(ns, svc_labels), extra=extra)
    wk = kinds.get(c.kind)
    if wk is not None:
        return wk.build(j, c, common)
    if c.kind == "Pod":
        pod: k.Pod = c.obj
        template = template_obs(pod.spec, md.labels, obj, "spec", ns, inv.configmaps)
        rec = next((r for r in inv.pods.recs if r.full is pod), None)
        if rec is not None:
            j.seed(ns, pod.spec, template, obj, "spec", [rec])
        pods = [j.pod_obs(rec, True)] if rec is not None and rec.observed else []
        return WorkloadObs(**common, template=template, pods=pods, services=j.services(ns, md.labels))
    w = c.obj
    spec: k.PodSpec = w.spec.template.spec
    tlabels = w.spec.template.metadata.labels
    template = template_obs(spec, tlabels, obj, "spec.template.spec", ns, inv.configmaps)
    hpa = j.autoscaler(ns, c.kind, name)
    sel = w.spec.selector.match_labels if w.spec.selector else {}
    cur_rs = cur_hash = None
    old = []
    extra: dict[str, Fact] = {}
    recs = inv.pods.owned(ns, "Deployment>" if c.kind == "Deployment" else c.kind, name)
    j.seed(ns, spec, template, obj, "spec.template.spec", recs)
    if c.kind == "Deployment":
        cur_rs, cur_hash, old = j.rollout(ns, name, recs, spec, obj)
        pods = [j.pod_obs(p, j._current(p, cur_rs, cur_hash)) for p in recs]
    elif c.kind == "StatefulSet":
        cur_hash = w.status.update_revision if w.status else None
        pods = [j.pod_obs(p, cur_hash is None or p.revision == cur_hash) for p in recs]
        old = sorted({p.revision for p in pods if not p.current and p.revision})
    else:   # ReplicaSet, Job
        pods = [j.pod_obs(p, True) for p in recs]
    if c.kind == "Job":
        replicas = _replicas(obj, w.spec.parallelism, "spec.parallelism", None)
    else:
        replicas = _replicas(obj, w.spec.replicas, "spec.replicas", hpa)
    return WorkloadObs(**common, selector=labels_obs(sel), replicas=replicas, template=template, pods=pods,
                       current_revision=cur_hash, old_revisions=old, hpa=hpa,
                       services=j.services(ns, tlabels), extra=extra)
