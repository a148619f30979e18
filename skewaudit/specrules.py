"""Cross-field rules of a ModelSpec: what types alone cannot say.

tensor × pipeline parallel equals the GPU count, min ≤ max replicas, dtype and
quantization names the declared engine accepts, a GPU class consistent with the
accelerator type, token-unit and float-version pitfalls, policy entries that name
real checks and fields, secret-looking values. Each rule yields ``(level, path
parts, message)``; errors make the spec invalid, warnings are printed and the
spec is still used. Called by :mod:`skewaudit.specfile` for every loaded spec.
"""

from __future__ import annotations

import re
import typing
from typing import Any, Iterable

from skewaudit import redact
from skewaudit.specfile import LoadedSpec, _fields, _model_at, _strip, join_path, split_path, suggest

# Each yields (level, path parts, message). Errors make the spec invalid for
# every command; warnings are printed and the spec is still used.

ENGINE_TITLES = {"vllm": "vLLM", "tgi": "TGI", "sglang": "SGLang", "kserve-hf": "KServe huggingfaceserver",
                 "triton": "Triton", "tensorrt-llm": "TensorRT-LLM"}
_LOWER_K = re.compile(r"(\d+(?:\.\d+)?)k\b")
_ENGINE = ["spec", "runtime", "engine"]


def _each(value: Any) -> list[tuple[int | None, Any]]:
    """(index or None, value) for a value that may be one value, a list (a set), or absent."""
    if value is None:
        return []
    return list(enumerate(value)) if isinstance(value, list) else [(None, value)]


def _at(base: list[str | int], index: int | None) -> list[str | int]:
    return base if index is None else base + [index]


def rules(loaded: LoadedSpec) -> Iterable[tuple[str, list[str | int], str]]:
    spec = loaded.spec
    yield from _parallelism(spec)
    yield from _replicas(spec)
    yield from _engine_names(spec)
    yield from _gpu_class(spec)
    yield from _token_units(spec)
    yield from _image(spec)
    yield from _float_versions(loaded)
    yield from _policy(spec)
    yield from _secrets(spec)
    yield from _device_counts(spec)


def _parallelism(spec: Any) -> Iterable[tuple[str, list, str]]:
    rt = spec.spec.runtime
    acc = rt.accelerator.count
    if rt.gpu is not None and rt.gpu.count is not None and rt.gpu.count != acc:
        yield ("error", ["spec", "runtime", "gpu", "count"],
               f"{rt.gpu.count} GPUs here but runtime.accelerator.count is {acc}; they describe the same GPUs")
    mh, nodes = rt.multi_host, spec.nodes_per_replica
    if mh is not None:
        if mh.gpus_per_node is not None and mh.gpus_per_node * nodes != spec.gpu_count:
            yield ("error", ["spec", "runtime", "multiHost", "gpusPerNode"],
                   f"gpusPerNode × nodesPerReplica = {mh.gpus_per_node} × {nodes} = {mh.gpus_per_node * nodes}, but "
                   f"runtime.accelerator.count (per replica) is {spec.gpu_count}")
            return
        if mh.gpus_per_node is None and spec.gpu_count % nodes:
            yield ("error", ["spec", "runtime", "multiHost", "nodesPerReplica"],
                   f"{spec.gpu_count} accelerators per replica do not split evenly over {nodes} nodes; "
                   "declare multiHost.gpusPerNode")
            return
    e = rt.engine
    if e is None or (e.tensor_parallel_size is None and e.pipeline_parallel_size is None):
        return
    if rt.accelerator.vendor.strip().lower() in ("aws", "amazon", "neuron"):
        return   # Neuron parallelism counts NeuronCores, accelerator.count devices (2+ cores each)
    tp, pp = e.tensor_parallel_size or 1, e.pipeline_parallel_size or 1
    world = spec.gpus_per_node * nodes
    if tp * pp != world:
        field = "tensorParallelSize" if e.tensor_parallel_size is not None else "pipelineParallelSize"
        if mh is not None:
            yield ("error", _ENGINE + [field], f"tensorParallelSize × pipelineParallelSize = {tp} × {pp} = {tp * pp}, "
                   f"but GPUs per node × nodes per replica = {spec.gpus_per_node} × {nodes} = {world}; each replica "
                   "uses exactly tp × pp GPUs")
            return
        source = "runtime.gpu.count" if rt.gpu is not None and rt.gpu.count is not None else "runtime.accelerator.count"
        yield ("error", _ENGINE + [field], f"tensorParallelSize × pipelineParallelSize = {tp} × {pp} = {tp * pp}, "
               f"but {source} is {spec.gpu_count}; each replica uses exactly tp × pp GPUs")


