"""How many accelerators each pod gets: the intended vendor's resource (NVIDIA, MIG, AMD, TPU,
Gaudi, Neuron), a DRA claim's template, whether tensor x pipeline parallel fits them and whether
the node can allocate them."""

from __future__ import annotations

from skewaudit.checks._base import Ctx, Draft, Instance, Obs, check, compare, engine_obs, first_declared
from skewaudit.checks.hardware.facts import spec_vendor, whole
from skewaudit.model.finding import Evidence, Status
from skewaudit.model.observed import Prov


def _accel_request(c, vendor: str | None = "nvidia"):
    """The accelerator request of ``vendor`` (any modelled vendor when None) in container ``c``,
    summed over its resources (MIG instances count as NVIDIA): (count, Request) or (None, None)."""
    from skewaudit import accelerators

    reqs = [r for r in accelerators.accelerator_requests(c.limits, c.requests)
            if r.vendor is not None and (vendor is None or r.vendor == vendor)]
    if not reqs or any(r.count is None for r in reqs):
        return None, None
    return sum(r.count or 0 for r in reqs), reqs[0]


def _gpu_request(c) -> tuple[int | None, str | None]:
    n, r = _accel_request(c, None)
    return n, r.path if r is not None else None


_NONE_UNIT = {"nvidia": ("nvidia.com/gpu", "GPU"), "amd": ("amd.com/gpu", "GPU"), "google": ("google.com/tpu", "TPU"),
              "intel": ("habana.ai/gaudi", "Gaudi card"), "aws": ("aws.amazon.com/neuron", "Neuron device")}


def _count_obs(ctx: Ctx, inst: Instance, vendor: str | None) -> Obs:
    """What one pod requests of the spec's vendor; unverifiable (naming the resource) for a
    resource skewaudit does not model, a DRA claim, or NeuronCores counted against devices."""
    from skewaudit import accelerators

    c = inst.container
    if c is None:
        return Obs(unverifiable="no serving container")
    obj = f"Pod/{inst.pod.namespace}/{inst.pod.name}" if inst.pod else ctx.workload.object

    def prov(path: str) -> Prov:
        return Prov(source="pod-spec", object=obj, path=f"{c.path}.{path}", container=c.name)

    reqs = accelerators.accelerator_requests(c.limits, c.requests)
    mine = [r for r in reqs if r.vendor is not None and (vendor is None or r.vendor == vendor)]
    if vendor == "aws" and mine and all(r.resource == "aws.amazon.com/neuroncore" for r in mine):
        r = mine[0]
        return Obs(prov=prov(r.path), unverifiable=f"requests {r.count} {r.resource}: NeuronCores, not devices "
                   "(cores per device depend on the chip); the device count cannot be verified")
    if mine:
        if any(r.count is None for r in mine):
            bad = next(r for r in mine if r.count is None)
            return Obs(prov=prov(bad.path), unverifiable=f"{bad.resource} is not a whole number")
        n = sum(r.count or 0 for r in mine)
        units = sorted({r.unit for r in mine})
        return Obs(value=n, prov=prov(mine[0].path), note=None if units == ["GPU"] else ", ".join(units))
    others = [r for r in reqs if r.vendor is not None]
    if others:
        r = others[0]
        return Obs(value=r.count, prov=prov(r.path),
                   note=f"requests {r.resource} ({r.vendor}), not the intended vendor's accelerators")
    unmodelled = [r for r in reqs if r.vendor is None]
    if unmodelled:
        names = ", ".join(r.resource for r in unmodelled)
        return Obs(prov=prov(unmodelled[0].path), unverifiable=f"requests {names}, a resource skewaudit does not "
                   "model: the accelerator count cannot be verified")
    if c.claims:
        return _claim_obs(ctx, c, vendor, prov("resources.claims"))
    if ctx.issue("resources"):   # a request the collector dropped as invalid: not "no request"
        return Obs(prov=prov("resources"), unverifiable=ctx.issue("resources"))
    res, unit = _NONE_UNIT.get(vendor or "", ("an accelerator resource", "accelerator"))
    return Obs(value=0, prov=prov("resources"), note=f"no {res} request: the pod gets no {unit}")


