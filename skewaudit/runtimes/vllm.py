"""vLLM: ``vllm serve MODEL …`` and ``python -m vllm.entrypoints.openai.api_server --model M …``.

Parsing follows vLLM's FlexibleArgumentParser (serving-config reference §2.2):
``--flag value`` and ``--flag=value``, underscores read as dashes in long names,
``-tp``/``-pp``/``-dp``/``-q``, ``--no-x`` / ``--disable-x`` for switches, human-readable
integers (``32k`` = 32000, ``32K`` = 32768), last duplicate wins, ``--config FILE``
read from the ConfigMap it is mounted from when the collector can resolve it (:func:`_config_file`;
otherwise noted as not visible). A positional model given to the api_server entry
is silently ignored by vLLM, which then serves its default model: reported as such.
:data:`FLAGS` and :data:`DEFAULTS` are reused by the KServe huggingfaceserver parser.
"""

from __future__ import annotations

import json
import re
import shlex

from skewaudit.model.observed import EngineFacts, Fact, Prov, SourceKind
from skewaudit.runtimes import ContainerInput, FactSet, begin
from skewaudit.runtimes._argv import Entrypoint, Opt, image_repo, image_tag, locate, scan

ENGINE = "vllm"
# The flag table follows the argparse definitions of vLLM 0.10.0 and 0.33.0 (vllm/engine/arg_utils.py; serving-config
# reference §0), with 0.7.x spellings where they differ.
FLAGS_VERSION = "vLLM 0.10.0 to 0.33.0"
DEFAULT_MODEL = "Qwen/Qwen3-0.6B"      # 0.10.0 and 0.33.0; facebook/opt-125m in 0.7.x
API_SERVER = "vllm.entrypoints.openai.api_server"
DTYPES = ("auto", "half", "float16", "bfloat16", "float", "float32")   # argparse choices, lower-case only

FLAGS: dict[str, Opt] = {
    "--model": Opt("model"),
    "--revision": Opt("revision"),
    "--tokenizer": Opt("tokenizer"),
    "--tokenizer-revision": Opt("tokenizer_revision"),
    "--served-model-name": Opt("served_model_name", "names"),
    "--dtype": Opt("dtype", "lower"),
    "--quantization": Opt("quantization", "lower"), "-q": Opt("quantization", "lower"),
    "--kv-cache-dtype": Opt("kv_cache_dtype", "lower"),
    "--max-model-len": Opt("max_model_len", "hint"),
    "--max-num-seqs": Opt("max_num_seqs", "int"),
    "--max-num-batched-tokens": Opt("max_num_batched_tokens", "hint"),
    "--tensor-parallel-size": Opt("tensor_parallel_size", "int"), "-tp": Opt("tensor_parallel_size", "int"),
    "--pipeline-parallel-size": Opt("pipeline_parallel_size", "int"), "-pp": Opt("pipeline_parallel_size", "int"),
    "--data-parallel-size": Opt("data_parallel_size", "int"), "-dp": Opt("data_parallel_size", "int"),
    "--data-parallel-size-local": Opt("data_parallel_size_local", "int"), "-dpl": Opt("data_parallel_size_local", "int"),
    "--gpu-memory-utilization": Opt("gpu_memory_utilization", "float"),
    "--device-memory-utilization": Opt("gpu_memory_utilization", "float"),   # 0.33 alias
    "--enable-prefix-caching": Opt("enable_prefix_caching", "bool"),
    "--port": Opt("port", "int"),
    "--host": Opt("host"),
    "--trust-remote-code": Opt("trust_remote_code", "bool"),
    "--enforce-eager": Opt("enforce_eager", "bool"),
    "--config": Opt(None, "config"),
    "--api-key": Opt(None, "secret"),
    "--hf-token": Opt(None, "secret"),
}
# Switches vLLM has that map to no canonical field: known so they never swallow the
# token after them (kept in unknown_args like every unmapped flag).
for _s in ("--enable-chunked-prefill", "--disable-log-requests", "--enable-log-requests", "--disable-log-stats",
           "--enable-lora", "--enable-auto-tool-choice", "--disable-custom-all-reduce", "--enable-expert-parallel",
           "--disable-frontend-multiprocessing", "--enable-sleep-mode", "--skip-tokenizer-init",
           "--disable-sliding-window", "--async-scheduling", "--enable-prompt-tokens-details",
           "--disable-fastapi-docs", "--enable-server-load-tracking", "--enable-request-id-headers",
           "--disable-uvicorn-access-log", "--enable-log-outputs", "--enable-force-include-usage"):
    FLAGS[_s] = Opt(None, "bool")

