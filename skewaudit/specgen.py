"""``skewaudit init``: write a ModelSpec that captures what is running now.

The "make intent explicit" starting point: every setting that can be observed
is written with the same normalization the differ uses, so the new spec
diffs clean against its own source; what cannot be determined (a model family,
a GPU class the manifests do not pin) is left as a ``# TODO`` comment line
for the owner to fill in, never a placeholder value (a required field left so
makes the spec fail validation until it is filled in; init says so on stderr).
When the pods disagree (mixed node pools, mid-rollout) the majority value is
written with a comment naming the others, or a ``# TODO`` without a majority.

Settings an engine read from env (TGI's ``DTYPE``, ``MODEL_ID``…) are written
once, as engine settings. Secrets are never written: env values that are
redaction markers and flags with secret names or redacted values are left out.
"""

from __future__ import annotations

import re
from typing import Any

from skewaudit import normalize, redact
from skewaudit.errors import printable
from skewaudit.model.observed import ContainerObs, Snapshot, WorkloadObs
from skewaudit.model.spec import ENGINE_NAMES, SKEWAUDIT_API
from skewaudit.specreplicas import Noted, Replicas, Todo, _required, _scalar, plain


def _engine_value(c: ContainerObs, name: str, *, explicit_only: bool = True) -> Any:
    if c.engine is None:
        return None
    f = c.engine.fields.get(name)
    if f is None or f.value is None:
        return None
    if explicit_only and f.prov.source == "default":
        return None
    return f.value


def _parallelism_todo(engine: dict[str, Any], per_replica: int, vendor: str | None, dp: Any = None) -> None:
    """A spec declares tp × pp equal to the accelerators per replica (``validate`` rejects anything
    else). When the running engine uses fewer or more (NIM_TENSOR_PARALLEL_SIZE=2 on an 8-GPU pod,
    GKE's nim-gemma sample), the observed degree is not intent to copy: a TODO naming both, so the
    written spec still validates and ``diff`` reports the mismatch (hardware.parallelism-fits)."""
    tp, pp = engine.get("tensorParallelSize"), engine.get("pipelineParallelSize")
    if not per_replica or not isinstance(tp, int) or (pp is not None and not isinstance(pp, int)):
        return
    if (vendor or "").strip().lower() in ("aws", "amazon", "neuron"):
        return   # Neuron degrees count NeuronCores, the accelerator count devices
    world = tp * (pp or 1)
    if world != per_replica:
        engine.pop("pipelineParallelSize", None)
        how = "fewer than it requests" if world < per_replica else "more than it requests: it cannot start"
        ranks = f"; it also runs data parallel {dp}, which a spec does not declare" if isinstance(dp, int) and dp > 1 \
            else ""
        engine["tensorParallelSize"] = Todo(
            f"tensorParallelSize: the engine runs tp {tp} × pp {pp or 1} = {world} on {per_replica} accelerators per "
            f"replica ({how}); declare the intended degree (tp × pp must equal runtime.accelerator.count){ranks}")


def _engine_env(c: ContainerObs | None) -> set[str]:
    """Env vars the engine parser read a setting from (TGI's MODEL_ID, DTYPE…): written once, as the setting."""
    if c is None or c.engine is None:
        return set()
    out = set()
    for f in c.engine.fields.values():
        if f.prov.source == "env":
            m = re.search(r"env\[([^\]]+)\]", f.prov.path)
            if m:
                out.add(m.group(1))
    return out


