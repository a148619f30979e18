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


_INFO = (("model", "model_id", None), ("model_sha", "model_sha", None), ("engine_version", "version", None),
         ("max_model_len", "max_total_tokens", as_int), ("max_concurrent_requests", "max_concurrent_requests", as_int),
         ("max_batch_total_tokens", "max_batch_total_tokens", as_int), ("max_num_seqs", "max_batch_size", as_int))


def probe(s: Session, hint: dict) -> None:
    info = s.obj_json("/info")
    if info is not None:
        s.facts(info, "/info", _INFO)
        # 2.1+ spells the prompt limit max_input_tokens, earlier versions max_input_length
        s.fact("max_input_tokens", as_int(info.get("max_input_tokens", info.get("max_input_length"))), "/info")
        dtype = info.get("model_dtype")
        if isinstance(dtype, str):
            s.fact("dtype", _DTYPES.get(dtype, dtype), "/info", note=f"/info model_dtype {dtype}")
    metrics.read_symptoms(s, "/metrics", NAMES)
