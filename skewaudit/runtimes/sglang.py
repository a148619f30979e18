"""SGLang: ``python -m sglang.launch_server --model-path M …`` and ``sglang serve M …``.

Plain argparse (serving-config reference §4): dashes only (``--tp_size`` is rejected, and
said so), ``store_true`` switches, human-readable lengths with case-sensitive SI/IEC
suffixes (``32k`` = 32000, ``32Ki`` = 32768, ``32K`` invalid). ``--disable-radix-cache``
is prefix caching off. The default ``--host 127.0.0.1`` is unreachable from other pods.
"""

from __future__ import annotations

from skewaudit.model.observed import EngineFacts
from skewaudit.runtimes import ContainerInput, begin
from skewaudit.runtimes._argv import Opt, image_repo, locate, scan, sglang_int

ENGINE = "sglang"
# The flag table follows sglang/srt/server_args.py of SGLang 0.4.6.post5 and 0.5.23 (serving-config reference §0).
FLAGS_VERSION = "SGLang 0.4.6.post5 to 0.5.23"
LAUNCH_SERVER = "sglang.launch_server"
DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")

FLAGS: dict[str, Opt] = {
    "--model-path": Opt("model"),
    "--model": Opt("model"),                      # alias in 0.5.x
    "--tokenizer-path": Opt("tokenizer"),
    "--revision": Opt("revision"),
    "--dtype": Opt("dtype", "lower"),
    "--quantization": Opt("quantization", "lower"),
    "--kv-cache-dtype": Opt("kv_cache_dtype", "lower"),
    "--context-length": Opt("max_model_len", "hint"),
    "--tp-size": Opt("tensor_parallel_size", "int"),
    "--tensor-parallel-size": Opt("tensor_parallel_size", "int"),
    # argparse's prefix abbreviation of --tp-size: the LWS SGLang example (kubernetes-sigs/lws
    # docs/examples/sglang/lws.yaml) runs `--tp 2`
    "--tp": Opt("tensor_parallel_size", "int"),
    "--pp-size": Opt("pipeline_parallel_size", "int"),
    "--pipeline-parallel-size": Opt("pipeline_parallel_size", "int"),
    "--dp-size": Opt("data_parallel_size", "int"),
    "--data-parallel-size": Opt("data_parallel_size", "int"),
    "--max-running-requests": Opt("max_num_seqs", "int"),
    "--mem-fraction-static": Opt("gpu_memory_utilization", "float"),
    "--served-model-name": Opt("served_model_name"),
    "--host": Opt("host"),
    "--port": Opt("port", "int"),
    "--trust-remote-code": Opt("trust_remote_code", "bool"),
    "--disable-radix-cache": Opt("enable_prefix_caching", "bool", invert=True),
    "--disable-cuda-graph": Opt("enforce_eager", "bool"),
    "--config": Opt(None, "config"),
    "--api-key": Opt(None, "secret"),
    "--admin-api-key": Opt(None, "secret"),
}
for _s in ("--enable-metrics", "--skip-server-warmup", "--enable-torch-compile", "--disable-custom-all-reduce",
           "--enable-mixed-chunk", "--enable-dp-attention", "--log-requests", "--enable-cache-report",
           "--disable-overlap-schedule", "--enable-p2p-check", "--skip-tokenizer-init", "--is-embedding",
           "--enable-lora", "--disable-cuda-graph-padding", "--enable-ep-moe", "--disable-chunked-prefix-cache",
           "--enable-deterministic-inference", "--show-time-cost"):
    FLAGS[_s] = Opt(None, "bool")

DEFAULTS: dict[str, tuple[object, str | None]] = {
    "model": (None, "required: SGLang does not start without --model-path"),
    "revision": (None, "unpinned: the hub's default branch at download time"),
    "dtype": ("auto", "resolved from the model config"),
    "quantization": (None, "auto-detected from the checkpoint's quantization_config"),
    "kv_cache_dtype": ("auto", "same as the model dtype"),
    "max_model_len": (None, "derived from the model config"),
    "max_num_seqs": (None, "auto: derived from the KV-cache size"),
    "tensor_parallel_size": (1, None),
    "pipeline_parallel_size": (1, None),
    "data_parallel_size": (1, None),
    "gpu_memory_utilization": (None, "auto: chosen from GPU memory and TP size"),
    "enable_prefix_caching": (True, "radix cache on"),
    "port": (30000, None),
    "host": ("127.0.0.1", "SGLang's default"),
    "trust_remote_code": (False, None),
    "enforce_eager": (False, None),
}


def _form(argv: list[str] | None) -> tuple[str, int] | None:
    e = locate(argv)
    if e is None or argv is None:
        return None
    if e.module == LAUNCH_SERVER:
        return LAUNCH_SERVER, e.rest
    if e.prog == "sglang" and argv[e.rest:e.rest + 1] == ["serve"]:
        return "sglang serve", e.rest + 1
    return None


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    form = _form(argv)
    if form:
        return ("argv: python -m " + LAUNCH_SERVER if form[0] == LAUNCH_SERVER else "argv: sglang serve"), "high"
    repo = image_repo(image)
    return (f"image: {repo}", "medium") if "sglang" in repo else None


def parse(ci: ContainerInput) -> EngineFacts:
    argv, paths, fs, entry, start = begin(ci, "SGLang", _form(ci.argv), matches(ci.argv, ci.image, ci.env))
    pos_model = None
    if entry == "sglang serve" and start < len(argv) and not argv[start].startswith("-"):
        pos_model = (argv[start], paths[start])   # `sglang serve M` is rewritten to --model-path M
        start += 1
    sc = scan(argv[start:], paths[start:], FLAGS, engine="SGLang")
    fs.apply(sc, hint=sglang_int)
    if pos_model is not None:
        if "model" in fs.fields:
            fs.notes.append(f"both positional model '{pos_model[0]}' and --model-path given")
        else:
            fs.arg("model", pos_model[0], pos_model[1])
    for tok, _ in sc.positionals:
        fs.unknown.append(tok)
        fs.notes.append(f"unexpected positional argument '{tok}': SGLang rejects it (unrecognized arguments)")
    ctx = fs.fields.get("max_model_len")
    if ctx is not None and ctx.value is not None and ctx.raw is not None:
        fs.annotate("max_model_len", "suffixes need SGLang 0.5+; 0.4.x takes plain integers")
    elif ctx is not None and ctx.value is None and ctx.raw is not None and "$" not in ctx.raw:
        fs.annotate("max_model_len", "SGLang's suffixes are case-sensitive: k/M/G/T (x1000) and Ki/Mi/Gi/Ti (x1024)")
    dtype = fs.fields.get("dtype")
    if dtype is not None and dtype.prov.source == "arg" and (dtype.raw or dtype.value) not in DTYPES:
        fs.annotate("dtype", f"not one of SGLang's --dtype choices ({', '.join(DTYPES)}): it refuses to start")
    model = fs.fields.get("model")
    mval = model.value if model is not None else None
    fs.defaults({**DEFAULTS, "tokenizer": (mval, "defaults to the model path"),
                 "served_model_name": (mval, "defaults to the model path")})
    if fs.fields["model"].value is None and fs.fields["model"].prov.source == "default" and not fs.config_file:
        fs.notes.append("no --model-path: SGLang does not start")
    return fs.build(ENGINE, entry)
