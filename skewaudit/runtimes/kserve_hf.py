"""KServe Hugging Face runtime: ``python -m huggingfaceserver --model_id … [vLLM engine args]``.

Its own flags use underscores (``--model_id``, ``--model_revision``, ``--max_model_len``);
with the vLLM backend every vLLM engine arg is accepted too, read here through
:data:`skewaudit.runtimes.vllm.FLAGS` (serving-config reference §6.3). ``--model_id`` wins
over ``--model_dir`` (default ``/mnt/models``, where KServe mounts ``storageUri``);
``--served-model-name`` wins over ``--model_name``. An args item holding a flag and its
value with a space between (``"--num-speculative-tokens 5"``, as in KServe's own README) is
split, with a note.
"""

from __future__ import annotations

from skewaudit import redact
from skewaudit.model.observed import EngineFacts
from skewaudit.runtimes import ContainerInput, FactSet, vllm
from skewaudit.runtimes._argv import Entrypoint, Opt, image_repo, locate, scan

ENGINE = "kserve-hf"
# The flag table follows python/huggingfaceserver at KServe commit aaac4e29 (2026-08-21), plus vLLM's table
# for the engine args it passes through (serving-config reference §0, §6.3).
FLAGS_VERSION = "KServe huggingfaceserver at aaac4e29 (2026-08-21) + " + vllm.FLAGS_VERSION
MODULE = "huggingfaceserver"
MODEL_DIR = "/mnt/models"

OWN: dict[str, Opt] = {
    "--model_name": Opt("_model_name"),
    "--model_dir": Opt("_model_dir"),
    "--model_id": Opt("_model_id"),
    "--model_revision": Opt("revision"),
    "--tokenizer_revision": Opt("tokenizer_revision"),
    "--dtype": Opt("dtype", "lower"),
    "--max_model_len": Opt("max_model_len", "int"),
    "--max_length": Opt("max_model_len", "int"),        # deprecated, same dest
    "--trust_remote_code": Opt("trust_remote_code", "bool"),
    "--backend": Opt("_backend", "lower"),
    "--http_port": Opt("port", "int"),
    "--return_probabilities": Opt(None, "bool"),
    "--disable_log_requests": Opt(None, "bool"),
    "--disable_lower_case": Opt(None, "bool"),
    "--disable_special_tokens": Opt(None, "bool"),
}
# huggingfaceserver hands the engine its own model and revision: vLLM's flags for them lose
TABLE: dict[str, Opt] = {**vllm.FLAGS, "--model": Opt("_vllm_model"), "--revision": Opt("_vllm_revision"), **OWN}

DEFAULTS: dict[str, tuple[object, str | None]] = {
    **vllm.DEFAULTS,
    "dtype": ("auto", "the model config's dtype (Hugging Face backend: float16 on GPU when unset)"),
    "port": (8080, None),
    "served_model_name": ("model", "--model_name default; KServe's runtime passes --model_name={{.Name}}"),
}


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    e = locate(argv)
    if e is not None and e.module == MODULE:
        return f"argv: python -m {MODULE}", "high"
    repo = image_repo(image)
    return (f"image: {repo}", "medium") if MODULE in repo else None


def entrypoint(image: str) -> Entrypoint | None:
    if MODULE not in image_repo(image):
        return None
    return Entrypoint(("python", "-m", MODULE), f"assumed `python -m {MODULE}` (the KServe huggingfaceserver image)")


def parse(ci: ContainerInput) -> EngineFacts:
    argv = ci.argv or []
    paths = (list(ci.arg_paths) + [""] * len(argv))[:len(argv)]
    fs = FactSet(ci, "KServe huggingfaceserver", matches(ci.argv, ci.image, ci.env))
    e = locate(argv)
    start = e.rest if e else 0
    entry = MODULE if e is not None and e.module == MODULE else None
    if argv and entry is None:
        fs.notes.append(f"argv does not run python -m {MODULE} ({' '.join(argv[:2])} …): flags read from the rest")
    tokens, tpaths = _split_spaced(fs, argv[start:], paths[start:])
    sc = scan(tokens, tpaths, TABLE, engine="huggingfaceserver", negate=True)
    groups = fs.apply(sc)
    for tok, _ in sc.positionals:
        fs.unknown.append(tok)
        fs.notes.append(f"unexpected positional argument '{tok}': huggingfaceserver rejects it")
    _resolve(fs, groups)
    model = fs.fields.get("model")
    fs.defaults({**DEFAULTS, "tokenizer": (model.value if model else None, "defaults to the model")})
    return fs.build(ENGINE, entry)


def _split_spaced(fs: FactSet, tokens: list[str], paths: list[str]) -> tuple[list[str], list[str]]:
    out: list[str] = []
    outp: list[str] = []
    for tok, path in zip(tokens, paths):
        parts = tok.split()
        if tok.startswith("-") and len(parts) > 1 and "=" not in parts[0]:
            fs.notes.append(f"args item '{redact.text(tok)}' holds a flag and its value in one string: read as {len(parts)} "
                            "arguments; write them as separate list items")
            out.extend(parts)
            outp.extend([path] * len(parts))
        else:
            out.append(tok)
            outp.append(path)
    return out, outp


def _resolve(fs: FactSet, groups: dict) -> None:
    """Fold the runtime's own flags into canonical fields with KServe's precedence."""
    f = fs.fields
    model_id, model_dir = f.pop("_model_id", None), f.pop("_model_dir", None)
    if model_id is not None:
        f["model"] = model_id
        if model_dir is not None:
            fs.annotate("model", f"--model_id wins over --model_dir {model_dir.value}")
    elif model_dir is not None:
        f["model"] = model_dir
    elif fs.ci.argv is not None and not fs.config_file:
        fs.default("model", MODEL_DIR, "--model_dir default: KServe mounts the storageUri here")
    for private, flag, owner in (("_vllm_model", "--model", "--model_id/--model_dir"),
                                 ("_vllm_revision", "--revision", "--model_revision")):
        if f.pop(private, None) is not None:
            fs.notes.append(f"{flag} is ignored: huggingfaceserver passes {owner} to the engine")
    name = f.pop("_model_name", None)
    if name is not None and "served_model_name" in f:
        fs.annotate("served_model_name", f"--served-model-name overrides --model_name {name.value}")
    elif name is not None:
        f["served_model_name"] = name
    backend = f.pop("_backend", None)
    if backend is not None:
        fs.notes.append(f"backend: {backend.value}" + (" (vLLM engine args do not apply)"
                                                       if backend.value == "huggingface" else ""))
    if any(h.spelled == "--max_length" for h in groups.get("max_model_len", [])):
        fs.annotate("max_model_len", "--max_length is a deprecated alias of --max_model_len")