DEFAULTS: dict[str, tuple[object, str | None]] = {
    "revision": (None, "unpinned: the hub's default branch at download time"),
    "tokenizer_revision": (None, "unpinned: the hub's default branch at download time"),
    "dtype": ("auto", "resolved from the model config and the GPU (bfloat16 needs compute capability 8.0+)"),
    "quantization": (None, "auto-detected from the checkpoint's quantization_config"),
    "kv_cache_dtype": ("auto", "same as the model dtype"),
    "max_model_len": (None, "derived from the model config"),
    "max_num_seqs": (None, "depends on GPU memory: 256 on A100/L4, 1024 on H100 (vLLM 0.10+)"),
    "max_num_batched_tokens": (None, "depends on GPU memory: 2048 on A100/L4, 8192 on H100, 16384 on B200 "
                                     "(vLLM 0.33)"),
    "tensor_parallel_size": (1, None),
    "pipeline_parallel_size": (1, None),
    "data_parallel_size": (1, None),
    "gpu_memory_utilization": (None, "0.9 in vLLM ≤0.10, 0.92 in 0.33"),
    "enable_prefix_caching": (None, "model-dependent: on for generative models (vLLM 0.10+)"),
    "port": (8000, None),
    "host": (None, "binds all interfaces"),
    "trust_remote_code": (False, None),
    "enforce_eager": (False, None),
}


def _form(argv: list[str] | None) -> tuple[str, int] | None:
    """``(entrypoint, index of the first flag)`` when argv runs a vLLM server entrypoint."""
    e = locate(argv)
    if e is None or argv is None:
        return None
    if e.module == API_SERVER:
        return "api_server", e.rest
    if (e.prog == "vllm" or e.module in ("vllm", "vllm.entrypoints.cli.main")) and argv[e.rest:e.rest + 1] == ["serve"]:
        return "vllm serve", e.rest + 1
    return None


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    form = _form(argv)
    if form:
        return ("argv: python -m " + API_SERVER if form[0] == "api_server" else "argv: vllm serve"), "high"
    repo = image_repo(image)
    return (f"image: {repo}", "medium") if "vllm" in repo else None


def _image_form(image: str) -> tuple[str, bool]:
    """Which entrypoint a ``vllm/vllm-openai`` image runs, and whether the tag makes it certain.

    The ENTRYPOINT was the api_server module up to at least v0.10 (vllm issue #22072) and is
    ``vllm serve`` by v0.26; the release that switched is not verified (reference §12).
    """
    m = re.match(r"v?(\d+)\.(\d+)", image_tag(image) or "")
    if m and (int(m[1]), int(m[2])) <= (0, 10):
        return "api_server", True
    if m and (int(m[1]), int(m[2])) >= (0, 26):
        return "vllm serve", True
    return "vllm serve", False


def entrypoint(image: str) -> Entrypoint | None:
    repo = image_repo(image)
    if not (repo.endswith("vllm/vllm-openai") or repo.rsplit("/", 1)[-1] == "vllm-openai"):
        return None
    form, certain = _image_form(image)
    if form == "api_server":
        return Entrypoint(("python3", "-m", API_SERVER),
                          f"assumed `python3 -m {API_SERVER}` (the image ENTRYPOINT up to ~v0.10)")
    if certain:
        return Entrypoint(("vllm", "serve"), "assumed `vllm serve` (the image ENTRYPOINT in recent releases)")
    return Entrypoint(("vllm", "serve"), "assumed `vllm serve`; older images (up to ~v0.10) ran "
                      f"`python3 -m {API_SERVER}`, which ignores a positional model (switch release unverified)")


