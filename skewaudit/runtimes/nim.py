"""NVIDIA NIM for LLMs: ``NIM_*`` env, the selected model profile, and ``nim-serve`` args.

NIM resolves its configuration in layers (NIM for LLMs docs, "Advanced Configuration"):
arguments after ``nim-serve`` (vLLM's CLI format) win over ``NIM_PASSTHROUGH_ARGS``
(the same format, as one env string), which win over the ``NIM_*`` variables
(``NIM_MAX_MODEL_LEN``, ``NIM_TENSOR_PARALLEL_SIZE``, ``NIM_SERVED_MODEL_NAME``, …), which
win over the tags of the model profile NIM selects (``NIM_MODEL_PROFILE``: a readable
name such as ``vllm-bf16-tp2-pp1`` or ``tensorrt_llm-h100-fp8-tp2-pp1-latency`` carries
the backend, precision, TP and PP; a 64-hex profile id carries nothing readable). What
none of them sets is chosen by NIM for the GPUs it finds: unverifiable, with that note.
The server listens on ``NIM_SERVER_PORT`` (default 8000).
"""

from __future__ import annotations

import re
import shlex

from skewaudit.model.observed import EngineFacts, Fact, Prov, SourceKind
from skewaudit.runtimes import ContainerInput, FactSet
from skewaudit.runtimes._argv import image_repo, locate, scan
from skewaudit.runtimes.vllm import FLAGS as VLLM_FLAGS

ENGINE = "nim"
FLAGS_VERSION = "NVIDIA NIM for LLMs 1.8 (NIM_* environment variables)"
DEFAULT_PORT = 8000
PROFILE_DECIDES = "not set: NIM picks it from the selected model profile and the GPUs it finds"

# (field, env var, kind) from the NIM for LLMs environment-variable reference.
ENV: tuple[tuple[str, str, str], ...] = (
    ("model", "NIM_MODEL_NAME", "str"), ("model", "NIM_MODEL_PATH", "str"),
    ("served_model_name", "NIM_SERVED_MODEL_NAME", "str"),
    ("max_model_len", "NIM_MAX_MODEL_LEN", "int"),
    ("tensor_parallel_size", "NIM_TENSOR_PARALLEL_SIZE", "int"),
    ("pipeline_parallel_size", "NIM_PIPELINE_PARALLEL_SIZE", "int"),
    ("max_num_seqs", "NIM_MAX_NUM_SEQS", "int"),
    ("enable_prefix_caching", "NIM_ENABLE_KV_CACHE_REUSE", "bool"),
    ("enable_prefix_caching", "NIM_ENABLE_PREFIX_CACHING", "bool"),
    ("kv_cache_dtype", "NIM_KV_CACHE_DTYPE", "lower"),
    ("port", "NIM_SERVER_PORT", "int"),
)

_PROFILE = re.compile(r"^(?P<backend>vllm|sglang|tensorrt_llm|trtllm)(?:-[a-z0-9_]+?)*?-(?P<prec>bf16|fp16|fp8|int8|"
                      r"int4|int4_awq|mxfp4|nvfp4|awq|gptq)-tp(?P<tp>\d+)-pp(?P<pp>\d+)")
_PREC = {"bf16": ("bfloat16", None), "fp16": ("float16", None), "fp8": (None, "fp8"), "int8": (None, "int8"),
         "int4": (None, "int4"), "int4_awq": (None, "awq"), "awq": (None, "awq"), "gptq": (None, "gptq"),
         "mxfp4": (None, "mxfp4"), "nvfp4": (None, "nvfp4")}


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    e = locate(argv)
    if e is not None and e.prog == "nim-serve":
        return "argv: nim-serve", "high"
    repo = image_repo(image)
    if repo.startswith("nvcr.io/nim/") or "/nim/" in repo:
        return f"image: {repo}", "medium"
    return ("env: NIM_MODEL_PROFILE", "low") if "NIM_MODEL_PROFILE" in env else None


def parse(ci: ContainerInput) -> EngineFacts:
    argv = ci.argv or []
    paths = (list(ci.arg_paths) + [""] * len(argv))[:len(argv)]
    fs = FactSet(ci, "NIM", matches(ci.argv, ci.image, ci.env))
    e = locate(argv)
    entry = "nim-serve" if e is not None and e.prog == "nim-serve" else None
    if entry is not None:   # highest priority: nim-serve arguments, vLLM's CLI format
        sc = scan(argv[e.rest:], paths[e.rest:], VLLM_FLAGS, engine="nim-serve", underscores=True, negate=True)
        fs.apply(sc)
        fs.unknown.extend(t for t, _ in sc.positionals)
    _passthrough(fs, ci)
    _env(fs, ci)
    _profile(fs, ci)
    _model_from_image(fs, ci)
    # NIM is configured through env: an unknown argv (the image's own launcher) hides nothing
    for field, (value, note) in {"port": (DEFAULT_PORT, None),
                                 **{f: (None, PROFILE_DECIDES) for f in (
                                     "dtype", "quantization", "max_model_len", "max_num_seqs", "tensor_parallel_size",
                                     "pipeline_parallel_size")}}.items():
        if field not in fs.fields:
            fs.default(field, value, note)
    return fs.build(ENGINE, entry)


