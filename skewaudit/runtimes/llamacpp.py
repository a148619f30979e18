"""llama.cpp server (``llama-server``): flags and their ``LLAMA_ARG_*`` env equivalents.

Flags follow the llama.cpp server README (tools/server/README.md, b4000-b6000 era):
``-m/--model`` (a GGUF file) or ``-hf/--hf-repo``, ``-a/--alias`` (the name clients
use), ``-c/--ctx-size`` (0 = the model's trained context), ``-ngl/--gpu-layers/
--n-gpu-layers`` (layers offloaded to the GPU), ``-np/--parallel`` (server slots: the
requests decoded at once), ``-b/--batch-size``, ``-ctk/--cache-type-k``, ``--host``
(default 127.0.0.1, loopback: unreachable from other pods) and ``--port`` (default
8080). Every flag also reads an env var (``LLAMA_ARG_CTX_SIZE`` …); the command line
wins. The weights' quantization is the GGUF type in the file name (``Q4_K_M``).
Defaults that changed between releases (context size, slots, GPU layers) are reported
unknown, with what each era did.
"""

from __future__ import annotations

import re

from skewaudit.model.observed import EngineFacts, Fact
from skewaudit.runtimes import ContainerInput, FactSet, begin
from skewaudit.runtimes._argv import Entrypoint, Opt, image_repo, image_tag, locate, plain_int, scan

ENGINE = "llama-cpp"
FLAGS_VERSION = "llama.cpp llama-server b4000 to b6000 (tools/server/README.md)"
PROGS = ("llama-server", "server")

FLAGS: dict[str, Opt] = {
    "-m": Opt("model"), "--model": Opt("model"),
    "-hf": Opt("model"), "--hf-repo": Opt("model"), "-hfr": Opt("model"),
    "-a": Opt("served_model_name"), "--alias": Opt("served_model_name"),
    "-c": Opt("max_model_len", "int"), "--ctx-size": Opt("max_model_len", "int"),
    "-ngl": Opt("gpu_layers", "int"), "--gpu-layers": Opt("gpu_layers", "int"),
    "--n-gpu-layers": Opt("gpu_layers", "int"),
    "-np": Opt("max_num_seqs", "int"), "--parallel": Opt("max_num_seqs", "int"),
    "-b": Opt("max_num_batched_tokens", "int"), "--batch-size": Opt("max_num_batched_tokens", "int"),
    "-ctk": Opt("kv_cache_dtype", "lower"), "--cache-type-k": Opt("kv_cache_dtype", "lower"),
    "--host": Opt("host"),
    "--port": Opt("port", "int"),
    "--api-key": Opt(None, "secret"),
}
for _s in ("-fa", "--cont-batching", "-cb", "--no-cont-batching", "--mlock", "--no-mmap", "--jinja", "--metrics",
           "--embedding", "--embeddings", "--no-webui", "--slots", "--verbose", "-v", "--no-context-shift"):
    FLAGS[_s] = Opt(None, "bool")

# (field, env var, kind): each flag's LLAMA_ARG_* twin.
ENV: tuple[tuple[str, str, str], ...] = (
    ("model", "LLAMA_ARG_MODEL", "str"), ("model", "LLAMA_ARG_HF_REPO", "str"),
    ("served_model_name", "LLAMA_ARG_ALIAS", "str"), ("max_model_len", "LLAMA_ARG_CTX_SIZE", "int"),
    ("gpu_layers", "LLAMA_ARG_N_GPU_LAYERS", "int"), ("max_num_seqs", "LLAMA_ARG_N_PARALLEL", "int"),
    ("max_num_batched_tokens", "LLAMA_ARG_BATCH", "int"), ("kv_cache_dtype", "LLAMA_ARG_CACHE_TYPE_K", "lower"),
    ("host", "LLAMA_ARG_HOST", "str"), ("port", "LLAMA_ARG_PORT", "int"),
)

DEFAULTS: dict[str, tuple[object, str | None]] = {
    "max_model_len": (None, "4096 in releases up to mid-2025 (0 = the model's trained context); later releases "
                            "read it from the model"),
    "gpu_layers": (None, "0 (CPU only) in older releases; recent ones offload as many layers as fit"),
    "max_num_seqs": (None, "1 slot in older releases; recent ones pick the slot count themselves (-1 = auto)"),
    "max_num_batched_tokens": (2048, None),
    "kv_cache_dtype": ("f16", None),
    "host": ("127.0.0.1", None),
    "port": (8080, None),
    "served_model_name": (None, "the model file's name"),
}

_GGUF = re.compile(r"[-._](?P<q>(?:I?Q\d(?:_[A-Z0-9]+)*)|F16|BF16|F32)(?:-\d+-of-\d+)?\.gguf$", re.I)


def _form(argv: list[str] | None) -> tuple[str, int] | None:
    e = locate(argv)
    if e is None or e.prog not in PROGS:
        return None
    return "llama-server", e.rest


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    e = locate(argv)
    if e is not None and e.prog == "llama-server":
        return "argv: llama-server", "high"
    repo = image_repo(image)
    if "llama.cpp" in repo or "llama-cpp" in repo:
        return f"image: {repo}", "medium"
    return ("env: LLAMA_ARG_MODEL", "low") if "LLAMA_ARG_MODEL" in env else None


def entrypoint(image: str) -> Entrypoint | None:
    repo, tag = image_repo(image), image_tag(image) or ""
    if not (repo.endswith(("ggml-org/llama.cpp", "ggerganov/llama.cpp")) and tag.startswith("server")):
        return None
    return Entrypoint(("/app/llama-server",), "assumed /app/llama-server (the ENTRYPOINT of the :server images)")


def parse(ci: ContainerInput) -> EngineFacts:
    argv, paths, fs, entry, start = begin(ci, "llama.cpp", _form(ci.argv), matches(ci.argv, ci.image, ci.env))
    sc = scan(argv[start:], paths[start:], FLAGS, engine="llama-server")
    fs.apply(sc, hint=plain_int)
    for tok, _ in sc.positionals:
        fs.unknown.append(tok)
        fs.notes.append(f"unexpected argument '{tok}': llama-server takes no positional arguments")
    _env(fs)
    _special(fs)
    fs.defaults(DEFAULTS)
    return fs.build(ENGINE, entry)


def _env(fs: FactSet) -> None:
    for field, name, kind in ENV:
        fs.env_twin(field, name, kind)


def _special(fs: FactSet) -> None:
    ctx = fs.fields.get("max_model_len")
    if ctx is not None and ctx.value == 0:
        fs.fields["max_model_len"] = Fact(None, ctx.prov, raw="0", note="0: the model's trained context length")
    ngl = fs.fields.get("gpu_layers")
    if ngl is not None and isinstance(ngl.value, int) and ngl.value < 0:
        fs.annotate("gpu_layers", "negative: every layer on the GPU")
    model = fs.fields.get("model")
    if model is not None and isinstance(model.value, str):
        m = _GGUF.search(model.value)
        if m is not None:
            fs.fields["quantization"] = Fact(m["q"].lower(), model.prov, raw=model.value,
                                             note="the GGUF type in the model file name")
        elif model.value.endswith(".gguf"):
            fs.fields["quantization"] = Fact(None, model.prov, note="the GGUF file name does not say its type")
