"""Hugging Face TGI: ``text-generation-launcher`` flags and their env equivalents.

The launcher is a clap program where every flag also reads an upper-snake env var
(``--max-total-tokens`` / ``MAX_TOTAL_TOKENS``); the command line wins over env
(serving-config reference §3). Flags are kebab-case only and integers are plain. Pitfalls
reported here: a missing model id serves ``bigscience/bloom-560m``; the official image
sets ``PORT=80`` while the binary defaults to 3000; ``-p`` is documented for two flags;
Kubernetes always sets ``HOSTNAME`` (the pod name), which TGI cannot bind, so it is ignored.
"""

from __future__ import annotations

from skewaudit.model.observed import EngineFacts, Fact
from skewaudit.runtimes import ContainerInput, FactSet
from skewaudit.runtimes._argv import Entrypoint, Opt, image_repo, locate, parse_bool, plain_int, scan
from skewaudit.runtimes._shell import word_split

ENGINE = "tgi"
# The flag table follows text-generation-launcher at TGI commit db931fcf (3.3.6-dev0, after tag v3.3.7;
# launcher/src/main.rs), serving-config reference §0.
FLAGS_VERSION = "TGI 3.3.7"
DEFAULT_MODEL = "bigscience/bloom-560m"
OFFICIAL_IMAGE = "ghcr.io/huggingface/text-generation-inference"
DTYPES = ("float16", "bfloat16")

FLAGS: dict[str, Opt] = {
    "--model-id": Opt("model"),
    "--revision": Opt("revision"),
    "--quantize": Opt("quantization", "lower"),
    "--dtype": Opt("dtype", "lower"),
    "--kv-cache-dtype": Opt("kv_cache_dtype", "lower"),
    "--trust-remote-code": Opt("trust_remote_code", "bool"),
    "--max-input-tokens": Opt("max_input_tokens", "int"),
    "--max-input-length": Opt("max_input_tokens", "int"),     # pre-2.0 name
    "--max-total-tokens": Opt("max_model_len", "int"),
    "--max-batch-size": Opt("max_num_seqs", "int"),
    "--max-concurrent-requests": Opt("max_concurrent_requests", "int"),
    "--num-shard": Opt("tensor_parallel_size", "int"),
    "--cuda-memory-fraction": Opt("gpu_memory_utilization", "float"),
    "--port": Opt("port", "int"),
    "-p": Opt("port", "int"),
    "--hostname": Opt("host"),
    "--api-key": Opt(None, "secret"),
}
for _s in ("--disable-custom-kernels", "--json-output", "--disable-grammar-support", "--enable-prefill-logprobs",
           "--disable-crash-reports"):
    FLAGS[_s] = Opt(None, "bool")

# (field, env var, kind) in the order TGI documents them; two vars may feed one field.
ENV: tuple[tuple[str, str, str], ...] = (
    ("model", "MODEL_ID", "str"), ("revision", "REVISION", "str"), ("quantization", "QUANTIZE", "lower"),
    ("dtype", "DTYPE", "lower"), ("kv_cache_dtype", "KV_CACHE_DTYPE", "lower"),
    ("trust_remote_code", "TRUST_REMOTE_CODE", "bool"), ("max_input_tokens", "MAX_INPUT_TOKENS", "int"),
    ("max_input_tokens", "MAX_INPUT_LENGTH", "int"), ("max_model_len", "MAX_TOTAL_TOKENS", "int"),
    ("max_num_seqs", "MAX_BATCH_SIZE", "int"), ("max_concurrent_requests", "MAX_CONCURRENT_REQUESTS", "int"),
    ("tensor_parallel_size", "NUM_SHARD", "int"), ("gpu_memory_utilization", "CUDA_MEMORY_FRACTION", "float"),
    ("port", "PORT", "int"),
)

DEFAULTS: dict[str, tuple[object, str | None]] = {
    "model": (DEFAULT_MODEL, "no --model-id or MODEL_ID: TGI serves its default model bigscience/bloom-560m"),
    "revision": (None, "unpinned: the hub's default branch at download time"),
    "quantization": (None, "read from the checkpoint's quantization config"),
    "dtype": (None, "the model's dtype"),
    "kv_cache_dtype": (None, "the model's dtype"),
    "trust_remote_code": (False, None),
    "max_input_tokens": (None, "derived from the model config and free memory (max_total_tokens - 1)"),
    "max_model_len": (None, "derived from the model config and free memory"),
    "max_num_seqs": (None, "unset: the batch is bounded by max-batch-total-tokens"),
    "max_concurrent_requests": (128, None),
    "gpu_memory_utilization": (1.0, None),
    "host": ("0.0.0.0", None),
}


GAUDI_IMAGE = "tgi-gaudi"


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    e = locate(argv)
    if e is not None and e.prog in ("text-generation-launcher", "tgi-entrypoint.sh"):
        return f"argv: {e.prog}", "high"
    repo = image_repo(image)
    if _tgi_image(repo):
        return f"image: {repo}", "medium"
    return ("env: MODEL_ID", "low") if "MODEL_ID" in env else None


def _tgi_image(repo: str) -> bool:
    # ghcr.io/huggingface/tgi-gaudi: TGI's Intel Gaudi fork (OPEA's Gaudi manifests run it)
    return "text-generation-inference" in repo or repo.rsplit("/", 1)[-1] == GAUDI_IMAGE