def _extra_args(c: ContainerObs | None) -> list[str]:
    """Flags the engine parser did not recognise, as ``--flag`` or ``--flag=value`` (what runtime.extra-args
    compares). Flags with a redacted value are left out: a marker is not intent."""
    if c is None or c.engine is None:
        return []
    toks = list(c.engine.unknown_args)
    out: list[str] = []
    left_out: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        i += 1
        if not tok.startswith("-"):
            continue
        if "=" not in tok and i < len(toks) and not toks[i].startswith("-"):
            tok = f"{tok}={toks[i]}"
            i += 1
        if redact.MARKER_PREFIX in tok or redact.is_secret_name(tok.split("=", 1)[0]):
            left_out.append(tok.split("=", 1)[0])
            continue
        out.append(tok)
    if left_out:
        out.append(Todo(f"flags left out: {', '.join(dict.fromkeys(left_out))} (secret values, redacted by "
                        "skewaudit); pass them from a Kubernetes Secret, not in the spec"))   # type: ignore[arg-type]
    return out


def _family(model_id: str) -> str | None:
    """A family guess from the repository name: ``Llama-3.1-70B-Instruct`` -> ``llama-3.1``,
    ``Qwen2.5-7B-Instruct`` -> ``qwen2.5``: the tokens before the size or the variant."""
    name = model_id.rstrip("/").rsplit("/", 1)[-1].lower()
    out: list[str] = []
    for tok in re.split(r"[-_]", name):
        if not tok or re.fullmatch(r"\d+(\.\d+)?[bmk]|\d+x\d+[bm]|a?\d+(\.\d+)?b", tok) or tok in _VARIANTS:
            break
        out.append(tok)
    return "-".join(out) if out and re.match(r"[a-z]", out[0]) else None


_VARIANTS = frozenset({"instruct", "chat", "base", "hf", "it", "awq", "gptq", "fp8", "int4", "int8", "gguf", "v0.1",
                       "v0.2", "v0.3", "distill"})


def _metric_name(metric: str) -> str:
    """``Resource/cpu Utilization=80`` -> ``cpu``; ``Pods/vllm:num_requests_waiting AverageValue=10`` -> the name."""
    head = metric.split(" ", 1)[0]
    kind, _, name = head.partition("/")
    return name or kind


def _number(text: str) -> int | float | str:
    try:
        f = float(text)
    except ValueError:
        return text
    return int(f) if f.is_integer() else f


def _node_facts(node: Any) -> dict[str, Any]:
    """NVIDIA facts, then other vendors' (AMD, TPU, Gaudi, Neuron) for the keys left open."""
    from skewaudit import accelerators, gpus

    facts = {k: f.value for k, f in gpus.node_gpu_facts(node).items()}
    for k, f in accelerators.node_accel_facts(node).items():
        facts.setdefault(k, f.value)
    return facts


def _accelerator(c: ContainerObs | None) -> tuple[str | None, int, str | None]:
    """(vendor, count per pod, MIG profile) from the container's accelerator resources."""
    from skewaudit import accelerators

    reqs = [r for r in accelerators.accelerator_requests(c.limits, c.requests) if r.vendor] if c else []
    if not reqs:
        return None, 0, None
    vendor = reqs[0].vendor
    mine = [r for r in reqs if r.vendor == vendor]
    return vendor, sum(r.count or 0 for r in mine), next((r.mig_profile for r in mine if r.mig_profile), None)


def _claimed(w: WorkloadObs, c: ContainerObs) -> tuple[str | None, int]:
    """(vendor, devices) a container's DRA claims ask for, when their templates say (else (None, 0))."""
    from skewaudit import accelerators

    found = [w.template.claim_devices.get(n) for n in c.claims]
    if not found or any(d is None or d.count is None for d in found):
        return None, 0
    vendors = {accelerators.dra_class_vendor(d.device_class) for d in found}   # type: ignore[union-attr]
    return (vendors.pop() if len(vendors) == 1 else None), sum(d.count or 0 for d in found)   # type: ignore[union-attr]


