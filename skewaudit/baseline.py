"""Last-good versus current: compare two observed states as findings.

Each workload of a snapshot is reduced to a *view*: nested dicts of the
normalized facts that matter for skew (engine settings, image and digest, env,
resources, probes, GPU class and driver of the nodes in use, autoscaling,
placement, Services, replica count, rollout state) that leave out everything
volatile: pod names and UIDs, node names, timestamps, resourceVersion,
managedFields, restart counts and readiness, IPs, GPU UUIDs and bus ids, HPA
status, and process env such as HOSTNAME or service-link addresses. Absent
facts are absent keys, never None, so "added" and "removed" read as such.

Views are compared cheaply first (their encoded bytes); only workloads that
differ go through DeepDiff, which explains what changed. DeepDiff over 1,000
whole workloads takes tens of seconds; over the few that changed, milliseconds.

Each change becomes a ``Result`` under the intent check that covers the same
setting (a changed ``dtype`` is ``runtime.dtype``, a new GPU pool
``hardware.gpu-class``), so severity, hints, every output format and the exit
code work unchanged. Related leaf changes are reported once: a probe or a
Service as a whole, a replica change with its pod count, an image with its
digest, a rollout as one finding rather than one per pod.

``--ignore`` patterns (globs) match a change's dotted path
(``containers.vllm.env.BUILD_ID``), any dotted prefix of it
(``containers.*.env``), the same prefixed with the workload
(``Deployment/ml/llama:replicas`` or ``workloads.Deployment/ml/llama.replicas``)
or the workload key alone (``Deployment/staging/*``).
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import msgspec

from skewaudit.audit import fill_template, serving_port
from skewaudit.collect.snapshot import load as _load
from skewaudit.model.finding import CheckInfo, Evidence, Location, Report, Result, Status, TargetRef
from skewaudit.baseline_view import _COLLECTED_ONLY, ABSENT, View, _joined, _key, view
from skewaudit.model.observed import ContainerObs, Prov, Snapshot, WorkloadObs
from skewaudit.sides import BASELINE, Wording

load = _load

BASELINE_FILE = "baseline"   # Location.file of baseline results until merge() names the snapshot

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
    "name": "runtime.engine", "unknown_args": "runtime.extra-args", "gpu_layers": "runtime.gpu-layers",
}
# Container sub-key -> check.
_CONTAINER_CHECK = {
    "image": "runtime.image", "resolved_digest": "runtime.image", "env": "runtime.env",
    "requests": "orchestration.resources", "limits": "orchestration.resources", "ports": "serving.port",
    "argv": "runtime.baseline-changed",
}
_ROUTE_CHECK = {"timeoutSeconds": "serving.timeout", "backendTimeoutSeconds": "serving.timeout",
                "retries": "serving.retries", "maxRequestBodyBytes": "serving.request-body-size"}
_PROBE_CHECK = {"readiness": "serving.readiness-probe", "liveness": "serving.liveness-probe"}
_GPU_CHECK = {
    "class": "hardware.gpu-class", "pinned_class": "hardware.gpu-class", "driver_version": "hardware.driver-version",
    "cuda_driver_version": "hardware.cuda-version", "memory_mib": "hardware.gpu-memory",
    "mig_profile": "hardware.mig-profile", "count": "hardware.gpu-count",
}
_EXTRA_CHECK = {
    "storageUri": "model.id", "timeout": "serving.timeout", "containerConcurrency": "serving.max-concurrency",
    "minReplicas": "orchestration.hpa-bounds", "maxReplicas": "orchestration.hpa-bounds",
    "scaleMetric": "orchestration.hpa-metric", "scaleTarget": "orchestration.hpa-metric",
    "runtime": "runtime.baseline-changed", "modelFormat": "runtime.baseline-changed",
    # LLMInferenceService prefill workload, Ray Serve replicas
    "prefillReplicas": "orchestration.replicas", "prefillTensorParallel": "runtime.tensor-parallel",
    "serveReplicas": "orchestration.replicas",
}
_TOP_CHECK = {
    "replicas": "orchestration.replicas", "pods": "orchestration.replicas", "rollout": "orchestration.rollout",
    "services": "serving.baseline-changed", "labels": "orchestration.baseline-changed",
    "claims": "hardware.gpu-count",   # a DRA claim's device count or class
}
_PLACEMENT_CHECK = {"node_selector": "orchestration.node-selector", "node_affinity": "orchestration.node-selector",
                    "tolerations": "orchestration.tolerations"}
_HPA_CHECK = {"min_replicas": "orchestration.hpa-bounds", "max_replicas": "orchestration.hpa-bounds",
              "metrics": "orchestration.hpa-metric", "name": "orchestration.baseline-changed"}

# Node-label keys that name the GPU model: a selector on them is the GPU class, reported as
# hardware.gpu-class, so one change of GPU pool is one finding, not a selector change plus a class change.
# --- changes -------------------------------------------------------------------------------------


@dataclass
class Change:
    """One changed fact (or group of facts) of one workload."""

    path: tuple[str, ...]
    before: Any
    after: Any
    members: list[tuple[tuple[str, ...], Any, Any]] = field(default_factory=list)  # grouped leaf changes
    related: list["Change"] = field(default_factory=list)  # implied changes folded into this one

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


def _align(old: View, new: View) -> tuple[dict[str, Any], dict[str, Any]]:
    """Copies of both views with facts only one side could collect removed from both."""
    o, n = dict(old.facts), dict(new.facts)
    # Pod counts exist only when pods were read (live, or manifests that include pods);
    # runtime facts only when both runs probed the engines (--probe): compare what both asked.
    for key in ("pods", "runtime"):
        if (key in o) != (key in n):
            o.pop(key, None)
            n.pop(key, None)
    if "runtime" in o and "runtime" in n:
        common = set(o["runtime"]) & set(n["runtime"])
        o["runtime"] = {k: v for k, v in o["runtime"].items() if k in common}
        n["runtime"] = {k: v for k, v in n["runtime"].items() if k in common}
    # GPU facts from node labels versus a class read from the template's nodeSelector: compare what both say.
    if old.gpu_source != new.gpu_source and "gpu" in o and "gpu" in n:
        common = set(o["gpu"]) & set(n["gpu"])
        o["gpu"] = {k: v for k, v in o["gpu"].items() if k in common}
        n["gpu"] = {k: v for k, v in n["gpu"].items() if k in common}
    oc, nc = o.get("containers", {}), n.get("containers", {})
    if any(k in oc.get(c, {}) or k in nc.get(c, {}) for c in set(oc) & set(nc) for k in _COLLECTED_ONLY):
        oc, nc = {c: dict(v) for c, v in oc.items()}, {c: dict(v) for c, v in nc.items()}
        for c in set(oc) & set(nc):
            for k in _COLLECTED_ONLY:
                if (k in oc[c]) != (k in nc[c]):
                    oc[c].pop(k, None)
                    nc[c].pop(k, None)
        o["containers"], n["containers"] = oc, nc
    return o, n


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Every changed leaf, or added/removed subtree, explained by DeepDiff."""
    from deepdiff import DeepDiff

    out: list[Change] = []
    # threshold_to_diff_deeper=0: always name the changed keys, never "the whole dict changed" (DeepDiff 8+
    # otherwise reports a dict whose keys mostly differ, e.g. a renamed Service, as one opaque value).
    tree = DeepDiff(old, new, view="tree", verbose_level=2, threshold_to_diff_deeper=0)
    for kind, levels in tree.items():
        for level in levels:
            path = tuple(str(p) for p in level.path(output_format="list"))
            before = ABSENT if kind.endswith("_added") else level.t1
            after = ABSENT if kind.endswith("_removed") else level.t2
            out.append(Change(path, before, after))
    return out


