"""Orchestration checks: replicas, autoscaling, resources and placement."""

from __future__ import annotations

from typing import Any

from skewaudit import units
from skewaudit.checks._base import Ctx, Draft, Instance, Obs, check, compare
from skewaudit.model.finding import Evidence, Status
from skewaudit.model.observed import Prov


def _hpa_missing(ctx: Ctx) -> Obs:
    issue = ctx.issue("hpa")
    if issue:
        return Obs(unverifiable=issue)
    if ctx.snapshot.source == "manifest" and ctx.workload.hpa is None:
        return Obs(value="(no HPA in the input)", note="no HorizontalPodAutoscaler targets the workload in the manifests")
    return Obs(value="(no HPA)", note="no HorizontalPodAutoscaler targets the workload")


def _workload_level(ctx: Ctx) -> list[Instance]:
    # Scaling facts belong to the workload, not to each pod: compare once.
    return ctx.instances[:1] or [Instance(label=ctx.workload.name, container=None)]


def _cmp_once(ctx: Ctx, path: str, want: Any, kind: str, observe, what: str) -> Draft:
    saved = ctx.instances
    ctx.instances = _workload_level(ctx)
    try:
        return compare(ctx, path, want, kind, lambda _i: observe(), what=what)
    finally:
        ctx.instances = saved


def _hpa_prov(ctx: Ctx, path: str) -> Prov:
    h = ctx.workload.hpa
    return Prov(source="hpa", object=f"HorizontalPodAutoscaler/{h.namespace}/{h.name}", path=path)


@check("orchestration.hpa-bounds")
def hpa_bounds(ctx: Ctx):
    """The autoscaler's min/max replicas are the intended ones (KServe: minReplicas/maxReplicas)."""
    for attr, key in (("minReplicas", "min_replicas"), ("maxReplicas", "max_replicas")):
        want = ctx.want(f"spec.operations.scaling.{attr}")
        if want is None:
            continue

        def observe(attr: str = attr, key: str = key) -> Obs:
            extra = ctx.workload.extra.get(attr)
            h = ctx.workload.hpa
            if h is not None:
                v = getattr(h, key)
                if v is None and key == "min_replicas":
                    v = 1
                return Obs(value=v, prov=_hpa_prov(ctx, f"spec.{attr}"))
            if extra is not None and extra.value is not None:
                return Obs(value=extra.value, prov=extra.prov)
            return _hpa_missing(ctx)

        yield _cmp_once(ctx, f"spec.operations.scaling.{attr}", want, "int", observe, f"autoscaler {attr}")


def _metric_matches(want: str, metrics: list[str]) -> bool:
    w = want.strip().lower()
    for m in metrics:
        ml = m.lower()
        if w in ("cpu", "memory") and (ml.startswith(f"resource/{w} ") or ml.startswith(f"containerresource/{w}")):
            return True
        if w not in ("cpu", "memory") and w in ml:
            return True
    return False


@check("orchestration.hpa-metric")
def hpa_metric(ctx: Ctx):
    """The autoscaler scales on the intended metric (queue depth, not CPU, for LLM serving)."""
    want = ctx.want("spec.operations.scaling.metric")
    if want is None:
        return

    def observe() -> Obs:
        h = ctx.workload.hpa
        scale_metric = ctx.workload.extra.get("scaleMetric")
        if h is None and scale_metric is not None and scale_metric.value is not None:
            return Obs(value=str(scale_metric.value), prov=scale_metric.prov)
        if h is None:
            return _hpa_missing(ctx)
        shown = ", ".join(h.metrics) or "(no metrics: CPU 80% by default)"
        metrics = h.metrics or ["Resource/cpu Utilization=80"]
        return Obs(value=want if _metric_matches(str(want), metrics) else shown, prov=_hpa_prov(ctx, "spec.metrics"))

    yield _cmp_once(ctx, "spec.operations.scaling.metric", str(want), "str", observe, "autoscaling metric")


@check("orchestration.replicas")
def replicas(ctx: Ctx):
    """The replica count is the intended one (when no autoscaler owns it)."""
    want = ctx.want("spec.operations.scaling.replicas")
    if want is None:
        return

    def observe() -> Obs:
        if ctx.workload.hpa is not None:
            return Obs(unverifiable=f"an HPA ({ctx.workload.hpa.name}) owns the replica count")
        r = ctx.workload.replicas
        if r is None or r.value is None:
            return Obs(value=1, note="replicas absent: Kubernetes defaults to 1")
        return Obs(value=r.value, prov=r.prov)

    yield _cmp_once(ctx, "spec.operations.scaling.replicas", want, "int", observe, "replicas")


def _quantity_obs(ctx: Ctx, inst: Instance, kind: str, resource: str) -> Obs:
    c = inst.container
    if c is None:
        return Obs(unverifiable="no serving container")
    src = c.requests if kind == "requests" else c.limits
    v = src.get(resource)
    if v is None and kind == "requests" and resource in c.limits:
        v = c.limits[resource]  # Kubernetes defaults requests to limits
    obj = f"Pod/{inst.pod.namespace}/{inst.pod.name}" if inst.pod else ctx.workload.object
    prov = Prov(source="pod-spec", object=obj, path=f"{c.path}.resources.{kind}[{resource}]", container=c.name)
    return Obs(value=v if v is not None else "(unset)", prov=prov)


