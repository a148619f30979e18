"""Hardware checks: GPU class, count, memory, driver/CUDA stack, MIG, and whether
the parallelism fits the GPUs the pod actually gets.

GPU facts come from three places, strongest first: NVML or ``nvidia-smi`` in
the pod (local mode, ``--exec``), the labels of the node the pod runs on (GFD,
GKE, Karpenter), and offline, the pod template's nodeSelector/affinity (what
the scheduler is told to pick). Each observation says which one it used.
"""

from __future__ import annotations


from typing import Any

from skewaudit import units
from skewaudit.checks._base import Ctx, Draft, Instance, Obs, check, compare, engine_obs, first_declared
from skewaudit.model.finding import Evidence, Status
from skewaudit.model.observed import Fact, NodeObs, Prov


def gpu_facts(ctx: Ctx, inst: Instance) -> dict[str, Fact]:
    """Merged GPU facts for one instance: device facts over node labels over the template's selector."""
    key = ("gpu", inst.label)
    if key in ctx._cache:
        return ctx._cache[key]
    from skewaudit import gpus

    facts: dict[str, Fact] = {}
    if inst.node is None and inst.pod is None:
        # Offline: what the template tells the scheduler to pick stands in for the node.
        sel = dict(ctx.workload.template.node_selector)
        for k, vals in ctx.workload.template.node_affinity.items():
            if len(vals) == 1 and not vals[0].startswith(("NotIn:", "Exists", "DoesNotExist", "Gt:", "Lt:")):
                sel.setdefault(k, vals[0])
        if sel:
            pseudo = NodeObs(name="(pod template)", labels=sel)
            for k, f in _node_facts(pseudo).items():
                facts[k] = Fact(f.value, Prov(source="pod-spec", object=ctx.workload.object,
                                              path=f.prov.path.replace("metadata.labels", "nodeSelector")), f.raw, f.note)
    if inst.node is not None:
        node_facts = ctx._shared.get(("node-gpu", id(inst.node)))
        if node_facts is None:
            # A node hosts pods of many workloads: read its labels once per run.
            node_facts = ctx._shared[("node-gpu", id(inst.node))] = _node_facts(inst.node)
        facts.update(node_facts)
    if inst.pod is not None and inst.pod.gpu is not None and inst.pod.gpu.status == "ok":
        facts.update({k: v for k, v in gpus.report_gpu_facts(inst.pod.gpu).items() if v.value is not None})
    ctx._cache[key] = facts
    return facts


def _node_facts(node: NodeObs) -> dict[str, Fact]:
    """NVIDIA GPU facts (skewaudit.gpus) and, for keys they leave open, other vendors'
    accelerator facts (AMD, TPU, Gaudi, Neuron: skewaudit.accelerators)."""
    from skewaudit import accelerators, gpus

    facts = gpus.node_gpu_facts(node)
    for k, f in accelerators.node_accel_facts(node).items():
        facts.setdefault(k, f)
    return facts


def _why_no_gpu(ctx: Ctx, inst: Instance, what: str = "GPU facts") -> str:
    if inst.pod is not None and inst.pod.gpu is not None and inst.pod.gpu.status != "ok":
        return inst.pod.gpu.reason or "GPU facts unavailable"
    issue = ctx.issue("hardware") or ctx.issue("nodes")
    if issue:
        return issue
    if inst.pod is None and inst.node is None:
        if gpu_facts(ctx, inst):
            return (f"offline input: the pod template selects a GPU class but that does not tell the {what}; "
                    "audit the live cluster or a snapshot to verify it")
        return "offline input: no running pods were read and the pod template does not select a GPU class"
    if inst.node is None:
        return _why_no_node(ctx, inst)
    return (f"node {inst.node.name} has no accelerator labels for the {what} (no GPU Feature Discovery, AMD GPU "
            "operator, GKE, Karpenter or known instance-type label)")


