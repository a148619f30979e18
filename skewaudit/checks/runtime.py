"""Runtime checks: the engine, its image and the flags that change numerics or capacity.

Each engine spells a setting differently (vLLM ``--max-model-len``, TGI
``--max-total-tokens``, SGLang ``--context-length``); the runtime parsers map
them onto one field name, so these checks are engine-agnostic.
"""

from __future__ import annotations

import re
from typing import Any

from skewaudit import normalize, redact, units
from skewaudit.checks._base import (
    Ctx, Draft, Instance, Obs, check, compare, engine_field_check, engine_obs, first_declared, runtime_fact,
)
from skewaudit.model.finding import Evidence, Status

_ENGINE_ALIASES = {"text-generation-inference": "tgi", "tgi": "tgi", "vllm": "vllm", "sglang": "sglang",
                   "kserve-hf": "kserve-hf", "huggingfaceserver": "kserve-hf", "triton": "triton",
                   "tensorrt-llm": "tensorrt-llm", "trtllm": "tensorrt-llm", "nim": "nim",
                   "llama-cpp": "llama-cpp", "llama.cpp": "llama-cpp", "llamacpp": "llama-cpp"}


@check("runtime.engine")
def engine(ctx: Ctx):
    """The serving engine is the intended one (vLLM, TGI, SGLang, KServe, Triton)."""
    want = ctx.want("spec.runtime.engine.name")
    if want is None:
        return

    def observe(inst: Instance) -> Obs:
        c = inst.container
        rt = inst.pod.runtime if inst.pod is not None else None
        if rt is not None and rt.status != "unavailable":
            return Obs(value=rt.engine, note=f"the engine answered its own endpoints ({', '.join(rt.endpoints)})")
        if c is None or c.engine is None:
            return Obs(unverifiable=(c.argv_note if c else None) or "no serving engine recognised")
        return Obs(value=c.engine.engine, note=f"detected by {c.engine.detected_by} ({c.engine.confidence} confidence)")

    yield compare(ctx, "spec.runtime.engine.name", want, "str", observe,
                  normalize=lambda v: _ENGINE_ALIASES.get(str(v).lower(), str(v).lower()), what="engine")


_TAG_VERSION = re.compile(r"^v?(\d+(?:\.\d+){1,3})(?:[.-]?(?:post|rc|dev)\d*)?")


def image_version(tag: str | None) -> str | None:
    """The engine version an image tag names (``v0.10.0`` -> ``0.10.0``, ``3.3.6-cu124`` -> ``3.3.6``)."""
    if not tag:
        return None
    m = _TAG_VERSION.match(tag)
    return m.group(1) if m else None


# Image names (last path part) whose tag is the engine's own release: vllm/vllm-openai,
# ghcr.io/huggingface/text-generation-inference, lmsysorg/sglang. Other images of a known
# engine version themselves; their tag is not evidence of the engine version.
ENGINE_IMAGES = {"vllm": ("vllm-openai",), "tgi": ("text-generation-inference",), "sglang": ("sglang",)}


@check("runtime.engine-version")
def engine_version(ctx: Ctx):
    """The engine version (what the engine reports with --probe, else the image tag) satisfies the constraint."""
    want = ctx.want("spec.runtime.engine.version")
    if want is None:
        return

    def observe(inst: Instance) -> Obs:
        rt = runtime_fact(inst, "engine_version")
        if rt is not None:
            # what the engine says it is beats what its image tag suggests
            return Obs(value=image_version(str(rt.value)) or rt.value, prov=rt.prov, note=rt.note or str(rt.value))
        c = inst.container
        if c is None:
            return Obs(unverifiable="no serving container")
        v = image_version(c.image.tag)
        if v is None:
            return Obs(unverifiable=f"image {c.image.ref} has no version tag (a digest or 'latest' hides the version)")
        engine = c.engine.engine if c.engine is not None else None
        official = ENGINE_IMAGES.get(engine or "")
        if official and c.image.repository and c.image.repository.rsplit("/", 1)[-1] not in official:
            # A team's own image (registry/team/mistral-vllm:1.2): its tag versions the image, not the engine.
            return Obs(unverifiable=f"image {c.image.ref} is not an official {engine} image: its tag "
                       f"({c.image.tag}) is the image's own version, not the engine's", prov=_image_prov(ctx, inst))
        return Obs(value=v, note=f"from image tag {c.image.tag}", prov=_image_prov(ctx, inst))

    yield compare(ctx, "spec.runtime.engine.version", str(want), "version", observe, what="engine version")


