"""Kubernetes objects -> ``WorkloadObs`` / ``NodeObs``: the join both collectors share.

Pure: takes the partial structs of :mod:`skewaudit.collect.k8s_types` (decoded
from live pages or converted from manifests) gathered in an :class:`Inventory`,
and returns observed facts. No I/O, no ``kubernetes`` import.

The pieces, in the order a collection uses them:

* :class:`PodStore` keeps pods compactly as they arrive page by page: a small
  record per pod plus one decoded copy of each *distinct* container spec, so
  memory follows the number of templates, not the number of pods.
* :func:`select` picks the workloads the targets name (near-name suggestions
  when one is missing) or, with no targets, every workload that runs a
  recognised engine or requests GPUs (:func:`looks_serving`).
* :func:`build` joins each selected workload with its pods (by owner, never a
  scan), ReplicaSets (current revision), nodes, HPA, Services and ConfigMaps.

Container facts follow Kubernetes semantics: ``envFrom`` then ``env`` (later
wins), ``$(VAR)`` in env values expanded from earlier vars, Secrets never read
(``source="secret"``), every value through :mod:`skewaudit.redact`, then the
effective argv and the engine parse from :mod:`skewaudit.runtimes`.
InferenceServices are resolved into their predictor container the way KServe
does it (:func:`_isvc_container`).
"""

from __future__ import annotations

import difflib
import functools
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import msgspec

from skewaudit import redact
from skewaudit.collect import k8s_types as k
from skewaudit.collect.request import Target
from skewaudit.model.observed import (
    CollectionIssue, ContainerObs, EnvVar, Fact, HpaObs, ImageRef, NodeObs, PodObs,
    PodTemplateObs, Port, Probe, Prov, ServiceObs, ServicePort, SourceKind, WorkloadObs,
)

# Node labels worth keeping (NodeObs contract); everything else is noise here.
NODE_LABEL_PREFIXES = ("nvidia.com/", "cloud.google.com/gke-", "karpenter.k8s.aws/",
                       "node.kubernetes.io/instance-type", "topology.kubernetes.io/",
                       "feature.node.kubernetes.io/pci-10de", "kubernetes.azure.com/accelerator")
GPU_RESOURCE_PREFIXES = ("nvidia.com/gpu", "nvidia.com/mig-", "amd.com/gpu")

ISVC_LABEL = "serving.kserve.io/inferenceservice"
KSERVE_CONTAINER = "kserve-container"
KSERVE_MODEL_DIR = "/mnt/models"
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
    return _KIND_ALIASES.get(name.strip().lower())


def _obj(kind: str, ns: str, name: str) -> str:
    return f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}"


# --- small conversions ------------------------------------------------------


def quantity_str(q: Any) -> str:
    """A quantity as the API would print it (YAML ints become ``"1"``)."""
    if isinstance(q, float) and q.is_integer():
        return str(int(q))
    return str(q)


def split_image(ref: str, image_id: str | None = None) -> ImageRef:
    """``repo:tag@sha256:…`` split as written, plus the digest it resolved to."""
    name, _, digest = ref.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repo, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, None)
    return ImageRef(ref=ref, repository=repo, tag=tag or None, digest=digest or None,
                    resolved_digest=resolved_digest(image_id))


def resolved_digest(image_id: str | None) -> str | None:
    """``docker-pullable://repo@sha256:…`` / ``repo@sha256:…`` / ``sha256:…`` -> ``sha256:…``."""
    if not image_id:
        return None
    at = image_id.rfind("@")
    tail = image_id[at + 1:] if at >= 0 else image_id.split("://", 1)[-1]
    return tail if ":" in tail else None


def canonical_quantities(spec: k.PodSpec) -> None:
    """Write YAML-int quantities as the API prints them (``4`` -> ``"4"``), in
    place, so a manifest template and a pod read back from a cluster compare
    equal."""
    for c in (*spec.containers, *spec.init_containers):
        r = c.resources
        if r is not None:
            # Live objects already carry strings: rebuild only what YAML wrote as numbers.
            if any(type(v) is not str for v in r.limits.values()):
                r.limits = {key: quantity_str(v) for key, v in r.limits.items()}
            if any(type(v) is not str for v in r.requests.values()):
                r.requests = {key: quantity_str(v) for key, v in r.requests.items()}


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