def _claim_obs(ctx: Ctx, c, vendor: str | None, where: Prov) -> Obs:
    """The devices a container's DRA claims ask for, from their ResourceClaimTemplates; unverifiable
    (naming the claim and why) when a template is not read, is allocationMode All or a prioritized list."""
    from skewaudit import accelerators

    t = ctx.workload.template
    claims = t.resource_claims
    shown = ", ".join(f"{n} ({claims[n]})" if n in claims else n for n in c.claims)
    found = [t.claim_devices.get(n) for n in c.claims]
    if not found or any(d is None for d in found):
        return Obs(prov=where, unverifiable=f"devices come from Dynamic Resource Allocation claim {shown}: the "
                   "device count is decided by the claim, not visible in the pod spec")
    bad = next((d for d in found if d.count is None), None)
    if bad is not None:
        return Obs(prov=Prov(source="resource-claim", object=bad.template, path=bad.path),
                   unverifiable=f"claim {shown}: {bad.reason}")
    first = found[0]
    prov = Prov(source="resource-claim", object=first.template, path=first.path)
    per_class: dict[str, int] = {}
    for name, d in zip(c.claims, found):
        req = c.claim_requests.get(name)
        if req is not None:   # resources.claims[].request: the container gets that request's devices only
            one = d.requests.get(req)
            if one is None:
                return Obs(prov=where, unverifiable=f"claim {name} request {req}: {d.template} has no request "
                           "of that name")
            per_class[one.device_class or ""] = per_class.get(one.device_class or "", 0) + one.count
            prov = Prov(source="resource-claim", object=d.template, path=one.path) if name == c.claims[0] else prov
            continue
        for cl, n in (d.by_class or {d.device_class or "": d.count or 0}).items():
            per_class[cl] = per_class.get(cl, 0) + n
    classes = sorted(cl for cl in per_class if cl)
    vendors = {accelerators.dra_class_vendor(cl) for cl in classes}
    parts = [f"DRA claim {shown}: {', '.join(classes) or 'no device class'}"] + [d.note for d in found if d.note]
    total = sum(per_class.values())
    mine = {cl: n for cl, n in per_class.items()
            if (v := accelerators.dra_class_vendor(cl)) is not None and (vendor is None or v == vendor)}
    if mine and len(per_class) > 1:   # GPUs and other devices (NICs, channels) in one claim: count the accelerators
        total = sum(mine.values())
        parts.append(f"counting {', '.join(sorted(mine))} only")
    elif vendor is not None and vendors and vendors != {vendor}:
        parts.append(f"device class {', '.join(classes)} is not the intended vendor's ({vendor})")
    return Obs(value=total, prov=prov, note="; ".join(parts))


@check("hardware.gpu-count")
def gpu_count(ctx: Ctx):
    """Each pod gets the intended number of accelerators of the intended vendor (nvidia.com/gpu,
    amd.com/gpu, google.com/tpu, habana.ai/gaudi, aws.amazon.com/neuron, MIG instances; NVML's count)."""
    found = first_declared(ctx, "spec.runtime.gpu.count", "spec.runtime.accelerator.count")
    if found is None:
        return
    what = "GPUs per pod"
    vendor = spec_vendor(ctx)
    if vendor not in ("nvidia", None):
        what = f"{_NONE_UNIT[vendor][1]}s per pod"
    if ctx.spec.spec.runtime.multi_host is not None:
        # A replica spans several pods: each pod (node) requests its share.
        found = ("spec.runtime.multiHost.gpusPerNode" if ctx.spec.spec.runtime.multi_host.gpus_per_node
                 else found[0], ctx.spec.gpus_per_node)
        what += " (node) of a multi-host replica"

    def observe(inst: Instance) -> Obs:
        if inst.pod is not None and inst.pod.gpu is not None and inst.pod.gpu.status == "ok" and \
                inst.pod.gpu.source == "nvml" and vendor == "nvidia":
            return Obs(value=len(inst.pod.gpu.devices), prov=Prov(source="nvml", object=inst.pod.gpu.object,
                                                                   path="nvmlDeviceGetCount"),
                       note=f"visible: {inst.pod.gpu.visible_devices}" if inst.pod.gpu.visible_devices else None)
        if ctx.workload.kind == "Process":
            # a local process has no resource requests: without NVML its GPUs are unknown, not zero
            gpu = inst.pod.gpu if inst.pod is not None else None
            return Obs(unverifiable=(gpu.reason if gpu is not None and gpu.reason else "NVML facts unavailable"))
        return _count_obs(ctx, inst, vendor)

    yield compare(ctx, found[0], found[1], "int", observe, what=what)


