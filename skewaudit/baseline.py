"""Last-good versus current: compare two observed states as findings.

Each workload of a snapshot is reduced to a *view*: the normalized facts that
matter for skew (engine settings, image and digest, env, resources, probes,
GPU class and driver of the nodes in use, autoscaling, placement, and a pod
summary), leaving out everything volatile (pod names and UIDs, timestamps,
resourceVersion, managedFields, restart counts, IPs). Views are compared
cheaply first (encoded bytes); only workloads that differ go through DeepDiff,
which explains what changed. DeepDiff over 1,000 whole workloads takes tens of
seconds; over the few that changed, milliseconds.

Each changed fact becomes a ``Result`` under the intent check that covers the
same setting (a changed ``dtype`` is reported as ``runtime.dtype``), so
severity, hints, every output format and the exit code work unchanged.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import msgspec

from skewaudit.audit import fill_template
from skewaudit.collect.snapshot import load as _load
from skewaudit.model.finding import CheckInfo, Evidence, Location, Report, Result, Status, TargetRef
from skewaudit.model.observed import Prov, Snapshot, WorkloadObs

load = _load

# Engine field -> the intent check that covers it.
_ENGINE_CHECK = {
    "model": "model.id", "revision": "model.revision", "tokenizer": "model.tokenizer",
    "tokenizer_revision": "model.tokenizer-revision", "served_model_name": "model.served-name",
    "dtype": "runtime.dtype", "quantization": "runtime.quantization", "kv_cache_dtype": "runtime.kv-cache-dtype",
    "max_model_len": "runtime.max-model-len", "max_input_tokens": "runtime.max-model-len",
    "max_num_seqs": "runtime.max-num-seqs", "max_num_batched_tokens": "runtime.max-batched-tokens",
    "tensor_parallel_size": "runtime.tensor-parallel", "pipeline_parallel_size": "runtime.pipeline-parallel",
    "gpu_memory_utilization": "runtime.gpu-memory-utilization", "enable_prefix_caching": "runtime.prefix-caching",
    "port": "serving.port", "max_concurrent_requests": "serving.max-concurrency",
}
# View path prefix -> check, first match wins.
_PATH_CHECK = (
    ("containers.*.engine.name", "runtime.engine"),
    ("containers.*.engine.unknown_args", "runtime.baseline-changed"),
    ("containers.*.image", "runtime.image"),
    ("containers.*.digest", "runtime.image"),
    ("containers.*.env", "runtime.env"),
    ("containers.*.limits.nvidia.com/gpu", "hardware.gpu-count"),
    ("containers.*.requests.nvidia.com/gpu", "hardware.gpu-count"),
    ("containers.*.limits", "orchestration.resources"),
    ("containers.*.requests", "orchestration.resources"),
    ("containers.*.probes.readiness", "serving.readiness-probe"),
    ("containers.*.probes.liveness", "serving.liveness-probe"),
    ("containers.*.probes", "serving.baseline-changed"),
    ("containers.*.ports", "serving.port"),
    ("containers.*.argv", "runtime.baseline-changed"),
    ("containers", "runtime.baseline-changed"),
    ("gpu.class", "hardware.gpu-class"),
    ("gpu.driver_version", "hardware.driver-version"),
    ("gpu.cuda_driver_version", "hardware.cuda-version"),
    ("gpu.memory_mib", "hardware.gpu-memory"),
    ("gpu.mig_profile", "hardware.mig-profile"),
    ("gpu", "hardware.baseline-changed"),
    ("replicas", "orchestration.replicas"),
    ("pods.count", "orchestration.replicas"),
    ("pods.revisions", "orchestration.rollout"),
    ("hpa.min_replicas", "orchestration.hpa-bounds"),
    ("hpa.max_replicas", "orchestration.hpa-bounds"),
    ("hpa.metrics", "orchestration.hpa-metric"),
    ("hpa", "orchestration.baseline-changed"),
    ("placement.node_selector", "orchestration.node-selector"),
    ("placement.node_affinity", "orchestration.node-selector"),
    ("placement.tolerations", "orchestration.tolerations"),
    ("placement", "orchestration.baseline-changed"),
    ("services", "serving.baseline-changed"),
    ("extra.timeout", "serving.timeout"),
    ("extra.containerConcurrency", "serving.max-concurrency"),
    ("extra.minReplicas", "orchestration.hpa-bounds"),
    ("extra.maxReplicas", "orchestration.hpa-bounds"),
    ("extra.scaleMetric", "orchestration.hpa-metric"),
    ("extra", "orchestration.baseline-changed"),
    ("workload", "collection.target-not-found"),
)
# Node-label keys that name the GPU: folded into gpu.class so that one change
# of GPU pool is one finding, not a selector change plus a class change.
_GPU_LABEL_PREFIXES = ("nvidia.com/", "cloud.google.com/gke-accelerator", "karpenter.k8s.aws/instance-gpu",
                       "cloud.google.com/gke-gpu")


def _key(w: WorkloadObs) -> str:
    return f"{w.kind}/{w.namespace}/{w.name}" if w.namespace else f"{w.kind}/{w.name}"


def _joined(items: list[Any]) -> str:
    return ", ".join(sorted(str(i) for i in items))


def view(w: WorkloadObs, snap: Snapshot) -> tuple[dict[str, Any], dict[str, Prov]]:
    """The normalized, volatile-free facts of one workload, and the provenance of each leaf path."""
    from skewaudit import gpus

    provs: dict[str, Prov] = {}
    containers: dict[str, Any] = {}
    # Live, what runs is the current pods' containers; offline, the template.
    current = [p for p in w.pods if p.current]
    source_containers = current[0].containers if current else w.template.containers
    for c in source_containers:
        base = f"containers.{c.name}"
        engine: dict[str, Any] = {}
        if c.engine is not None:
            engine = {"name": c.engine.engine, "unknown_args": _joined(c.engine.unknown_args)}
            for k, f in c.engine.fields.items():
                if f.prov.source == "default" and f.value is None:
                    continue
                engine[k] = f.value
                provs[f"{base}.engine.{k}"] = f.prov
        containers[c.name] = {
            "image": c.image.ref,
            "digest": c.image.resolved_digest or c.image.digest,
            "env": {e.name: (e.value if e.value is not None else f"({e.source} {e.ref or ''})".strip())
                    for e in c.env},
            "requests": dict(c.requests), "limits": dict(c.limits),
            "ports": _joined([p.container_port for p in c.ports]),
            "probes": {p.kind: {k: v for k, v in msgspec.to_builtins(p).items() if k != "kind"} for p in c.probes},
            "engine": engine,
            # argv is compared only when no engine parsed it: parsed flags are reported field by field.
            "argv": None if c.engine is not None else (" ".join(c.argv) if c.argv is not None else None),
        }
    gpu: dict[str, Any] = {}
    nodes = [snap.nodes[p.node] for p in current if p.node and p.node in snap.nodes]
    if nodes:
        for n in nodes:
            for k, f in gpus.node_gpu_facts(n).items():
                gpu.setdefault(k, set()).add(str(f.value))
                provs.setdefault(f"gpu.{k}", f.prov)
        for p in current:
            if p.gpu is not None and p.gpu.status == "ok":
                for k, f in gpus.report_gpu_facts(p.gpu).items():
                    if f.value is not None:
                        gpu.setdefault(k, set()).add(str(f.value))
        gpu = {k: _joined(list(v)) for k, v in gpu.items() if k in ("class", "driver_version", "cuda_driver_version",
                                                                    "memory_mib", "mig_profile", "count")}
    else:
        sel = {k: v for k, v in w.template.node_selector.items() if k.startswith(_GPU_LABEL_PREFIXES)}
        for k, vals in w.template.node_affinity.items():
            if k.startswith(_GPU_LABEL_PREFIXES) and len(vals) == 1:
                sel.setdefault(k, vals[0])
        if sel:
            from skewaudit.model.observed import NodeObs

            f = gpus.node_gpu_facts(NodeObs(name="(pod template)", labels=sel)).get("class")
            if f is not None:
                gpu["class"] = str(f.value)
                provs["gpu.class"] = Prov(source="pod-spec", object=w.object, path="spec.template.spec.nodeSelector")
    placement = {
        "node_selector": {k: v for k, v in w.template.node_selector.items() if not k.startswith(_GPU_LABEL_PREFIXES)},
        "node_affinity": {k: _joined(v) for k, v in w.template.node_affinity.items()
                          if not k.startswith(_GPU_LABEL_PREFIXES)},
        "tolerations": _joined([_joined([f"{k}={v}" for k, v in t.items()]) for t in w.template.tolerations]),
    }
    revisions: dict[str, int] = {}
    for p in w.pods:
        revisions[p.revision or "?"] = revisions.get(p.revision or "?", 0) + 1
    out = {
        "workload": w.kind,
        "replicas": w.replicas.value if w.replicas is not None else None,
        "containers": containers, "gpu": gpu, "placement": placement,
        "hpa": None if w.hpa is None else {"min_replicas": w.hpa.min_replicas, "max_replicas": w.hpa.max_replicas,
                                           "metrics": _joined(w.hpa.metrics)},
        "services": {s.name: _joined([f"{p.port}->{p.target_port}" for p in s.ports]) for s in w.services},
        "extra": {k: f.value for k, f in w.extra.items()},
        "pods": {"count": len(w.pods), "revisions": len(revisions)} if w.pods_collected else None,
    }
    if w.replicas is not None:
        provs["replicas"] = w.replicas.prov
    return out, provs


def _check_for(path: str) -> str:
    parts = path.split(".")
    if len(parts) >= 4 and parts[0] == "containers" and parts[2] == "engine" and parts[3] in _ENGINE_CHECK:
        return _ENGINE_CHECK[parts[3]]
    generic = ".".join(["containers", "*"] + parts[2:]) if parts[0] == "containers" and len(parts) > 1 else path
    for prefix, cid in _PATH_CHECK:
        if generic == prefix or generic.startswith(prefix + ".") or path == prefix or path.startswith(prefix + "."):
            return cid
    return "orchestration.baseline-changed"


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted path, before, after) for every leaf that differs, explained by DeepDiff."""
    from deepdiff import DeepDiff

    out: list[tuple[str, Any, Any]] = []
    tree = DeepDiff(old, new, view="tree", verbose_level=2)
    for kind, levels in tree.items():
        for level in levels:
            path = ".".join(str(p) for p in level.path(output_format="list"))
            before = None if kind.endswith("_added") else level.t1
            after = None if kind.endswith("_removed") else level.t2
            out.append((path, before, after))
    return sorted(out, key=lambda c: c[0])


