"""Observed facts (a :class:`Snapshot`) as text: ``table``, ``json`` or ``yaml``.

What ``skewaudit collect`` prints: the evidence of what is running, which a
user reads before trusting a diff. The table shows, per workload and
container, the facts a ModelSpec constrains (engine, model, revision, dtype,
quantization, max length, max sequences, parallelism, GPU class and count,
image tag and digest), each with where it came from, then one line per pod
(revision, node, GPU, resolved digest, and any fact that differs from the
template) and the collection issues last.

JSON and YAML are the whole snapshot, the format ``--snapshot`` reads back.
Plain string building on purpose: machine formats never go through rich, and
a fleet table of thousands of lines renders in milliseconds this way.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit.errors import printable
from skewaudit.model.observed import (
    ContainerObs, Fact, NodeObs, PodObs, Prov, Snapshot, SourceKind, WorkloadObs,
)

FORMATS = ("table", "json", "yaml")

# The facts a ModelSpec constrains, in display order; other engine fields are
# shown only when set explicitly (not defaults).
KEY_FIELDS = ("model", "revision", "dtype", "quantization", "max_model_len", "max_num_seqs",
              "tensor_parallel_size", "pipeline_parallel_size", "port")
GPU_RESOURCES = ("nvidia.com/gpu", "amd.com/gpu")


def render(snapshot: Snapshot, fmt: str) -> bytes:
    """The snapshot in ``fmt`` (one of :data:`FORMATS`), as UTF-8 bytes.

    Bytes, not str: a fleet snapshot is hundreds of MB of JSON, and each
    str/bytes round trip would copy it. JSON is indented like snapshot files
    (``skewaudit snapshot``), so ``--snapshot`` reads this output back."""
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(snapshot), indent=1) + b"\n"
    if fmt == "yaml":
        return dump_yaml(msgspec.to_builtins(snapshot))
    if fmt == "table":
        return table(snapshot).encode()
    raise ValueError(f"unknown format {fmt!r}")


def dump_yaml(obj: Any) -> bytes:
    """Plain data (a snapshot, a snapshot set) as block YAML, keys in their order, UTF-8 bytes."""
    import yaml

    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(obj, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     encoding="utf-8")


def _v(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _fact_value(f: Fact) -> str:
    text = _v(f.value)
    if f.raw is not None and f.raw != text:
        text += f" (written {f.raw})"
    return text


class _Block:
    """Rows of (fact, value, where), aligned when rendered."""

    def __init__(self, indent: str):
        self.indent, self.rows = indent, []

    def add(self, name: str, value: str, where: str = "", note: str | None = None) -> None:
        self.rows.append((name, value, where, note))

    def lines(self) -> list[str]:
        if not self.rows:
            return []
        wn = max(len(r[0]) for r in self.rows)
        wv = min(max(len(r[1]) for r in self.rows), 48)
        out = []
        for name, value, where, note in self.rows:
            line = f"{self.indent}{name:<{wn}}  {value:<{wv}}  {where}".rstrip()
            out.append(line)
            if note:
                out.append(f"{self.indent}{'':<{wn}}  ^ {note}")
        return out


def _gpu_count(c: ContainerObs) -> tuple[str, str] | None:
    for res in GPU_RESOURCES:
        if res in c.limits:
            return c.limits[res], f"{c.path}.resources.limits[{res}]"
        if res in c.requests:
            return c.requests[res], f"{c.path}.resources.requests[{res}]"
    mig = sorted(r for r in c.limits if r.startswith("nvidia.com/mig-"))
    if mig:
        return ", ".join(f"{c.limits[r]} x {r[len('nvidia.com/'):]}" for r in mig), f"{c.path}.resources.limits"
    return None


def _pod_spec_path(c: ContainerObs) -> str:
    return c.path.rsplit(".containers[", 1)[0] if ".containers[" in c.path else c.path


def _placement_class(w: WorkloadObs, c: ContainerObs) -> tuple[str, str, str] | None:
    """GPU class the template asks for through nodeSelector / required affinity."""
    from skewaudit import gpus

    labels = dict(w.template.node_selector)
    for key, vals in w.template.node_affinity.items():
        if len(vals) == 1 and ":" not in vals[0] and key not in labels:
            labels[key] = vals[0]
    if not labels:
        return None
    facts = gpus.node_gpu_facts(NodeObs(name="(placement)", labels=labels))
    f = facts.get("class")
    if f is None:
        return None
    key = f.prov.path[len("metadata.labels["):-1] if f.prov.path.startswith("metadata.labels[") else f.prov.path
    field = "nodeSelector" if key in w.template.node_selector else "affinity"
    where = Prov(source=SourceKind.POD_SPEC, object=w.object, path=f"{_pod_spec_path(c)}.{field}[{key}]").where()
    return _v(f.value), where, "placement the template requests, not observed hardware"


_CLASS_CACHE: dict[int, tuple[NodeObs, Fact | None]] = {}


def _node_class(node: NodeObs | None) -> Fact | None:
    """The node's GPU class fact (memoized per node: a fleet has far fewer nodes than pods)."""
    from skewaudit import gpus

    if node is None:
        return None
    hit = _CLASS_CACHE.get(id(node))
    if hit is None or hit[0] is not node:
        hit = _CLASS_CACHE[id(node)] = (node, gpus.node_gpu_facts(node).get("class"))
    return hit[1]


