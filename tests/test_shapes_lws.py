"""Multi-host serving on a LeaderWorkerSet, offline and live: the group's facts, per-group replica
skew, the multi-host spec rule, collect/snapshot/--baseline, and a cluster without the LWS CRD.

Fixture: tests/fixtures/shapes/lws-vllm.yaml (shaped after kubernetes-sigs/lws
docs/examples/vllm/GPU/lws.yaml, vLLM v0.8.5, tp 8 x pp 2 over 2 nodes of 8 H100s).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import main_inprocess
from kube_server import FakeKube

SHAPES = Path(__file__).resolve().parent / "fixtures" / "shapes"
LWS = SHAPES / "lws-vllm.yaml"
SPEC = SHAPES / "specs" / "lws-vllm.yaml"


def _diff_json(monkeypatch, capsys, *args) -> tuple[int, dict]:
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", str(SPEC), "-F", "json", *args)
    return code, json.loads(out)


def _problems(report: dict) -> list[dict]:
    return [r for r in report["results"] if r["status"] in ("drift", "unverifiable")]


def _edited(tmp_path: Path, old: str, new: str, *, after: str = "", count: int = 1) -> Path:
    text = LWS.read_text()
    start = text.index(after) if after else 0
    i = text.index(old, start)
    text = text[:i] + new + text[i + len(old):]
    p = tmp_path / "lws-edited.yaml"
    p.write_text(text)
    return p


def test_clean_fixture_diffs_clean_offline(monkeypatch, capsys) -> None:
    code, rep = _diff_json(monkeypatch, capsys, "--manifest", str(LWS))
    assert _problems(rep) == []
    assert code == 0
    by_check = {r["check"]: r for r in rep["results"] if r["status"] == "match"}
    # the group facts are read: size 2 from the LWS, tp x pp = 8 x 2 = 16 = 8 per pod x 2 pods
    assert by_check["orchestration.group-size"]["observed"][0]["prov"]["path"] == "spec.leaderWorkerTemplate.size"
    assert "hardware.parallelism-fits" in by_check
    # the HPA targets the LWS through its scale subresource
    assert by_check["orchestration.hpa-metric"]["observed"][0]["prov"]["object"] == \
        "HorizontalPodAutoscaler/llm/vllm-hpa"
    # the Ray workers run no engine themselves: their engine facts are the leader's
    tp = next(r for r in rep["results"] if r["check"] == "runtime.tensor-parallel")
    assert tp["status"] == "match" and tp["observed"][0]["count"] == 4
    assert tp["observed"][0]["prov"]["object"] == "Pod/llm/vllm-0"


def test_worker_on_other_gpu_class_is_named_by_group(tmp_path: Path, monkeypatch, capsys) -> None:
    edited = _edited(tmp_path, "NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB", after="name: gpu-node-11")
    code, rep = _diff_json(monkeypatch, capsys, "--manifest", str(edited))
    assert code == 1
    (drift,) = _problems(rep)
    assert drift["check"] == "hardware.gpu-class" and drift["scope"] == "1 of 4 pods"
    bad = drift["observed"][0]
    assert bad["value"] == "a100-80gb"
    assert bad["prov"] == {"source": "node-label", "object": "Node/gpu-node-11",
                           "path": "metadata.labels[nvidia.com/gpu.product]"}
    assert bad["pods"] == ["vllm-1-1 (group 2 of 2, worker 1)"]


def test_edited_parallelism_is_caught_with_the_leader_flag(tmp_path: Path, monkeypatch, capsys) -> None:
    edited = _edited(tmp_path, "--tensor-parallel-size 8", "--tensor-parallel-size 4", after="kind: Pod")
    edited.write_text(edited.read_text().replace("--tensor-parallel-size 8", "--tensor-parallel-size 4"))
    code, rep = _diff_json(monkeypatch, capsys, "--manifest", str(edited), "--fail-on", "warning")
    assert code == 1
    by = {r["check"]: r for r in _problems(rep)}
    assert set(by) == {"runtime.tensor-parallel", "hardware.parallelism-fits"}
    tp = by["runtime.tensor-parallel"]["observed"][0]
    assert tp["value"] == 4 and tp["prov"]["source"] == "arg" and tp["prov"]["object"] in ("Pod/llm/vllm-0",
                                                                                           "Pod/llm/vllm-1")
    fits = by["hardware.parallelism-fits"]
    assert "= 8 GPUs, but the group requests 16 (8 per pod × 2 pods per group" in fits["message"]


def test_offline_without_pods_compares_both_templates(tmp_path: Path, monkeypatch, capsys) -> None:
    text = LWS.read_text()
    p = tmp_path / "templates-only.yaml"
    p.write_text(text[:text.index("---\napiVersion: v1\nkind: Pod")])
    code, rep = _diff_json(monkeypatch, capsys, "--manifest", str(p))
    assert [r for r in rep["results"] if r["status"] == "drift"] == []
    count = next(r for r in rep["results"] if r["check"] == "hardware.gpu-count")
    assert sorted(p for e in count["observed"] for p in e["pods"]) == ["leader template", "worker template"]
    # a worker template asking for 4 GPUs is drift on that template only
    p.write_text(p.read_text().replace('nvidia.com/gpu: "8"', 'nvidia.com/gpu: "4"', 2).replace(
        'nvidia.com/gpu: "4"', 'nvidia.com/gpu: "8"', 1))
    code, rep = _diff_json(monkeypatch, capsys, "--manifest", str(p))
    count = next(r for r in rep["results"] if r["check"] == "hardware.gpu-count")
    assert count["status"] == "drift" and code == 1
    bad = next(e for e in count["observed"] if e["value"] == 4)
    assert bad["pods"] == ["worker template"]
    assert bad["prov"]["path"] == ("spec.leaderWorkerTemplate.workerTemplate.spec.containers[0]"
                                   ".resources.limits[nvidia.com/gpu]")


def test_group_size_drift(tmp_path: Path, monkeypatch, capsys) -> None:
    edited = _edited(tmp_path, "size: 2", "size: 3")
    code, rep = _diff_json(monkeypatch, capsys, "--manifest", str(edited))
    by = {r["check"]: r for r in _problems(rep)}
    assert by["orchestration.group-size"]["observed"][0]["value"] == 3
    assert by["orchestration.group-size"]["observed"][0]["prov"]["object"] == "LeaderWorkerSet/llm/vllm"
    assert "hardware.parallelism-fits" in by   # 16 != 8 x 3
    assert code == 1


def test_generated_statefulset_is_not_a_workload(monkeypatch, capsys) -> None:
    code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "-f", str(LWS), "--format", "json")
    snap = json.loads(out)
    assert [(w["kind"], w["name"]) for w in snap["workloads"]] == [("LeaderWorkerSet", "vllm")]
    w = snap["workloads"][0]
    assert sorted((p["name"], p.get("group"), p.get("worker")) for p in w["pods"]) == [
        ("vllm-0", 0, 0), ("vllm-0-1", 0, 1), ("vllm-1", 1, 0), ("vllm-1-1", 1, 1)]
    assert w["worker_template"]["containers"][0]["name"] == "vllm-worker"
    assert w["extra"]["startupPolicy"]["value"] == "LeaderCreated"


def test_validate_multi_host_rule(tmp_path: Path, monkeypatch, capsys) -> None:
    code, out, err = main_inprocess(monkeypatch, capsys, "validate", str(SPEC))
    assert code == 0, err
    single = tmp_path / "single.yaml"
    single.write_text(SPEC.read_text().replace("    multiHost:\n      nodesPerReplica: 2\n      gpusPerNode: 8\n", ""))
    code, out, err = main_inprocess(monkeypatch, capsys, "validate", str(single))
    assert code == 0   # tp x pp = 16 = accelerator.count: one 16-GPU replica is valid too
    bad = tmp_path / "bad.yaml"
    bad.write_text(SPEC.read_text().replace("gpusPerNode: 8", "gpusPerNode: 4"))
    code, out, err = main_inprocess(monkeypatch, capsys, "validate", str(bad))
    assert code == 2
    assert "gpusPerNode × nodesPerReplica = 4 × 2 = 8, but runtime.accelerator.count (per replica) is 16" in out + err


def test_live_matches_offline_and_snapshot_baseline(kube: FakeKube, kubeconfig: Path, tmp_path: Path,
                                                    monkeypatch, capsys) -> None:
    kube.load_yaml(LWS)
    code, rep = _diff_json(monkeypatch, capsys, "--kubeconfig", str(kubeconfig))
    assert _problems(rep) == [] and code == 0
    assert rep["summary"]["pods"] == 4
    # the pods were listed by the LWS's pod label, not cluster-wide
    assert any(q.get("labelSelector") == "leaderworkerset.sigs.k8s.io/name=vllm" for _, path, q in kube.requests
               if path.endswith("/pods"))
    snap = tmp_path / "good.json"
    code, out, err = main_inprocess(monkeypatch, capsys, "snapshot", str(SPEC), "--kubeconfig", str(kubeconfig),
                                    "-o", str(snap))
    assert code == 0, err
    code, rep = _diff_json(monkeypatch, capsys, "--snapshot", str(snap))
    assert _problems(rep) == [] and code == 0
    # a worker moved to another GPU class: caught against the spec and against the baseline
    kube.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-node-11", "labels": {
        "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB", "nvidia.com/gpu.count": "8"}},
        "status": {"allocatable": {"nvidia.com/gpu": "8"}}})
    code, rep = _diff_json(monkeypatch, capsys, "--kubeconfig", str(kubeconfig), "--baseline", str(snap))
    assert code == 1
    fields = {(r["check"], r["field"]) for r in _problems(rep)}
    # against the spec, and against the last-good snapshot
    assert ("hardware.gpu-class", "spec.runtime.accelerator.type") in fields
    assert ("hardware.gpu-class", "gpu.class") in fields


def test_cluster_without_the_crd_is_a_note(kube: FakeKube, kubeconfig: Path, monkeypatch, capsys) -> None:
    kube.load_yaml(Path(__file__).resolve().parent / "fixtures" / "k8s" / "vllm-rollout.yaml")
    # nobody asked for LeaderWorkerSets: the 404 on their list path is quiet
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--format", "json")
    assert code == 0, err
    snap = json.loads(out)
    assert [w["kind"] for w in snap["workloads"]] == ["Deployment"]
    assert not [i for i in snap["issues"] if i["scope"].startswith("LeaderWorkerSet")]
    # a target names the kind: a note, not an error (exit 0, no traceback, no exit 3)
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--kind", "lws", "--format", "json")
    assert code == 0, err
    note = next(i for i in json.loads(out)["issues"] if i["scope"] == "LeaderWorkerSet/*")
    assert note["kind"] == "unsupported" and "leaderworkerset.x-k8s.io/v1 is not installed" in note["message"]
    # installed but empty: no note at all
    kube.install_crd("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--kind", "lws", "--format", "json")
    assert code == 0, err
    assert not [i for i in json.loads(out)["issues"] if i["scope"] == "LeaderWorkerSet/*"]


def test_lws_forbidden_is_an_optional_tier(kube: FakeKube, kubeconfig: Path, monkeypatch, capsys) -> None:
    kube.load_yaml(LWS, Path(__file__).resolve().parent / "fixtures" / "k8s" / "vllm-rollout.yaml")
    kube.deny("list", "leaderworkersets")
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--format", "json")
    assert code == 0, err
    snap = json.loads(out)
    assert [w["kind"] for w in snap["workloads"]] == ["Deployment"]
    issue = next(i for i in snap["issues"] if i["scope"].startswith("LeaderWorkerSet"))
    assert issue["kind"] == "forbidden" and "leaderworkersets" in issue["message"]


@pytest.mark.parametrize("kind", ["lws", "LeaderWorkerSet", "leaderworkersets"])
def test_collect_kind_flag_accepts_lws(kind: str, monkeypatch, capsys) -> None:
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "-f", str(LWS), "--kind", kind, "--format", "json")
    assert code == 0, err
    assert [w["kind"] for w in json.loads(out)["workloads"]] == ["LeaderWorkerSet"]


def test_sglang_multi_node_group(tmp_path: Path, monkeypatch, capsys) -> None:
    """SGLang runs the engine on every pod (--nnodes/--node-rank): tp 2 = 1 GPU per pod x 2 pods."""
    spec, manifest = SHAPES / "specs" / "lws-sglang.yaml", SHAPES / "lws-sglang.yaml"
    code, out, _ = main_inprocess(monkeypatch, capsys, "diff", str(spec), "-f", str(manifest), "-F", "json")
    rep = json.loads(out)
    assert [r["check"] for r in rep["results"] if r["status"] == "drift"] == [] and code == 0
    tp = next(r for r in rep["results"] if r["check"] == "runtime.tensor-parallel")
    assert sorted(p for e in tp["observed"] for p in e["pods"]) == ["leader template", "worker template"]
    edited = tmp_path / "sglang.yaml"
    text = manifest.read_text()
    i = text.index("workerTemplate")
    edited.write_text(text[:i] + text[i:].replace('--tp, "2"', '--tp, "1"'))
    code, out, _ = main_inprocess(monkeypatch, capsys, "diff", str(spec), "-f", str(edited), "-F", "json")
    tp = next(r for r in json.loads(out)["results"] if r["check"] == "runtime.tensor-parallel")
    bad = next(e for e in tp["observed"] if e["value"] == 1)
    assert tp["status"] == "drift" and bad["pods"] == ["worker template"] and code == 1
    assert bad["prov"]["path"].startswith("spec.leaderWorkerTemplate.workerTemplate.spec.containers[0].command[")
