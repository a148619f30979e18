"""Baseline *views*: one workload reduced to the normalized facts that matter for skew.

A view is nested dicts of engine settings, image and digest, env, resources,
probes, the GPU class and driver of the nodes in use, autoscaling, placement,
Services, replica count and rollout state, leaving out everything volatile
(pod and node names, UIDs, timestamps, resourceVersion, managedFields, restart
counts, readiness, IPs, GPU UUIDs, HPA status, HOSTNAME-like env). Absent facts
are absent keys, never None, so "added" and "removed" read as such. Used by
:mod:`skewaudit.baseline` to compare two snapshots.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable

import msgspec

from skewaudit.model.observed import ContainerObs, PodObs, Prov, Snapshot, WorkloadObs

ABSENT = "(absent)"
ENGINE_DEFAULT = "(engine default)"

_GPU_CLASS_LABELS = ("nvidia.com/gpu.product", "cloud.google.com/gke-accelerator",
                     "karpenter.k8s.aws/instance-gpu-name", "karpenter.k8s.aws/instance-gpu-memory")
_GPU_VIEW_KEYS = ("class", "driver_version", "cuda_driver_version", "memory_mib", "mig_profile", "count")
# Labels the controllers stamp per revision or per pod: not configuration.
_VOLATILE_LABELS = frozenset({"pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name",
                              "apps.kubernetes.io/pod-index", "controller-uid", "batch.kubernetes.io/controller-uid"})
# Process env (local mode) that differs per host, shell or pod: names and Kubernetes service links (IPs).
_VOLATILE_ENV = frozenset({"HOSTNAME", "PWD", "OLDPWD", "SHLVL", "_", "TERM", "SSH_CLIENT", "SSH_CONNECTION",
                           "SSH_TTY", "SSH_AUTH_SOCK", "XDG_SESSION_ID", "INVOCATION_ID", "JOURNAL_STREAM"})
_SERVICE_LINK_ENV = re.compile(r"^[A-Z0-9_]+_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)"
                               r"(_(ADDR|PORT|PROTO))?)?)$")
# Leaves that one source collects and another cannot (the running digest is in pod status only): a leaf
# missing on one side is "not collected" there, not a change.
_COLLECTED_ONLY = frozenset({"resolved_digest"})


# --- views ---------------------------------------------------------------------------------------


@dataclass
class View:
    """The comparable facts of one workload and where each leaf came from."""

    facts: dict[str, Any]
    provs: dict[tuple[str, ...], Prov] = field(default_factory=dict)
    gpu_source: str = ""          # "nodes" (labels and/or device reports) | "pod template" | ""
    containers: dict[str, ContainerObs] = field(default_factory=dict)
    # the symptom block (--probe), averaged over the current pods: compared with a threshold,
    # not as facts (every scrape differs a little)
    symptoms: dict[str, float] = field(default_factory=dict)


# WorkloadObs.extra keys that describe a rollout in progress (Argo Rollouts), reported as "rollout".
_ROLLOUT_STATE = frozenset({"canaryWeight", "stableRevision"})


def _key(w: WorkloadObs) -> str:
    return f"{w.kind}/{w.namespace}/{w.name}" if w.namespace else f"{w.kind}/{w.name}"


def _joined(items: Iterable[Any]) -> str:
    return ", ".join(sorted({str(i) for i in items}))


def _volatile_env(name: str, source: str) -> bool:
    return source == "process" and (name in _VOLATILE_ENV or bool(_SERVICE_LINK_ENV.match(name)))


def _container_view(c: ContainerObs, obj: str, provs: dict[tuple[str, ...], Prov]) -> dict[str, Any]:
    base = ("containers", c.name)
    out: dict[str, Any] = {"image": c.image.ref}
    provs[base + ("image",)] = Prov(source="pod-spec", object=obj, path=f"{c.path}.image" if c.path else "image",
                                    container=c.name)
    if c.image.resolved_digest:
        out["resolved_digest"] = c.image.resolved_digest
        provs[base + ("resolved_digest",)] = Prov(source="pod-status", object=obj, container=c.name,
                                                  path=f"status.containerStatuses[{c.name}].imageID")
    if c.engine is not None:
        engine: dict[str, Any] = {"name": c.engine.engine}
        for k, f in c.engine.fields.items():
            # A default the engine derives at run time has no value: say so rather than drop it, so that
            # "pinned before, default now" is a change.
            engine[k] = ENGINE_DEFAULT if f.value is None else f.value
            provs[base + ("engine", k)] = f.prov
        if c.engine.unknown_args:
            engine["unknown_args"] = " ".join(c.engine.unknown_args)
        out["engine"] = engine
    elif c.argv is not None:
        # argv is compared only when no engine parsed it: parsed flags are reported field by field.
        out["argv"] = " ".join(c.argv)
    env: dict[str, Any] = {}
    for e in c.env:
        if _volatile_env(e.name, e.source):
            continue
        env[e.name] = e.value if e.value is not None else f"(from {e.ref or e.source})"
        provs[base + ("env", e.name)] = Prov(source="secret" if e.source == "secret" else
                                             "configmap" if e.source == "configmap" else "env",
                                             object=obj, path=e.path or f"env[{e.name}]", container=c.name)
    if env:
        out["env"] = env
    if c.requests:
        out["requests"] = dict(c.requests)
    if c.limits:
        out["limits"] = dict(c.limits)
    if c.ports:
        out["ports"] = _joined(p.container_port for p in c.ports)
    if c.probes:
        out["probes"] = {p.kind: {k: v for k, v in msgspec.to_builtins(p).items() if k != "kind"} for p in c.probes}
    return out


def _config_key(c: ContainerObs) -> tuple:
    return (c.name, c.image, c.command, c.args, c.argv, c.env, c.requests, c.limits, c.ports, c.probes)


@lru_cache(maxsize=256)
def _pinned_class(selector: tuple[tuple[str, str], ...]) -> str | None:
    """The GPU class a nodeSelector / single-valued affinity on GPU-model labels pins (cached: a fleet
    shares a handful of selectors)."""
    from skewaudit import gpus
    from skewaudit.model.observed import NodeObs

    f = gpus.node_gpu_facts(NodeObs(name="(pod template)", labels=dict(selector))).get("class")
    return str(f.value) if f is not None and f.value is not None else None


def _merge(views: list[dict[str, Any]]) -> dict[str, Any]:
    """One view from several pods' views: a leaf the pods disagree on becomes ``a | b``."""
    if len(views) == 1:
        return views[0]
    out: dict[str, Any] = {}
    for k in dict.fromkeys(k for v in views for k in v):
        vals = [v.get(k) for v in views]
        if all(isinstance(x, dict) for x in vals):
            out[k] = _merge(vals)
        elif all(x == vals[0] for x in vals):
            out[k] = vals[0]
        else:
            out[k] = " | ".join(sorted({ABSENT if x is None else str(x) for x in vals}))
    return out