_NEURON_DEVICES = ("aws.amazon.com/neuron", "aws.amazon.com/neurondevice")


def _neuron_cores(inst: Instance, devices: int | None) -> int | None:
    """NeuronCores behind ``devices`` Neuron devices, from the node's allocatable ratio."""
    node = inst.node
    if node is None or devices is None:
        return None
    cores = whole(node.allocatable.get("aws.amazon.com/neuroncore"))
    devs = whole(node.allocatable.get("aws.amazon.com/neuron") or node.allocatable.get("aws.amazon.com/neurondevice"))
    if cores is None or devs is None:
        return None
    return devices * cores // devs if devs and cores % devs == 0 else None


@check("hardware.parallelism-fits")
def parallelism_fits(ctx: Ctx):
    """tensor × pipeline parallel (× vLLM data-parallel ranks) equals the GPUs the pod requests (fewer wastes
    GPUs, more fails to start); a Ray worker pod may hold several Serve replicas."""
    results: dict[tuple, list[str]] = {}
    detail: dict[tuple, tuple] = {}
    size = ctx.workload.extra.get("size")
    nodes = size.value if size is not None and isinstance(size.value, int) and size.value > 0 else 1
    for inst in ctx.instances:
        c = inst.container
        if c is None or c.engine is None:
            continue
        tp = engine_obs(inst, "tensor_parallel_size", "tp").value
        pp = engine_obs(inst, "pipeline_parallel_size", "pp").value or 1
        dp, local = _data_parallel(inst)
        gpus_req, r = _accel_request(c, None)
        if r is not None and r.resource in _NEURON_DEVICES:
            # Parallelism counts NeuronCores; the pod asks for devices. The node's allocatable
            # says how many cores a device has (2 on Inferentia2/Trainium1); without it, skip.
            gpus_req = _neuron_cores(inst, gpus_req)
        if r is None and c.claims:   # DRA: the count its ResourceClaimTemplates ask for, when they say
            claimed = _claim_obs(ctx, c, None, Prov(source="pod-spec"))
            gpus_req = claimed.value if not claimed.unverifiable else None
        if tp is None or gpus_req is None:
            continue
        # vLLM runs tp × pp GPUs per data-parallel rank (docs serving/data_parallel_deployment.md,
        # 0.10–0.33); with --data-parallel-size-local the ranks in this pod are known, per pod
        key = (int(tp) * int(pp) * local, gpus_req) if local else (int(tp) * int(pp) * dp, gpus_req * nodes)
        results.setdefault(key, []).extend(inst.pods)
        detail[key] = (tp, pp, gpus_req, local or dp)
    if ctx.workload.kind == "RayService" and results:
        yield _ray_fits(ctx, results, detail)
        return
    for (world, req), pods in results.items():
        tp, pp, per_pod, dp = detail[(world, req)]
        if world != req:
            group = f" ({per_pod} per pod × {nodes} pods per group, {size.prov.path})" if nodes > 1 else ""
            who = "the group requests" if nodes > 1 else "the pod requests"
            ranks = f" × data parallel {dp}" if dp > 1 else ""
            yield Draft("spec.runtime.engine.tensorParallelSize", Status.DRIFT,
                        f"tensor parallel {tp} × pipeline parallel {pp}{ranks} = {world} GPUs, but {who} {req}{group}",
                        expected=f"tp × pp = {req}", observed=[Evidence(value=world, pods=pods, count=len(pods))],
                        level="error" if world > req else "warning")
            return
    if results:
        yield Draft("spec.runtime.engine.tensorParallelSize", Status.MATCH, "tp × pp equals the GPUs requested")


