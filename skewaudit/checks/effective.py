"""What the engine runs with versus what its command line asks for (``--probe``).

Two checks on runtime facts (``PodObs.runtime``), both independent of what the
spec declares:

* ``runtime.effective-differs``: per pod, a value the engine reports differs
  from the one its argv/env/documented default implies (``--max-model-len
  32768`` asked, 8192 in force after the engine's clamp; ``--revision`` X,
  commit Y loaded). A revision that floats (absent, a branch or a tag) while
  the engine reports the commit it loaded is reported *unpinned*, with that
  commit, so it can be pinned.
* ``runtime.replicas-differ``: the current replicas of one workload report
  different values for the same fact ("1 of 4 pods reports model_sha abc…").
"""

from __future__ import annotations

import re
from typing import Any

from skewaudit import normalize
from skewaudit.checks._base import Ctx, Draft, Instance, check
from skewaudit.model.finding import Evidence, Status

_SHA = re.compile(r"^[0-9a-f]{7,40}$")

# runtime field -> (engine field read from argv/env/defaults, spec path the finding points at)
COMPARED: dict[str, tuple[str, str]] = {
    "model": ("model", "spec.identity.model.id"),
    "max_model_len": ("max_model_len", "spec.runtime.engine.maxModelLen"),
    "max_input_tokens": ("max_input_tokens", "spec.runtime.engine.maxInputTokens"),
    "max_concurrent_requests": ("max_concurrent_requests", "spec.runtime.engine.maxConcurrentRequests"),
    "max_num_seqs": ("max_num_seqs", "spec.runtime.engine.maxNumSeqs"),
    "kv_cache_dtype": ("kv_cache_dtype", "spec.runtime.engine.kvCacheDtype"),
    "gpu_memory_utilization": ("gpu_memory_utilization", "spec.runtime.engine.gpuMemoryUtilization"),
    "enable_prefix_caching": ("enable_prefix_caching", "spec.runtime.engine.enablePrefixCaching"),
    "dtype": ("dtype", "spec.runtime.engine.dtype"),
    "tensor_parallel_size": ("tensor_parallel_size", "spec.runtime.engine.tensorParallelSize"),
    "quantization": ("quantization", "spec.runtime.engine.quantization"),
}
REVISION_PATH = "spec.identity.model.revision"
# Facts that differ between healthy replicas by nature (block counts follow free memory).
NOT_REPLICA_SKEW = {"num_gpu_blocks"}


def _norm(field: str, v: Any) -> Any:
    if field in ("kv_cache_dtype", "dtype"):
        n = normalize.dtype(v)
        return n or str(v).lower()
    if field == "enable_prefix_caching":
        return normalize.boolean(v)
    if field == "quantization":
        return normalize.quantization(v) or str(v).lower()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return round(float(v), 6)
    return v


def _asked(inst: Instance, field: str):
    """The argv/env/default fact for ``field`` when it names a value (None: nothing implied)."""
    c = inst.container
    if c is None or c.engine is None:
        return None
    f = c.engine.fields.get(field)
    return f if f is not None and f.value is not None else None


@check("runtime.effective-differs")
def effective_differs(ctx: Ctx):
    """The engine runs with the values its command line asks for (needs --probe)."""
    groups: dict[tuple, dict] = {}
    floating: dict[tuple, dict] = {}
    total = sum(len(i.pods) for i in ctx.instances)
    for inst in ctx.instances:
        rt = inst.pod.runtime if inst.pod is not None else None
        if rt is None or rt.status == "unavailable":
            continue
        for name, (field, path) in COMPARED.items():
            got, asked = rt.fields.get(name), _asked(inst, field)
            if got is None or got.value is None or asked is None:
                continue
            if asked.prov.source == "default" and name == "model":
                continue   # an engine's built-in default model is not a statement of intent
            if _norm(name, got.value) == _norm(name, asked.value):
                continue
            g = groups.setdefault((name, repr(asked.value), repr(got.value)),
                                  {"path": path, "asked": asked, "got": got, "pods": []})
            g["pods"].extend(inst.pods)
        sha = rt.fields.get("model_sha")
        argv_known = inst.container is not None and inst.container.engine is not None
        if sha is not None and isinstance(sha.value, str) and argv_known:
            asked = _asked(inst, "revision")
            rev = str(asked.value) if asked is not None else None
            if rev is not None and _SHA.match(rev.lower()):
                if not sha.value.lower().startswith(rev.lower()):
                    g = groups.setdefault(("model_sha", repr(rev), repr(sha.value)),
                                          {"path": REVISION_PATH, "asked": asked, "got": sha, "pods": []})
                    g["pods"].extend(inst.pods)
            else:
                f = floating.setdefault((rev, sha.value), {"got": sha, "asked": asked, "pods": []})
                f["pods"].extend(inst.pods)
    for (name, _, _), g in sorted(groups.items()):
        asked, got = g["asked"], g["got"]
        flag = "--revision" if name == "model_sha" else None
        what = "loaded model commit" if name == "model_sha" else name.replace("_", " ")
        yield Draft(g["path"], Status.DRIFT,
                    f"{what}: the command line asks for {asked.value} ({asked.prov.where()}), the engine runs "
                    f"{got.value}", expected=asked.value,
                    observed=[Evidence(value=got.value, prov=got.prov, note=got.note, pods=g["pods"],
                                       count=len(g["pods"]))],
                    scope=f"{len(g['pods'])} of {total} pods" if total > 1 else None,
                    vars={"flag": flag or f"--{name.replace('_', '-')}"})
    for (rev, sha), f in floating.items():
        how = f"revision {rev!r} is a branch or tag" if rev else "no --revision is given"
        yield Draft(REVISION_PATH, Status.UNPINNED,
                    f"{how}: the engine loaded commit {sha}; pin it (--revision {sha}) so a restart "
                    "cannot load other weights", expected=rev,
                    observed=[Evidence(value=sha, prov=f["got"].prov, pods=f["pods"], count=len(f["pods"]))],
                    level="warning", vars={"flag": "--revision"})


@check("runtime.replicas-differ")
def replicas_differ(ctx: Ctx):
    """The current replicas report the same runtime values (needs --probe)."""
    reports = [(inst, inst.pod.runtime) for inst in ctx.instances
               if inst.current and inst.pod is not None and inst.pod.runtime is not None
               and inst.pod.runtime.status != "unavailable"]
    total = sum(len(i.pods) for i, _ in reports)
    if total < 2:
        return
    names = sorted({n for _, rt in reports for n in rt.fields} - NOT_REPLICA_SKEW)
    for name in names:
        by_value: dict[str, dict] = {}
        for inst, rt in reports:
            f = rt.fields.get(name)
            if f is None:
                continue
            g = by_value.setdefault(repr(f.value), {"value": f.value, "prov": f.prov, "pods": []})
            g["pods"].extend(inst.pods)
        if len(by_value) < 2:
            continue
        ordered = sorted(by_value.values(), key=lambda g: (len(g["pods"]), str(g["value"])))
        odd = ordered[0]
        n_odd = sum(len(g["pods"]) for g in ordered[:-1])
        yield Draft(f"runtime.{name}", Status.DRIFT,
                    f"replicas disagree: {n_odd} of {total} pods report {name} {odd['value']} "
                    f"(the others: {ordered[-1]['value']})",
                    expected=ordered[-1]["value"],
                    observed=[Evidence(value=g["value"], prov=g["prov"], pods=g["pods"], count=len(g["pods"]))
                              for g in ordered],
                    scope=f"{n_odd} of {total} pods", vars={"flag": name})
