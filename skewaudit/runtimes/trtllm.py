"""TensorRT-LLM's OpenAI server, ``trtllm-serve MODEL [flags]``.

Flags are underscore style (TensorRT-LLM docs, "trtllm-serve" command reference, 0.20-1.0):
``--tokenizer``, ``--host`` (default ``localhost``: loopback, unreachable from other pods),
``--port`` (8000), ``--backend`` (pytorch | trt | _autodeploy), ``--tp_size``/``--pp_size``
(1), ``--ep_size``, ``--max_batch_size``, ``--max_num_tokens``, ``--max_seq_len``,
``--kv_cache_free_gpu_memory_fraction`` (the share of *free* memory given to the KV cache)
and ``--extra_llm_api_options FILE`` (a YAML of LLM API options: not visible, so what it
may set is reported as such). Batch and length defaults changed between releases and
depend on the backend: absent ones are unknown, with that note. Triton with the
TensorRT-LLM backend is :mod:`skewaudit.runtimes.triton` (settings baked into the engine).
"""

from __future__ import annotations

from skewaudit.model.observed import EngineFacts
from skewaudit.runtimes import ContainerInput, begin
from skewaudit.runtimes._argv import Opt, image_repo, locate, scan

ENGINE = "tensorrt-llm"
FLAGS_VERSION = "TensorRT-LLM trtllm-serve 0.18.2 to 1.x"
VARIES = "not set: trtllm-serve's default depends on the release and the backend"

FLAGS: dict[str, Opt] = {
    "--tokenizer": Opt("tokenizer"),
    "--host": Opt("host"),
    "--port": Opt("port", "int"),
    "--tp_size": Opt("tensor_parallel_size", "int"),
    "--pp_size": Opt("pipeline_parallel_size", "int"),
    "--max_batch_size": Opt("max_num_seqs", "int"),
    "--max_num_tokens": Opt("max_num_batched_tokens", "int"),
    "--max_seq_len": Opt("max_model_len", "int"),
    "--kv_cache_free_gpu_memory_fraction": Opt("gpu_memory_utilization", "float"),
    "--served_model_name": Opt("served_model_name"),
    "--trust_remote_code": Opt("trust_remote_code", "bool"),
    "--extra_llm_api_options": Opt(None, "config"),
    "--config": Opt(None, "config"),
}

DEFAULTS: dict[str, tuple[object, str | None]] = {
    "host": ("localhost", None),
    "port": (8000, None),
    "tensor_parallel_size": (1, None),
    "pipeline_parallel_size": (1, None),
    "max_num_seqs": (None, VARIES),
    "max_num_batched_tokens": (None, VARIES),
    "max_model_len": (None, "not set: derived from the model config"),
    "gpu_memory_utilization": (None, "not set: 0.9 of the free memory in recent releases (a KV-cache share, not "
                                     "vLLM's total-memory fraction)"),
    "dtype": (None, "from the checkpoint (or the built engine)"),
    "quantization": (None, "from the checkpoint's quantization config (or the built engine)"),
    "trust_remote_code": (False, None),
}


def matches(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str] | None:
    e = locate(argv)
    if e is not None and e.prog == "trtllm-serve":
        return "argv: trtllm-serve", "high"
    repo = image_repo(image)
    if ("tensorrt-llm" in repo or "tensorrt_llm" in repo) and "tritonserver" not in repo:
        return f"image: {repo}", "medium"
    return None


def _form(argv: list[str] | None) -> tuple[str, int] | None:
    e = locate(argv)
    return ("trtllm-serve", e.rest) if e is not None and e.prog == "trtllm-serve" else None


def parse(ci: ContainerInput) -> EngineFacts:
    argv, paths, fs, entry, start = begin(ci, "trtllm-serve", _form(ci.argv), matches(ci.argv, ci.image, ci.env))
    sc = scan(argv[start:], paths[start:], FLAGS, engine="trtllm-serve")
    fs.apply(sc)
    if sc.positionals:
        tok, path = sc.positionals[0]
        fs.arg("model", tok, path)
        fs.unknown.extend(t for t, _ in sc.positionals[1:])
    fact = fs.fields.get("gpu_memory_utilization")
    if fact is not None and fact.prov.source == "arg":
        fs.annotate("gpu_memory_utilization", "a share of the memory free after loading the weights, for the KV "
                                              "cache: not the same quantity as vLLM's --gpu-memory-utilization")
    fs.defaults(DEFAULTS)
    return fs.build(ENGINE, entry)