def _expand(value: str, env: dict[str, str | None]) -> str:
    """Kubernetes ``$(VAR)`` expansion of one env value: ``$$`` escapes, undefined
    or unknown (secret) references stay as written."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        v = env.get(m.group(1))
        return m.group(0) if v is None else v
    return _VAR.sub(sub, value) if "$" in value else value


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


_CRED_HINT = re.compile(r"hf_|Bearer|sk-|gh[pousr]_|AKIA|xox|eyJ")


def _redact_list(items: list[str] | None) -> list[str] | None:
    # argv() catches `--api-key X` / `--api-key=X` pairs and credential-shaped
    # tokens; text() is needed only where a token holds more than one word (a
    # `sh -c` script), a NAME=value, or a credential in the middle. Skipping it
    # elsewhere matters: a fleet run redacts hundreds of thousands of tokens.
    if items is None:
        return None
    return [redact.text(t) if (" " in t or "\t" in t or "\n" in t or (not t.startswith("-") and "=" in t)
                               or _CRED_HINT.search(t)) else t
            for t in redact.argv(list(items))]


_REDACTED: dict[tuple[str, str], str | None] = {}


def _redact_value(name: str, value: str) -> str | None:
    """:func:`redact.value`, memoized: the same (name, value) pairs recur in
    every template and pod of a fleet."""
    key = (name, value)
    out = _REDACTED.get(key, _REDACTED)
    if out is _REDACTED:
        out = redact.value(name, value)
        if len(_REDACTED) < 100_000:
            _REDACTED[key] = out
    return out  # type: ignore[return-value]


def requests_gpu(c: k.Container) -> bool:
    res = c.resources
    return res is not None and any(key.startswith(GPU_RESOURCE_PREFIXES)
                                   for key in (*res.limits, *res.requests))


def looks_serving(spec: k.PodSpec) -> bool:
    """Cheap pre-filter for fleet runs: a container requests GPUs or runs a
    recognised engine (argv from literal env only; ConfigMaps come later)."""
    from skewaudit import runtimes

    for c in spec.containers:
        if requests_gpu(c):
            return True
        env = {e.name: e.value for e in c.env if e.value_from is None}
        res = runtimes.effective_argv(c.command, c.args, env, c.image, "")
        if runtimes.detect(res.argv, c.image, env) is not None:
            return True
    return False


# --- ConfigMaps --------------------------------------------------------------


@dataclass
class ConfigMaps:
    """ConfigMap data by (namespace, name). ``available`` is False when the
    source could not be read (forbidden, not in the input): a missing map is
    then "unverifiable", not "not found". Manifests without a namespace are
    stored under "" and match any namespace."""

    data: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    available: bool = True
    why: str = ""
    issues: list[CollectionIssue] = field(default_factory=list)
    _reported: set = field(default_factory=set)

    def add(self, cm: k.ConfigMap) -> None:
        self.data[(cm.metadata.namespace, cm.metadata.name)] = cm.data

    def get(self, ns: str, name: str, scope: str, optional: bool | None) -> dict[str, str] | None:
        found = self.data.get((ns, name))
        if found is None:
            found = self.data.get(("", name))
        if found is None and not optional and (ns, name) not in self._reported:
            self._reported.add((ns, name))
            obj = _obj("ConfigMap", ns, name)
            if self.available:
                self.issues.append(CollectionIssue(scope=obj, kind="not-found", area="configmaps",
                                                   message=f"{obj} referenced by {scope} does not exist; "
                                                           "its env vars are unresolved"))
            else:
                self.issues.append(CollectionIssue(scope=obj, kind="not-collected", area="configmaps",
                                                   message=f"{obj} referenced by {scope} was not read "
                                                           f"({self.why}); its env vars are unresolved"))
        return found


# --- containers --------------------------------------------------------------


@dataclass
class EnvItem:
    """One env source with where it is written (object and field path)."""

    var: k.EnvVar | k.EnvFromSource
    object: str
    path: str


def resolve_env(items: list[EnvItem], ns: str, cms: ConfigMaps, scope: str, container: str
                ) -> tuple[list[EnvVar], dict[str, str | None], dict[str, Prov]]:
    """Effective env: ``envFrom`` items first, then ``env`` (later wins), as the kubelet does."""
    out: dict[str, EnvVar] = {}
    values: dict[str, str | None] = {}
    provs: dict[str, Prov] = {}

    def put(name: str, value: str | None, source: str, prov_src: str, ref: str | None, item: EnvItem) -> None:
        out.pop(name, None)   # re-insert: order shows precedence
        out[name] = EnvVar(name=name, value=value, source=source, ref=ref, path=item.path)
        values[name] = value
        provs[name] = Prov(source=prov_src, object=item.object, path=item.path, container=container)

    for item in (i for i in items if isinstance(i.var, k.EnvFromSource)):
        ef: k.EnvFromSource = item.var  # type: ignore[assignment]
        if ef.config_map_ref is not None:
            data = cms.get(ns, ef.config_map_ref.name, scope, ef.config_map_ref.optional)
            for key, v in (data or {}).items():
                name = ef.prefix + key
                put(name, _redact_value(name, v), "configmap", SourceKind.CONFIGMAP,
                    f"configmap {ef.config_map_ref.name}/{key}", item)
        if ef.secret_ref is not None:
            # The keys live in the Secret, which is never read: one pseudo-var says so.
            name = f"{ef.prefix}*"
            put(name, None, "secret", SourceKind.SECRET, f"secret {ef.secret_ref.name} (all keys)", item)
            values.pop(name, None)
    for item in (i for i in items if isinstance(i.var, k.EnvVar)):
        e: k.EnvVar = item.var  # type: ignore[assignment]
        vf = e.value_from
        if vf is None:
            put(e.name, _redact_value(e.name, _expand(e.value or "", values)), "literal", SourceKind.ENV, None, item)
        elif vf.config_map_key_ref is not None:
            ref = vf.config_map_key_ref
            data = cms.get(ns, ref.name, scope, ref.optional)
            if data is not None and ref.key in data:
                put(e.name, _redact_value(e.name, data[ref.key]), "configmap", SourceKind.CONFIGMAP,
                    f"configmap {ref.name}/{ref.key}", item)
            else:
                put(e.name, None, "unresolved", SourceKind.UNKNOWN, f"configmap {ref.name}/{ref.key}", item)
                if data is not None and not ref.optional:
                    cms.issues.append(CollectionIssue(
                        scope=scope, kind="not-found", area="configmaps",
                        message=f"env {e.name}: key {ref.key!r} is not in {_obj('ConfigMap', ns, ref.name)}"))
        elif vf.secret_key_ref is not None:
            ref = vf.secret_key_ref
            put(e.name, None, "secret", SourceKind.SECRET, f"secret {ref.name}/{ref.key}", item)
        elif vf.field_ref is not None:
            put(e.name, None, "field", SourceKind.POD_SPEC, f"field {vf.field_ref.field_path}", item)
        elif vf.resource_field_ref is not None:
            put(e.name, None, "resource", SourceKind.POD_SPEC, f"resource {vf.resource_field_ref.resource}", item)
        else:
            put(e.name, None, "unresolved", SourceKind.UNKNOWN, None, item)
    return list(out.values()), values, provs


def _probe(kind: str, p: k.Probe | None) -> Probe | None:
    if p is None:
        return None
    common = dict(timeout_seconds=p.timeout_seconds, period_seconds=p.period_seconds,
                  initial_delay_seconds=p.initial_delay_seconds, failure_threshold=p.failure_threshold)
    if p.http_get is not None:
        return Probe(kind=kind, handler="httpGet", path=p.http_get.path, port=p.http_get.port, **common)
    if p.tcp_socket is not None:
        return Probe(kind=kind, handler="tcpSocket", port=p.tcp_socket.port, **common)
    if p.grpc is not None:
        return Probe(kind=kind, handler="grpc", port=p.grpc.port, **common)
    return Probe(kind=kind, handler="exec", **common)


@dataclass
class ContainerSource:
    """A container to build, with where each part is written.

    ``path`` is the container's own field path; ``arg_path`` maps the paths
    :func:`runtimes.effective_argv` reports (relative to ``path``) to the real
    place (KServe: runtime args vs InferenceService args)."""

    c: k.Container
    object: str
    path: str
    env: list[EnvItem]
    arg_path: Callable[[str], str] | None = None


def plain_source(c: k.Container, obj: str, path: str) -> ContainerSource:
    # Paths are interned: a fleet repeats "spec.template.spec.containers[0].env[X]"
    # in every workload, and one copy of each is enough.
    env: list[EnvItem] = [EnvItem(ef, obj, sys.intern(f"{path}.envFrom[{i}]")) for i, ef in enumerate(c.env_from)]
    env += [EnvItem(e, obj, sys.intern(f"{path}.env[{e.name}]")) for e in c.env]
    return ContainerSource(c, obj, path, env)


def container_obs(src: ContainerSource, ns: str, cms: ConfigMaps, scope: str | None = None) -> ContainerObs:
    """Effective configuration of one container (env, argv, engine facts, resources).
    ``scope`` names the object in issues when ``src.object`` is a placeholder."""
    from skewaudit import runtimes

    c = src.c
    env_list, values, provs = resolve_env(src.env, ns, cms, scope or src.object, c.name)
    res = runtimes.effective_argv(c.command, c.args, values, c.image, src.path)
    paths = [sys.intern(p) for p in res.paths]
    if src.arg_path is not None:
        paths = [src.arg_path(p) for p in paths]
    argv = _redact_list(res.argv)
    engine = runtimes.parse(runtimes.ContainerInput(
        argv=argv, arg_paths=paths, env=values, env_prov=provs, image=c.image,
        object=src.object, container=c.name, note=res.note))
    r = c.resources or k.ResourceRequirements()
    probes = [p for p in (_probe("readiness", c.readiness_probe), _probe("liveness", c.liveness_probe),
                          _probe("startup", c.startup_probe)) if p is not None]
    return ContainerObs(
        name=c.name, image=split_image(c.image), path=src.path,
        command=_redact_list(c.command), args=_redact_list(c.args), argv=argv, argv_note=res.note,
        env=env_list, requests={key: quantity_str(v) for key, v in r.requests.items()},
        limits={key: quantity_str(v) for key, v in r.limits.items()},
        ports=[Port(container_port=p.container_port, name=p.name, protocol=p.protocol) for p in c.ports],
        probes=probes, engine=engine)


def node_affinity(aff: k.Affinity | None) -> dict[str, list[str]]:
    """Required node affinity flattened: ``In`` -> values, other operators as ``"Op:v1,v2"``.
    Terms are ORed by Kubernetes, so values of the same key across terms are unioned."""
    out: dict[str, list[str]] = {}
    na = aff.node_affinity if aff is not None else None
    req = na.required_during_scheduling_ignored_during_execution if na is not None else None
    for term in (req.node_selector_terms if req is not None else []):
        for e in term.match_expressions:
            vals = e.values if e.operator == "In" else [f"{e.operator}:{','.join(e.values)}".rstrip(":")]
            bucket = out.setdefault(e.key, [])
            bucket.extend(v for v in vals if v not in bucket)
    return out


def template_obs(spec: k.PodSpec, labels: dict[str, str], obj: str, path: str, ns: str, cms: ConfigMaps,
                 containers: list[ContainerObs] | None = None) -> PodTemplateObs:
    """The pod shape a controller stamps out (``path`` is the PodSpec's path)."""
    if containers is None:
        containers = [container_obs(plain_source(c, obj, f"{path}.containers[{i}]"), ns, cms)
                      for i, c in enumerate(spec.containers)]
    inits = [container_obs(plain_source(c, obj, f"{path}.initContainers[{i}]"), ns, cms)
             for i, c in enumerate(spec.init_containers)]
    return PodTemplateObs(labels=dict(labels), containers=containers, init_containers=inits,
                          node_selector=dict(spec.node_selector), node_affinity=node_affinity(spec.affinity),
                          tolerations=list(spec.tolerations), runtime_class=spec.runtime_class_name,
                          service_account=spec.service_account_name)


# --- pods, compactly ---------------------------------------------------------

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
                     revision=md.labels.get("pod-template-hash") or md.labels.get("controller-revision-hash"),
                     specs=tuple(self.spec_id(ns, i, c, owner) for i, c in enumerate(pod.spec.containers)),
                     statuses=statuses, observed=st is not None and (st.phase is not None or bool(by_name)),
                     full=pod if keep else None)
        self.recs.append(rec)
        self.count += 1
        if owner is not None:
            self.by_owner.setdefault((ns, *owner), []).append(rec)
            h = md.labels.get("pod-template-hash")
            if owner[0] == "ReplicaSet" and h and owner[1].endswith("-" + h):
                # The Deployment is the ReplicaSet's name minus "-<hash>": pods join
                # their Deployment even when the ReplicaSet is not in the input.
                self.by_owner.setdefault((ns, "Deployment>", owner[1][:-len(h) - 1]), []).append(rec)
        isvc = md.labels.get(ISVC_LABEL)
        if isvc:
            self.by_isvc.setdefault((ns, isvc), []).append(rec)

    def owned(self, ns: str, kind: str, name: str) -> list[PodRec]:
        return self.by_owner.get((ns, kind, name), [])