def _image_prov(ctx: Ctx, inst: Instance):
    from skewaudit.model.observed import Prov

    c = inst.container
    obj = f"Pod/{inst.pod.namespace}/{inst.pod.name}" if inst.pod else ctx.workload.object
    return Prov(source="pod-spec", object=obj, path=f"{c.path}.image" if c and c.path else "image",
                container=c.name if c else "")


def _split_image(ref: str) -> tuple[str, str | None, str | None]:
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
    return ref, tag, digest


def _repo(r: str) -> str:
    r = r.lower()
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/"):
        if r.startswith(prefix):
            return r[len(prefix):]
    return r


@check("runtime.image")
def image(ctx: Ctx):
    """The container image (repository, tag and digest) is the intended one."""
    found = first_declared(ctx, "spec.runtime.engine.image", "spec.runtime.engine.imageDigest")
    if found is None:
        return
    want_ref = ctx.want("spec.runtime.engine.image")
    want_repo, want_tag, want_digest = _split_image(want_ref) if want_ref else (None, None, None)
    want_digest = ctx.want("spec.runtime.engine.imageDigest") or want_digest
    expected = (want_ref or "") if not ctx.want("spec.runtime.engine.imageDigest") or (want_ref and "@" in want_ref) \
        else f"{want_ref or '*'}@{want_digest}"

    def observe(inst: Instance) -> Obs:
        c = inst.container
        if c is None:
            return Obs(unverifiable="no serving container")
        prov = _image_prov(ctx, inst)
        repo, tag, digest = _repo(c.image.repository or _split_image(c.image.ref)[0]), c.image.tag, c.image.digest
        # Repository and tag are compared first: a wrong tag is drift even when no digest is known.
        if (want_repo is not None and repo != _repo(want_repo)) or (want_tag is not None and (tag or "latest") != want_tag):
            return Obs(value=c.image.ref, prov=prov)
        if want_digest is not None:
            running = c.image.resolved_digest or digest
            if running is None:
                return Obs(prov=prov, unverifiable=f"image {c.image.ref} is referenced by tag and no resolved digest "
                           "was collected (live pods report it in status.containerStatuses[].imageID)")
            if c.image.resolved_digest and not digest:
                prov = type(prov)(source="pod-status", object=prov.object,
                                  path="status.containerStatuses[].imageID", container=c.name)
            if running != want_digest:
                return Obs(value=f"{c.image.ref.split('@')[0]}@{running}", prov=prov)
        return Obs(value=expected, prov=prov, note=c.image.ref)

    yield compare(ctx, found[0], expected, "str", observe, what="image")


@check("runtime.image-pinned")
def image_pinned(ctx: Ctx):
    """The running image is pinned: not ``:latest`` or untagged, and by digest when the policy asks."""
    pins = ctx.want("spec.policy.pin")
    want_tag = pins is None or "image-tag" in pins
    want_digest = pins is None or "image-digest" in pins
    latest: list[str] = []
    no_digest: list[str] = []
    ref = None
    for inst in ctx.instances:
        c = inst.container
        if c is None or not c.image.ref:
            continue
        ref = c.image.ref
        if want_tag and not c.image.digest and (c.image.tag in (None, "latest")):
            latest.extend(inst.pods)
        elif want_digest and not c.image.digest:
            no_digest.extend(inst.pods)
    field = "spec.runtime.engine.image"
    if latest:
        yield Draft(field, Status.UNPINNED, f"image {ref} floats: ':latest' or no tag means a restart can pull a "
                    "different engine", observed=[Evidence(value=ref, pods=latest, count=len(latest))], level="warning",
                    vars={"image": ref})
    elif no_digest:
        yield Draft(field, Status.UNPINNED, f"image {ref} is pinned by tag only: a re-pushed tag changes what runs; "
                    "pin the digest (@sha256:…)", observed=[Evidence(value=ref, pods=no_digest, count=len(no_digest))],
                    level="info", vars={"image": ref})