def _device_facts(p: PodObs) -> dict[str, Fact]:
    from skewaudit import gpus

    return gpus.report_gpu_facts(p.gpu) if p.gpu is not None and p.gpu.status == "ok" else {}


def _container_block(snap: Snapshot, w: WorkloadObs, c: ContainerObs, pods: list[PodObs]) -> list[str]:
    b = _Block("    ")
    e = c.engine
    if e is not None:
        b.add("engine", f"{e.engine} ({e.detected_by}, {e.confidence})", "", None)
    else:
        b.add("engine", "not recognised", "", None)
    img = c.image
    where = Prov(source=SourceKind.POD_SPEC, object=w.object, path=f"{c.path}.image").where()
    if "image" in w.extra and w.kind == "InferenceService":
        where = w.extra["image"].prov.where()   # the runtime's image unless the isvc sets one
    if img.ref:
        b.add("image", (img.repository or img.ref) + (f":{img.tag}" if img.tag else ""), where)
        b.add("image digest", img.digest or "- (not pinned)", where if img.digest else "")
    else:
        b.add("image", "- (unknown)")
    running = sorted({pc.image.resolved_digest for p in pods if p.current for pc in p.containers
                      if pc.name == c.name and pc.image.resolved_digest})
    if running:
        b.add("running digest", ", ".join(running), "containerStatuses[].imageID (pod-status)")
    if e is not None:
        shown = [k for k in KEY_FIELDS if k in e.fields]
        shown += [k for k, f in e.fields.items() if k not in KEY_FIELDS and f.prov.source != SourceKind.DEFAULT]
        for key in shown:
            f = e.fields[key]
            note = f.note if f.prov.source == SourceKind.DEFAULT or f.note else None
            b.add(key, _fact_value(f), f.prov.where(), note)
    if c.ports:
        b.add("container ports", ", ".join(f"{p.container_port}" + (f" ({p.name})" if p.name else "") for p in c.ports),
              Prov(source=SourceKind.POD_SPEC, object=w.object, path=f"{c.path}.ports").where())
    for pr in c.probes:
        # What the JSON has: handler, path, port and timings; an unset timeout is Kubernetes' 1s, said so.
        named = {pp.name: pp.container_port for pp in c.ports if pp.name}
        port = named.get(pr.port, pr.port) if isinstance(pr.port, str) else pr.port
        parts = [pr.handler + (f" {pr.path}" if pr.path else "") + (f" :{port}" if port is not None else "")]
        parts.append(f"timeout {pr.timeout_seconds}s" if pr.timeout_seconds is not None else "timeout 1s (default)")
        for label, v in (("period", pr.period_seconds), ("delay", pr.initial_delay_seconds)):
            if v is not None:
                parts.append(f"{label} {v}s")
        if pr.failure_threshold is not None:
            parts.append(f"failures {pr.failure_threshold}")
        b.add(f"{pr.kind} probe", ", ".join(parts),
              Prov(source=SourceKind.POD_SPEC, object=w.object, path=f"{c.path}.{pr.kind}Probe").where())
    gc = _gpu_count(c)
    if gc is not None:
        b.add("gpu count", gc[0], Prov(source=SourceKind.POD_SPEC, object=w.object, path=gc[1]).where())
    for claim in c.claims:   # DRA: what the claim's ResourceClaimTemplate asks for
        d = w.template.claim_devices.get(claim)
        if d is not None:
            shown = f"{d.count} × {d.device_class or 'device'}" if d.count is not None else "- (unverifiable)"
            b.add(f"dra claim {claim}", shown, Prov(source=SourceKind.CLAIM, object=d.template, path=d.path).where(),
                  d.note if d.count is not None else d.reason)
    classes: dict[str, list[Fact]] = {}
    for p in pods:
        if not p.current:
            continue
        device = _device_facts(p)   # NVML / nvidia-smi beat node labels
        f = device.get("class") or _node_class(snap.nodes.get(p.node or ""))
        if f is not None:
            classes.setdefault(_v(f.value), []).append(f)
        if gc is None and "count" in device:
            gc = (_v(device["count"].value), "")
            b.add("gpu count", gc[0], device["count"].prov.where())
    for value, facts in sorted(classes.items()):
        n = len(facts)
        b.add("gpu class", value, facts[0].prov.where(), f"{n} current pod{'s' if n != 1 else ''}"
              if len(classes) > 1 else None)
    if not classes and (gc is not None or w.template.node_selector):
        placed = _placement_class(w, c)
        if placed is not None:
            b.add("gpu class", placed[0], placed[1], placed[2])
    lines = [f"  container {c.name}"] + b.lines()
    if e is not None:
        lines += [f"    note: {n}" for n in e.notes]
        if e.unknown_args:
            lines.append(f"    unknown args (kept): {' '.join(e.unknown_args)}")
    if c.argv_note:
        lines.append(f"    argv: {c.argv_note}")
    if w.kind == "Process":
        # Local mode: the process is the whole evidence; show its (redacted) argv and engine env.
        if c.argv is not None:
            lines.append(f"    argv: {' '.join(c.argv)}")
        relevant = [v for v in c.env if v.name.startswith(_ENGINE_ENV_PREFIXES)]
        if relevant:
            lines.append(f"    env ({len(relevant)} of {len(c.env)} engine-related):")
            lines += [f"      {v.name}={v.value if v.value is not None else '(' + (v.ref or v.source) + ')'}"
                      for v in sorted(relevant, key=lambda v: v.name)]
    return lines


