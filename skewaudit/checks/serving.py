"""Serving checks: the port clients reach, probes, admission limits and timeouts."""

from __future__ import annotations

from typing import Any

from skewaudit import constraints, units
from skewaudit.checks._base import Ctx, Draft, Instance, Obs, check, compare, engine_obs
from skewaudit.model.observed import Prov


def _pod_obj(ctx: Ctx, inst: Instance) -> str:
    return f"Pod/{inst.pod.namespace}/{inst.pod.name}" if inst.pod and inst.pod.namespace else ctx.workload.object


@check("serving.port")
def port(ctx: Ctx):
    """The engine listens on the intended port (vLLM 8000, TGI 80 in its image, SGLang 30000 by default)."""
    want = ctx.want("spec.operations.serving.port")
    if want is None:
        return

    def observe(inst: Instance) -> Obs:
        # A containerPort only declares a port; it is never evidence of where the engine
        # listens. Evidence is argv/env, or the engine's documented default (said so).
        ob = engine_obs(inst, "port", "the port")
        if ob.unverifiable:
            declared = [p.container_port for p in (inst.container.ports if inst.container else [])]
            if declared:
                shown = ", ".join(map(str, declared))
                return Obs(prov=ob.prov, unverifiable=f"{ob.unverifiable}; the containerPort ({shown}) declares a "
                           "port but does not say where the engine listens")
            return ob
        if ob.prov is not None and ob.prov.source == "default":
            engine = inst.container.engine.engine if inst.container and inst.container.engine else "the engine"
            note = f"engine default: no port flag or env in the {engine} command line"
            return Obs(value=ob.value, prov=ob.prov, note=f"{note}; {ob.note}" if ob.note else note)
        return ob

    yield compare(ctx, "spec.operations.serving.port", want, "int", observe, what="serving port",
                  vars={"flag": "--port"})


def _probe(kind: str):
    def run(ctx: Ctx):
        """The container's {kind} probe (path, port, timeouts) matches the intended one."""
        base = f"spec.operations.serving.{kind}Probe"
        for attr, key, cast in (("path", "path", "str"), ("timeoutSeconds", "timeout_seconds", "int"),
                                ("periodSeconds", "period_seconds", "int"),
                                ("initialDelaySeconds", "initial_delay_seconds", "int"),
                                ("failureThreshold", "failure_threshold", "int"), ("port", "port", "str")):
            want = ctx.want(f"{base}.{attr}")
            if want is None:
                continue

            def observe(inst: Instance, key: str = key) -> Obs:
                c = inst.container
                if c is None:
                    return Obs(unverifiable="no serving container")
                for i, p in enumerate(c.probes):
                    if p.kind == kind:
                        value = getattr(p, key)
                        prov = Prov(source="pod-spec", object=_pod_obj(ctx, inst), path=f"{c.path}.{kind}Probe",
                                    container=c.name)
                        if key == "timeout_seconds" and value is None:
                            return Obs(value=1, prov=Prov(source="default", object=prov.object, path=prov.path,
                                                          container=c.name),
                                       note="timeoutSeconds not set: the Kubernetes default (1s)")
                        if key == "port" and isinstance(value, str):
                            named = {pp.name: pp.container_port for pp in c.ports if pp.name}
                            value = named.get(value, value)
                        return Obs(value=value, prov=prov)
                return Obs(value="(no probe)", note=f"no {kind}Probe on the container")

            yield compare(ctx, f"{base}.{attr}", str(want) if cast == "str" else want, cast, observe,
                          what=f"{kind} probe {attr}")
    run.__doc__ = run.__doc__.format(kind=kind)
    return run


check("serving.readiness-probe")(_probe("readiness"))
check("serving.liveness-probe")(_probe("liveness"))


@check("serving.max-concurrency")
def max_concurrency(ctx: Ctx):
    """The admission limit matches (TGI --max-concurrent-requests, KServe containerConcurrency)."""
    want = ctx.want("spec.operations.serving.maxConcurrency")
    if want is None:
        return
    kserve = ctx.workload.extra.get("containerConcurrency")

    def observe(inst: Instance) -> Obs:
        if kserve is not None and kserve.value is not None:
            return Obs(value=kserve.value, prov=kserve.prov)
        ob = engine_obs(inst, "max_concurrent_requests", "an admission limit")
        if ob.unverifiable and inst.container is not None and inst.container.engine is not None:
            return Obs(unverifiable=f"{inst.container.engine.engine} has no admission-limit flag; the limit lives "
                       "in the gateway or load balancer")
        return ob

    yield compare(ctx, "spec.operations.serving.maxConcurrency", want, "int", observe, what="max concurrency",
                  vars={"flag": "--max-concurrent-requests"})


_TIMEOUT_KEYS = ("timeout",)