def _group(changes: list[Change]) -> list[Change]:
    """Report related leaves once: a probe or a Service as a whole, an image with its digest, a replica
    change with its pod count, a GPU class with the selector that pins it."""
    by_path = {c.path: c for c in changes}
    grouped: dict[tuple[str, ...], Change] = {}
    out: list[Change] = []
    for c in sorted(changes, key=lambda c: c.path):
        p = c.path
        head: tuple[str, ...] | None = None
        if len(p) > 4 and p[0] == "containers" and p[2] == "probes":
            head = p[:4]
        elif len(p) > 2 and p[0] == "services":
            head = p[:2]
        if head is not None:
            g = grouped.get(head)
            if g is None:
                g = grouped[head] = Change(head, {}, {})
                out.append(g)
            g.members.append((p[len(head):], c.before, c.after))
            continue
        if p[-1] == "resolved_digest" and p[:-1] + ("image",) in by_path:
            continue  # the image reference changed too: one finding
        if p == ("pods", "count") and (("replicas",) in by_path or ("rollout",) in by_path):
            continue  # a replica change or a rollout, not N pod changes
        if p in (("gpu", "pinned_class"), ("gpu", "memory_mib")) and ("gpu", "class") in by_path:
            by_path[("gpu", "class")].related.append(c)
            continue  # another GPU class brings its memory and its selector with it: one finding
        out.append(c)
    for g in grouped.values():
        g.before = {".".join(m[0]): m[1] for m in g.members}
        g.after = {".".join(m[0]): m[2] for m in g.members}
    return sorted(out, key=lambda c: c.path)