def parse(ci: ContainerInput) -> EngineFacts:
    argv, paths, fs, entry, start = begin(ci, "vLLM", _form(ci.argv), matches(ci.argv, ci.image, ci.env))
    sc = scan(argv[start:], paths[start:], FLAGS, engine="vLLM", underscores=True, negate=True)
    groups = fs.apply(sc)
    _additional_args(fs, ci, argv)
    _model(fs, ci, sc.positionals, groups.get("model", []), entry)
    _config_file(fs, ci)
    _special_values(fs)
    model = fs.fields.get("model")
    mval = model.value if model is not None else None
    fs.defaults({
        "model": (DEFAULT_MODEL, "no model given: vLLM serves its default model (Qwen/Qwen3-0.6B in 0.10+, "
                                 "facebook/opt-125m in 0.7)"),
        "tokenizer": (mval, "defaults to the model"),
        "served_model_name": (mval, "defaults to the model"),
        **DEFAULTS,
    })
    served = fs.fields["model"]
    if served.prov.source == "default" and served.value == DEFAULT_MODEL and served.note:
        fs.notes.append(served.note)   # serving a model nobody asked for deserves its own line
    return fs.build(ENGINE, entry)


def _model(fs: FactSet, ci: ContainerInput, pos: list[tuple[str, str]], flag_hits: list,
           entry: str | None) -> None:
    """The model: positional for ``vllm serve``, ``--model`` for api_server (which ignores
    a positional one); extra positionals are kept as unknown."""
    extra = pos
    if entry == "vllm serve" and pos:
        tok, path = pos[0]
        extra = pos[1:]
        if flag_hits:
            fs.notes.append(f"both positional model '{tok}' and --model '{flag_hits[-1].value}' given: "
                            "vllm serve uses the positional one")
        fs.arg("model", tok, path)
        if fs.assumed_entrypoint and not _image_form(ci.image)[1]:
            fs.annotate("model", "if this image's ENTRYPOINT is the older api_server module, this positional "
                                 f"model is ignored and vLLM serves its default model ({DEFAULT_MODEL})")
    elif entry == "vllm serve" and flag_hits and not flag_hits[-1].inline:
        fs.annotate("model", "`vllm serve --model` is deprecated (a warning in 0.33) and rejected by vLLM 0.10 "
                             "(ValueError); pass the model positionally")
    elif entry is None and fs.from_image and pos and not flag_hits:
        # A custom image's ENTRYPOINT is not known: a leading positional is the model under
        # `vllm serve` (today's official ENTRYPOINT), and ignored under the older api_server.
        tok, path = pos[0]
        extra = pos[1:]
        fs.arg("model", tok, path)
        fs.annotate("model", "positional model: served if the image's ENTRYPOINT is `vllm serve`; the older "
                             f"api_server entrypoint ignores it and serves {DEFAULT_MODEL}")
    elif entry == "api_server" and pos:
        tok = pos[0][0]
        extra = pos[1:]
        if flag_hits:
            fs.notes.append(f"positional argument '{tok}' is ignored by the api_server entrypoint "
                            "(the model comes from --model)")
        else:
            msg = (f"positional model '{tok}' is ignored by the api_server entrypoint; vLLM serves its default "
                   f"model ({DEFAULT_MODEL} in 0.10+)")
            fs.default("model", DEFAULT_MODEL, msg)
            fs.notes.append(msg)
    for tok, _ in extra:
        fs.unknown.append(tok)
        fs.notes.append(f"unexpected positional argument '{tok}': vLLM rejects it (unrecognized arguments)")


ADDITIONAL_ARGS = "VLLM_ADDITIONAL_ARGS"


def _additional_args(fs: FactSet, ci: ContainerInput, argv: list[str]) -> None:
    """llm-d / KServe LLMInferenceService: vLLM flags in the ``VLLM_ADDITIONAL_ARGS`` env string,
    which the launcher appends to its own ``vllm serve`` command line (so they win). Skipped
    when the argv already holds them (a ``sh -c`` script that expanded the variable)."""
    text = ci.env.get(ADDITIONAL_ARGS)
    if not text:
        return
    try:
        tokens = shlex.split(text)
    except ValueError:
        fs.notes.append(f"{ADDITIONAL_ARGS} has an unbalanced quote: split on spaces")
        tokens = text.split()
    if not tokens or all(t in argv for t in tokens):
        return
    prov = fs.env_prov(ADDITIONAL_ARGS)
    sub = FactSet(ci, "vLLM", None)
    sub_scan = scan(tokens, [prov.path] * len(tokens), FLAGS, engine=ADDITIONAL_ARGS, underscores=True, negate=True)
    sub.apply(sub_scan)
    for field, f in sub.fields.items():
        before = fs.fields.get(field)
        note = f"from {ADDITIONAL_ARGS}, appended to the launcher's vllm serve command"
        if before is not None and before.value != f.value:
            note += f" (overrides {before.raw or before.value} from {before.prov.where()})"
        fs.fields[field] = Fact(f.value, prov, raw=f.raw, note=f"{note}; {f.note}" if f.note else note)
    fs.unknown.extend(sub.unknown)
    fs.notes.extend(sub.notes)


