"""NVIDIA Triton (``tritonserver``): detection and the little argv says (``trtllm-serve`` is
:mod:`skewaudit.runtimes.trtllm`).

With Triton's TensorRT-LLM backend, dtype, TP/PP, batch size, sequence lengths and
quantization are baked into the engine at ``trtllm-build`` time and live in the model
repository (engine ``config.json``, ``config.pbtxt``), not in argv: those fields are
reported unknown with that note (serving-config reference §5): what the pod spec shows
(port, model repository, image) is read, the rest is unverifiable.
"""

from __future__ import annotations

from skewaudit.model.observed import EngineFacts
from skewaudit.runtimes import ContainerInput, FactSet
from skewaudit.runtimes._argv import Opt, image_repo, locate, scan

ENGINE = "triton"
# tritonserver's few argv flags, and trtllm-serve's as documented for TensorRT-LLM 0.18.2 (commands/trtllm-serve)
# and the 1.x docs (serving-config reference §5).
FLAGS_VERSION = "Triton tritonserver 2.49 (NGC 24.08; pod spec only: engine settings are baked in at build)"
BAKED = ("fixed when the TensorRT-LLM engine was built (trtllm-build): read the model repository's "
         "config.pbtxt / engine config.json, not argv")
_FIELDS = ("model", "dtype", "quantization", "max_model_len", "max_num_seqs", "max_num_batched_tokens",
           "tensor_parallel_size", "pipeline_parallel_size")

TRITON_FLAGS: dict[str, Opt] = {
    "--http-port": Opt("port", "int"),
    "--model-repository": Opt("_repository"),
    "--model-store": Opt("_repository"),
}


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    e = locate(argv)
    if e is not None and e.prog == "tritonserver":
        return "argv: tritonserver", "high"
    repo = image_repo(image)
    return (f"image: {repo}", "medium") if "tritonserver" in repo else None


def parse(ci: ContainerInput) -> EngineFacts:
    argv = ci.argv or []
    paths = (list(ci.arg_paths) + [""] * len(argv))[:len(argv)]
    fs = FactSet(ci, "Triton", matches(ci.argv, ci.image, ci.env))
    e = locate(argv)
    prog = e.prog if e is not None else None
    start = e.rest if e is not None else 0
    sc = scan(argv[start:], paths[start:], TRITON_FLAGS, engine="tritonserver")
    fs.apply(sc)
    repo = fs.fields.pop("_repository", None)
    fs.unknown.extend(t for t, _ in sc.positionals)
    fs.notes.append("TensorRT-LLM settings (dtype, TP/PP, batch size, lengths, quantization) are " + BAKED
                    + (f" (model repository {repo.value})" if repo is not None else ""))
    for f in _FIELDS:
        fs.unknown_fact(f, BAKED)
    fs.defaults({"port": (8000, None)})
    return fs.build("triton", prog if prog == "tritonserver" else None)
