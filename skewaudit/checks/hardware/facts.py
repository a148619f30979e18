"""The GPU facts of one instance, merged from the device (NVML / exec), its node's labels and,
offline, the pod template's node selector; and why they are missing when they are."""

from __future__ import annotations

from typing import Any

from skewaudit import units
from skewaudit.checks._base import Ctx, Instance, Obs
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


def why_no_gpu(ctx: Ctx, inst: Instance, what: str = "GPU facts") -> str:
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


def gpu_obs(ctx: Ctx, inst: Instance, key: str) -> Obs:
    f = gpu_facts(ctx, inst).get(key)
    if f is None or f.value is None:
        return Obs(unverifiable=why_no_gpu(ctx, inst, _WHAT.get(key, key.replace("_", " "))))
    return Obs(value=f.value, prov=f.prov, note=f.note)


def whole(v: Any) -> int | None:
    """A device count through the one quantity parser; None when absent or not a whole number
    (collectors drop such values with a collection issue; a hand-built fact must not crash)."""
    if v is None:
        return None
    try:
        return units.gpu_count(v)
    except ValueError:
        return None


def spec_vendor(ctx: Ctx) -> str | None:
    """The spec's accelerator vendor as a vendor key (``nvidia`` when not declared); None when
    the spec names a vendor skewaudit does not know."""
    from skewaudit import accelerators

    raw = ctx.want("spec.runtime.accelerator.vendor")
    return accelerators.canonical_vendor(raw) if raw else "nvidia"
