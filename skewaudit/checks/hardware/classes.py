"""Which accelerator the pods run on: class (GPU or other vendor), memory, MIG profile, bf16
support, and node labels that disagree with the device itself."""

from __future__ import annotations

from skewaudit.checks._base import Ctx, Draft, Instance, Obs, check, compare, first_declared
from skewaudit.checks.hardware.facts import gpu_facts, gpu_obs, spec_vendor
from skewaudit.model.finding import Evidence, Status
from skewaudit.model.observed import Prov


@check("hardware.gpu-class")
def gpu_class(ctx: Ctx):
    """Pods run on the intended GPU class (A100-80GB is not A100-40GB, L4 is not T4)."""
    found = first_declared(ctx, "spec.runtime.gpu.class", "spec.runtime.accelerator.type")
    if found is None:
        return
    path, want = found
    from skewaudit import accelerators, gpus

    vendor = spec_vendor(ctx)
    other = vendor not in ("nvidia", None) or (vendor is None and accelerators.lookup(str(want)) is not None)
    cls = accelerators.lookup(str(want)) if other else gpus.lookup(str(want))
    canonical = cls.key if cls else str(want).lower()

    def observe(inst: Instance) -> Obs:
        ob = gpu_obs(ctx, inst, "class")
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


@check("hardware.gpu-memory")
def gpu_memory(ctx: Ctx):
    """The GPUs have at least the intended memory (NVML/GFD report a little under the marketing size)."""
    want = ctx.want("spec.runtime.gpu.minMemoryGb")
    if want is None:
        return
    from skewaudit import gpus

    expected = f">= {want:g} GB"

    def observe(inst: Instance) -> Obs:
        ob = gpu_obs(ctx, inst, "memory_mib")
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
        ob = gpu_obs(ctx, inst, "mig_profile")
        if ob.unverifiable and gpu_facts(ctx, inst).get("class") is not None:
            return Obs(value="none", note="no MIG resource or label")
        return ob

    yield compare(ctx, "spec.runtime.gpu.migProfile", str(want), "str", observe, what="MIG profile")


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
