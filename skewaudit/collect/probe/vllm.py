"""vLLM: ``/v1/models``, ``/version`` and ``/metrics``.

Checked against vLLM's source (``vllm/entrypoints/openai``: ``ModelCard`` has
``id``, ``root``, ``max_model_len``; ``/version`` returns ``{"version": …}``;
``vllm:cache_config_info`` is an info gauge whose labels are the CacheConfig:
``block_size``, ``cache_dtype``, ``gpu_memory_utilization``,
``enable_prefix_caching``, ``num_gpu_blocks`` …, present since 0.4). The
metric names changed with the V1 engine (``vllm:gpu_cache_usage_perc`` became
``vllm:kv_cache_usage_perc``, ``vllm:time_per_output_token_seconds`` became
``vllm:inter_token_latency_seconds``): both spellings are read. ``/v1/*``
answers 401 when vLLM runs with ``--api-key``; ``/version`` and ``/metrics``
do not need the key.
"""

from __future__ import annotations

from skewaudit.collect.probe import metrics
from skewaudit.collect.probe.session import Session, as_bool, as_float, as_int

ENGINE = "vllm"
PORT = 8000
NAMES = metrics.Names(
    ttft=("vllm:time_to_first_token_seconds",),
    tpot=("vllm:inter_token_latency_seconds", "vllm:time_per_output_token_seconds"),
    queue=("vllm:num_requests_waiting",), running=("vllm:num_requests_running",),
    kv_usage=("vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"),
    preemptions=("vllm:num_preemptions_total",),
    prompt_tokens=("vllm:prompt_tokens_total",), generation_tokens=("vllm:generation_tokens_total",),
    # per-request prompt lengths, buckets build_1_2_5_buckets(max_model_len) (vllm/v1/metrics/loggers.py)
    prompt_histogram=("vllm:request_prompt_tokens",))
# vllm:cache_config_info label -> (fact, converter)
_CACHE = (("kv_cache_dtype", "cache_dtype", None), ("gpu_memory_utilization", "gpu_memory_utilization", as_float),
          ("enable_prefix_caching", "enable_prefix_caching", as_bool), ("block_size", "block_size", as_int),
          ("num_gpu_blocks", "num_gpu_blocks", as_int))


def probe(s: Session, hint: dict) -> None:
    s.openai_models()
    ver = s.obj_json("/version")
    if ver is not None:
        s.fact("engine_version", ver.get("version"), "/version")
    read_metrics(s, "/metrics")


def read_metrics(s: Session, path: str) -> None:
    """Cache config and symptoms from vLLM's Prometheus page (also NIM's, which runs vLLM)."""
    samples = metrics.read_symptoms(s, path, NAMES, "vllm:cache_config_info")
    cfg = samples.labels("vllm:cache_config_info") if samples is not None else None
    if cfg is not None:
        s.facts(cfg, path + " vllm:cache_config_info", _CACHE)