def _replicas(spec: Any) -> Iterable[tuple[str, list, str]]:
    ops = spec.spec.operations
    s = ops.scaling if ops is not None else None
    if s is not None and s.min_replicas is not None and s.max_replicas is not None and s.min_replicas > s.max_replicas:
        yield ("error", ["spec", "operations", "scaling", "minReplicas"],
               f"minReplicas ({s.min_replicas}) is greater than maxReplicas ({s.max_replicas})")


def _engine_names(spec: Any) -> Iterable[tuple[str, list, str]]:
    from skewaudit import normalize

    e = spec.spec.runtime.engine
    if e is None:
        return
    engine = spec.engine_name
    title = ENGINE_TITLES.get(engine or "", engine)
    for field, canon, table, noun in (("dtype", normalize.dtype, normalize.ENGINE_DTYPES, "dtype"),
                                      ("quantization", normalize.quantization, normalize.ENGINE_QUANTIZATIONS,
                                       "quantization")):
        valid = table.get(engine or "")
        for i, v in _each(getattr(e, field)):
            if field == "quantization" and str(v).strip().lower() == "none":
                continue  # skewaudit's own word: "must run unquantized"
            c = canon(v)
            if valid is None:
                if c is None:
                    # dtype names are few and stable; quantization methods appear every release
                    level = "error" if field == "dtype" else "warning"
                    yield (level, _at(_ENGINE + [field], i), f"unknown {noun} {v!r}")
                continue
            if v in valid:
                continue
            same = sorted(s for s in valid if c is not None and canon(s) == c)
            if same:
                use = c if c in same else same[0]
                yield ("error", _at(_ENGINE + [field], i), f"{title} does not accept {noun} {v!r}; use {use!r}")
            else:
                # A known name the engine lacks (TGI float32) gets the valid list, not a look-alike.
                near = suggest(str(v), valid) if c is None else None
                tail = f"did you mean {near!r}?" if near else (
                    "valid: " + ", ".join(sorted(valid)) if len(valid) <= 12 else "see the engine's documentation")
                yield ("error", _at(_ENGINE + [field], i), f"{title} does not accept {noun} {v!r}; {tail}")


def _gpu_class(spec: Any) -> Iterable[tuple[str, list, str]]:
    from skewaudit import gpus, normalize

    rt, model = spec.spec.runtime, spec.spec.identity.model
    declared = [(["spec", "runtime", "accelerator", "type"], rt.accelerator.type)]
    if rt.gpu is not None and rt.gpu.gpu_class:
        declared.append((["spec", "runtime", "gpu", "class"], rt.gpu.gpu_class))
    if rt.accelerator.vendor.strip().lower() not in ("nvidia", ""):
        yield from _other_vendor(rt.accelerator)
        return  # the GPU class table below is NVIDIA's
    for where, name in declared:
        if gpus.lookup(name) is None:
            yield ("warning", where, f"unknown GPU class {name!r}; the audit cannot compare it (known names look "
                   "like a100-80gb, h100, l4, t4)")
    if len(declared) == 2 and gpus.same_class(declared[0][1], declared[1][1]) is False:
        yield ("error", declared[1][0], f"{declared[1][1]!r} is not the same GPU class as runtime.accelerator.type "
               f"{declared[0][1]!r}")
    cls = gpus.lookup(declared[-1][1])
    if cls is None or cls.bf16:
        return
    places: list[list] = []
    if model.precision and normalize.dtype(model.precision) == "bfloat16":
        places.append(["spec", "identity", "model", "precision"])
    e = rt.engine
    if e is not None:
        places += [_at(_ENGINE + ["dtype"], i) for i, v in _each(e.dtype) if normalize.dtype(v) == "bfloat16"]
    for where in places:
        yield ("warning", where, f"bfloat16 declared but {cls.key} GPUs have no bfloat16 support (compute capability "
               f"{cls.compute_capability}); engines refuse to start or fall back to float16: declare float16")