def _why_no_node(ctx: Ctx, inst: Instance) -> str:
    """Why a pod's node is missing: not scheduled yet, not found (404), or forbidden, each said so."""
    pod = inst.pod
    if pod is not None and not pod.node:
        return (f"pod {inst.label} is not scheduled to a node yet (phase {pod.phase or 'unknown'}): its GPU "
                "facts are unverifiable until it is")
    node = pod.node if pod is not None else None
    for i in ctx.snapshot.issues:
        if i.scope == f"Node/{node}":
            return i.message
    forbidden = next((i for i in ctx.snapshot.issues if i.kind == "forbidden" and i.scope.startswith("Node/")), None)
    if forbidden is not None:
        return f"node {node} of pod {inst.label}: {forbidden.message}"
    return f"node {node} of pod {inst.label} was not collected"


_WHAT = {"driver_version": "driver version", "cuda_driver_version": "CUDA version", "memory_mib": "GPU memory",
         "class": "GPU class", "mig_profile": "MIG profile"}


def _gpu_obs(ctx: Ctx, inst: Instance, key: str) -> Obs:
    f = gpu_facts(ctx, inst).get(key)
    if f is None or f.value is None:
        return Obs(unverifiable=_why_no_gpu(ctx, inst, _WHAT.get(key, key.replace("_", " "))))
    return Obs(value=f.value, prov=f.prov, note=f.note)


@check("hardware.gpu-class")
def gpu_class(ctx: Ctx):
    """Pods run on the intended GPU class (A100-80GB is not A100-40GB, L4 is not T4)."""
    found = first_declared(ctx, "spec.runtime.gpu.class", "spec.runtime.accelerator.type")
    if found is None:
        return
    path, want = found
    from skewaudit import accelerators, gpus

    vendor = _spec_vendor(ctx)
    other = vendor not in ("nvidia", None) or (vendor is None and accelerators.lookup(str(want)) is not None)
    cls = accelerators.lookup(str(want)) if other else gpus.lookup(str(want))
    canonical = cls.key if cls else str(want).lower()

    def observe(inst: Instance) -> Obs:
        ob = _gpu_obs(ctx, inst, "class")
        if ob.unverifiable:
            return ob
        mem = gpu_facts(ctx, inst).get("memory_mib")
        if other:
            same = accelerators.classes.same_class(str(want), str(ob.value))
        else:
            same = gpus.same_class(str(want), str(ob.value), mem.value if mem else None)
        # Map an equivalent observed name onto the declared key so aliases compare equal.
        return Obs(value=canonical if same else ob.value, prov=ob.prov, note=ob.note)

    yield compare(ctx, path, canonical, "str", observe, what="GPU class")


def _whole(v: Any) -> int | None:
    """A device count through the one quantity parser; None when absent or not a whole number
    (collectors drop such values with a collection issue; a hand-built fact must not crash)."""
    if v is None:
        return None
    try:
        return units.gpu_count(v)
    except ValueError:
        return None


def _spec_vendor(ctx: Ctx) -> str | None:
    """The spec's accelerator vendor as a vendor key (``nvidia`` when not declared); None when
    the spec names a vendor skewaudit does not know."""
    from skewaudit import accelerators

    raw = ctx.want("spec.runtime.accelerator.vendor")
    return accelerators.canonical_vendor(raw) if raw else "nvidia"


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
    classes = sorted({d.device_class for d in found if d.device_class})
    vendors = {accelerators.dra_class_vendor(cl) for cl in classes}
    parts = [f"DRA claim {shown}: {', '.join(classes) or 'no device class'}"] + [d.note for d in found if d.note]
    if vendor is not None and vendors and vendors != {vendor}:
        parts.append(f"device class {', '.join(classes)} is not the intended vendor's ({vendor})")
    return Obs(value=sum(d.count or 0 for d in found), prov=prov, note="; ".join(parts))


@check("hardware.gpu-count")
def gpu_count(ctx: Ctx):
    """Each pod gets the intended number of accelerators of the intended vendor (nvidia.com/gpu,
    amd.com/gpu, google.com/tpu, habana.ai/gaudi, aws.amazon.com/neuron, MIG instances; NVML's count)."""
    found = first_declared(ctx, "spec.runtime.gpu.count", "spec.runtime.accelerator.count")
    if found is None:
        return
    what = "GPUs per pod"
    vendor = _spec_vendor(ctx)
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