def _data_parallel(inst: Instance) -> tuple[int, int | None]:
    """vLLM's data-parallel degree (1 when unset) and its ranks per pod (None when not given).
    Other engines' data parallel shares the tp GPUs (SGLang --enable-dp-attention): counted as 1."""
    c = inst.container
    if c is None or c.engine is None or c.engine.engine != "vllm":
        return 1, None
    dp = engine_obs(inst, "data_parallel_size", "dp").value
    local = engine_obs(inst, "data_parallel_size_local", "dp local").value
    dp = dp if isinstance(dp, int) and dp > 0 else 1
    return dp, (local if isinstance(local, int) and local > 0 else None)


def _ray_fits(ctx: Ctx, results: dict[tuple, list[str]], detail: dict[tuple, tuple]) -> Draft:
    """Ray Serve runs each engine replica in a placement group of tp × pp GPUs on the worker group's
    GPUs, so a worker pod with more GPUs holds several replicas (KubeRay's ray-service.llm-serve
    sample: tp 1 on 4-GPU workers, up to 4 replicas): fewer is not waste. A replica larger than one
    worker group replica (GPUs per pod × numOfHosts) needs Ray to spread it over worker pods, which
    depends on free workers at run time: unverifiable offline, never drift."""
    hosts = ctx.workload.extra.get("numOfHosts")
    n = hosts.value if hosts is not None and isinstance(hosts.value, int) and hosts.value > 0 else 1
    (world, _), pods = next(iter(results.items()))
    tp, pp, per_pod, _ = detail[next(iter(results))]
    cap = per_pod * n
    evidence = [Evidence(value=world, pods=pods, count=len(pods))]
    if world <= cap:
        return Draft("spec.runtime.engine.tensorParallelSize", Status.MATCH,
                     f"tp × pp = {world} GPUs per Ray Serve replica; a worker group replica has {cap} "
                     f"({cap // world} replica{'s' if cap // world != 1 else ''} fit)", expected=f"tp × pp ≤ {cap}",
                     observed=evidence)
    return Draft("spec.runtime.engine.tensorParallelSize", Status.UNVERIFIABLE,
                 f"tp × pp = {world} GPUs per Ray Serve replica, more than the {cap} of a worker group replica",
                 expected=f"tp × pp ≤ {cap}", observed=evidence,
                 reason="Ray spreads a replica over worker pods only when enough are free at run time")


@check("hardware.gpu-allocatable")
def gpu_allocatable(ctx: Ctx):
    """The accelerators a pod requests fit its node's allocatable (nvidia.com/gpu, amd.com/gpu, google.com/tpu…)."""
    bad: list[str] = []
    seen = False
    for inst in ctx.instances:
        if inst.node is None or inst.container is None:
            continue
        req, r = _accel_request(inst.container, None)
        alloc = whole(inst.node.allocatable.get(r.resource)) if r is not None else None
        if req is None or alloc is None:
            continue
        seen = True
        if req > alloc:
            bad.append(f"{inst.label} ({req} > {alloc} on {inst.node.name})")
    if bad:
        yield Draft("spec.runtime.accelerator.count", Status.DRIFT, "pods request more GPUs than their node can "
                    "allocate: " + ", ".join(bad[:3]), observed=[Evidence(value=b) for b in bad[:3]])
    elif seen:
        yield Draft("spec.runtime.accelerator.count", Status.MATCH, "GPU requests fit node allocatable")
