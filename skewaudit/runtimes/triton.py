"""NVIDIA Triton (``tritonserver``) and TensorRT-LLM (``trtllm-serve``): detection and the little
argv says.

With Triton's TensorRT-LLM backend, dtype, TP/PP, batch size, sequence lengths and
quantization are baked into the engine at ``trtllm-build`` time and live in the model
repository (engine ``config.json``, ``config.pbtxt``), not in argv: those fields are
reported unknown with that note (serving-config reference §5). ``trtllm-serve`` does take
a few settings as flags (underscore style); their defaults differ between doc versions, so
absent ones are unknown too.
"""

from __future__ import annotations

from skewaudit.model.observed import EngineFacts
from skewaudit.runtimes import ContainerInput, FactSet
from skewaudit.runtimes._argv import Opt, image_repo, locate, scan

ENGINE = "triton"
# tritonserver's few argv flags, and trtllm-serve's as documented for TensorRT-LLM 0.18.2 (commands/trtllm-serve)
# and the 1.x docs (serving-config reference §5).
FLAGS_VERSION = "Triton tritonserver; TensorRT-LLM trtllm-serve 0.18.2 to 1.x"
BAKED = ("fixed when the TensorRT-LLM engine was built (trtllm-build): read the model repository's "
         "config.pbtxt / engine config.json, not argv")
_FIELDS = ("model", "dtype", "quantization", "max_model_len", "max_num_seqs", "max_num_batched_tokens",
           "tensor_parallel_size", "pipeline_parallel_size")

TRITON_FLAGS: dict[str, Opt] = {
    "--http-port": Opt("port", "int"),
    "--model-repository": Opt("_repository"),
    "--model-store": Opt("_repository"),
}
TRTLLM_FLAGS: dict[str, Opt] = {
    "--host": Opt("host"),
    "--port": Opt("port", "int"),
    "--tp_size": Opt("tensor_parallel_size", "int"),
    "--pp_size": Opt("pipeline_parallel_size", "int"),
    "--max_batch_size": Opt("max_num_seqs", "int"),
    "--max_seq_len": Opt("max_model_len", "int"),
    "--max_num_tokens": Opt("max_num_batched_tokens", "int"),
    "--tokenizer": Opt("tokenizer"),
    "--served_model_name": Opt("served_model_name"),
    "--trust_remote_code": Opt("trust_remote_code", "bool"),
    "--config": Opt(None, "config"),
    "--extra_llm_api_options": Opt(None, "config"),
}


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    e = locate(argv)
    if e is not None and e.prog in ("tritonserver", "trtllm-serve"):
        return f"argv: {e.prog}", "high"
    repo = image_repo(image)
    if "tritonserver" in repo or "tensorrt-llm" in repo or "tensorrt_llm" in repo:
        return f"image: {repo}", "medium"
    return None


def parse(ci: ContainerInput) -> EngineFacts:
    argv = ci.argv or []
    paths = (list(ci.arg_paths) + [""] * len(argv))[:len(argv)]
    fs = FactSet(ci, "Triton", matches(ci.argv, ci.image, ci.env))
    e = locate(argv)
    prog = e.prog if e is not None else None
    trtllm = prog == "trtllm-serve" or (prog != "tritonserver" and "tritonserver" not in image_repo(ci.image))
    start = e.rest if e is not None else 0
    sc = scan(argv[start:], paths[start:], TRTLLM_FLAGS if trtllm else TRITON_FLAGS,
              engine="trtllm-serve" if trtllm else "tritonserver")
    fs.apply(sc)
    repo = fs.fields.pop("_repository", None)
    if trtllm:
        if sc.positionals:
            tok, path = sc.positionals[0]
            fs.arg("model", tok, path)
        fs.unknown.extend(t for t, _ in sc.positionals[1:])
        fs.defaults({"port": (8000, None), **{f: (None, "not set: trtllm-serve defaults differ between versions")
                                              for f in _FIELDS}})
    else:
        fs.unknown.extend(t for t, _ in sc.positionals)
        fs.notes.append("TensorRT-LLM settings (dtype, TP/PP, batch size, lengths, quantization) are " + BAKED
                        + (f" (model repository {repo.value})" if repo is not None else ""))
        for f in _FIELDS:
            fs.unknown_fact(f, BAKED)
        fs.defaults({"port": (8000, None)})
    return fs.build("tensorrt-llm" if trtllm else "triton", prog if prog in ("tritonserver", "trtllm-serve") else None)