def _gpu_class(w: WorkloadObs, snap: Snapshot, rep: Replicas) -> tuple[Any, dict[str, Any]]:
    from skewaudit.model.observed import NodeObs

    facts: dict[str, Any] = {}
    nodes = [(p, rep.nodes[p]) for p, _ in rep.members if rep.nodes.get(p) is not None]
    if nodes:
        per_node = [(p, _node_facts(n)) for p, n in nodes]
        cls = rep.agree_values("accelerator type", [(p, str(f["class"]) if f.get("class") else None)
                                                    for p, f in per_node])
        # Driver and CUDA versions: written only when every node agrees (a mixed pool is a TODO).
        facts = {k: v for k, v in per_node[0][1].items() if all(f.get(k) == v for _, f in per_node)}
        return cls, facts
    else:
        sel = dict(w.template.node_selector)
        for k, vals in w.template.node_affinity.items():
            if len(vals) == 1:
                sel.setdefault(k, vals[0])
        if sel:
            facts = _node_facts(NodeObs(name="template", labels=sel))
    return (str(facts["class"]) if facts.get("class") else None), facts


def _route_settings(w: WorkloadObs, skip: set[str]) -> dict[str, Any]:
    """Timeouts, retries and body limits the routes in front of the workload agree on (HTTPRoute,
    ingress-nginx Ingress, Istio VirtualService); a setting the routes disagree on is a TODO."""
    out: dict[str, Any] = {}
    for key, spec_key in (("timeoutSeconds", "timeoutSeconds"), ("retries", "retries"),
                          ("maxRequestBodyBytes", "maxRequestBodySize")):
        if spec_key in skip:
            continue
        values = {r.settings[key].value for s in w.services for r in s.routes
                  if key in r.settings and r.settings[key].value is not None}
        if len(values) > 1:
            out[spec_key] = Todo(f"{spec_key}: the routes in front of {w.name} disagree ({sorted(values)})")
        elif values:
            v = values.pop()
            if spec_key == "maxRequestBodySize":
                if v == 0:
                    continue   # unlimited: nothing to pin
                v = next((f"{v // m}{u}" for m, u in ((2**30, "Gi"), (2**20, "Mi"), (2**10, "Ki")) if v % m == 0), v)
            out[spec_key] = v
    return out


