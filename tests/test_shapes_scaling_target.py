"""The autoscaler's target against ``scaling.targetValue`` (``orchestration.hpa-target``): a KEDA
ScaledObject's Prometheus trigger ``threshold`` (with ``activationThreshold`` and the query named) and a
plain HPA's ``averageValue``, offline and live; drift caught with the metric and field named.

Fixture: ``tests/fixtures/around/keda-vllm.yaml`` (the vLLM production-stack chart's ScaledObject) with
the intent ``keda-target.spec.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kube_server import FakeKube
from test_shapes_around import AROUND, docs_of, drifts, obj, report
from test_shapes_config import _by, _unverifiable_because, _write

SO = "ScaledObject/llm/vllm-llama3-scaledobject"


def _trigger(d: list[dict]) -> dict:
    return obj(d, "ScaledObject")["spec"]["triggers"][0]["metadata"]


def test_keda_threshold_clean_offline_and_live(kube: FakeKube, kubeconfig: Path, monkeypatch, capsys) -> None:
    code, rep = report(AROUND / "keda-target.spec.yaml", "--manifest", AROUND / "keda-vllm.yaml",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    r = _by(rep, "orchestration.hpa-target")
    assert r["status"] == "match" and "vllm:num_requests_waiting" in r["message"]
    ev = r["observed"][0]
    assert (ev["prov"]["object"], ev["prov"]["path"]) == (SO, "spec.triggers[0].metadata.threshold")
    assert 'query: vllm:num_requests_waiting{model="llama3"}' in ev["note"]
    kube.load_yaml(AROUND / "keda-vllm.yaml")
    code, rep = report(AROUND / "keda-target.spec.yaml", "--kubeconfig", kubeconfig, monkeypatch=monkeypatch,
                       capsys=capsys)
    assert (code, drifts(rep)) == (0, []) and _by(rep, "orchestration.hpa-target")["status"] == "match"


def test_keda_threshold_edit_is_drift_naming_the_metric_and_field(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("keda-vllm")
    _trigger(docs).update(threshold="50", activationThreshold="2")
    code, rep = report(AROUND / "keda-target.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    (r,) = drifts(rep)
    assert (code, r["check"], r["expected"]) == (1, "orchestration.hpa-target", "5")
    ev = r["observed"][0]
    assert ev["value"] == "50"
    assert (ev["prov"]["source"], ev["prov"]["object"], ev["prov"]["path"]) == (
        "hpa", SO, "spec.triggers[0].metadata.threshold")
    assert "vllm:num_requests_waiting" in r["message"] and "activationThreshold 2" in ev["note"]
    assert "ScaledObject vllm-llama3-scaledobject" in r["hint"]


@pytest.mark.parametrize("spelled", ["5", 5.0, "5000m"])
def test_keda_threshold_compares_numbers_not_spellings(spelled: Any, tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("keda-vllm")
    _trigger(docs)["threshold"] = spelled
    code, rep = report(AROUND / "keda-target.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])


def test_trigger_on_another_metric_leaves_the_target_unverifiable(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("keda-vllm")
    _trigger(docs).update(query="sum(vllm:gpu_cache_usage_perc)", metricName="vllm:gpu_cache_usage_perc")
    code, rep = report(AROUND / "keda-target.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    assert [r["check"] for r in drifts(rep)] == ["orchestration.hpa-metric"]
    assert "does not scale on vllm:num_requests_waiting" in _unverifiable_because(rep, "orchestration.hpa-target")


def _plain_hpa(d: list[dict]) -> None:
    """The same autoscaling written as a plain HPA on a Pods metric (prometheus-adapter), no KEDA."""
    d.remove(obj(d, "ScaledObject"))
    h = obj(d, "HorizontalPodAutoscaler")
    h["metadata"] = {"name": "vllm-llama3", "namespace": "llm"}
    h["spec"]["metrics"] = [{"type": "Pods", "pods": {"metric": {"name": "vllm:num_requests_waiting"},
                                                      "target": {"type": "AverageValue", "averageValue": "5"}}}]


def test_plain_hpa_target_clean_and_edited(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("keda-vllm")
    _plain_hpa(docs)
    code, rep = report(AROUND / "keda-target.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, []) and _by(rep, "orchestration.hpa-target")["status"] == "match"
    obj(docs, "HorizontalPodAutoscaler")["spec"]["metrics"][0]["pods"]["target"]["averageValue"] = "20"
    code, rep = report(AROUND / "keda-target.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    (r,) = drifts(rep)
    ev = r["observed"][0]
    assert (code, r["check"], ev["value"]) == (1, "orchestration.hpa-target", "20")
    assert (ev["prov"]["object"], ev["prov"]["path"]) == (
        "HorizontalPodAutoscaler/llm/vllm-llama3", "spec.metrics[0].pods.target.averageValue")


def test_keda_hpa_without_its_scaledobject_is_unverifiable(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("keda-vllm")
    docs.remove(obj(docs, "ScaledObject"))
    code, rep = report(AROUND / "keda-target.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    assert "generated by KEDA" in _unverifiable_because(rep, "orchestration.hpa-target")