# Env vars worth showing in local mode (the rest of a process environment is noise here).
_ENGINE_ENV_PREFIXES = ("VLLM_", "HF_", "HUGGING", "TRANSFORMERS_", "CUDA_", "NVIDIA_", "NCCL_", "SGLANG_", "MODEL_",
                        "REVISION", "DTYPE", "QUANTIZE", "NUM_SHARD", "MAX_", "PORT", "TGI_", "OMP_", "PYTORCH_")


def _pod_lines(snap: Snapshot, w: WorkloadObs, p: PodObs, shown: dict | None = None) -> list[str]:
    """One line per pod, plus one listing what differs from the template."""
    parts = [p.name, "current" if p.current else "OLD", f"rev {p.revision or '-'}", f"node {p.node or '-'}"]
    f = _node_class(snap.nodes.get(p.node or ""))
    if f is not None:
        parts.append(f"gpu {f.value}")
    if p.phase:
        parts.append(p.phase)
    if p.gpu is not None:
        g = p.gpu
        if g.status == "ok" and g.devices:
            parts.append(f"{g.source}: {len(g.devices)} x {g.devices[0].name}, driver {g.driver_version or '-'}, "
                         f"CUDA {g.cuda_driver_version or '-'}")
        else:
            parts.append(f"{g.source}: unavailable ({g.reason or 'no devices'})")
    tmpl = {c.name: c for c in w.template.containers}
    diffs = []
    for c in p.containers:
        if c.image.resolved_digest:
            parts.append(f"{c.name} {c.image.resolved_digest[:19]}")
        if c.ready is not None:
            parts.append("ready" if c.ready else "NOT ready")
        if c.restart_count:
            parts.append(f"restarts {c.restart_count}")
        t = tmpl.get(c.name)
        if t is None:
            diffs.append(f"container {c.name} is not in the template")
            continue
        if t.image.ref != c.image.ref:
            diffs.append(f"{c.name} image {c.image.ref}")
        if t.engine is not None and c.engine is not None:
            for key in sorted(set(t.engine.fields) | set(c.engine.fields)):
                a, b = t.engine.fields.get(key), c.engine.fields.get(key)
                if (a.value if a else None) != (b.value if b else None):
                    diffs.append(f"{key}={_v(b.value if b else None)} (template {_v(a.value if a else None)})")
        elif (t.engine is None) != (c.engine is None):
            diffs.append(f"{c.name} engine {c.engine.engine if c.engine else 'not recognised'}")
    out = ["    " + "  ".join(parts)]
    if diffs:
        out.append("      differs from the template: " + ", ".join(diffs))
    if p.runtime is not None:
        out += _runtime_lines(p.runtime, p.name, shown if shown is not None else {})
    return out