def build(w: WorkloadObs, snap: Snapshot, rep: Replicas | None = None) -> dict[str, Any]:
    """The spec as nested dicts; ``Todo`` values become comment lines, ``Noted`` ones carry a comment."""
    rep = rep or Replicas(w, snap)
    c = rep.container
    storage = w.extra.get("storageUri")

    def model_of(x: ContainerObs) -> Any:
        m = _engine_value(x, "model", explicit_only=False)
        if isinstance(m, str) and m.startswith("/") and storage is not None and storage.value:
            return str(storage.value)
        return m

    model_id = rep.agree("model id", model_of) if c else None
    gpu_class, gfacts = _gpu_class(w, snap, rep)
    vendor, gpu_count, mig = _accelerator(c)
    if vendor is None and c is not None and c.claims:
        vendor, gpu_count = _claimed(w, c)
    size = w.extra.get("size")
    nodes = size.value if size is not None and isinstance(size.value, int) and size.value > 1 else 1

    model_id, gpu_class = _required(model_id), _required(gpu_class)
    mid = plain(model_id)
    family = _family(mid) if isinstance(mid, str) and not mid.startswith("/") else None
    model: dict[str, Any] = {
        "id": model_id if model_id is not None else Todo("the model id: the engine's model flag was not found",
                                                         required=True),
        "family": family or Todo("model family, e.g. llama-3.1: not readable from the model id", required=True),
        "task": "text-generation",
        "taskTodo": Todo("confirm the task (chat, completion, embedding) and framework above"),
        "framework": "pytorch",
    }
    def engine_value(key: str, field: str, explicit_only: bool = True) -> Any:
        return rep.agree(key, lambda x: _engine_value(x, field, explicit_only=explicit_only)) if c else None

    dtype = engine_value("dtype", "dtype")
    if isinstance(dtype, str) and normalize.dtype(dtype) in ("float16", "bfloat16", "float32"):
        model["precision"] = {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}[normalize.dtype(dtype)]
    for key, field in (("revision", "revision"), ("servedModelName", "served_model_name")):
        v = engine_value(key, field)
        model[key] = v if v is not None else Todo(f"{key}: not set on the engine" + (
            "; pin a commit sha with --revision" if key == "revision" else ""))
    tok, tok_rev = engine_value("tokenizer", "tokenizer"), engine_value("tokenizer revision", "tokenizer_revision")
    if tok or tok_rev:
        model["tokenizer"] = {k: v for k, v in (("id", tok), ("revision", tok_rev)) if v}

    engine: dict[str, Any] = {}
    if c is not None and c.engine is not None:
        from skewaudit.checks.runtime import ENGINE_IMAGES, image_version

        engine["name"] = c.engine.engine if c.engine.engine in ENGINE_NAMES else "other"
        version = image_version(c.image.tag)
        official = ENGINE_IMAGES.get(c.engine.engine)
        if version and official and c.image.repository and c.image.repository.rsplit("/", 1)[-1] not in official:
            # rayproject/ray-llm:2.50.1 versions Ray, not vLLM: the same rule as runtime.engine-version
            engine["version"] = Todo(f"engine version ({c.image.repository} is not an official "
                                     f"{c.engine.engine} image: its tag is the image's own version)")
        else:
            engine["version"] = version if version else Todo("engine version (the image tag does not name one)")
    if c is not None and c.image.ref:
        engine["image"] = rep.agree("image", lambda x: x.image.ref or None)
        digest = rep.agree("image digest", lambda x: None if x.image.digest else x.image.resolved_digest)
        if digest is not None:
            engine["imageDigest"] = digest
    for key, field in (("dtype", "dtype"), ("quantization", "quantization"), ("kvCacheDtype", "kv_cache_dtype"),
                       ("maxModelLen", "max_model_len"), ("maxNumSeqs", "max_num_seqs"),
                       ("maxNumBatchedTokens", "max_num_batched_tokens"),
                       ("tensorParallelSize", "tensor_parallel_size"), ("pipelineParallelSize", "pipeline_parallel_size"),
                       ("gpuMemoryUtilization", "gpu_memory_utilization"), ("enablePrefixCaching", "enable_prefix_caching"),
                       ("gpuLayers", "gpu_layers")):
        v = dtype if key == "dtype" else engine_value(key, field)
        if v is not None:
            engine[key] = v
        elif key == "dtype" and c is not None and c.engine is not None:
            engine[key] = Todo("dtype: not set explicitly (the engine picks it from the checkpoint); pin it")
        elif key == "quantization" and c is not None and c.engine is not None:
            engine[key] = "none"
    _parallelism_todo(engine, gpu_count * nodes, vendor,
                      _engine_value(c, "data_parallel_size") if c is not None else None)
    args = _extra_args(c)
    if args and isinstance(args[-1], Todo):
        engine["argsTodo"] = args.pop()
    if args:
        engine["args"] = args
    runtime: dict[str, Any] = {
        "accelerator": {"vendor": vendor or ("nvidia" if gpu_count else "none"),
                        "type": gpu_class if gpu_class is not None else "cpu", "count": gpu_count * nodes},
    }
    if gpu_count and gpu_class is None:
        runtime["accelerator"]["type"] = Todo("GPU class: no node labels or nodeSelector name it; e.g. a100-80gb "
                                              "(other vendors: mi300x, v5e, gaudi2, inferentia2)", required=True)
    if nodes > 1:
        # a multi-host replica (LeaderWorkerSet group): count is per replica, the pods share it
        runtime["multiHost"] = {"nodesPerReplica": nodes, "gpusPerNode": gpu_count}
    # a redacted value stays in: emit() writes it as a TODO naming the variable, never the marker
    env = {e.name: e.value for e in (c.env if c else []) if e.source == "literal" and e.value is not None
           and e.name not in _engine_env(c)}
    if env:
        runtime["environment"] = {"variables": env}
    if engine:
        runtime["engine"] = engine
    gpu: dict[str, Any] = {}
    if gfacts.get("driver_version"):
        gpu["driverVersion"] = str(gfacts["driver_version"])
    if gfacts.get("cuda_driver_version"):
        gpu["cudaVersion"] = str(gfacts["cuda_driver_version"])
    if mig:
        gpu["migProfile"] = mig
    if gpu:
        runtime["gpu"] = gpu

    serving: dict[str, Any] = {}
    port = engine_value("port", "port", explicit_only=False)
    if port is not None:
        serving["port"] = port
    for probe in (c.probes if c else []):
        if probe.kind in ("readiness", "liveness") and probe.handler == "httpGet":
            p: dict[str, Any] = {}
            if probe.path:
                p["path"] = probe.path
            if probe.port is not None:
                named = {pp.name: pp.container_port for pp in c.ports if pp.name}
                p["port"] = named.get(probe.port, probe.port) if isinstance(probe.port, str) else probe.port
            p["timeoutSeconds"] = probe.timeout_seconds if probe.timeout_seconds is not None else 1
            for key, attr in (("periodSeconds", "period_seconds"), ("initialDelaySeconds", "initial_delay_seconds"),
                              ("failureThreshold", "failure_threshold")):
                if getattr(probe, attr) is not None:
                    p[key] = getattr(probe, attr)
            serving[f"{probe.kind}Probe"] = p
    concurrency = w.extra.get("containerConcurrency")
    if concurrency is not None and concurrency.value:
        serving["maxConcurrency"] = concurrency.value
    elif c is not None and _engine_value(c, "max_concurrent_requests") is not None:
        serving["maxConcurrency"] = _engine_value(c, "max_concurrent_requests")
    timeout = w.extra.get("timeout")
    if timeout is not None and timeout.value is not None:
        serving["timeoutSeconds"] = timeout.value
    serving.update(_route_settings(w, skip=set(serving)))
    scaling: dict[str, Any] = {}
    if w.hpa is not None:
        scaling["minReplicas"] = w.hpa.min_replicas if w.hpa.min_replicas is not None else 1
        if w.hpa.max_replicas is not None:
            scaling["maxReplicas"] = w.hpa.max_replicas
        scaling["metric"] = _metric_name(w.hpa.metrics[0]) if w.hpa.metrics else "cpu"
        target = w.hpa.targets[0].value if w.hpa.targets else None
        if target is not None:   # "5" -> 5: the spec reads a number (or a quantity such as "500m")
            scaling["targetValue"] = _number(target)
    elif w.extra.get("maxReplicas") is not None:
        # the workload's own autoscaler (Knative, Ray Serve, a NIMService's spec.scale.hpa)
        for key in ("minReplicas", "maxReplicas"):
            f = w.extra.get(key)
            if f is not None and isinstance(f.value, int):
                scaling[key] = f.value
        metric = w.extra.get("scaleMetric")
        if metric is not None and isinstance(metric.value, str) and metric.value:
            scaling["metric"] = metric.value
    elif w.replicas is not None and w.replicas.value is not None:
        scaling["replicas"] = w.replicas.value
    orchestration: dict[str, Any] = {}
    if c is not None and c.requests:
        orchestration["requests"] = dict(c.requests)
    if c is not None and c.limits:
        orchestration["limits"] = dict(c.limits)
    if w.template.node_selector:
        orchestration["nodeSelector"] = dict(w.template.node_selector)
    affinity = {k: sorted(v) for k, v in w.template.node_affinity.items() if v and not any(":" in x for x in v)}
    if affinity:
        orchestration["nodeAffinity"] = affinity
    # Only the fields a toleration matches on; an empty one (`{}`) or a non-object item says nothing to check.
    tolerations = [kept for t in w.template.tolerations if isinstance(t, dict)
                   if (kept := {k: v for k, v in t.items() if k in ("key", "operator", "value", "effect")})]
    if tolerations:
        orchestration["tolerations"] = tolerations
    operations = {k: v for k, v in (("serving", serving), ("scaling", scaling), ("orchestration", orchestration)) if v}
    target: dict[str, Any] = {"kind": w.kind if w.kind != "Process" else Todo("kind: local process"), "name": w.name}
    if w.namespace:
        target = {"namespace": w.namespace, **target}
    if c is not None:
        target["container"] = c.name
    if w.kind == "Process":
        target = {}
    spec: dict[str, Any] = {"identity": {"model": model}, "runtime": runtime}
    if operations:
        spec["operations"] = operations
    if target:
        spec["target"] = target
    spec["policyTodo"] = Todo("policy: add severity overrides, ignores (each with a reason) and failOn {unpinned, unverifiable} as needed")
    return {"apiVersion": SKEWAUDIT_API, "kind": "ModelSpec",
            "metadata": {"name": w.name, "description": f"Captured by skewaudit init from {w.object or w.name}"},
            "spec": spec}


