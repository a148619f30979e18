"""SGLang: ``/get_server_info``, ``/get_model_info``, ``/v1/models`` and ``/metrics``.

``/get_server_info`` is the ServerArgs as a flat object plus ``version``
(``python/sglang/srt/entrypoints/http_server.py``); the values are what the
server runs with after its own defaulting (``mem_fraction_static`` is filled in
from the GPU when not given). ``/get_model_info`` has ``model_path``,
``tokenizer_path``, ``is_generation``, ``preferred_sampling_params`` and, from
0.4.10, ``weight_version``. ``context_length`` in the server args is what was
asked (often null); the length actually in force is ``max_model_len`` of
``/v1/models``. ``/metrics`` exists only with ``--enable-metrics``.
"""

from __future__ import annotations

from skewaudit.collect.probe import metrics
from skewaudit.collect.probe.session import Session, as_bool, as_float, as_int

ENGINE = "sglang"
PORT = 30000
NAMES = metrics.Names(
    ttft=("sglang:time_to_first_token_seconds",),
    tpot=("sglang:inter_token_latency_seconds", "sglang:time_per_output_token_seconds"),
    queue=("sglang:num_queue_reqs",), running=("sglang:num_running_reqs",), kv_usage=("sglang:token_usage",),
    prompt_tokens=("sglang:prompt_tokens_total",), generation_tokens=("sglang:generation_tokens_total",))


_SERVER = (("engine_version", "version", None), ("model", "model_path", None), ("kv_cache_dtype", "kv_cache_dtype", None),
           ("gpu_memory_utilization", "mem_fraction_static", as_float), ("tensor_parallel_size", "tp_size", as_int),
           ("max_num_seqs", "max_running_requests", as_int), ("dtype", "dtype", None),
           ("quantization", "quantization", None))


def probe(s: Session, hint: dict) -> None:
    info = s.obj_json("/get_server_info")
    if info is not None:
        s.facts(info, "/get_server_info", _SERVER)
        radix_off = as_bool(info.get("disable_radix_cache"))
        if radix_off is not None:
            s.fact("enable_prefix_caching", not radix_off, "/get_server_info", note=f"disable_radix_cache={radix_off}")
    model = s.obj_json("/get_model_info")
    if model is not None:
        s.facts(model, "/get_model_info", (("model", "model_path", None), ("weight_version", "weight_version", None)))
    s.openai_models()
    if info is not None and "max_model_len" not in s.fields:
        s.fact("max_model_len", as_int(info.get("context_length")), "/get_server_info",
               note="context_length as requested (older SGLang has no max_model_len in /v1/models)")
    metrics.read_symptoms(s, "/metrics", NAMES)