def symptom_text(s: Any) -> str:
    """The symptom block on one line (also used by baseline and bundle views)."""
    parts = []
    for label, lo, hi in (("TTFT", s.ttft_p50_s, s.ttft_p95_s), ("TPOT", s.tpot_p50_s, s.tpot_p95_s)):
        if lo is not None or hi is not None:
            parts.append(f"{label} p50 {_v(lo)} s p95 {_v(hi)} s")
    for label, v, unit in (("queue", s.queue_length, ""), ("running", s.running, ""),
                           ("KV-cache", None if s.kv_cache_usage is None else round(s.kv_cache_usage * 100, 1), "%"),
                           ("preemptions", s.preemptions, ""), ("prompt", s.prompt_tokens_per_s, " tok/s"),
                           ("generation", s.generation_tokens_per_s, " tok/s")):
        if v is not None:
            parts.append(f"{label} {v:g}{unit}")
    return ", ".join(parts)


def _runtime_lines(rt: Any, pod: str, shown: dict) -> list[str]:
    """What the engine reported about itself (--probe), under its pod line; a pod whose engine
    reports what an earlier pod's did says so in one line (a fleet stays readable)."""
    head = f"      runtime: {rt.engine} via {rt.via or rt.object}: {rt.status}"
    if rt.reason:
        head += f" ({rt.reason})"
    key = (rt.engine, rt.status, rt.reason, tuple((k, repr(f.value)) for k, f in rt.fields.items()))
    first = shown.setdefault(key, pod)
    if first != pod and rt.fields:
        out = [head + f"; the same values as {first}"]
    else:
        out = [head]
        b = _Block("        ")
        for name, f in rt.fields.items():
            b.add(name, _fact_value(f), f.prov.where(), f.note)
        out += b.lines()
    if rt.symptoms is not None:
        out.append(f"        symptoms (since start): {symptom_text(rt.symptoms)}")
    return out


def _workload_lines(snap: Snapshot, w: WorkloadObs) -> list[str]:
    head = w.object or f"{w.kind}/{w.namespace}/{w.name}"
    out = [head]
    b = _Block("  ")
    if w.replicas is not None:
        b.add("replicas", _v(w.replicas.value), w.replicas.prov.where(), w.replicas.note)
    for key, f in w.extra.items():
        if key != "image":   # shown with the container
            b.add(key, _v(f.value), f.prov.where(), f.note)
    if w.hpa is not None:
        h = w.hpa
        b.add("hpa", f"{h.name}: {_v(h.min_replicas)}..{_v(h.max_replicas)} on {', '.join(h.metrics)}",
              f"HorizontalPodAutoscaler/{h.namespace + '/' if h.namespace else ''}{h.name} ({SourceKind.HPA})")
    if w.services:
        b.add("services", ", ".join(f"{s.name}:{'/'.join(str(p.port) for p in s.ports)}" for s in w.services),
              f"({SourceKind.SERVICE})")
    if not w.pods_collected:
        b.add("pods", "not collected (no pods in the input)")
    else:
        cur = sum(1 for p in w.pods if p.current)
        text = f"{len(w.pods)} ({cur} current"
        text += f", {len(w.pods) - cur} of older revisions: {', '.join(w.old_revisions)})" if cur < len(w.pods) else ")"
        b.add("pods", text, f"revision {w.current_revision}" if w.current_revision else "")
    out += b.lines()
    for c in w.template.containers:
        out += _container_block(snap, w, c, w.pods)
    if w.pods:
        out.append("  pods")
        shown: dict = {}
        for p in w.pods:
            out += _pod_lines(snap, w, p, shown)
    return out


def table(snap: Snapshot) -> str:
    """The human table."""
    where = ", ".join(snap.inputs) if snap.inputs else snap.source
    lines = [f"# {snap.source}: {where}" + (f" (context {snap.context})" if snap.context else "")]
    if not snap.workloads:
        lines.append("no serving workloads found (none matched the targets, or none runs a recognised "
                     "engine or requests GPUs)")
    for w in snap.workloads:
        lines.append("")
        lines += _workload_lines(snap, w)
    if snap.issues:
        lines += ["", f"issues ({len(snap.issues)}):"]
        for i in snap.issues:
            lines.append(f"  {i.kind:<13} {i.area or '-':<10} {i.scope}: {i.message}")
    # every value here was read from a manifest or an API answer: escape control characters
    return "\n".join(printable(line) for line in lines) + "\n"