def _other_vendor(acc: Any) -> Iterable[tuple[str, list, str]]:
    """AMD, Google TPU, Intel Gaudi and AWS Neuron accelerators: the vendor and type must be ones
    the accelerator table knows, or the audit can compare neither (a warning, never an error)."""
    from skewaudit import accelerators

    vendor = accelerators.canonical_vendor(acc.vendor)
    if vendor is None:
        yield ("warning", ["spec", "runtime", "accelerator", "vendor"], f"unknown accelerator vendor {acc.vendor!r}; "
               "known: nvidia, amd, google (TPU), intel (Gaudi), aws (Neuron): class and count are unverifiable")
        return
    cls = accelerators.lookup(acc.type)
    if cls is None or cls.vendor != vendor:
        known = ", ".join(k for k, c in accelerators.classes.CLASSES.items() if c.vendor == vendor)
        yield ("warning", ["spec", "runtime", "accelerator", "type"], f"unknown {vendor} accelerator type "
               f"{acc.type!r}; the audit cannot compare it (known: {known})")


def _token_units(spec: Any) -> Iterable[tuple[str, list, str]]:
    rt = spec.spec.runtime
    fields = []
    if rt.batch is not None:
        fields.append((["spec", "runtime", "batch", "maxSequenceLengthTokens"], rt.batch.max_sequence_length_tokens))
    if rt.engine is not None:
        fields += [(_ENGINE + ["maxModelLen"], rt.engine.max_model_len),
                   (_ENGINE + ["maxNumBatchedTokens"], rt.engine.max_num_batched_tokens)]
    for base, value in fields:
        for i, v in _each(value):
            m = _LOWER_K.search(v) if isinstance(v, str) else None
            if m:
                n = float(m.group(1))
                yield ("warning", _at(base, i), f"{m.group(1)}k means {n * 1000:.0f} tokens; write "
                       f"{m.group(1)}K or {n * 1024:.0f} for {n * 1024:.0f}")


def _image(spec: Any) -> Iterable[tuple[str, list, str]]:
    e = spec.spec.runtime.engine
    if e is None or not e.image or not e.image_digest or "@" not in e.image:
        return
    in_ref = e.image.rsplit("@", 1)[1]
    if in_ref != e.image_digest:
        yield ("error", _ENGINE + ["imageDigest"], f"differs from the digest in image ({in_ref[:19]}…)")


def _float_versions(loaded: LoadedSpec) -> Iterable[tuple[str, list, str]]:
    rt = loaded.spec.spec.runtime
    candidates = []
    if rt.engine is not None:
        candidates.append((_ENGINE + ["version"], rt.engine.version))
    if rt.gpu is not None:
        candidates += [(["spec", "runtime", "gpu", "driverVersion"], rt.gpu.driver_version),
                       (["spec", "runtime", "gpu", "cudaVersion"], rt.gpu.cuda_version)]
    for base, value in candidates:
        for i, v in _each(value):
            if isinstance(v, float):
                written = loaded._source.scalar_text(loaded.doc_index, _at(base, i))
                if written is not None and written != repr(v):
                    yield ("warning", _at(base, i), f"YAML reads {written} as the number {v!r}; quote versions "
                           f"(\"{written}\")")