@check("hardware.gpu-memory")
def gpu_memory(ctx: Ctx):
    """The GPUs have at least the intended memory (NVML/GFD report a little under the marketing size)."""
    want = ctx.want("spec.runtime.gpu.minMemoryGb")
    if want is None:
        return
    from skewaudit import gpus

    expected = f">= {want:g} GB"

    def observe(inst: Instance) -> Obs:
        ob = _gpu_obs(ctx, inst, "memory_mib")
        if ob.unverifiable:
            # Offline, a selected GPU class still tells its memory through the class table.
            cls_fact = gpu_facts(ctx, inst).get("class")
            cls = gpus.lookup(str(cls_fact.value)) if cls_fact is not None else None
            if cls is None or not cls.memory_gb:
                return ob
            ok = cls.memory_gb >= float(want)
            return Obs(value=expected if ok else f"{cls.memory_gb} GB ({cls.key})", prov=cls_fact.prov,
                       note=f"{cls.key}: {cls.memory_gb} GB by the GPU class table")
        mib = int(ob.value)
        ok = gpus.memory_matches(float(want), mib) or mib >= float(want) * 1024
        return Obs(value=expected if ok else f"{mib} MiB", prov=ob.prov, note=f"{mib} MiB")

    yield compare(ctx, "spec.runtime.gpu.minMemoryGb", expected, "str", observe, what="GPU memory")


def _version_check(field: str, key: str, what: str):
    def run(ctx: Ctx):
        """The {what} on the nodes (or device) satisfies the intended constraint."""
        want = ctx.want(field)
        if want is None:
            return
        yield compare(ctx, field, str(want), "version", lambda i: _gpu_obs(ctx, i, key), what=what)
    run.__doc__ = run.__doc__.format(what=what)
    return run


check("hardware.driver-version")(_version_check("spec.runtime.gpu.driverVersion", "driver_version",
                                                "NVIDIA driver version"))
check("hardware.cuda-version")(_version_check("spec.runtime.gpu.cudaVersion", "cuda_driver_version",
                                              "CUDA version supported by the driver"))


@check("hardware.mig-profile")
def mig_profile(ctx: Ctx):
    """The MIG profile (or its absence) is the intended one."""
    want = ctx.want("spec.runtime.gpu.migProfile")
    if want is None:
        return

    def observe(inst: Instance) -> Obs:
        c = inst.container
        if c is not None:
            for k in c.limits:
                if k.startswith("nvidia.com/mig-"):
                    return Obs(value=k[len("nvidia.com/mig-"):], prov=Prov(source="pod-spec", object=ctx.workload.object,
                               path=f"{c.path}.resources.limits[{k}]", container=c.name))
        ob = _gpu_obs(ctx, inst, "mig_profile")
        if ob.unverifiable and gpu_facts(ctx, inst).get("class") is not None:
            return Obs(value="none", note="no MIG resource or label")
        return ob

    yield compare(ctx, "spec.runtime.gpu.migProfile", str(want), "str", observe, what="MIG profile")


_NEURON_DEVICES = ("aws.amazon.com/neuron", "aws.amazon.com/neurondevice")


def _neuron_cores(inst: Instance, devices: int | None) -> int | None:
    """NeuronCores behind ``devices`` Neuron devices, from the node's allocatable ratio."""
    node = inst.node
    if node is None or devices is None:
        return None
    cores = _whole(node.allocatable.get("aws.amazon.com/neuroncore"))
    devs = _whole(node.allocatable.get("aws.amazon.com/neuron") or node.allocatable.get("aws.amazon.com/neurondevice"))
    if cores is None or devs is None:
        return None
    return devices * cores // devs if devs and cores % devs == 0 else None


@check("hardware.parallelism-fits")
def parallelism_fits(ctx: Ctx):
    """tensor × pipeline parallel equals the GPUs the pod requests (fewer wastes GPUs, more fails to start)."""
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
        key = (int(tp) * int(pp), gpus_req * nodes)
        results.setdefault(key, []).extend(inst.pods)
        detail[key] = (tp, pp, gpus_req)
    for (world, req), pods in results.items():
        tp, pp, per_pod = detail[(world, req)]
        if world != req:
            group = f" ({per_pod} per pod × {nodes} pods per group, {size.prov.path})" if nodes > 1 else ""
            who = "the group requests" if nodes > 1 else "the pod requests"
            yield Draft("spec.runtime.engine.tensorParallelSize", Status.DRIFT,
                        f"tensor parallel {tp} × pipeline parallel {pp} = {world} GPUs, but {who} {req}{group}",
                        expected=f"tp × pp = {req}", observed=[Evidence(value=world, pods=pods, count=len(pods))],
                        level="error" if world > req else "warning")
            return
    if results:
        yield Draft("spec.runtime.engine.tensorParallelSize", Status.MATCH, "tp × pp equals the GPUs requested")