_RUNTIME_CHECK = {"engine_version": "runtime.engine-version", "model_sha": "model.revision",
                  "weight_version": "model.revision"}

# Symptom -> (words, unit, smallest absolute change that counts). A symptom is reported when it
# moved by at least SYMPTOM_RATIO (relative) and that much (absolute): one scrape's noise is not news.
SYMPTOM_RATIO = 0.5
_SYMPTOMS = {
    "ttft_p50_s": ("TTFT p50", " s", 0.02), "ttft_p95_s": ("TTFT p95", " s", 0.05),
    "tpot_p50_s": ("TPOT p50", " s", 0.005), "tpot_p95_s": ("TPOT p95", " s", 0.01),
    "queue_length": ("queue length", "", 2.0), "kv_cache_usage": ("KV-cache usage", "", 0.1),
    "preemptions_per_h": ("preemptions per hour", "", 1.0),
    "prompt_tokens_per_s": ("prompt tokens/s", "", 10.0), "generation_tokens_per_s": ("generation tokens/s", "", 10.0),
}


def symptom_changes(old: dict[str, float], new: dict[str, float]) -> list[tuple[str, float, float]]:
    """(symptom, before, after) for every symptom both runs measured that moved enough to matter."""
    out = []
    for k, (_, _, least) in _SYMPTOMS.items():
        if k in old and k in new:
            a, b = old[k], new[k]
            if abs(b - a) >= least and abs(b - a) >= SYMPTOM_RATIO * max(abs(a), 1e-9):
                out.append((k, a, b))
    return out


def _symptom_message(changes: list[tuple[str, float, float]], say: Wording = BASELINE) -> str:
    parts = []
    for k, a, b in changes:
        words, unit, _ = _SYMPTOMS[k]
        pct = f" ({(b - a) / a:+.0%})" if a else ""
        parts.append(f"{words} {a:.3g}{unit} -> {b:.3g}{unit}{pct}")
    return f"{say.symptoms()} (engine /metrics, mean over current pods): " + "; ".join(parts)


def check_for(path: tuple[str, ...]) -> str:
    """The check id a change at ``path`` is reported under."""
    head = path[0] if path else ""
    if head == "containers":
        if len(path) < 3:
            return "runtime.baseline-changed"            # a whole container added or removed
        sub = path[2]
        if sub == "engine":
            return _ENGINE_CHECK.get(path[3], "runtime.baseline-changed") if len(path) > 3 else "runtime.engine"
        if sub in ("requests", "limits") and len(path) > 3 and path[3] == "nvidia.com/gpu":
            return "hardware.gpu-count"
        if sub == "probes":
            return _PROBE_CHECK.get(path[3], "serving.baseline-changed") if len(path) > 3 \
                else "serving.baseline-changed"
        return _CONTAINER_CHECK.get(sub, "runtime.baseline-changed")
    if head == "gpu":
        return _GPU_CHECK.get(path[1], "hardware.baseline-changed") if len(path) > 1 else "hardware.gpu-class"
    if head == "placement":
        return _PLACEMENT_CHECK.get(path[1], "orchestration.baseline-changed") if len(path) > 1 \
            else "orchestration.node-selector"
    if head == "routes":
        return _ROUTE_CHECK.get(path[-1], "serving.baseline-changed") if len(path) > 2 else "serving.baseline-changed"
    if head == "hpa":
        return _HPA_CHECK.get(path[1], "orchestration.hpa-bounds") if len(path) > 1 else "orchestration.hpa-bounds"
    if head == "extra":
        return _EXTRA_CHECK.get(path[1], "orchestration.baseline-changed") if len(path) > 1 \
            else "orchestration.baseline-changed"
    if head == "runtime":   # what the engines reported (--probe)
        return _RUNTIME_CHECK.get(path[1], _ENGINE_CHECK.get(path[1], "runtime.baseline-changed")) \
            if len(path) > 1 else "runtime.baseline-changed"
    return _TOP_CHECK.get(head, "orchestration.baseline-changed")


