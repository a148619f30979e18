"""Accelerator facts beside the pod spec: DRA device counts and classes from the ResourceClaimTemplate a
claim is made from (v1 ``exactly``, v1beta1, the ExactCount default; ``All``, ``firstAvailable`` and
unread templates unverifiable), offline and live; and Gaudi as its own class from NFD's PCI label.

Fixtures: ``tests/fixtures/around/dra-claims.yaml`` and ``tests/fixtures/shapes/gaudi-vllm.yaml``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import main_inprocess as run
from kube_server import FakeKube
from test_shapes_around import AROUND, docs_of, drifts, obj, report
from test_shapes_config import _by, _unverifiable_because, _write

RCT = "ResourceClaimTemplate/dra/two-gpus"


def _request(d: list[dict]) -> dict:
    return obj(d, "ResourceClaimTemplate")["spec"]["spec"]["devices"]["requests"][0]


def _dra(tmp_path: Path, docs: list[dict], monkeypatch, capsys) -> tuple[int, dict]:
    return report(AROUND / "dra-claims.spec.yaml", "--manifest", _write(tmp_path, docs), "--fail-on", "warning",
                  monkeypatch=monkeypatch, capsys=capsys)


def test_dra_count_and_class_from_the_template_offline_and_live(kube: FakeKube, kubeconfig: Path, monkeypatch,
                                                                capsys) -> None:
    code, rep = report(AROUND / "dra-claims.spec.yaml", "--manifest", AROUND / "dra-claims.yaml",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    r = _by(rep, "hardware.gpu-count")
    ev = r["observed"][0]
    assert (r["status"], ev["value"]) == ("match", 2)
    assert (ev["prov"]["source"], ev["prov"]["object"], ev["prov"]["path"]) == (
        "resource-claim", RCT, "spec.spec.devices.requests[0].exactly.count")
    assert "gpu.nvidia.com" in ev["note"]
    assert _by(rep, "hardware.parallelism-fits")["status"] == "match"
    kube.load_yaml(AROUND / "dra-claims.yaml")
    code, rep = report(AROUND / "dra-claims.spec.yaml", "--kubeconfig", kubeconfig, monkeypatch=monkeypatch,
                       capsys=capsys)
    assert (code, drifts(rep)) == (0, []) and rep["issues"] == []
    assert _by(rep, "hardware.gpu-count")["observed"][0]["prov"]["object"] == RCT
    assert ("GET", "/apis/resource.k8s.io/v1/namespaces/dra/resourceclaimtemplates", {"limit": "500"}) in kube.requests


def test_dra_count_edit_is_caught_with_the_template_field(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("dra-claims")
    _request(docs)["exactly"]["count"] = 4
    code, rep = _dra(tmp_path, docs, monkeypatch, capsys)
    assert sorted(r["check"] for r in drifts(rep)) == ["hardware.gpu-count", "hardware.parallelism-fits"]
    ev = _by(rep, "hardware.gpu-count")["observed"][0]
    assert (code, ev["value"], ev["prov"]["object"], ev["prov"]["path"]) == (
        1, 4, RCT, "spec.spec.devices.requests[0].exactly.count")


def test_dra_v1beta1_request_and_the_count_default(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("dra-claims")
    t = obj(docs, "ResourceClaimTemplate")
    t["apiVersion"] = "resource.k8s.io/v1beta1"
    t["spec"]["spec"]["devices"]["requests"] = [{"name": "gpus", "deviceClassName": "gpu.nvidia.com", "count": 2}]
    code, rep = _dra(tmp_path, docs, monkeypatch, capsys)
    assert (code, drifts(rep)) == (0, [])
    assert _by(rep, "hardware.gpu-count")["observed"][0]["prov"]["path"] == "spec.spec.devices.requests[0].count"
    t["spec"]["spec"]["devices"]["requests"][0].pop("count")   # ExactCount with no count: one device
    code, rep = _dra(tmp_path, docs, monkeypatch, capsys)
    ev = _by(rep, "hardware.gpu-count")["observed"][0]
    assert (code, ev["value"]) == (1, 1) and "the ExactCount default" in ev["note"]


def test_dra_claim_with_gpus_and_a_channel_counts_the_gpus(tmp_path: Path, monkeypatch, capsys) -> None:
    """A claim with a GPU request and an NVIDIA compute-domain channel (k8s-dra-driver-gpu ComputeDomain, the
    IMEX channel multi-node NVLink needs): the channel is no accelerator, the GPUs are counted."""
    docs = docs_of("dra-claims")
    obj(docs, "ResourceClaimTemplate")["spec"]["spec"]["devices"]["requests"].append(
        {"name": "channel", "exactly": {"deviceClassName": "compute-domain-default-channel.nvidia.com"}})
    code, rep = _dra(tmp_path, docs, monkeypatch, capsys)
    assert (code, drifts(rep)) == (0, [])
    ev = _by(rep, "hardware.gpu-count")["observed"][0]
    assert ev["value"] == 2 and "counting gpu.nvidia.com only" in ev["note"]
    assert _by(rep, "hardware.parallelism-fits")["status"] == "match"


def _containers(d: list[dict]) -> list[dict]:
    return [x["spec"]["containers"][0] if x["kind"] == "Pod" else x["spec"]["template"]["spec"]["containers"][0]
            for x in d if x["kind"] in ("Pod", "Deployment")]


def test_container_using_one_request_of_a_claim_gets_that_request_only(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("dra-claims")
    _request(docs)["exactly"]["count"] = 1
    obj(docs, "ResourceClaimTemplate")["spec"]["spec"]["devices"]["requests"].append(
        {"name": "big", "exactly": {"deviceClassName": "gpu.nvidia.com", "count": 2}})
    for c in _containers(docs):
        c["resources"]["claims"] = [{"name": "gpus", "request": "big"}]
    code, rep = _dra(tmp_path, docs, monkeypatch, capsys)
    assert (code, drifts(rep)) == (0, [])   # 2 of request "big", not 1 + 2
    ev = _by(rep, "hardware.gpu-count")["observed"][0]
    assert (ev["value"], ev["prov"]["path"]) == (2, "spec.spec.devices.requests[1].exactly.count")
    for c in _containers(docs):
        c["resources"]["claims"] = [{"name": "gpus", "request": "nope"}]
    code, rep = _dra(tmp_path, docs, monkeypatch, capsys)
    assert f"{RCT} has no request of that name" in _unverifiable_because(rep, "hardware.gpu-count")


@pytest.mark.parametrize("case,change,reason", [
    ("all", lambda d: _request(d)["exactly"].update(allocationMode="All", count=None),
     "allocationMode All: every matching gpu.nvidia.com on the node"),
    ("first-available", lambda d: _request(d).update(exactly=None, firstAvailable=[
        {"name": "h100", "deviceClassName": "gpu.nvidia.com", "count": 2},
        {"name": "a100", "deviceClassName": "gpu.nvidia.com", "count": 4}]), "prioritized list (firstAvailable)"),
    ("template-missing", lambda d: d.remove(obj(d, "ResourceClaimTemplate")),
     "ResourceClaimTemplate/dra/two-gpus was not found"),
])
def test_dra_count_the_scheduler_decides_is_unverifiable(case: str, change, reason: str, tmp_path: Path,
                                                         monkeypatch, capsys) -> None:
    docs = docs_of("dra-claims")
    change(docs)
    for t in (x for x in docs if x["kind"] == "ResourceClaimTemplate"):
        t["spec"]["spec"]["devices"]["requests"][0] = {k: v for k, v in _request(docs).items() if v is not None}
    code, rep = _dra(tmp_path, docs, monkeypatch, capsys)
    assert (code, drifts(rep)) == (0, [])
    assert reason in _unverifiable_because(rep, "hardware.gpu-count")


def test_dra_templates_forbidden_live_is_unverifiable_with_the_issue(kube: FakeKube, kubeconfig: Path, monkeypatch,
                                                                     capsys) -> None:
    kube.load_yaml(AROUND / "dra-claims.yaml")
    kube.deny("list", "resourceclaimtemplates")
    code, rep = report(AROUND / "dra-claims.spec.yaml", "--kubeconfig", kubeconfig, monkeypatch=monkeypatch,
                       capsys=capsys)
    (issue,) = rep["issues"]
    assert (issue["kind"], issue["area"]) == ("forbidden", "resourceclaims")
    assert drifts(rep) == [] and "was not read" in _unverifiable_because(rep, "hardware.gpu-count")


# --- Gaudi as its own class, from NFD's PCI device label ---------------------------------------

SHAPES = AROUND.parent / "shapes"


def _gaudi(tmp_path: Path, pci_label: str, monkeypatch, capsys) -> tuple[int, dict]:
    text = (SHAPES / "gaudi-vllm.yaml").read_text().replace("feature.node.kubernetes.io/pci-1200_1da3.present",
                                                            pci_label)
    m = tmp_path / "gaudi.yaml"
    m.write_text(text)
    return report(SHAPES / "specs" / "gaudi-vllm.yaml", "--manifest", m, monkeypatch=monkeypatch, capsys=capsys)


def test_gaudi2_node_by_pci_device_matches_the_spec(tmp_path: Path, monkeypatch, capsys) -> None:
    label = "feature.node.kubernetes.io/pci-1200_1da3_1020.present"
    code, rep = _gaudi(tmp_path, label, monkeypatch, capsys)
    assert (code, drifts(rep)) == (0, [])
    ev = _by(rep, "hardware.gpu-class")["observed"][0]
    assert (ev["value"], ev["prov"]["path"]) == ("gaudi2", f"metadata.labels[{label}]")


def test_gaudi3_node_is_another_class(tmp_path: Path, monkeypatch, capsys) -> None:
    code, rep = _gaudi(tmp_path, "feature.node.kubernetes.io/pci-1da3_1060.present", monkeypatch, capsys)
    (r,) = drifts(rep)
    assert (code, r["check"], r["expected"], r["observed"][0]["value"]) == (1, "hardware.gpu-class", "gaudi2",
                                                                             "gaudi3")
    assert r["observed"][0]["prov"]["source"] == "node-label"


def test_gaudi_vendor_only_pci_label_stays_unverifiable(tmp_path: Path, monkeypatch, capsys) -> None:
    code, rep = _gaudi(tmp_path, "feature.node.kubernetes.io/pci-1200_1da3.present", monkeypatch, capsys)
    assert (code, drifts(rep)) == (0, []) and _by(rep, "hardware.gpu-class")["status"] == "unverifiable"


def test_collect_shows_what_each_claim_asks_for(monkeypatch, capsys) -> None:
    code, out, err = run(monkeypatch, capsys, "collect", "--manifest", AROUND / "dra-claims.yaml")
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if "dra claim gpus" in ln)
    assert "2 × gpu.nvidia.com" in line and f"{RCT} spec.spec.devices.requests[0].exactly.count" in line
