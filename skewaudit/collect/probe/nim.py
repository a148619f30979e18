"""NVIDIA NIM for LLMs: ``/v1/metadata``, ``/v1/models`` and ``/v1/metrics``.

``/v1/metadata`` (NIM LLM API reference) carries the NIM release ``version``,
``modelInfo`` (``shortName``, ``modelUrl``), ``repository_override`` and the
selected profile in ``assetInfo``; ``/v1/models`` is OpenAI-style with
``max_model_len`` like vLLM's, which NIM LLM runs inside; its Prometheus page
is ``/v1/metrics`` with vLLM's metric names.
"""

from __future__ import annotations

from skewaudit.collect.probe.session import Session
from skewaudit.collect.probe.vllm import read_metrics

ENGINE = "nim"
PORT = 8000


def probe(s: Session, hint: dict) -> None:
    s.openai_models()
    meta = s.obj_json("/v1/metadata")
    if meta is not None:
        s.fact("engine_version", meta.get("version"), "/v1/metadata", note="NIM release")
        info = meta.get("modelInfo")
        if isinstance(info, list) and info and isinstance(info[0], dict):
            s.fact("model", info[0].get("shortName"), "/v1/metadata")
    read_metrics(s, "/v1/metrics")