def _ignored(c: Change, wkey: str, patterns: list[str]) -> bool:
    if not patterns:
        return False
    prefixes = [".".join(c.path[:i]) for i in range(len(c.path), 0, -1)]
    names = [wkey] + prefixes + [f"{wkey}:{p}" for p in prefixes] + [f"workloads.{wkey}.{p}" for p in prefixes]
    return any(fnmatch.fnmatchcase(n, pat) for pat in patterns for n in names)


# --- results -------------------------------------------------------------------------------------


def _fmt(v: Any) -> str:
    if v is None:
        return ABSENT
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v2)}" for k, v2 in v.items()) + "}" if v else "{}"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _describe(path: tuple[str, ...]) -> str:
    """A change's subject in words: ``dtype of container vllm``, ``GPU class``, ``Service llama``."""
    if path[0] == "containers" and len(path) >= 2:
        c = path[1]
        rest = path[2:]
        if not rest:
            return f"container {c}"
        if rest[0] == "engine":
            key = rest[1] if len(rest) > 1 else ""
            what = {"name": "serving engine", "unknown_args": "other engine flags", "": "engine"}.get(key, key)
            return f"{what} of container {c}"
        if rest[0] == "env" and len(rest) > 1:
            return f"env {rest[1]} of container {c}"
        if rest[0] == "probes" and len(rest) > 1:
            return f"{rest[1]} probe of container {c}"
        if rest[0] == "resolved_digest":
            return f"running image digest of container {c}"
        return f"{'.'.join(rest)} of container {c}"
    if path[0] == "gpu":
        return {"class": "GPU class", "pinned_class": "GPU class pinned by the node selector"}.get(
            path[-1], f"GPU {path[-1].replace('_', ' ')}") if len(path) > 1 else "GPU facts"
    if path[0] == "services" and len(path) > 1:
        return f"Service {path[1]}"
    if path[0] == "hpa":
        return f"HPA {path[1].replace('_', ' ')}" if len(path) > 1 else "HPA"
    if path[0] == "labels" and len(path) > 1:
        return f"label {path[1]}"
    if path[0] == "placement" and len(path) > 1:
        what = {"node_selector": "nodeSelector", "node_affinity": "required node affinity",
                "tolerations": "tolerations", "runtime_class": "runtimeClassName"}.get(path[1], path[1])
        return what + (f" {'.'.join(path[2:])}" if len(path) > 2 else "")
    if path[0] == "extra" and len(path) > 1:
        return path[1]
    return ".".join(path)