def _policy(spec: Any) -> Iterable[tuple[str, list, str]]:
    import datetime

    p = spec.spec.policy
    if p is None:
        return
    for cid in p.severity or {}:
        bad = _check_id(cid)
        if bad:
            yield ("error", ["spec", "policy", "severity", cid, "[key]"], bad)
    today = datetime.date.today()
    for i, ig in enumerate(p.ignore or ()):
        base = ["spec", "policy", "ignore", i]
        if ig.check:
            bad = _check_id(ig.check)
            if bad:
                yield ("error", base + ["check"], bad)
        if ig.field:
            bad = _check_field_path(ig.field)
            if bad:
                yield ("error", base + ["field"], bad)
        if ig.expires is not None and ig.expires < today:
            yield ("warning", base + ["expires"], f"this ignore expired on {ig.expires.isoformat()} and no longer "
                   "applies")


def _check_id(cid: str) -> str | None:
    """None if ``cid`` names a check (an id, an alias, or a glob such as 'runtime.*'), else why not."""
    import fnmatch

    from skewaudit.playbook import load_playbook

    book = load_playbook()
    known = set(book) | {a for info in book.values() for a in info.aliases}
    if cid in known or (any(c in cid for c in "*?[") and fnmatch.filter(known, cid)):
        return None
    hint = suggest(cid, known)
    return f"unknown check id {cid!r}" + (f"; did you mean {hint!r}?" if hint else " (skewaudit checks lists them)")


def _check_field_path(dotted: str) -> str | None:
    """None if ``dotted`` names a ModelSpec field (by YAML name), else why not."""
    parts = split_path(dotted)
    for n in range(1, len(parts) + 1):
        parent, name = parts[: n - 1], parts[n - 1]
        if isinstance(name, int):
            continue
        cls = _model_at(parent)
        if cls is None:
            # Below a map (labels, env, requests) any key is fine; below a scalar nothing is.
            owner = _model_at(parent[:-1]) if parent else None
            field = _fields(owner).get(str(parent[-1])) if owner is not None and parent else None
            if field is not None and typing.get_origin(_strip(field.annotation)) in (dict, list):
                return None
            return f"no field {join_path(parts[:n])!r} in a ModelSpec"
        if name not in _fields(cls):
            hint = suggest(str(name), _fields(cls))
            return f"no field {join_path(parts[:n])!r} in a ModelSpec" + (f"; did you mean {hint!r}?" if hint else "")
    return None


def _secrets(spec: Any) -> Iterable[tuple[str, list, str]]:
    rt = spec.spec.runtime
    maps = []
    if rt.environment is not None and rt.environment.variables:
        maps.append((["spec", "runtime", "environment", "variables"], rt.environment.variables))
    if rt.engine is not None and rt.engine.env:
        maps.append((_ENGINE + ["env"], rt.engine.env))
    for base, env in maps:
        for k, v in env.items():
            if redact.value(k, v) != v:
                yield ("warning", base + [k], "looks like a secret value; keep credentials out of spec files "
                       "(the audit never prints them, but the file is plain text)")


def _device_counts(spec: Any) -> Iterable[tuple[str, list, str]]:
    """A device resource (``nvidia.com/gpu``…) is a whole number: '500m' GPUs is a valid quantity
    the API server would refuse for a device."""
    from skewaudit import constraints, units

    o = spec.spec.operations
    orch = o.orchestration if o is not None else None
    for kind in ("requests", "limits"):
        for name, v in ((getattr(orch, kind, None) or {}) if orch is not None else {}).items():
            if not str(name).startswith(units.DEVICE_RESOURCE_PREFIXES):
                continue
            try:
                if constraints.compile(v, "quantity").is_exact:
                    units.gpu_count(v)
            except ValueError as e:
                yield ("error", ["spec", "operations", "orchestration", kind, name], str(e))
