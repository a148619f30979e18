"""Text Generation Inference: ``/info`` and ``/metrics``.

``/info`` is the router's ``Info`` struct (``router/src/lib.rs``). Every
version has ``model_id``, ``model_sha``, ``max_concurrent_requests``,
``max_total_tokens``, ``version``, ``sha`` and ``docker_label``. Up to 2.x it
also has ``model_dtype``, ``max_batch_total_tokens``, ``max_batch_size`` and
the prompt limit as ``max_input_length``; 2.1+ spells that
``max_input_tokens``, and 3.x drops the dtype and batch fields (the v3 router
sizes batches itself) and adds ``max_client_batch_size``. What a version
sends is read; what it lacks stays unverifiable.
"""

from __future__ import annotations

from skewaudit.collect.probe import metrics
from skewaudit.collect.probe.session import Session, as_int

ENGINE = "tgi"
PORT = 80      # the TGI image's PORT; the launcher's own default is 3000 (argv/env say which)
NAMES = metrics.Names(
    tpot=("tgi_request_mean_time_per_token_duration",),
    queue=("tgi_queue_size",), running=("tgi_batch_current_size",),
    prompt_tokens=("tgi_request_input_length_sum",), generation_tokens=("tgi_request_generated_tokens_sum",))

# torch dtype names as /info spells them -> the engine flag spelling
_DTYPES = {"torch.float16": "float16", "torch.bfloat16": "bfloat16", "torch.float32": "float32"}


def probe(s: Session, hint: dict) -> None:
    info = s.obj_json("/info")
    if info is not None:
        p = "/info"
        s.fact("model", info.get("model_id"), p)
        s.fact("model_sha", info.get("model_sha"), p)
        s.fact("engine_version", info.get("version"), p)
        s.fact("max_model_len", as_int(info.get("max_total_tokens")), p)
        s.fact("max_input_tokens", as_int(info.get("max_input_tokens", info.get("max_input_length"))), p)
        s.fact("max_concurrent_requests", as_int(info.get("max_concurrent_requests")), p)
        s.fact("max_batch_total_tokens", as_int(info.get("max_batch_total_tokens")), p)
        s.fact("max_num_seqs", as_int(info.get("max_batch_size")), p)
        dtype = info.get("model_dtype")
        if isinstance(dtype, str):
            s.fact("dtype", _DTYPES.get(dtype, dtype), p, note=f"/info model_dtype {dtype}")
    text = s.text("/metrics")
    if text is not None:
        try:
            s.symptoms = metrics.symptoms(metrics.parse(text), NAMES)
        except ValueError as e:
            s.malformed("/metrics", str(e))