# --- inventory and selection -------------------------------------------------


@dataclass
class Inventory:
    """Everything read from one source, before the join."""

    deployments: list[k.Deployment] = field(default_factory=list)
    statefulsets: list[k.StatefulSet] = field(default_factory=list)
    replicasets: list[k.ReplicaSet | k.ReplicaSetMeta] = field(default_factory=list)
    jobs: list[k.Job] = field(default_factory=list)
    isvcs: list[k.InferenceService] = field(default_factory=list)
    runtimes: list[k.ServingRuntime] = field(default_factory=list)
    pods: PodStore = field(default_factory=PodStore)
    nodes: dict[str, NodeObs] = field(default_factory=dict)
    hpas: list[k.HorizontalPodAutoscaler] = field(default_factory=list)
    services: list[k.Service] = field(default_factory=list)
    configmaps: ConfigMaps = field(default_factory=ConfigMaps)
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
    out += [candidate("ReplicaSet", rs) for rs in inv.replicasets
            if isinstance(rs, k.ReplicaSet) and _controller(rs.metadata) is None]
    out += [candidate("Pod", rec.full) for rec in inv.pods.recs if rec.full is not None]
    return out


def _isvc_pod_labels(name: str) -> dict[str, str]:
    # The labels KServe puts on predictor pods (used to match Services).
    return {ISVC_LABEL: name, "component": "predictor", "app": f"isvc.{name}-predictor"}


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
    index = _Index(cands)
    for t in targets:
        kind = kind_of(t.kind)
        if t.kind and kind is None:
            issues.append(CollectionIssue(scope=f"{t.kind}/{t.namespace or '*'}/{t.name or '*'}", kind="unsupported",
                                          area="workload", message=f"kind {t.kind!r} is not supported; "
                                          f"use one of {', '.join(WORKLOAD_KINDS)}"))
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
            hits.append(c)
        if not hits and (t.name or t.selector):
            issues.append(_not_found(inv, t, kind))
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