def _message(c: Change, w: WorkloadObs, bw: WorkloadObs | None, bv: View | None, nv: View,
             say: Wording = BASELINE) -> tuple[str, str | None]:
    """(message, level override or None)."""
    p = c.path
    if p == ("rollout",):
        if c.after == ABSENT:
            return f"the rollout seen in the baseline ({c.before}) has finished", None
        new = sum(1 for x in w.pods if x.current)
        old = len(w.pods) - new
        return (f"rollout in progress: {new} pod(s) on revision {w.current_revision or '?'}, {old} still on "
                f"{_joined(w.old_revisions)} (baseline: {'no rollout' if c.before == ABSENT else c.before})"), None
    if p == ("replicas",):
        msg = say.changed("replica count", _fmt(c.before), _fmt(c.after))
        if bw is not None and bw.pods and w.pods_collected:
            msg += f" (running pods {len(bw.pods)} -> {len(w.pods)})"
        hpa = w.hpa
        if hpa is not None and bw is not None and bw.hpa is not None and isinstance(c.after, int):
            lo, hi = hpa.min_replicas or 1, hpa.max_replicas
            if hi is None or lo <= c.after <= hi:
                # The HPA writes spec.replicas: scaling within its bounds is autoscaling, not drift.
                return msg + f"; HPA {hpa.name} manages it (min {lo}, max {hi if hi is not None else '?'})", "info"
        return msg, None
    if p == ("pods", "count"):
        return say.changed("running pods", _fmt(c.before), _fmt(c.after)), None
    subject = _describe(p)
    if c.members:
        parts = [f"{k or '(all)'} {_fmt(b)} -> {_fmt(a)}" for k, b, a in
                 ((".".join(m[0]), m[1], m[2]) for m in c.members)]
        return say.grouped(subject, parts), None
    if c.before == ABSENT:
        return say.added(subject, _fmt(c.after)), None
    if c.after == ABSENT:
        return say.removed(subject, _fmt(c.before)), None
    if p == ("gpu", "class") and c.related:
        also = "; ".join(f"{_describe(r.path)} {_fmt(r.before)} -> {_fmt(r.after)}" for r in c.related)
        return say.changed(subject, _fmt(c.before), _fmt(c.after)) + f" ({also})", None
    if p[0] == "gpu" and p[-1] == "pinned_class":
        running = nv.facts.get("gpu", {}).get("class", "?")
        return f"{subject} changed: {_fmt(c.before)} -> {_fmt(c.after)} (pods still on {running})", None
    return say.changed(subject, _fmt(c.before), _fmt(c.after)), None


def _flag(c: ContainerObs | None, fact_name: str, value: Any) -> str | None:
    """The engine flag (or env var) that set ``fact_name`` to ``value`` in ``c``: named in the hint."""
    if c is None or c.engine is None:
        return None
    f = c.engine.fields.get(fact_name)
    if f is None:
        return None
    if f.prov.source == "env":
        m = re.search(r"env\[([^\]]+)\]", f.prov.path)
        return f"env {m.group(1)}" if m else None
    if f.prov.source != "arg" or c.argv is None:
        return None
    wanted = {str(value), str(f.raw) if f.raw is not None else str(value)}
    if isinstance(value, bool):
        wanted |= {"true", "false", "True", "False"}
    argv = c.argv
    for i, tok in enumerate(argv):
        if not tok.startswith("-"):
            continue
        flag, eq, v = tok.partition("=")
        if eq and v in wanted:
            return flag
        if not eq and i + 1 < len(argv) and argv[i + 1] in wanted:
            return flag
        if not eq and isinstance(value, bool) and value and fact_name.replace("_", "-") in flag:
            return flag
    return None


def _result(book: dict[str, CheckInfo], cid: str, w: WorkloadObs, c: Change | None, msg: str, level: str | None,
            current: Snapshot, prov: Prov | None, spec: str, flag: str | None = None,
            serving: str | None = None, say: Wording = BASELINE) -> Result:
    info = book[cid]
    path = c.dotted if c is not None else "workload"
    before = None if c is None or c.before == ABSENT else c.before
    after = None if c is None or c.after == ABSENT else c.after
    # The container the change is in; for workload-level changes the serving container (hints name it).
    container = c.path[1] if c is not None and len(c.path) > 1 and c.path[0] == "containers" else serving
    pod = next((p.name for p in w.pods if p.current), None)
    values = {
        "namespace": w.namespace or "default", "name": w.name, "kind": w.kind, "kind_lower": w.kind.lower(),
        "expected": _fmt(before), "observed": _fmt(after), "field": path,
        "flag": flag or "the engine flag", "container": container or "<container>",
        "pod": pod or f"<pod of {w.kind.lower()}/{w.name}>",
        "env": c.path[3] if c is not None and len(c.path) > 3 and c.path[2] == "env" else "<VAR>",
        "image": _fmt(after) if c is not None and c.path[-1] == "image" else "<image>",
        "selector": ",".join(f"{k}={v}" for k, v in sorted((w.selector or w.template.labels).items())) or "<selector>",
        "ctx": f" --context {current.context}" if current.context else "",
        "autoscaler": f"{w.hpa.kind} {w.hpa.name}" if w.hpa is not None and w.hpa.kind != "HorizontalPodAutoscaler"
        else f"the HPA targeting {w.kind}/{w.name}",
        "route": "the route in front of its Service",
        "port": serving_port(next((x for p in w.pods if p.current for x in p.containers if x.name == container), None)
                             or next((x for x in w.template.containers if x.name == container), None)),
    }
    return Result(
        check=cid, category=info.category, status=Status.DRIFT, level=level or info.level, spec=spec, field=path,
        target=TargetRef(kind=w.kind, name=w.name, namespace=w.namespace, container=container,
                         context=current.context),
        message=msg, expected=before,
        observed=[Evidence(value=after, prov=prov or Prov(source=current.source, object=w.object or _key(w)))],
        location=Location(file=BASELINE_FILE), reason=None,
        hint=fill_template(f"{say.hint()} {info.remediation}", values),
        next_steps=list(info.next_steps),
        commands=[fill_template(cmd, values) for cmd in info.commands],
    )