def emit(d: dict[str, Any], indent: int = 0) -> list[str]:
    """YAML lines for ``d``, with ``Todo`` values as ``# TODO`` comments."""
    pad = "  " * indent
    out: list[str] = []
    for k, v in d.items():
        if redact.MARKER_PREFIX in str(v.value if isinstance(v, Noted) else v) and not isinstance(v, (dict, list)):
            # never a secret nor its marker: a TODO naming the setting (the model id is required)
            v = Todo(f"{k}: the running value holds a secret (redacted by skewaudit); pass it from a Kubernetes "
                     "Secret, never in the spec", required=k == "id")
        elif isinstance(v, list) and any(isinstance(x, str) and redact.MARKER_PREFIX in x for x in v):
            v = [x for x in v if not (isinstance(x, str) and redact.MARKER_PREFIX in x)]
        k = _scalar(k)   # a key read from a cluster (an env var name) may need quoting
        if isinstance(v, Todo):
            out.append(f"{pad}# TODO {printable(v.why)}" + (" (required: the spec does not validate until it is set)"
                                                if v.required else ""))
        elif isinstance(v, Noted):
            out.append(f"{pad}# {printable(v.comment)}")
            out.append(f"{pad}{k}: {_scalar(v.value)}")
        elif isinstance(v, dict):
            out.append(f"{pad}{k}:")
            out.extend(emit(v, indent + 1))
        elif isinstance(v, list) and any(isinstance(x, dict) for x in v):
            out.append(f"{pad}{k}:")
            for item in v:
                lines = emit(item, indent + 2) if isinstance(item, dict) else []
                if not lines:   # a scalar item, or an empty mapping
                    out.append(f"{pad}  - {_scalar(item) if not isinstance(item, dict) else '{}'}")
                    continue
                out.append(f"{pad}  - {lines[0].strip()}")
                out.extend(lines[1:])
        else:
            out.append(f"{pad}{k}: {_scalar(v)}")
    return out


def _required_todos(d: Any) -> list[str]:
    if isinstance(d, Todo):
        return [d.why] if d.required else []
    if isinstance(d, dict):
        return [x for v in d.values() for x in _required_todos(v)]
    return []


def render(workloads: list[WorkloadObs], snap: Snapshot, notes: list[str] | None = None) -> str:
    """One YAML document per workload. ``notes`` receives what the owner must know (pods that
    disagree, required fields left as TODO), one line each, for stderr."""
    header = ["# yaml-language-server: $schema=https://raw.githubusercontent.com/skewaudit/skewaudit/main/specs/modelspec.schema.json",
              f"# Written by skewaudit init from {snap.source} input. Review every value, then commit it as the intent."]
    docs = []
    for w in workloads:
        rep = Replicas(w, snap)
        spec = build(w, snap, rep)
        docs.append("\n".join(emit(spec)))
        if notes is not None:
            label = w.object or w.name
            notes.extend(f"{label}: {m}" for m in rep.disagreements)
            notes.extend(f"{label}: required field left as a TODO: {why}" for why in _required_todos(spec))
    return "\n".join(header) + "\n" + "\n---\n".join(docs) + "\n"