def _not_found(inv: Inventory, t: Target, kind: str | None) -> CollectionIssue:
    kind_s, ns = kind or "Workload", t.namespace or ""
    where = f"namespace {ns}" if ns else "any namespace"
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


# --- KServe --------------------------------------------------------------------


def pick_runtime(isvc: k.InferenceService, runtimes_: list[k.ServingRuntime]
                 ) -> tuple[k.ServingRuntime | None, str]:
    """The runtime KServe would use: ``model.runtime`` by name (namespace first,
    then cluster), else auto-select by ``modelFormat`` among runtimes with
    ``autoSelect`` (namespaced before cluster-scoped, higher priority first).
    Returns (runtime, how) or (None, why not)."""
    m, ns = isvc.spec.predictor.model, isvc.metadata.namespace
    assert m is not None
    nsr = [r for r in runtimes_ if r.kind == "ServingRuntime" and r.metadata.namespace in (ns, "")]
    csr = [r for r in runtimes_ if r.kind == "ClusterServingRuntime"]
    if m.runtime:
        for r in nsr + csr:
            if r.metadata.name == m.runtime:
                return r, "named by spec.predictor.model.runtime"
        return None, f"runtime {m.runtime!r} (spec.predictor.model.runtime) is not a ServingRuntime in " \
                     f"{ns or 'the namespace'} nor a ClusterServingRuntime"
    fmt = m.model_format
    if fmt is None or not fmt.name:
        return None, "neither spec.predictor.model.runtime nor modelFormat.name is set"

    def prio(r: k.ServingRuntime) -> int | None:
        if r.spec.disabled:
            return None
        for f in r.spec.supported_model_formats:
            if f.name.lower() == fmt.name.lower() and f.auto_select and \
                    (not fmt.version or not f.version or f.version.split(".")[0] == fmt.version.split(".")[0]):
                return f.priority or 0
        return None

    for group in (nsr, csr):
        ok = sorted(((p, r.metadata.name, r) for r in group if (p := prio(r)) is not None),
                    key=lambda x: (-x[0], x[1]))
        if ok:
            return ok[0][2], f"auto-selected for modelFormat {fmt.name}"
    return None, f"no ServingRuntime or ClusterServingRuntime supports modelFormat {fmt.name!r} with autoSelect"


