"""Triton and other KServe v2 (Open Inference Protocol) servers: ``/v2``, ``/v2/models/NAME``
and ``/v2/models/NAME/config``.

``/v2`` is the server metadata (``name``, ``version``, ``extensions``); the
model metadata and configuration need the model's name, taken from the engine
facts (``served_model_name``/``model``) when argv named it. The config is
Triton's ``ModelConfig`` as JSON: ``max_batch_size``, and for the TensorRT-LLM
backend the string ``parameters`` (``kv_cache_free_gpu_mem_fraction``,
``enable_kv_cache_reuse``). Triton serves Prometheus metrics on another port
(8002), so no symptom block is read here.
"""

from __future__ import annotations

from urllib.parse import quote

from skewaudit.collect.probe.session import Session, as_bool, as_float, as_int

ENGINE = "triton"
PORT = 8000


def _param(cfg: dict, name: str):
    p = (cfg.get("parameters") or {}).get(name)
    return p.get("string_value") if isinstance(p, dict) else None


def probe(s: Session, hint: dict) -> None:
    meta = s.obj_json("/v2")
    if meta is not None:
        s.fact("engine_version", meta.get("version"), "/v2", note=f"server {meta.get('name')}")
    name = hint.get("model")
    if not name:
        s.endpoints["/v2/models/{name}"] = "the model name is not known from argv: model metadata not asked"
        return
    base = f"/v2/models/{quote(str(name), safe='')}"
    model = s.obj_json(base)
    if model is not None:
        s.fact("served_model_name", model.get("name"), base)
    cfg = s.obj_json(base + "/config")
    if cfg is not None:
        p = base + "/config"
        s.fact("max_num_seqs", as_int(cfg.get("max_batch_size")), p)
        s.fact("gpu_memory_utilization", as_float(_param(cfg, "kv_cache_free_gpu_mem_fraction")), p)
        s.fact("enable_prefix_caching", as_bool(_param(cfg, "enable_kv_cache_reuse")), p)