def _dtype_observe(inst: Instance) -> Obs:
    return engine_obs(inst, "dtype", "the dtype")


@check("runtime.dtype")
def dtype(ctx: Ctx):
    """The dtype the engine runs with matches the intended precision (fp16/half/float16 are one)."""
    found = first_declared(ctx, "spec.runtime.engine.dtype", "spec.identity.model.precision")
    if found is None:
        return
    path, want = found
    wants = want if isinstance(want, list) else [want]
    if any(normalize.dtype(w) not in ("float16", "bfloat16", "float32", "auto") for w in wants):
        return  # precision such as int8/int4 is a quantization statement, checked there
    draft = compare(ctx, path, want, "str", _dtype_observe, normalize=_norm_dtype, what="dtype",
                    vars={"flag": "--dtype"})
    # "auto" at run time resolves from the checkpoint config: not the same as a verified match.
    if draft.status == Status.DRIFT and all(_norm_dtype(e.value) == "auto" for e in draft.observed
                                            if e.value is not None and e.pods):
        draft = Draft(path, Status.UNPINNED, f"dtype is 'auto' at run time: the engine picks it from the checkpoint "
                      f"config (and falls back on GPUs without bf16), so intended {want} cannot be verified",
                      expected=want, observed=draft.observed, scope=draft.scope, level="warning",
                      vars={"flag": "--dtype"})
    yield draft


def _norm_dtype(v: Any) -> Any:
    return normalize.dtype(v) or (str(v).lower() if v is not None else None)


@check("runtime.quantization")
def quantization(ctx: Ctx):
    """Quantization is what was validated (an unexpected fp8/awq changes quality)."""
    want = ctx.want("spec.runtime.engine.quantization")
    if want is None:
        return

    def observe(inst: Instance) -> Obs:
        ob = engine_obs(inst, "quantization", "quantization")
        if ob.value is None and ob.prov is not None and ob.prov.source == "default":
            return Obs(value="none", prov=ob.prov,
                       note="not requested by flag (an engine still honours a quantization_config in the checkpoint)")
        return ob

    yield compare(ctx, "spec.runtime.engine.quantization", want, "str", observe,
                  normalize=lambda v: normalize.quantization(v) or str(v).lower(), what="quantization",
                  vars={"flag": "--quantization"})


def _default_auto(ob: Obs) -> Obs:
    if ob.value is None and ob.prov is not None and ob.prov.source == "default":
        return Obs(value="auto", prov=ob.prov, note="engine default: same as the model dtype")
    return ob


check("runtime.kv-cache-dtype")(engine_field_check(
    ("spec.runtime.engine.kvCacheDtype",), "kv_cache_dtype", "str", "KV-cache dtype",
    "The KV-cache dtype is the intended one (fp8 KV cache changes outputs).", flag="--kv-cache-dtype",
    normalize=lambda v: normalize.dtype(v) or str(v).lower(), adjust=_default_auto))
check("runtime.max-model-len")(engine_field_check(
    ("spec.runtime.engine.maxModelLen", "spec.runtime.batch.maxSequenceLengthTokens"), "max_model_len", "tokens",
    "max context length", "The max context length (vLLM --max-model-len, TGI --max-total-tokens, SGLang "
    "--context-length) matches.", flag="--max-model-len"))
check("runtime.max-num-seqs")(engine_field_check(
    ("spec.runtime.engine.maxNumSeqs", "spec.runtime.batch.maxBatchSize"), "max_num_seqs", "int",
    "max running sequences", "Max running sequences (vLLM --max-num-seqs, TGI --max-batch-size, SGLang "
    "--max-running-requests) matches.", flag="--max-num-seqs"))
_TGI_BATCHED = ("TGI has no per-step token budget like --max-num-batched-tokens: --max-batch-prefill-tokens caps the "
                "tokens of one prefill batch, --max-batch-total-tokens the prompt + generated tokens of every running "
                "sequence (the KV-cache budget); neither is the same setting, so maxNumBatchedTokens cannot be "
                "verified on TGI")