_TEMPLATE_VAR = re.compile(r"\{\{\s*\.(Name|Namespace)\s*\}\}")


def _isvc_source(isvc: k.InferenceService, rt: k.ServingRuntime | None, obj: str) -> ContainerSource:
    """The predictor container as KServe builds it: the runtime's
    ``kserve-container`` + the InferenceService's ``model`` container (args
    appended, env merged with the isvc winning, isvc resources/image win,
    ``runtimeVersion`` as the image tag, ``{{.Name}}`` substituted)."""
    md, m = isvc.metadata, isvc.spec.predictor.model
    assert m is not None
    subst_vals = {"Name": md.name, "Namespace": md.namespace}

    def sub(s: str) -> str:
        return _TEMPLATE_VAR.sub(lambda mm: subst_vals[mm.group(1)], s)

    rcs = rt.spec.containers if rt is not None else []
    ri = next((i for i, c in enumerate(rcs) if c.name == KSERVE_CONTAINER), 0)
    rc = rcs[ri] if rcs else k.Container()
    rt_obj = _obj(rt.kind, rt.metadata.namespace if rt.kind == "ServingRuntime" else "", rt.metadata.name) \
        if rt is not None else ""
    rt_path = f"{rt_obj}:spec.containers[{ri}]"
    path = "spec.predictor.model"

    rt_args = [sub(a) for a in rc.args or []]
    is_args = [sub(a) for a in m.args or []]
    args = rt_args + is_args if (rc.args is not None or m.args is not None) else None
    cmd_from_isvc = m.command is not None
    command = [sub(a) for a in (m.command if cmd_from_isvc else rc.command) or []] or None
    image = m.image or rc.image
    if not m.image and m.runtime_version and rc.image:
        image = split_image(rc.image).repository + ":" + m.runtime_version
    rres, mres = rc.resources or k.ResourceRequirements(), m.resources or k.ResourceRequirements()
    resources = k.ResourceRequirements(limits={**rres.limits, **mres.limits},
                                       requests={**rres.requests, **mres.requests})
    merged = k.Container(name=KSERVE_CONTAINER, image=image, command=command, args=args, resources=resources,
                         ports=m.ports or rc.ports, readiness_probe=m.readiness_probe or rc.readiness_probe,
                         liveness_probe=m.liveness_probe or rc.liveness_probe,
                         startup_probe=m.startup_probe or rc.startup_probe)

    def subst_env(e: k.EnvVar) -> k.EnvVar:
        return k.EnvVar(name=e.name, value=sub(e.value), value_from=e.value_from) if e.value else e

    env: list[EnvItem] = [EnvItem(ef, obj, f"{rt_path}.envFrom[{i}]") for i, ef in enumerate(rc.env_from)]
    env += [EnvItem(ef, obj, f"{path}.envFrom[{i}]") for i, ef in enumerate(m.env_from)]
    env += [EnvItem(subst_env(e), obj, f"{rt_path}.env[{e.name}]") for e in rc.env]
    env += [EnvItem(subst_env(e), obj, f"{path}.env[{e.name}]") for e in m.env]
    n_rt = len(rt_args)

    def arg_path(p: str) -> str:
        mm = re.match(re.escape(path) + r"\.(args|command)\[(\d+)\](.*)$", p)
        if not mm:
            return p
        part, j, rest = mm.group(1), int(mm.group(2)), mm.group(3)
        if part == "command":
            return p if cmd_from_isvc else f"{rt_path}.command[{j}]{rest}"
        return f"{rt_path}.args[{j}]{rest}" if j < n_rt else f"{path}.args[{j - n_rt}]{rest}"

    return ContainerSource(merged, obj, path, env, arg_path=arg_path)


