"""An object skewaudit cannot read is named, not "not found" (exit 3 for that target), and `init`
captures multi-host and non-NVIDIA workloads as specs that diff clean against their manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clirun import main_inprocess

SHAPES = Path(__file__).resolve().parent / "fixtures" / "shapes"
LWS = SHAPES / "lws-vllm.yaml"

# A RayCluster (KubeRay, ray.io/v1), shaped after the KubeRay ray-cluster.sample.yaml: a kind this
# version does not read (RayService, which wraps one, is read: tests/test_shapes_crds.py).
RAYCLUSTER_DOC = """\
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: llama-ray
  namespace: ml
spec:
  headGroupSpec:
      template:
        spec:
          containers:
            - name: ray-head
              image: rayproject/ray-llm:2.46.0-py311-cu124
"""


def _spec(tmp_path: Path, name: str, target: dict | None) -> Path:
    doc = {"apiVersion": "skewaudit.io/v1alpha1", "kind": "ModelSpec", "metadata": {"name": name},
           "spec": {"identity": {"model": {"id": "meta-llama/Llama-3.1-8B-Instruct", "family": "llama-3.1",
                                           "task": "chat", "framework": "vllm"}},
                    "runtime": {"accelerator": {"vendor": "nvidia", "type": "l4", "count": 1}}}}
    if target is not None:
        doc["spec"]["target"] = target
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.mark.parametrize("target", [None, {"namespace": "ml"}, {"namespace": "ml", "name": "llama-ray"}])
def test_unsupported_kind_is_named_and_exits_3(target, tmp_path: Path, monkeypatch, capsys) -> None:
    m = tmp_path / "ray.yaml"
    m.write_text(RAYCLUSTER_DOC)
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", str(_spec(tmp_path, "llama-ray", target)),
                                    "--manifest", str(m), "-F", "json")
    rep = json.loads(out)
    assert code == 3
    (r,) = [r for r in rep["results"] if r["status"] != "match"]
    assert r["check"] == "collection.kind-unsupported" and r["status"] == "unverifiable"
    assert r["message"].startswith("RayCluster/llama-ray found; that kind is not supported by this version")
    assert "supported: Deployment, StatefulSet, ReplicaSet, Job, Pod, InferenceService, LeaderWorkerSet" in r["message"]
    assert rep["gate"]["exit_code"] == 3 and "RayCluster/llama-ray" in rep["gate"]["reason"]
    assert not [x for x in rep["results"] if x["check"] == "collection.target-not-found"]


def test_drift_elsewhere_still_exits_1_and_a_missing_name_is_still_not_found(tmp_path: Path, monkeypatch,
                                                                             capsys) -> None:
    m = tmp_path / "ray.yaml"
    m.write_text(RAYCLUSTER_DOC)
    code, out, _ = main_inprocess(monkeypatch, capsys, "diff", str(_spec(tmp_path, "llama-ray", None)),
                                  str(_spec(tmp_path, "nowhere", None)), "--manifest", str(m), "-F", "json")
    rep = json.loads(out)
    checks = sorted((r["spec"], r["check"]) for r in rep["results"] if r["status"] != "match")
    assert checks == [("llama-ray", "collection.kind-unsupported"), ("nowhere", "collection.target-not-found")]
    assert code == 1   # a definite finding (not found) outranks "could not read"


def test_table_output_names_the_kind(tmp_path: Path, monkeypatch, capsys) -> None:
    m = tmp_path / "ray.yaml"
    m.write_text(RAYCLUSTER_DOC)
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", str(_spec(tmp_path, "llama-ray", None)),
                                    "--manifest", str(m))
    assert code == 3
    assert "collection.kind-unsupported" in out and "RayCluster/llama-ray found" in " ".join(out.split())


@pytest.mark.parametrize("fixture, expect", [
    ("lws-vllm", {"multiHost": {"nodesPerReplica": 2, "gpusPerNode": 8},
                  "accelerator": {"vendor": "nvidia", "type": "h100-80gb", "count": 16}}),
    ("tpu-lws-vllm", {"multiHost": {"nodesPerReplica": 4, "gpusPerNode": 4},
                      "accelerator": {"vendor": "google", "type": "tpu-v5e", "count": 16}}),
    ("amd-vllm", {"accelerator": {"vendor": "amd", "type": "mi300x", "count": 8}}),
    ("neuron-vllm", {"accelerator": {"vendor": "aws", "type": "inferentia2", "count": 1}}),
    ("mig-vllm", {"accelerator": {"vendor": "nvidia", "type": "a100-80gb", "count": 1},
                  "gpu": {"migProfile": "1g.10gb"}}),
])
def test_init_captures_and_diffs_clean(fixture: str, expect: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    out_spec = tmp_path / "captured.yaml"
    code, _, err = main_inprocess(monkeypatch, capsys, "init", "-f", str(SHAPES / f"{fixture}.yaml"), "-o", str(out_spec))
    assert code == 0, err
    runtime = yaml.safe_load(out_spec.read_text())["spec"]["runtime"]
    for key, want in expect.items():
        assert {k: runtime[key][k] for k in want} == want
    code, _, err = main_inprocess(monkeypatch, capsys, "validate", str(out_spec))
    assert code == 0, err
    code, out, _ = main_inprocess(monkeypatch, capsys, "diff", str(out_spec), "-f", str(SHAPES / f"{fixture}.yaml"),
                                  "-F", "json")
    assert [r["check"] for r in json.loads(out)["results"] if r["status"] == "drift"] == [] and code == 0


def test_init_from_lws(tmp_path: Path, monkeypatch, capsys) -> None:
    out_spec = tmp_path / "lws.yaml"
    code, _, err = main_inprocess(monkeypatch, capsys, "init", "--from", "lws/vllm", "-f", str(LWS), "-o",
                                  str(out_spec))
    assert code == 0, err
    spec = yaml.safe_load(out_spec.read_text())["spec"]
    assert spec["target"]["kind"] == "LeaderWorkerSet" and spec["target"]["name"] == "vllm"
    assert spec["runtime"]["engine"]["tensorParallelSize"] == 8 and spec["runtime"]["engine"]["pipelineParallelSize"] == 2


# A RayCluster (KubeRay ray.io/v1, shaped after ray-project/kuberay ray-operator/config/samples/
# ray-cluster.sample.yaml): a serving kind this version names but does not read.
RAYCLUSTER = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "llama-ray", "namespace": "ml"},
              "spec": {"headGroupSpec": {"template": {"spec": {"containers": [
                  {"name": "ray-head", "image": "rayproject/ray:2.46.0"}]}}}}}


@pytest.mark.parametrize("target", [None, {"namespace": "ml", "name": "llama-ray"}])
def test_live_unsupported_kind_is_named_not_not_found(target, kube, kubeconfig: Path, tmp_path: Path, monkeypatch,
                                                      capsys) -> None:
    # without a target the spec audits its own name in the kubeconfig's namespace ("default")
    ns = "ml" if target else "default"
    kube.add({**RAYCLUSTER, "metadata": {"name": "llama-ray", "namespace": ns}})
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", str(_spec(tmp_path, "llama-ray", target)),
                                    "--kubeconfig", str(kubeconfig), "-F", "json")
    rep = json.loads(out)
    assert code == 3, err
    (r,) = [r for r in rep["results"] if r["status"] != "match"]
    assert r["check"] == "collection.kind-unsupported" and r["status"] == "unverifiable"
    assert r["message"].startswith("RayCluster/llama-ray found; that kind is not supported by this version")
    assert "supported: Deployment, StatefulSet" in r["message"]
    # looked up by name only, never a list of every RayCluster
    probes = [q for _, path, q in kube.requests if path.endswith("/rayclusters")]
    assert probes and all(q.get("fieldSelector") == "metadata.name=llama-ray" for q in probes)


def test_live_absent_crds_stay_quiet_and_the_target_is_not_found(kube, kubeconfig: Path, tmp_path: Path,
                                                                 monkeypatch, capsys) -> None:
    # no Ray, Seldon or InferenceGraph CRD in this cluster: every probe answers 404, and says nothing
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", str(_spec(tmp_path, "llama-ray", None)),
                                    "--kubeconfig", str(kubeconfig), "-F", "json")
    rep = json.loads(out)
    assert code == 1, err
    assert [r["check"] for r in rep["results"] if r["status"] != "match"] == ["collection.target-not-found"]
    assert any(path.endswith("/rayclusters") for _, path, _q in kube.requests)
    assert "404" not in out + err and "rayclusters" not in out + err
    # a denied probe is as quiet as an absent CRD
    kube.install_crd("ray.io/v1", "RayCluster")
    kube.deny("list", "rayclusters")
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", str(_spec(tmp_path, "llama-ray", None)),
                                    "--kubeconfig", str(kubeconfig), "-F", "json")
    assert code == 1 and "forbidden" not in out + err


def test_live_found_workload_is_never_probed(kube, kubeconfig: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    kube.load_yaml(Path(__file__).resolve().parent / "fixtures" / "k8s" / "vllm-rollout.yaml")
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--format", "json")
    assert code == 0, err
    assert not [p for _, p, _q in kube.requests if p.endswith(("/rayclusters", "/rayjobs", "/seldondeployments"))]


def test_live_many_missing_names_are_one_list_per_namespace(kube, kubeconfig: Path, tmp_path: Path, monkeypatch,
                                                          capsys) -> None:
    kube.add({**RAYCLUSTER, "metadata": {"name": "ray-3", "namespace": "ml"}})
    specs = [str(_spec(tmp_path, f"ray-{i}", {"namespace": "ml", "name": f"ray-{i}"})) for i in range(12)]
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", *specs, "--kubeconfig", str(kubeconfig), "-F", "json")
    rep = json.loads(out)
    named = [r for r in rep["results"] if r["check"] == "collection.kind-unsupported"]
    assert [r["spec"] for r in named] == ["ray-3"] and named[0]["message"].startswith("RayCluster/ray-3 found")
    assert len([r for r in rep["results"] if r["check"] == "collection.target-not-found"]) == 11
    probes = [q for _, path, q in kube.requests if path.endswith("/rayclusters")]
    assert len(probes) == 1 and "fieldSelector" not in probes[0]