@check("runtime.max-batched-tokens")
def max_batched_tokens(ctx: Ctx):
    """Max tokens per scheduler step (vLLM --max-num-batched-tokens, TensorRT-LLM --max_num_tokens) matches;
    unverifiable on TGI, which has no such setting."""
    want = ctx.want("spec.runtime.engine.maxNumBatchedTokens")
    if want is None:
        return

    def observe(inst: Instance) -> Obs:
        c = inst.container
        if c is not None and c.engine is not None and c.engine.engine == "tgi":
            return Obs(unverifiable=_TGI_BATCHED)
        return engine_obs(inst, "max_num_batched_tokens", "max batched tokens")

    yield compare(ctx, "spec.runtime.engine.maxNumBatchedTokens", want, "tokens", observe, what="max batched tokens",
                  vars={"flag": "--max-num-batched-tokens"})
check("runtime.pipeline-parallel")(engine_field_check(
    ("spec.runtime.engine.pipelineParallelSize",), "pipeline_parallel_size", "int", "pipeline parallel size",
    "Pipeline-parallel degree (--pipeline-parallel-size) matches.", flag="--pipeline-parallel-size"))
check("runtime.gpu-memory-utilization")(engine_field_check(
    ("spec.runtime.engine.gpuMemoryUtilization",), "gpu_memory_utilization", "float", "GPU memory fraction",
    "The GPU memory fraction (vLLM --gpu-memory-utilization, SGLang --mem-fraction-static) matches.",
    flag="--gpu-memory-utilization"))


@check("runtime.tensor-parallel")
def tensor_parallel(ctx: Ctx):
    """Tensor-parallel degree matches (TGI: --num-shard, default = all visible GPUs)."""
    want = ctx.want("spec.runtime.engine.tensorParallelSize")
    if want is None:
        return

    def observe(inst: Instance) -> Obs:
        ob = engine_obs(inst, "tensor_parallel_size", "tensor parallel size")
        eng = inst.container.engine if inst.container is not None else None
        # An unread --config file may set it: unverifiable, never "one shard per GPU".
        if ob.value is None and ob.prov is not None and ob.prov.source == "default" and inst.container is not None \
                and (eng is None or eng.config_file is None):
            gpus = inst.container.limits.get("nvidia.com/gpu")
            try:
                n = units.gpu_count(gpus) if gpus is not None else None
            except ValueError:
                n = None
            if n is not None:
                from skewaudit.model.observed import Prov

                return Obs(value=n, note="engine default: one shard per visible GPU",
                           prov=Prov(source="derived", object=ob.prov.object,
                                     path="resources.limits[nvidia.com/gpu]", container=inst.container.name))
        return ob

    yield compare(ctx, "spec.runtime.engine.tensorParallelSize", want, "int", observe, what="tensor parallel size",
                  vars={"flag": "--tensor-parallel-size"})


check("runtime.gpu-layers")(engine_field_check(
    ("spec.runtime.engine.gpuLayers",), "gpu_layers", "int", "GPU layers",
    "The layers offloaded to the GPU (llama.cpp -ngl) are the intended ones: fewer run on the CPU, many times "
    "slower.", flag="-ngl"))


check("runtime.prefix-caching")(engine_field_check(
    ("spec.runtime.engine.enablePrefixCaching",), "enable_prefix_caching", "str", "prefix caching",
    "Prefix caching is on or off as intended (SGLang: --disable-radix-cache).", flag="--enable-prefix-caching",
    normalize=lambda v: str(normalize.boolean(v)).lower()))


# Engines whose parser reads ``--a_b`` as ``--a-b``: vLLM's FlexibleArgumentParser (0.10–0.33,
# serving-config reference §2.2). TGI (clap: kebab-case only, ``--model_id`` is an error),
# SGLang and KServe's huggingfaceserver (plain argparse) keep ``_`` and ``-`` distinct.
_UNDERSCORES_AS_DASHES = frozenset({"vllm"})


def _flag_key(tok: str, dashes: bool = True) -> tuple[str, str | None]:
    flag, _, val = tok.partition("=")
    return (flag.replace("_", "-") if dashes and flag.startswith("--") else flag), (val if "=" in tok else None)