def _with_model_note(c: ContainerObs, uri: str) -> ContainerObs:
    e = c.engine
    f = e.fields.get("model") if e is not None else None
    if e is None or f is None or not str(f.value or "").startswith(KSERVE_MODEL_DIR):
        return c
    note = f"storageUri {uri} is downloaded to {KSERVE_MODEL_DIR} by the storage-initializer"
    fields = dict(e.fields)
    fields["model"] = msgspec.structs.replace(f, note=f"{f.note}; {note}" if f.note else note)
    return msgspec.structs.replace(c, engine=msgspec.structs.replace(e, fields=fields))


def _isvc_template(isvc: k.InferenceService, inv: Inventory, obj: str, issues: list[CollectionIssue]
                   ) -> tuple[PodTemplateObs, dict[str, Fact]]:
    md, pred = isvc.metadata, isvc.spec.predictor
    ns, cms = md.namespace, inv.configmaps
    extra: dict[str, Fact] = {}

    def fact(key: str, value: Any, path: str, source: str = SourceKind.WORKLOAD, note: str | None = None) -> None:
        extra[key] = Fact(value=value, prov=Prov(source=source, object=obj, path=path), note=note)

    for key, val in (("containerConcurrency", pred.container_concurrency), ("timeout", pred.timeout),
                     ("minReplicas", pred.min_replicas), ("maxReplicas", pred.max_replicas),
                     ("scaleMetric", pred.scale_metric), ("scaleTarget", pred.scale_target)):
        if val is not None:
            fact(key, val, f"spec.predictor.{key}")
    if "minReplicas" not in extra:
        fact("minReplicas", 1, "spec.predictor.minReplicas", SourceKind.DEFAULT, "KServe default")
    mode = md.annotations.get("serving.kserve.io/deploymentMode")
    if mode is not None:
        fact("deploymentMode", mode, "metadata.annotations[serving.kserve.io/deploymentMode]")
    else:
        fact("deploymentMode", None, "metadata.annotations[serving.kserve.io/deploymentMode]", SourceKind.DEFAULT,
             "not set: the cluster's inferenceservice-config decides (Standard in current KServe, "
             "Serverless in older releases)")
    spec = k.PodSpec(node_selector=pred.node_selector, affinity=pred.affinity, tolerations=pred.tolerations,
                     runtime_class_name=pred.runtime_class_name, service_account_name=pred.service_account_name)
    m = pred.model
    if m is None:
        if not pred.containers:
            issues.append(CollectionIssue(scope=obj, kind="unsupported", area="engine",
                                          message="spec.predictor has neither model nor containers; "
                                                  "this predictor form is not supported"))
        spec.containers = pred.containers
        return template_obs(spec, _isvc_pod_labels(md.name), obj, "spec.predictor", ns, cms), extra
    rt, how = (None, "")
    if inv.unavailable.get("servingruntimes") and not m.image:
        issues.append(CollectionIssue(scope=obj, kind="not-collected", area="engine", message=(
            f"ServingRuntimes were not read ({inv.unavailable['servingruntimes']}); the predictor container "
            "is built from the InferenceService alone")))
    else:
        rt, how = pick_runtime(isvc, inv.runtimes)
        if rt is None:
            issues.append(CollectionIssue(scope=obj, kind="not-found", area="engine", message=how))
    if rt is not None:
        rt_obj = _obj(rt.kind, rt.metadata.namespace if rt.kind == "ServingRuntime" else "", rt.metadata.name)
        explicit = bool(m.runtime)
        extra["runtime"] = Fact(value=rt.metadata.name, note=how, prov=Prov(
            source=SourceKind.WORKLOAD if explicit else SourceKind.DERIVED, object=obj if explicit else rt_obj,
            path="spec.predictor.model.runtime" if explicit else "spec.supportedModelFormats"))
        if not spec.node_selector:
            spec.node_selector = rt.spec.node_selector
        if not spec.tolerations:
            spec.tolerations = rt.spec.tolerations
    if m.model_format is not None:
        fact("modelFormat", m.model_format.name + (f":{m.model_format.version}" if m.model_format.version else ""),
             "spec.predictor.model.modelFormat")
    c = container_obs(_isvc_source(isvc, rt, obj), ns, cms)
    if m.image or rt is None:
        extra["image"] = Fact(value=c.image.ref or None, prov=Prov(source=SourceKind.WORKLOAD, object=obj,
                                                                   path="spec.predictor.model.image"))
    else:
        ri = next((i for i, x in enumerate(rt.spec.containers) if x.name == KSERVE_CONTAINER), 0)
        extra["image"] = Fact(value=c.image.ref, prov=Prov(
            source=SourceKind.WORKLOAD, path=f"spec.containers[{ri}].image",
            object=_obj(rt.kind, rt.metadata.namespace if rt.kind == "ServingRuntime" else "", rt.metadata.name)),
            note=f"tag from spec.predictor.model.runtimeVersion ({m.runtime_version})" if m.runtime_version else None)
    if m.storage_uri:
        fact("storageUri", m.storage_uri, "spec.predictor.model.storageUri",
             note=f"downloaded to {KSERVE_MODEL_DIR} by the storage-initializer")
        c = _with_model_note(c, m.storage_uri)
    return template_obs(spec, _isvc_pod_labels(md.name), obj, "spec.predictor", ns, cms, containers=[c]), extra


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