def _gpu(w: WorkloadObs, snap: Snapshot, current: list[PodObs], provs: dict[tuple[str, ...], Prov],
         node_cache: dict[str, dict]) -> tuple[dict[str, Any], str]:
    from skewaudit import gpus

    # The class the pod template pins through nodeSelector / single-valued required affinity.
    sel = {k: v for k, v in w.template.node_selector.items() if k in _GPU_CLASS_LABELS}
    for k, vals in w.template.node_affinity.items():
        if k in _GPU_CLASS_LABELS and len(vals) == 1 and ":" not in vals[0]:
            sel.setdefault(k, vals[0])
    pinned = _pinned_class(tuple(sorted(sel.items()))) if sel else None
    sel_path = "spec.template.spec.nodeSelector" if w.kind != "Pod" else "spec.nodeSelector"
    sel_prov = Prov(source="pod-spec", object=w.object or _key(w), path=f"{sel_path}[{next(iter(sel), '')}]")

    gathered: dict[str, set[str]] = {}
    for p in current:
        node = snap.nodes.get(p.node) if p.node else None
        if node is not None:
            if node.name not in node_cache:
                node_cache[node.name] = gpus.node_gpu_facts(node)
            for k, f in node_cache[node.name].items():
                if k in _GPU_VIEW_KEYS and f.value is not None:
                    gathered.setdefault(k, set()).add(str(f.value))
                    provs.setdefault(("gpu", k), f.prov)
        if p.gpu is not None and p.gpu.status == "ok":
            for k, f in gpus.report_gpu_facts(p.gpu).items():
                if k in _GPU_VIEW_KEYS and f.value is not None:
                    gathered.setdefault(k, set()).add(str(f.value))
                    provs.setdefault(("gpu", k), f.prov)
    if gathered:
        out = {k: _joined(v) for k, v in gathered.items()}
        if pinned is not None:
            out["pinned_class"] = pinned
            provs[("gpu", "pinned_class")] = sel_prov
        return out, "nodes"
    if pinned is not None:
        provs[("gpu", "class")] = sel_prov
        return {"class": pinned}, "pod template"
    return {}, ""