def _set_if_absent(fs: FactSet, field: str, fact: Fact, source_name: str) -> None:
    current = fs.fields.get(field)
    if current is None:
        fs.fields[field] = fact
    elif fact.value is not None and current.value is not None and fact.value != current.value:
        fs.notes.append(f"{field}: {source_name}={fact.raw or fact.value} is overridden by a higher-priority "
                        f"setting ({current.prov.where()})")


def _passthrough(fs: FactSet, ci: ContainerInput) -> None:
    """``NIM_PASSTHROUGH_ARGS``: vLLM CLI arguments in one env string."""
    text = ci.env.get("NIM_PASSTHROUGH_ARGS")
    if not text:
        return
    try:
        tokens = shlex.split(text)
    except ValueError:   # an unbalanced quote: the NIM launcher would fail the same way
        fs.notes.append("NIM_PASSTHROUGH_ARGS has an unbalanced quote: split on spaces")
        tokens = text.split()
    prov = fs.env_prov("NIM_PASSTHROUGH_ARGS")
    sc = scan(tokens, [prov.path] * len(tokens), VLLM_FLAGS, engine="NIM_PASSTHROUGH_ARGS", underscores=True,
              negate=True)
    sub = FactSet(ci, "NIM", None)
    sub.apply(sc)
    for field, f in sub.fields.items():
        _set_if_absent(fs, field, Fact(f.value, prov, raw=f.raw, note=_join("from NIM_PASSTHROUGH_ARGS", f.note)),
                       "NIM_PASSTHROUGH_ARGS")
    fs.unknown.extend(sub.unknown)


def _env(fs: FactSet, ci: ContainerInput) -> None:
    for field, name, kind in ENV:
        fact = fs.env(name, kind)
        if fact is not None:
            _set_if_absent(fs, field, fact, name)


def _profile(fs: FactSet, ci: ContainerInput) -> None:
    """The readable profile name's tags: backend, precision, TP, PP (lowest priority before defaults)."""
    name = ci.env.get("NIM_MODEL_PROFILE")
    if not name:
        return
    prov = fs.env_prov("NIM_MODEL_PROFILE")
    m = _PROFILE.match(name.strip().lower())
    if m is None:
        fs.notes.append(f"NIM_MODEL_PROFILE={name}: a profile id, not a readable name; its precision and "
                        "parallelism are in the container's model manifest (list-model-profiles), not visible here")
        return
    note = f"from the profile tags of NIM_MODEL_PROFILE={name}"
    dtype, quant = _PREC[m["prec"]]
    for field, value in (("tensor_parallel_size", int(m["tp"])), ("pipeline_parallel_size", int(m["pp"])),
                         ("dtype", dtype), ("quantization", quant)):
        if value is not None:
            _set_if_absent(fs, field, Fact(value, prov, raw=name, note=note), "NIM_MODEL_PROFILE")
    if quant is None and "quantization" not in fs.fields:
        fs.fields["quantization"] = Fact("none", prov, raw=name, note=f"{note}: {m['prec']} weights, unquantized")
    fs.notes.append(f"model profile {name}: backend {m['backend']}, {m['prec']}, tp{m['tp']}, pp{m['pp']}")


def _model_from_image(fs: FactSet, ci: ContainerInput) -> None:
    """A model-specific NIM serves the model its image names (``nvcr.io/nim/meta/llama-3.1-8b-instruct``)."""
    if "model" in fs.fields:
        return
    repo = image_repo(ci.image)
    if not repo.startswith("nvcr.io/nim/"):
        return
    name = repo[len("nvcr.io/nim/"):]
    if name.startswith("nvidia/llm-nim") or name.count("/") != 1:
        fs.fields["model"] = Fact(None, Prov(source=SourceKind.POD_SPEC, object=ci.object, path="image",
                                             container=ci.container),
                                  note="a model-free NIM: NIM_MODEL_NAME / NIM_MODEL_PATH names the model")
        return
    fs.fields["model"] = Fact(name, Prov(source=SourceKind.POD_SPEC, object=ci.object, path="image",
                                         container=ci.container),
                              note=f"the model-specific NIM image {repo} serves this model")


def _join(a: str | None, b: str | None) -> str | None:
    return "; ".join(x for x in (a, b) if x) or None