def hpa_obs(h: k.HorizontalPodAutoscaler) -> HpaObs:
    ref = h.spec.scale_target_ref
    # autoscaling/v2 defaulting: no metrics means 80% CPU utilization
    metrics = [_metric(m) for m in h.spec.metrics] or ["Resource/cpu Utilization=80"]
    st = h.status or k.HPAStatus()
    return HpaObs(name=h.metadata.name, namespace=h.metadata.namespace,
                  min_replicas=h.spec.min_replicas if h.spec.min_replicas is not None else 1,
                  max_replicas=h.spec.max_replicas, metrics=metrics, target=f"{ref.kind}/{ref.name}",
                  current_replicas=st.current_replicas, desired_replicas=st.desired_replicas)


def service_obs(s: k.Service) -> ServiceObs:
    return ServiceObs(name=s.metadata.name, namespace=s.metadata.namespace, type=s.spec.type,
                      ports=[ServicePort(port=p.port, target_port=p.target_port, name=p.name, protocol=p.protocol)
                             for p in s.spec.ports],
                      selector=dict(s.spec.selector),
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
        for h in inv.hpas:
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

    def find_hpa(self, ns: str, kind: str, name: str) -> k.HorizontalPodAutoscaler | None:
        return self.hpa.get((ns, kind, name)) or self.hpa.get(("", kind, name))

    def services(self, ns: str, labels: dict[str, str]) -> list[ServiceObs]:
        """Services selecting ``labels`` in ``ns`` (then those written without a namespace), in input order."""
        found: list[k.Service] = []
        for group in ((ns, "") if ns else ("",)):
            hits: dict[int, k.Service] = {}
            for kv in labels.items():
                for pos, s in self.svc_index.get((group, *kv), ()):
                    hits[pos] = s
            found += [s for _, s in sorted(hits.items(), key=lambda x: x[0]) if _subset(s.spec.selector, labels)]
        return [service_obs(s) for s in found]

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


def _retarget(c: ContainerObs, old_obj: str, new_obj: str, old_path: str, new_path: str) -> ContainerObs:
    """The same container facts, provenance moved from a template to a pod."""
    def prov(p: Prov) -> Prov:
        moved = p.path.startswith(old_path)
        if p.object != old_obj and not moved:
            return p
        return msgspec.structs.replace(p, object=new_obj if p.object == old_obj else p.object,
                                       path=sys.intern(new_path + p.path[len(old_path):]) if moved else p.path)
    e = c.engine
    if e is not None:
        e = msgspec.structs.replace(e, fields={n: msgspec.structs.replace(f, prov=prov(f.prov))
                                               for n, f in e.fields.items()})
    env = [msgspec.structs.replace(v, path=sys.intern(new_path + v.path[len(old_path):]))
           if v.path.startswith(old_path) else v for v in c.env]
    return msgspec.structs.replace(c, path=new_path, engine=e, env=env)


def _with_status(base: ContainerObs, st: tuple | None) -> ContainerObs:
    """A pod's container: the shared facts plus this pod's status."""
    if st is None:
        return base
    img = base.image
    if st[0]:
        img = msgspec.structs.replace(img, resolved_digest=resolved_digest(st[0]))
    return msgspec.structs.replace(base, image=img, ready=st[1], restart_count=st[2])


def _replicas(obj: str, value: int | None, path: str, hpa: k.HorizontalPodAutoscaler | None) -> Fact:
    note = f"managed by HorizontalPodAutoscaler {hpa.metadata.name}" if hpa is not None else None
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
    out = [_workload(j, c) for c in selected]
    nodes = {n: inv.nodes[n] for n in sorted(j.nodes_used) if n in inv.nodes}
    if not inv.pods_listed:
        nodes = dict(sorted(inv.nodes.items()))
    return out, nodes, j.issues + inv.configmaps.issues


def _workload(j: _Join, c: Candidate) -> WorkloadObs:
    inv, ns, name = j.inv, c.ns, c.name
    obj = _obj(c.kind, ns, name)
    md: k.ObjectMeta = c.obj.metadata
    common = dict(kind=c.kind, name=name, namespace=ns, object=obj, labels=dict(md.labels),
                  annotations=_annotations(md.annotations), pods_collected=inv.pods_listed)
    hpa = None
    if c.kind == "InferenceService":
        isvc: k.InferenceService = c.obj
        template, extra = _isvc_template(isvc, inv, obj, j.issues)
        recs = inv.pods.by_isvc.get((ns, name), [])
        hpa = j.hpa_by_name.get((ns, f"{name}-predictor")) or j.find_hpa(ns, "Deployment", f"{name}-predictor")
        pred = j.deploys.get((ns, f"{name}-predictor"))
        cur_rs, cur_hash, old = j.rollout(ns, f"{name}-predictor", recs,
                                          pred.spec.template.spec if pred is not None else None, obj)
        pods = [j.pod_obs(p, j._current(p, cur_rs, cur_hash)) for p in recs]
        svc_labels = pred.spec.template.metadata.labels if pred is not None else template.labels
        return WorkloadObs(**common, selector={ISVC_LABEL: name}, template=template, pods=pods,
                           current_revision=cur_hash, old_revisions=old,
                           hpa=hpa_obs(hpa) if hpa else None, services=j.services(ns, svc_labels), extra=extra)
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
    hpa = j.find_hpa(ns, c.kind, name)
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
    return WorkloadObs(**common, selector=dict(sel), replicas=replicas, template=template, pods=pods,
                       current_revision=cur_hash, old_revisions=old, hpa=hpa_obs(hpa) if hpa else None,
                       services=j.services(ns, tlabels), extra=extra)