class Changes(list):
    """The baseline results, plus how many workloads were compared (for the summary line)."""

    compared: int = 0


def _spec_names(specs: list[Any], base: Snapshot, current: Snapshot) -> dict[str, str] | None:
    """Workload key -> the spec that targets it, on either side; None when no spec was given."""
    if not specs:
        return None
    from skewaudit.audit import WorkloadIndex

    out: dict[str, str] = {}
    for snap in (current, base):
        index = WorkloadIndex(list(snap.workloads))
        for s in specs:
            target = s.spec.target_request() if hasattr(s.spec, "target_request") else None
            for w in index.find(target, s.spec.metadata.name):
                out.setdefault(_key(w), s.spec.metadata.name)
    return out


def compare(base: Snapshot, current: Snapshot, *, ignore: Iterable[str] = (), specs: Iterable[Any] = (),
            say: Wording = BASELINE) -> Changes:
    """Every fact that changed between ``base`` and ``current``, as drift results.

    With specs, only the workloads they target are compared (the intent run collected just those).
    ``say`` words the findings: since a baseline (the default), or across two sides that both run now
    (:class:`skewaudit.sides.Across`, ``skewaudit compare``).
    """
    from skewaudit.playbook import load_playbook

    book = load_playbook()
    patterns = list(ignore)
    owners = _spec_names(list(specs), base, current)
    old_w = {_key(w): w for w in base.workloads}
    new_w = {_key(w): w for w in current.workloads}
    # Rendered manifests may carry no namespace, and a local process is named after its host:
    # pair leftovers by kind/name, or by kind alone for a single Process on each side.
    for key in [k for k in new_w if k not in old_w]:
        w = new_w[key]
        alt = [k for k, o in old_w.items() if k not in new_w and o.kind == w.kind
               and (o.name == w.name or w.kind == "Process")]
        if len(alt) == 1 and (w.kind != "Process" or sum(1 for x in new_w.values() if x.kind == "Process") == 1):
            old_w[key] = old_w.pop(alt[0])
    if owners is not None:
        old_w = {k: v for k, v in old_w.items() if k in owners or _key(v) in owners}
        new_w = {k: v for k, v in new_w.items() if k in owners}
    results = Changes()
    old_cache: dict[str, dict] = {}
    new_cache: dict[str, dict] = {}
    for key in sorted(set(old_w) | set(new_w)):
        o, n = old_w.get(key), new_w.get(key)
        spec = (owners or {}).get(key) or (owners or {}).get(_key(o) if o else key) or say.unowned
        results.compared += 1
        if o is None or n is None:
            w = o or n
            ch = Change(("workload",), ABSENT if o is None else w.kind, ABSENT if n is None else w.kind)
            if _ignored(ch, key, patterns):
                continue
            if n is None:
                results.append(_result(book, "collection.target-not-found", w, ch,
                                       say.gone(key), None, current, None, spec, say=say))
            else:
                results.append(_result(book, "orchestration.baseline-changed", w, ch,
                                       say.new(key), None, current, None, spec, say=say))
            continue
        ov, nv = view(o, base, old_cache), view(n, current, new_cache)
        moved = symptom_changes(ov.symptoms, nv.symptoms)
        if moved:
            ch = Change(("symptoms",), {k: a for k, a, _ in moved}, {k: b for k, _, b in moved})
            if not _ignored(ch, key, patterns):
                results.append(_result(book, "runtime.symptoms-changed", n, ch, _symptom_message(moved, say), None,
                                       current, Prov(source="runtime", object=n.object or key, path="GET /metrics"),
                                       spec, say=say))
        if msgspec.json.encode(ov.facts) == msgspec.json.encode(nv.facts):
            continue  # the cheap path: most workloads have not changed
        of, nf = _align(ov, nv)
        changes = _group(_diff(of, nf))
        # An env var an engine read a setting from (NIM_MAX_MODEL_LEN, TGI's MAX_TOTAL_TOKENS) changes
        # with that setting: one finding, under the setting's check.
        read_from = {(ch.path[1], m.group(1)) for ch in changes
                     if len(ch.path) == 4 and ch.path[0] == "containers" and ch.path[2] == "engine"
                     and (p := nv.provs.get(ch.path) or ov.provs.get(ch.path)) is not None and p.source != "arg"
                     and (m := re.search(r"env\[([^\]]+)\]", p.path))}
        for ch in changes:
            if _ignored(ch, key, patterns):
                continue
            if len(ch.path) == 4 and ch.path[0] == "containers" and ch.path[2] == "env" \
                    and (ch.path[1], ch.path[3]) in read_from:
                continue
            cid = check_for(ch.path)
            msg, level = _message(ch, n, o, ov, nv, say)
            prov = nv.provs.get(ch.path) or ov.provs.get(ch.path)
            flag = None
            if len(ch.path) == 4 and ch.path[0] == "containers" and ch.path[2] == "engine":
                cname, fname = ch.path[1], ch.path[3]
                flag = (_flag(nv.containers.get(cname), fname, ch.after)
                        or _flag(ov.containers.get(cname), fname, ch.before))
            elif ch.path[0] == "extra" and prov is not None and prov.path:
                flag = prov.path     # a workload field such as spec.predictor.containerConcurrency
            serving = next((name for name, c in nv.containers.items() if c.engine is not None),
                           next(iter(nv.containers), None))
            results.append(_result(book, cid, n, ch, msg, level, current, prov, spec, flag, serving, say))
    from skewaudit.audit import CATEGORY_ORDER

    # The order intent results use: spec, target, category, check, field.
    results.sort(key=lambda r: (r.spec, r.target.label(), CATEGORY_ORDER.get(r.category, 9), r.check, r.field))
    return results