@check("runtime.extra-args")
def extra_args(ctx: Ctx):
    """Every extra argument the spec requires is on the engine's command line."""
    want = ctx.want("spec.runtime.engine.args")
    if not want:
        return
    for i, expected in enumerate(want):
        path = f"spec.runtime.engine.args[{i}]"
        flag, val = _flag_key(expected)
        missing: list[str] = []
        spelled: list[str] = []           # the other spelling present, which the engine does not read as the flag
        wrong: dict[str, list[str]] = {}
        unknown: list[str] = []
        for inst in ctx.instances:
            c = inst.container
            if c is None or c.argv is None:
                unknown.extend(inst.pods)
                continue
            dashes = c.engine is not None and c.engine.engine in _UNDERSCORES_AS_DASHES
            flag = _flag_key(expected, dashes)[0]
            # flags the engine reads from an env string (llm-d VLLM_ADDITIONAL_ARGS) count as on its command line
            tokens = [*c.argv, *(t for t in (c.engine.unknown_args if c.engine is not None else []) if t not in c.argv)]
            argv = [_flag_key(t, dashes) for t in tokens]
            hits = [j for j, (f, _) in enumerate(argv) if f == flag]
            if not hits:
                missing.extend(inst.pods)
                near = next((f for f, _ in argv if f != flag and f.replace("_", "-") == flag.replace("_", "-")), None)
                if near is not None:
                    engine = c.engine.engine if c.engine is not None else "the engine"
                    spelled.append(f"{near} is on the command line, but {engine} does not read it as {flag} "
                                   "(its parser keeps '_' and '-' distinct)")
                continue
            j = hits[-1]
            got = argv[j][1] if argv[j][1] is not None else (tokens[j + 1] if j + 1 < len(tokens) and
                                                             not tokens[j + 1].startswith("-") else None)
            if val is not None and got != val:
                wrong.setdefault(str(got), []).extend(inst.pods)
        if missing or wrong:
            note = spelled[0] if spelled else None
            ev = ([Evidence(value="(absent)", pods=missing, count=len(missing), note=note)] if missing else []) + \
                 [Evidence(value=f"{flag}={v}", pods=p, count=len(p)) for v, p in wrong.items()]
            yield Draft(path, Status.DRIFT, f"required argument {expected} is not on the command line", expected=expected,
                        observed=ev, vars={"flag": flag})
        elif unknown:
            yield Draft(path, Status.UNVERIFIABLE, f"cannot verify argument {expected}: the command line is unknown",
                        expected=expected, reason="command absent: the image ENTRYPOINT decides")
        elif ctx.instances:
            yield Draft(path, Status.MATCH, f"argument {expected} present", expected=expected)


@check("runtime.env")
def env(ctx: Ctx):
    """Environment variables the spec declares are set to the intended values."""
    declared: list[tuple[str, str, Any]] = []
    for base in ("spec.runtime.environment.variables", "spec.runtime.engine.env"):
        for name, value in (ctx.want(base) or {}).items():
            declared.append((f"{base}.{name}", name, value))
    for path, name, value in declared:
        def observe(inst: Instance, name: str = name) -> Obs:
            c = inst.container
            if c is None:
                return Obs(unverifiable="no serving container")
            for e in c.env:
                if e.name == name:
                    from skewaudit.model.observed import Prov

                    obj = f"Pod/{inst.pod.namespace}/{inst.pod.name}" if inst.pod else ctx.workload.object
                    prov = Prov(source="configmap" if e.source == "configmap" else "env", object=obj,
                                path=e.path or f"env[{name}]", container=c.name)
                    if e.source == "secret":
                        return Obs(prov=prov, unverifiable=f"{name} comes from {e.ref}: secret values are never read")
                    if e.value is None:
                        return Obs(prov=prov, unverifiable=f"{name} comes from {e.ref or e.source} (not readable)")
                    return Obs(value=e.value, prov=prov)
            return Obs(value="(unset)", note="not in the container env")
        # A secret written into the spec is compared through its redaction marker, never shown.
        yield compare(ctx, path, redact.value(name, str(value)), "str", observe, what=f"env {name}", vars={"env": name})