def _special_values(fs: FactSet) -> None:
    """``--max-model-len auto``/``-1`` and ``--dtype`` outside vLLM's choices."""
    mml = fs.fields.get("max_model_len")
    if mml is not None and mml.prov.source == "arg" and ((mml.raw or "").strip().lower() == "auto" or mml.value == -1):
        fs.arg("max_model_len", None, mml.prov.path, raw=mml.raw or "-1",
               note="auto: the largest length that fits in GPU memory (vLLM 0.13+)")
    dtype = fs.fields.get("dtype")
    if dtype is not None and dtype.prov.source == "arg":
        written = dtype.raw if dtype.raw is not None else dtype.value
        if written not in DTYPES:
            fs.annotate("dtype", f"not one of vLLM's --dtype choices ({', '.join(DTYPES)}): "
                                 "the server refuses to start")


def _config_tokens(values: dict, path: str) -> tuple[list[str], list[str], list[str]]:
    """A ``--config`` mapping as the flags vLLM inserts for it (``FlexibleArgumentParser``,
    vLLM 0.10.0 and 0.33.0, docs ``configuration/serve_args.md``): each key is a long flag
    name; ``true`` is the bare switch, ``false`` its ``--no-`` form, a list its values in
    turn, a mapping a JSON string. Returns (tokens, path per token, notes)."""
    tokens: list[str] = []
    paths: list[str] = []
    notes: list[str] = []
    for key, value in values.items():
        if not isinstance(key, str) or not key.strip():
            notes.append(f"--config key {key!r} is not a flag name: ignored")
            continue
        name, where = key.strip().lstrip("-"), f"{path}.{key}"
        if value is True:
            new = [f"--{name}"]
        elif value is False:
            new = [f"--no-{name}"]
        elif value is None:
            notes.append(f"--config key {key} has no value: ignored")
            continue
        elif isinstance(value, list):
            new = [f"--{name}", *(json.dumps(v) if isinstance(v, (dict, list)) else str(v) for v in value)]
        elif isinstance(value, dict):
            new = [f"--{name}", json.dumps(value, default=str)]
        else:
            new = [f"--{name}", str(value)]
        tokens += new
        paths += [where] * len(new)
    return tokens, paths, notes


def _config_file(fs: FactSet, ci: ContainerInput) -> None:
    """``--config FILE``: its values under the command line (vLLM: CLI > config file >
    defaults), each with the ConfigMap and key it is written in. A file skewaudit cannot
    read (baked into the image, on a Secret volume, its ConfigMap not read) leaves what the
    command line does not set unverifiable, with the reason."""
    path = fs.config_file
    if not path or ci.read_config is None:   # no volumes known (a local process): the file stays unseen
        return
    cf = ci.read_config(path)
    if cf.values is None:
        fs.config_loaded("--config", False, cf.reason or "not readable")
        return
    fs.config_loaded("--config", True)
    tokens, paths, notes = _config_tokens(cf.values, cf.path)
    fs.notes.extend(notes)
    sub = FactSet(ci, "vLLM", None)
    sub.apply(scan(tokens, paths, FLAGS, engine=f"vLLM --config {path}", underscores=True, negate=True))
    fs.unknown.extend(sub.unknown)
    fs.notes.extend(sub.notes)
    for field, f in sub.fields.items():
        prov = Prov(source=SourceKind.CONFIGMAP, object=cf.object, path=f.prov.path, container=ci.container)
        cur = fs.fields.get(field)
        if cur is not None and cur.prov.source != "default":
            if cur.value != f.value:
                shown = f.raw if f.raw is not None else f.value
                fs.annotate(field, f"overrides {shown} from --config {path} ({prov.where()}): the command "
                                   "line wins")
            continue
        note = f"from --config {path}"
        fs.fields[field] = Fact(f.value, prov, raw=f.raw, note=f"{note}; {f.note}" if f.note else note)