def _ignored(path: str, wkey: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, p) or fnmatch.fnmatchcase(f"{wkey}:{path}", p) for p in patterns)


def compare(base: Snapshot, current: Snapshot, *, ignore: list[str] = (), specs: list[Any] = ()) -> list[Result]:
    """Every fact that changed between ``base`` and ``current``, as drift results."""
    from skewaudit.playbook import load_playbook

    book = load_playbook()
    names = {s.spec.metadata.name for s in specs}
    old_w = {_key(w): w for w in base.workloads}
    new_w = {_key(w): w for w in current.workloads}
    results: list[Result] = []
    # Rendered manifests may carry no namespace: pair by kind/name when exactly one matches.
    for key in list(new_w):
        if key not in old_w:
            w = new_w[key]
            alt = [k for k, o in old_w.items() if o.kind == w.kind and o.name == w.name and k not in new_w]
            if len(alt) == 1:
                old_w[key] = old_w.pop(alt[0])
    for key in sorted(set(old_w) | set(new_w)):
        o, n = old_w.get(key), new_w.get(key)
        if o is None or n is None:
            w = o or n
            what = "removed since the baseline" if n is None else "new since the baseline"
            results.append(_result(book, "collection.target-not-found" if n is None else "orchestration.baseline-changed",
                                   w, "workload", o and o.kind, n and n.kind, f"{key} is {what}", base, current, None,
                                   names))
            continue
        ov, _ = view(o, base)
        nv, provs = view(n, current)
        if msgspec.json.encode(ov) == msgspec.json.encode(nv):
            continue  # the cheap path: most workloads have not changed
        for path, before, after in _changes(ov, nv):
            if _ignored(path, key, list(ignore)):
                continue
            cid = _check_for(path)
            if cid == "orchestration.rollout":
                msg = f"rollout in progress: pods now span {after} revisions (baseline {before})"
            elif path == "pods.count":
                msg = f"running pods changed from {before} to {after}"
            else:
                msg = f"{path} changed since the baseline: {_fmt(before)} -> {_fmt(after)}"
            results.append(_result(book, cid, n, path, before, after, msg, base, current, provs.get(path), names))
    if n_rollout := [w for w in current.workloads if w.old_revisions]:
        for w in n_rollout:
            if not any(r.check == "orchestration.rollout" and r.target.name == w.name for r in results):
                results.append(_result(book, "orchestration.rollout", w, "pods.revisions", None,
                                       ", ".join(w.old_revisions), f"rollout in progress: older revision(s) "
                                       f"{', '.join(w.old_revisions)} still run pods", base, current, None, names))
    return results