def view(w: WorkloadObs, snap: Snapshot, node_cache: dict[str, dict] | None = None) -> View:
    """The normalized, volatile-free facts of one workload, and the provenance of each leaf path."""
    node_cache = {} if node_cache is None else node_cache
    provs: dict[tuple[str, ...], Prov] = {}
    obj = w.object or _key(w)
    # Live, what runs is the current revision's pods; offline, the pod template.
    current = [p for p in w.pods if p.current]
    containers: dict[str, ContainerObs] = {}
    if current:
        # Pods that run the same containers give the same view: build it once per distinct configuration.
        # The key leaves out what differs per pod without being configuration (restart count, readiness,
        # and provenance, which names the pod); engine facts are derived from what it keeps.
        distinct: dict[bytes, PodObs] = {}
        for p in current:
            distinct.setdefault(msgspec.json.encode([_config_key(c) for c in p.containers]), p)
        # Views per container name: a multi-host group's leader and workers run different containers.
        per_name: dict[str, dict[bytes, dict[str, Any]]] = {}
        for p in distinct.values():
            for c in p.containers:
                cv = _container_view(c, f"Pod/{p.namespace}/{p.name}" if p.namespace else f"Pod/{p.name}", provs)
                per_name.setdefault(c.name, {}).setdefault(msgspec.json.encode(cv), cv)
                containers.setdefault(c.name, c)
        cviews = {name: _merge(list(vs.values())) for name, vs in per_name.items()}
    else:
        templates = [w.template.containers, w.worker_template.containers if w.worker_template else []]
        cviews = {c.name: _container_view(c, obj, provs) for cs in templates for c in cs}
        containers = {c.name: c for cs in templates for c in cs}
    gpu, gpu_source = _gpu(w, snap, current, provs, node_cache)

    facts: dict[str, Any] = {"containers": cviews}
    if w.replicas is not None and w.replicas.value is not None:
        facts["replicas"] = w.replicas.value
        provs[("replicas",)] = w.replicas.prov
    labels = {k: v for k, v in w.labels.items() if k not in _VOLATILE_LABELS}
    if labels:
        facts["labels"] = labels
    if gpu:
        facts["gpu"] = gpu
    placement: dict[str, Any] = {}
    # GPU-model selector keys are reported as the GPU class when they resolve to one; otherwise they stay
    # placement facts, so that no selector change goes unseen.
    folded = "pinned_class" in gpu or gpu_source == "pod template"
    ns = {k: v for k, v in w.template.node_selector.items() if not (k in _GPU_CLASS_LABELS and folded)}
    if ns:
        placement["node_selector"] = ns
    aff = {k: _joined(v) for k, v in w.template.node_affinity.items()
           if not (k in _GPU_CLASS_LABELS and folded and len(v) == 1 and ":" not in v[0])}
    if aff:
        placement["node_affinity"] = aff
    if w.template.tolerations:
        placement["tolerations"] = _joined(",".join(f"{k}={v}" for k, v in sorted(t.items()))
                                           for t in w.template.tolerations)
    if w.template.runtime_class:
        placement["runtime_class"] = w.template.runtime_class
    if placement:
        facts["placement"] = placement
    # DRA: what each claim's ResourceClaimTemplate asks for (its count is the pod's device count)
    claims = {name: {k: v for k, v in (("count", d.count), ("class", d.device_class)) if v is not None}
              for name, d in w.template.claim_devices.items() if d.count is not None}
    if claims:
        facts["claims"] = claims
        for name, d in w.template.claim_devices.items():
            provs[("claims", name, "count")] = Prov(source="resource-claim", object=d.template, path=d.path)
    if w.hpa is not None:
        hpa: dict[str, Any] = {"name": w.hpa.name}
        if w.hpa.min_replicas is not None:
            hpa["min_replicas"] = w.hpa.min_replicas
        if w.hpa.max_replicas is not None:
            hpa["max_replicas"] = w.hpa.max_replicas
        hpa["metrics"] = _joined(w.hpa.metrics) or "cpu (default)"
        facts["hpa"] = hpa
        hpa_obj = f"{w.hpa.kind}/{w.hpa.namespace or w.namespace}/{w.hpa.name}".replace("//", "/")
        keda = w.hpa.kind == "ScaledObject"   # KEDA spells the bounds and metrics its own way
        for k, field_path in (("min_replicas", "spec.minReplicaCount" if keda else "spec.minReplicas"),
                              ("max_replicas", "spec.maxReplicaCount" if keda else "spec.maxReplicas"),
                              ("metrics", "spec.triggers" if keda else "spec.metrics"), ("name", "metadata.name")):
            provs[("hpa", k)] = Prov(source="hpa", object=hpa_obj, path=field_path)
    if w.services:
        services = {}
        for s in w.services:
            sv: dict[str, Any] = {"type": s.type, "ports": _joined(f"{p.port}->{p.target_port}" for p in s.ports)}
            if s.annotations:
                sv["annotations"] = dict(s.annotations)
            services[s.name] = sv
        facts["services"] = services
        # routes in front of the Services: each setting its own fact, so a changed timeout is one finding
        routes: dict[str, dict[str, Any]] = {}
        for s in w.services:
            for r in s.routes:
                rkey = f"{r.kind}/{r.name}" + (f"[{r.rule}]" if r.rule is not None else "")
                routes[rkey] = {k: f.value for k, f in r.settings.items()}
                for k, f in r.settings.items():
                    provs[("routes", rkey, k)] = f.prov
        if routes:
            facts["routes"] = routes
    # A canary's weight and stable revision are the rollout's state: one "rollout" change, not three.
    extra = {k: f for k, f in w.extra.items() if k not in _ROLLOUT_STATE}
    if extra:
        facts["extra"] = {k: f.value for k, f in extra.items() if f.value is not None}
        for k, f in extra.items():
            provs[("extra", k)] = f.prov
    if w.pods_collected:
        facts["pods"] = {"count": len(w.pods)}
    if w.old_revisions:
        weight = w.extra.get("canaryWeight")
        at = f" (canary weight {weight.value}%)" if weight is not None and weight.value is not None else ""
        facts["rollout"] = f"{w.current_revision or '?'} over {_joined(w.old_revisions)}{at}"
    runtime, symptoms = _runtime(current, provs)
    if runtime:
        facts["runtime"] = runtime
    return View(facts=facts, provs=provs, gpu_source=gpu_source, containers=containers, symptoms=symptoms)