def merge(report: Report | None, results: list[Result], baseline_path: str | None = None,
          source: str = "baseline") -> Report:
    """Add baseline results to an intent report (or make a report of them alone, from ``source``)."""
    from skewaudit import __version__
    from skewaudit.audit import summarize
    from skewaudit.playbook import load_playbook

    book = load_playbook()
    compared = getattr(results, "compared", None)
    if baseline_path:
        # Point each baseline result at the snapshot it was compared with (SARIF, JUnit and tables show it).
        results = [msgspec.structs.replace(r, location=Location(file=baseline_path))
                   if r.location is not None and r.location.file == BASELINE_FILE else r for r in results]
    if report is None:
        checks = {r.check: book[r.check] for r in results}
        n_workloads = compared if compared is not None else len({r.target.label() for r in results})
        now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        context = next((r.target.context for r in results if r.target.context), None)
        return Report(source=source, summary=summarize(results, 0, n_workloads, 0), skewaudit_version=__version__,
                      generated_at=now, context=context, results=list(results), checks=checks, baseline=baseline_path)
    allr = list(report.results) + list(results)
    checks = dict(report.checks)
    checks.update({r.check: book[r.check] for r in results})
    s = report.summary
    return msgspec.structs.replace(report, results=allr, checks=checks, baseline=baseline_path,
                                   summary=summarize(allr, s.specs, s.workloads, s.pods))