def entrypoint(image: str) -> Entrypoint | None:
    repo = image_repo(image)
    if repo.rsplit("/", 1)[-1] == GAUDI_IMAGE:
        # huggingface/tgi-gaudi Dockerfile (06080efe): ENTRYPOINT ["text-generation-launcher"] (exec form,
        # args passed as written), CMD ["--json-output"]
        return Entrypoint(("text-generation-launcher",), "assumed text-generation-launcher (the tgi-gaudi "
                          "image ENTRYPOINT)")
    if "text-generation-inference" not in repo:
        return None
    how = "/tgi-entrypoint.sh -> text-generation-launcher" if repo.endswith(OFFICIAL_IMAGE.split("/", 1)[1]) \
        else "text-generation-launcher, as in the official TGI image"
    # the official entrypoint runs `text-generation-launcher $@` unquoted: args are word-split
    return Entrypoint(("text-generation-launcher",), f"assumed {how}", split_args=True)


def parse(ci: ContainerInput) -> EngineFacts:
    argv = ci.argv or []
    paths = (list(ci.arg_paths) + [""] * len(argv))[:len(argv)]
    fs = FactSet(ci, "TGI", matches(ci.argv, ci.image, ci.env))
    e = locate(argv)
    start = e.rest if e else 0
    entry = e.prog if e is not None and e.prog in ("text-generation-launcher", "tgi-entrypoint.sh") else None
    tokens, tpaths = argv[start:], paths[start:]
    if entry == "tgi-entrypoint.sh":
        tokens, tpaths, _ = word_split(tokens, tpaths)
    elif argv and entry is None:
        fs.notes.append(f"argv does not run text-generation-launcher ({' '.join(argv[:2])} …): "
                        "flags read from the rest of it")
    sc = scan(tokens, tpaths, FLAGS, engine="TGI")
    groups = fs.apply(sc, hint=plain_int,
                      repeated="clap rejects a repeated option, so the launcher may not start; the last is shown")
    for tok, _ in sc.positionals:
        fs.unknown.append(tok)
        fs.notes.append(f"unexpected argument '{tok}': text-generation-launcher takes no positional arguments")
    if any(h.spelled == "-p" for h in groups.get("port", [])):
        fs.annotate("port", "-p is documented for both --port and --prometheus-port: read as --port")
    _env(fs, ci)
    _shards(fs, ci, sc.unknown)
    _checks(fs, ci)
    fs.defaults({**DEFAULTS, "port": _port_default(ci.image)})
    if fs.fields["model"].prov.source == "default" and fs.fields["model"].value == DEFAULT_MODEL:
        fs.notes.append(DEFAULTS["model"][1] or "")
    return fs.build(ENGINE, "text-generation-launcher" if entry else None)


def _env(fs: FactSet, ci: ContainerInput) -> None:
    """Env equivalents: used when the flag is absent; a differing flag wins with a note."""
    from_env: dict[str, str] = {}
    for field, name, kind in ENV:
        how = fs.env_twin(field, name, kind)
        if how == "set":
            from_env[field] = name
            if name == "MAX_INPUT_LENGTH":
                fs.annotate(field, "MAX_INPUT_LENGTH is the pre-2.0 name of MAX_INPUT_TOKENS")
        elif how == "env":
            fs.notes.append(f"both {from_env.get(field, '?')} and {name} are set: TGI refuses to start with both")
    if "HOSTNAME" in ci.env:
        fs.notes.append("env HOSTNAME is ignored: Kubernetes sets it to the pod name and TGI then binds 0.0.0.0")


def _shards(fs: FactSet, ci: ContainerInput, unknown: list[str]) -> None:
    """``--num-shard`` absent: one shard with ``--sharded false``, else every visible GPU."""
    if "tensor_parallel_size" in fs.fields or ci.argv is None:
        return
    sharded = ci.env.get("SHARDED")
    for i, tok in enumerate(unknown):
        if tok == "--sharded" and i + 1 < len(unknown):
            sharded = unknown[i + 1]
        elif tok.startswith("--sharded="):
            sharded = tok.split("=", 1)[1]
    if sharded is not None and parse_bool(sharded) is False:
        fs.default("tensor_parallel_size", 1, "--sharded false: a single shard")
        return
    cvd = ci.env.get("CUDA_VISIBLE_DEVICES")
    if cvd and cvd.strip().lower() not in ("all", "void", "none", "") and "$" not in cvd:
        n = len([d for d in cvd.split(",") if d.strip()])
        fs.fields["tensor_parallel_size"] = Fact(n, fs.env_prov("CUDA_VISIBLE_DEVICES"), raw=cvd,
                                                 note="no --num-shard: TGI shards across every visible GPU")
        return
    fs.default("tensor_parallel_size", None, "no --num-shard: one shard per GPU visible to the container "
                                             "(TGI counts CUDA_VISIBLE_DEVICES, else NVIDIA_VISIBLE_DEVICES)")


def _checks(fs: FactSet, ci: ContainerInput) -> None:
    dtype, quant = fs.fields.get("dtype"), fs.fields.get("quantization")
    if dtype is not None and dtype.value is not None and dtype.value not in DTYPES:
        fs.annotate("dtype", "TGI accepts only float16 or bfloat16: the launcher refuses to start")
    if dtype is not None and quant is not None and dtype.value is not None and quant.value is not None:
        fs.notes.append("dtype and quantize are both set: TGI refuses --dtype together with --quantize")


def _port_default(image: str) -> tuple[object, str | None]:
    if image_repo(image).endswith(OFFICIAL_IMAGE.split("/", 1)[1]):
        return 80, "the official TGI image sets PORT=80 (the launcher's own default is 3000)"
    return None, "3000 in the launcher; the official image sets PORT=80 and this image may set its own"