def _fmt(v: Any) -> str:
    if v is None:
        return "(absent)"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {v2}" for k, v2 in v.items()) + "}"
    return str(v)


def _result(book: dict[str, CheckInfo], cid: str, w: WorkloadObs, path: str, before: Any, after: Any, msg: str,
            base: Snapshot, current: Snapshot, prov: Prov | None, names: set[str]) -> Result:
    info = book[cid]
    spec = next(iter(sorted(names)), "(baseline)") if len(names) == 1 else "(baseline)"
    return Result(
        check=cid, category=info.category, status=Status.DRIFT, level=info.level, spec=spec, field=path,
        target=TargetRef(kind=w.kind, name=w.name, namespace=w.namespace, context=current.context),
        message=msg, expected=before,
        observed=[Evidence(value=after, prov=prov or Prov(source=current.source, object=w.object or _key(w)))],
        location=Location(file="baseline"), reason=None,
        hint=fill_template(f"Changed since the last-good snapshot. {info.remediation}", {
            "namespace": w.namespace or "default", "name": w.name, "kind": w.kind, "kind_lower": w.kind.lower(),
            "expected": _fmt(before), "observed": _fmt(after), "field": path, "flag": "the engine flag",
            "container": path.split(".")[1] if path.startswith("containers.") else "<container>",
            "ctx": f" --context {current.context}" if current.context else ""}),
        next_steps=list(info.next_steps),
    )


def merge(report: Report | None, results: list[Result], baseline_path: str | None = None) -> Report:
    """Add baseline results to an intent report (or make a report of them alone)."""
    from skewaudit import __version__
    from skewaudit.audit import summarize
    from skewaudit.playbook import load_playbook

    book = load_playbook()
    if report is None:
        checks = {r.check: book[r.check] for r in results}
        pods = 0
        return Report(source="baseline", summary=summarize(results, 0, len({r.target.label() for r in results}), pods),
                      skewaudit_version=__version__, results=results, checks=checks, baseline=baseline_path)
    allr = list(report.results) + results
    checks = dict(report.checks)
    checks.update({r.check: book[r.check] for r in results})
    s = report.summary
    return msgspec.structs.replace(report, results=allr, checks=checks, baseline=baseline_path,
                                   summary=summarize(allr, s.specs, s.workloads, s.pods))