@check("orchestration.resources")
def resources(ctx: Ctx):
    """Container requests and limits are the intended ones (80Gi is not 80G)."""
    for kind in ("requests", "limits"):
        for resource, want in (ctx.want(f"spec.operations.orchestration.{kind}") or {}).items():
            yield compare(ctx, f"spec.operations.orchestration.{kind}.{resource}", str(want), "quantity",
                          lambda i, k=kind, r=resource: _quantity_obs(ctx, i, k, r), what=f"{kind} {resource}")
    cpu = ctx.want("spec.runtime.resources.cpuCores")
    if cpu is not None:
        yield compare(ctx, "spec.runtime.resources.cpuCores", str(cpu), "quantity",
                      lambda i: _quantity_obs(ctx, i, "requests", "cpu"), what="CPU request (cores)")
    mem = ctx.want("spec.runtime.resources.memoryGb")
    if mem is not None:
        def observe(inst: Instance) -> Obs:
            ob = _quantity_obs(ctx, inst, "requests", "memory")
            try:
                b = units.parse_quantity(ob.value)
            except ValueError:
                return ob
            # memoryGb is read as either GB or GiB: both spellings are common in specs.
            ok = abs(b - mem * 10**9) < 10**6 or abs(b - int(mem * 2**30)) < 2**20
            return Obs(value=f"{mem}" if ok else ob.value, prov=ob.prov, note=str(ob.value))
        yield compare(ctx, "spec.runtime.resources.memoryGb", str(mem), "str", observe, what="memory request (GB)")


@check("orchestration.node-selector")
def node_selector(ctx: Ctx):
    """The pod template selects the intended nodes (nodeSelector or required node affinity)."""
    want = ctx.want("spec.operations.orchestration.nodeSelector") or {}
    aff = ctx.want("spec.operations.orchestration.nodeAffinity") or {}
    t = ctx.workload.template
    for key, value in want.items():
        path = f"spec.operations.orchestration.nodeSelector.{key}"

        def observe(key: str = key, value: str = value) -> Obs:
            if key in t.node_selector:
                return Obs(value=t.node_selector[key], prov=Prov(source="pod-spec", object=ctx.workload.object,
                           path=f"spec.template.spec.nodeSelector[{key}]"))
            if key in t.node_affinity:
                vals = t.node_affinity[key]
                return Obs(value=value if value in vals else ",".join(vals), prov=Prov(
                    source="pod-spec", object=ctx.workload.object,
                    path=f"spec.template.spec.affinity.nodeAffinity[{key}]"))
            return Obs(value="(not selected)", note="the scheduler may place pods on any node")

        yield _cmp_once(ctx, path, str(value), "str", observe, f"node selector {key}")
    for key, values in aff.items():
        path = f"spec.operations.orchestration.nodeAffinity.{key}"

        def observe_aff(key: str = key, values: list = values) -> Obs:
            got = t.node_affinity.get(key) or ([t.node_selector[key]] if key in t.node_selector else [])
            return Obs(value=",".join(sorted(got)) or "(not selected)",
                       prov=Prov(source="pod-spec", object=ctx.workload.object, path="spec.template.spec.affinity"))

        yield _cmp_once(ctx, path, ",".join(sorted(map(str, values))), "str", observe_aff, f"node affinity {key}")


@check("orchestration.tolerations")
def tolerations(ctx: Ctx):
    """The pod template tolerates the intended taints (e.g. the GPU node pool's)."""
    want = ctx.want("spec.operations.orchestration.tolerations")
    if not want:
        return
    have = ctx.workload.template.tolerations
    for i, tol in enumerate(want):
        d = tol.model_dump(exclude_none=True) if hasattr(tol, "model_dump") else dict(tol)
        ok = any(all(str(h.get(k)) == str(v) for k, v in d.items() if not (k == "operator" and v == "Equal"
                                                                          and "operator" not in h)) for h in have)
        path = f"spec.operations.orchestration.tolerations[{i}]"
        shown = ", ".join(f"{k}={v}" for k, v in d.items())
        if ok:
            yield Draft(path, Status.MATCH, f"toleration {shown} present", expected=shown)
        else:
            yield Draft(path, Status.DRIFT, f"toleration {shown} is missing from the pod template", expected=shown,
                        observed=[Evidence(value=have or "(none)", prov=Prov(source="pod-spec",
                                  object=ctx.workload.object, path="spec.template.spec.tolerations"))])


@check("orchestration.rollout")
def rollout(ctx: Ctx):
    """A rollout is in progress: pods of an older revision still serve traffic."""
    old = [p for i in ctx.instances if not i.current for p in i.pods]
    if ctx.workload.old_revisions and old:
        yield Draft("spec", Status.DRIFT, f"rollout in progress: {len(old)} of {sum(len(i.pods) for i in ctx.instances)} pods run an older "
                    f"revision ({', '.join(ctx.workload.old_revisions)})",
                    observed=[Evidence(value=r) for r in ctx.workload.old_revisions], level="info",
                    scope=f"{len(old)} of {sum(len(i.pods) for i in ctx.instances)} pods")