@check("hardware.gpu-allocatable")
def gpu_allocatable(ctx: Ctx):
    """The accelerators a pod requests fit its node's allocatable (nvidia.com/gpu, amd.com/gpu, google.com/tpu…)."""
    bad: list[str] = []
    seen = False
    for inst in ctx.instances:
        if inst.node is None or inst.container is None:
            continue
        req, r = _accel_request(inst.container, None)
        alloc = _whole(inst.node.allocatable.get(r.resource)) if r is not None else None
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


@check("hardware.bf16-support")
def bf16_support(ctx: Ctx):
    """bfloat16 runs only on GPUs with compute capability >= 8.0 (T4 and V100 silently fall back to fp16)."""
    found = first_declared(ctx, "spec.runtime.engine.dtype", "spec.identity.model.precision")
    from skewaudit import gpus, normalize

    if found is None or normalize.dtype(found[1] if not isinstance(found[1], list) else None) != "bfloat16":
        return
    bad: dict[str, list[str]] = {}
    for inst in ctx.instances:
        f = gpu_facts(ctx, inst).get("class")
        if f is None:
            continue
        cls = gpus.lookup(str(f.value))
        if cls is not None and not cls.bf16:
            bad.setdefault(cls.key, []).extend(inst.pods)
    for key, pods in bad.items():
        yield Draft(found[0], Status.DRIFT, f"bfloat16 intended but {len(pods)} pod(s) run on {key}, which has no bf16: "
                    "the engine falls back to float16", expected="bfloat16",
                    observed=[Evidence(value=key, pods=pods, count=len(pods))])


@check("hardware.source-disagreement")
def source_disagreement(ctx: Ctx):
    """Node labels and the device itself (NVML/exec) disagree: stale labels or a pod on an unexpected GPU."""
    from skewaudit import gpus

    for inst in ctx.instances:
        if inst.node is None or inst.pod is None or inst.pod.gpu is None or inst.pod.gpu.status != "ok":
            continue
        for key, a, b in gpus.disagreements(gpus.node_gpu_facts(inst.node), gpus.report_gpu_facts(inst.pod.gpu)):
            yield Draft("spec.runtime.gpu", Status.DRIFT, f"{key}: node label says {a.value}, the device says {b.value}",
                        observed=[Evidence(value=a.value, prov=a.prov, pods=[inst.label]),
                                  Evidence(value=b.value, prov=b.prov, pods=[inst.label])], level="warning")


_CU = __import__("re").compile(r"cu(?:da)?-?(\d{2,3})(\d)?\b|cuda(\d+)\.(\d+)")


def image_cuda(tag: str | None) -> str | None:
    """CUDA version an image tag names: ``cu124`` / ``cuda12.4`` -> ``12.4``."""
    if not tag:
        return None
    m = _CU.search(tag.lower())
    if not m:
        return None
    if m.group(3):
        return f"{m.group(3)}.{m.group(4)}"
    digits = m.group(1) + (m.group(2) or "")
    return f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 3 else f"{digits[0]}.{digits[1]}"


@check("hardware.image-cuda")
def image_cuda_fits(ctx: Ctx):
    """The CUDA version the image was built for is not newer than what the node's driver supports."""
    from skewaudit import units

    for inst in ctx.instances:
        c = inst.container
        want = image_cuda(c.image.tag) if c else None
        have = gpu_facts(ctx, inst).get("cuda_driver_version")
        if want is None or have is None or have.value is None:
            continue
        if units.parse_version(want) > units.parse_version(str(have.value)):
            yield Draft("spec.runtime.gpu.cudaVersion", Status.DRIFT, f"image {c.image.ref} needs CUDA {want}, "
                        f"the driver on {inst.label} supports up to {have.value}", expected=f"<= {have.value}",
                        observed=[Evidence(value=want, pods=[inst.label]), Evidence(value=have.value, prov=have.prov)],
                        level="error")
            return
