"""Serving checks: the port clients reach, probes, admission limits and timeouts."""

from __future__ import annotations

from skewaudit.checks._base import Ctx, Instance, Obs, check, compare, engine_obs
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
        if svc is not None:
            s, k, v = svc
            return Obs(value=str(v).rstrip("s"), prov=Prov(source="service", object=f"Service/{s.namespace}/{s.name}",
                                                           path=f"metadata.annotations[{k}]"))
        return Obs(unverifiable="the request timeout is enforced by the gateway/ingress, which skewaudit does not read "
                   "for this workload")

    yield compare(ctx, "spec.operations.serving.timeoutSeconds", want, "float", observe, what="request timeout")