@check("serving.timeout")
def timeout(ctx: Ctx):
    """The request timeout matches (KServe predictor timeout, or a timeout annotation on the Service)."""
    want = ctx.want("spec.operations.serving.timeoutSeconds")
    if want is None:
        return
    kserve = ctx.workload.extra.get("timeout")
    svc = None
    for s in ctx.workload.services:
        for k, v in sorted(s.annotations.items()):
            if "timeout" in k.lower():
                svc = (s, k, v)
                break

    def observe(inst: Instance) -> Obs:
        if kserve is not None and kserve.value is not None:
            return Obs(value=kserve.value, prov=kserve.prov)
        routed = route_obs(ctx, "timeoutSeconds", want, "float")
        if routed is not None:
            return routed
        if svc is not None:
            s, k, v = svc
            return Obs(value=str(v).rstrip("s"), prov=Prov(source="service", object=f"Service/{s.namespace}/{s.name}",
                                                           path=f"metadata.annotations[{k}]"))
        return Obs(unverifiable="the request timeout is enforced by the gateway/ingress, which skewaudit does not read "
                   "for this workload")

    yield _routed(compare(ctx, "spec.operations.serving.timeoutSeconds", want, "float", observe,
                          what="request timeout"))


# --- routes in front of the Service (HTTPRoute, ingress-nginx Ingress, Istio VirtualService) ---------------


def _routes(ctx: Ctx, key: str) -> list[tuple[Any, Any, Any]]:
    """(Service, route, fact) for every route that sets (or defaults) ``key`` for this workload."""
    return [(s, r, r.settings[key]) for s in ctx.workload.services for r in s.routes if key in r.settings]


def route_obs(ctx: Ctx, key: str, want: Any, kind: str, to_value=lambda v: v) -> Obs | None:
    """The route setting a request meets on its way to the workload: the first route that
    disagrees with ``want`` (else the first one), named with the Service it routes to.
    None when no route in front of the workload sets or defaults it."""
    found = _routes(ctx, key)
    known = [x for x in found if x[2].value is not None]
    if not found:
        return None
    if not known:
        s, r, f = found[0]
        return Obs(prov=f.prov, unverifiable=f"{r.kind} {r.name} (routes to Service {s.name}): {f.note}")
    try:
        cons = constraints.compile(want, kind)
        pick = next((x for x in known if not cons.matches(to_value(x[2].value))), known[0])
    except ValueError:
        pick = known[0]
    s, r, f = pick
    note = f"{r.kind} {r.name} routes to Service {s.name}" + (f"; {f.note}" if f.note else "") \
        + (f" ({len(known)} routes)" if len(known) > 1 else "")
    return Obs(value=to_value(f.value), prov=f.prov, note=note)


def _routed(d: Draft) -> Draft:
    # hints name the route object the value was read from
    for e in d.observed:
        if e.prov is not None and e.prov.source in ("route", "default") and e.prov.object.split("/")[0] in (
                "HTTPRoute", "Ingress", "VirtualService"):
            d.vars.setdefault("route", e.prov.object)
            break
    return d


def _workload_once(ctx: Ctx) -> list[Instance]:
    return ctx.instances[:1] or [Instance(label=ctx.workload.name, container=None)]


@check("serving.retries")
def retries(ctx: Ctx):
    """The retry attempts the mesh makes are the intended ones (Istio VirtualService retries; Istio retries
    twice when unset): a retried generation runs, and is billed, twice."""
    want = ctx.want("spec.operations.serving.retries")
    if want is None:
        return

    def observe(_inst: Instance) -> Obs:
        return route_obs(ctx, "retries", want, "int") or Obs(
            unverifiable="no VirtualService routes to the workload's Services: the retry policy is not visible")

    saved, ctx.instances = ctx.instances, _workload_once(ctx)
    try:
        yield _routed(compare(ctx, "spec.operations.serving.retries", want, "int", observe, what="retry attempts"))
    finally:
        ctx.instances = saved


@check("serving.request-body-size")
def request_body_size(ctx: Ctx):
    """The largest request body the ingress accepts is the intended one (ingress-nginx proxy-body-size, 1m by
    default): long prompts and multimodal inputs get a 413 from the proxy, never reaching the engine."""
    want = ctx.want("spec.operations.serving.maxRequestBodySize")
    if want is None:
        return
    want_bytes = int(units.parse_quantity(want))

    def observe(_inst: Instance) -> Obs:
        ob = route_obs(ctx, "maxRequestBodyBytes", want_bytes, "int")
        if ob is None:
            return Obs(unverifiable="no ingress-nginx Ingress routes to the workload's Services: the body limit "
                       "is not visible")
        if ob.value == 0:
            return Obs(value="unlimited", prov=ob.prov, note=ob.note)
        return ob

    saved, ctx.instances = ctx.instances, _workload_once(ctx)
    try:
        yield _routed(compare(ctx, "spec.operations.serving.maxRequestBodySize", want_bytes, "int", observe,
                              what="max request body (bytes)"))
    finally:
        ctx.instances = saved