# Runtime facts that differ between healthy replicas and between restarts by nature.
_RUNTIME_VOLATILE = frozenset({"num_gpu_blocks"})


def _runtime(current: list[PodObs], provs: dict[tuple[str, ...], Prov]) -> tuple[dict[str, Any], dict[str, float]]:
    """What the current pods' engines reported (--probe): facts (joined when replicas differ) and
    the mean of each symptom."""
    values: dict[str, set[str]] = {}
    raw: dict[str, Any] = {}
    sums: dict[str, list[float]] = {}
    for p in current:
        rt = p.runtime
        if rt is None or rt.status == "unavailable":
            continue
        for name, f in rt.fields.items():
            if name in _RUNTIME_VOLATILE or f.value is None:
                continue
            values.setdefault(name, set()).add(str(f.value))
            raw.setdefault(name, f.value)
            provs.setdefault(("runtime", name), f.prov)
        s = rt.symptoms
        if s is not None:
            for k, v in msgspec.structs.asdict(s).items():
                if v is not None and k not in ("uptime_s", "preemptions", "running"):
                    sums.setdefault(k, []).append(float(v))
            if s.preemptions is not None and s.uptime_s:
                # a counter since start: per hour, so runs at different uptimes compare
                sums.setdefault("preemptions_per_h", []).append(s.preemptions / s.uptime_s * 3600)
    facts = {k: raw[k] if len(v) == 1 else _joined(sorted(v)) for k, v in values.items()}
    return facts, {k: sum(v) / len(v) for k, v in sums.items()}
