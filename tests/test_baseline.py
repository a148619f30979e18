"""`skewaudit diff --baseline`: last-good versus current, as a user runs it (findings, hints, exit codes).

Most "current" states are the live-shaped fixture ``tests/fixtures/baseline/live.yaml`` (pods, nodes,
ReplicaSets, HPA, Service, as ``kubectl get -o yaml`` prints them) with one thing changed; the manifest
collector reads them exactly as the live collector reads the API. One test goes through the loopback
API server with ``--kubeconfig``.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Callable

import pytest
import yaml

from clirun import main_inprocess as run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
MANIFESTS = EXAMPLES / "manifests"
BASELINE = ROOT / "tests" / "fixtures" / "baseline"




def live_docs() -> list[dict]:
    with open(BASELINE / "live.yaml", encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def write(path: Path, docs: list[dict]) -> Path:
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return path


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def containers(docs: list[dict]) -> list[dict]:
    """The vllm container of the Deployment template and of every pod."""
    out = [c for d in by_kind(docs, "Deployment") for c in d["spec"]["template"]["spec"]["containers"]]
    return out + [c for d in by_kind(docs, "Pod") for c in d["spec"]["containers"]]


def set_arg(docs: list[dict], flag: str, value: str) -> None:
    for c in containers(docs):
        c["args"] = [f"{flag}={value}" if a.startswith(flag + "=") else a for a in c["args"]]


@pytest.fixture
def last_good(monkeypatch, capsys, tmp_path) -> Path:
    """A snapshot of the settled live-shaped fixture."""
    out = tmp_path / "last-good.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "live.yaml", "-o", out)
    assert code == 0, err
    return out


def baseline_diff(monkeypatch, capsys, baseline: Path, manifest: Path, *extra) -> tuple[int, list[dict], str]:
    code, out, err = run(monkeypatch, capsys, "diff", "--baseline", baseline, "--manifest", manifest, "-F", "json",
                         *extra)
    assert code in (0, 1), err
    return code, json.loads(out)["results"], err


# --- the acceptance case ------------------------------------------------------------------------


def test_dtype_and_gpu_class_change_is_exactly_two_findings(monkeypatch, capsys, tmp_path):
    snap = tmp_path / "before.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "before.yaml", "-o", snap)
    assert code == 0, err
    code, out, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--manifest", BASELINE / "after.yaml")
    assert code == 1, err
    assert "2 drifted" in out.splitlines()[-1]
    code, results, _ = baseline_diff(monkeypatch, capsys, snap, BASELINE / "after.yaml")
    assert code == 1
    got = {r["check"]: r for r in results}
    assert sorted(got) == ["hardware.gpu-class", "runtime.dtype"]
    d, g = got["runtime.dtype"], got["hardware.gpu-class"]
    assert (d["category"], d["expected"], d["observed"][0]["value"]) == ("runtime", "bfloat16", "float16")
    assert (g["category"], g["expected"], g["observed"][0]["value"]) == ("hardware", "a100-80gb", "l4")
    assert d["observed"][0]["prov"] == {"source": "arg", "object": "Deployment/ml/llama-8b",
                                        "path": "spec.template.spec.containers[0].args[2]", "container": "vllm"}
    assert "Pass --dtype bfloat16" in d["hint"] and "Deployment/llama-8b, container vllm" in d["hint"]
    assert g["observed"][0]["prov"]["path"] == "spec.template.spec.nodeSelector[nvidia.com/gpu.product]"
    assert "Deployment/llama-8b" in g["hint"]
    for r in results:
        assert r["location"]["file"] == str(snap) and r["status"] == "drift"


# --- volatile fields ----------------------------------------------------------------------------


def churn(docs: list[dict]) -> list[dict]:
    """The same workload after a `kubectl rollout restart` and a reschedule: every pod, ReplicaSet and
    node name, uid, resourceVersion, timestamp, IP, container id and restart count is different."""
    docs = copy.deepcopy(docs)
    renamed_nodes = {"gpu-a100-1": "gpu-a100-9", "gpu-a100-2": "gpu-a100-4"}
    for i, d in enumerate(docs):
        md = d["metadata"]
        md["uid"] = f"00000000-0000-4000-8000-{i:012d}"
        md["resourceVersion"] = str(990000 + i)
        md["creationTimestamp"] = "2025-06-30T23:59:59Z"
        md["managedFields"] = [{"manager": "kube-controller-manager", "operation": "Update",
                                "time": "2025-06-30T23:59:59Z"}]
        if d["kind"] == "ReplicaSet":
            md["name"] = "llama-5f4e3d2c1"
            md["labels"]["pod-template-hash"] = "5f4e3d2c1"
            md["annotations"]["deployment.kubernetes.io/revision"] = "8"
        if d["kind"] == "Deployment":
            md["annotations"]["deployment.kubernetes.io/revision"] = "8"
            md["generation"] = 8
            d["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "2025-06-30"}
        if d["kind"] == "Pod":
            md["name"] = md["name"].replace("7c9f6d5b8", "5f4e3d2c1").replace("abcde", "zz9q1").replace("fghij", "k2x8w")
            md["labels"]["pod-template-hash"] = "5f4e3d2c1"
            md["ownerReferences"][0]["name"] = "llama-5f4e3d2c1"
            d["spec"]["nodeName"] = renamed_nodes[d["spec"]["nodeName"]]
            st = d["status"]
            st["podIP"], st["hostIP"], st["startTime"] = f"10.9.{i}.3", f"10.129.0.{i}", "2025-06-30T23:59:59Z"
            for cs in st["containerStatuses"]:
                cs["restartCount"] = 17
                cs["containerID"] = f"containerd://{i:08x}"
                cs["ready"] = False
        if d["kind"] == "Node":
            md["name"] = renamed_nodes[md["name"]]
            md["labels"]["kubernetes.io/hostname"] = md["name"]
            d["status"]["addresses"] = [{"type": "InternalIP", "address": f"10.130.0.{i}"}]
        if d["kind"] == "HorizontalPodAutoscaler":
            d["status"] = {"currentReplicas": 2, "desiredReplicas": 2, "lastScaleTime": "2025-06-30T00:00:00Z"}
        if d["kind"] == "Service":
            d["spec"]["clusterIP"] = "10.96.200.200"
            d["spec"]["clusterIPs"] = ["10.96.200.200"]
    return docs


def test_volatile_fields_are_not_changes(monkeypatch, capsys, tmp_path, last_good):
    current = write(tmp_path / "current.yaml", churn(live_docs()))
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, current, "--fail-on", "info")
    assert (code, results) == (0, [])


def test_volatile_fields_through_the_loopback_api_server(monkeypatch, capsys, tmp_path):
    from kube_server import FakeKube

    with FakeKube() as kube:
        kube.add(*live_docs())
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        snap = tmp_path / "live.json"
        code, _, err = run(monkeypatch, capsys, "snapshot", "--kubeconfig", kubeconfig, "-n", "ml", "-o", snap)
        assert code == 0, err
    doc = json.loads(snap.read_text())
    assert doc["source"] == "live" and doc["context"] == "loopback" and doc["inputs"][0].startswith("http://127.0.0.1")
    assert len(doc["workloads"][0]["pods"]) == 2
    with FakeKube() as kube:
        kube.add(*churn(live_docs()))
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig2")
        code, out, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--kubeconfig", kubeconfig, "-n", "ml",
                             "--fail-on", "info", "-F", "json")
        assert code == 0, out + err
        assert json.loads(out)["results"] == []
        # The same server with the dtype changed: the change is found, with the live pod as provenance.
        docs = churn(live_docs())
        set_arg(docs, "--dtype", "float16")
        kube.add(*docs)
        code, out, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--kubeconfig", kubeconfig, "-n", "ml",
                             "-F", "json")
    assert code == 1, err
    (r,) = json.loads(out)["results"]
    assert r["check"] == "runtime.dtype" and r["target"]["context"] == "loopback"
    assert r["observed"][0]["prov"]["object"].startswith("Pod/ml/llama-5f4e3d2c1-")


def test_a_manifest_baseline_compares_with_live_state_without_noise(monkeypatch, capsys, tmp_path):
    # Last good taken from rendered manifests (no pods, nodes or running digests), current from the
    # cluster: facts only one side could collect are not changes.
    template_only = [d for d in live_docs() if d["kind"] in ("Deployment", "HorizontalPodAutoscaler", "Service")]
    snap = tmp_path / "rendered.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", write(tmp_path / "r.yaml", template_only),
               "-o", snap)[0] == 0
    code, results, _ = baseline_diff(monkeypatch, capsys, snap, BASELINE / "live.yaml", "--fail-on", "info")
    assert (code, results) == (0, [])


# --- one change per category --------------------------------------------------------------------


def _model(docs):
    set_arg(docs, "--revision", "5206a32e0bd3067aef1ce90f5528ade7d866253f")


def _runtime(docs):
    set_arg(docs, "--dtype", "float16")


def _hardware(docs):
    for d in by_kind(docs, "Deployment"):
        d["spec"]["template"]["spec"]["nodeSelector"]["nvidia.com/gpu.product"] = "NVIDIA-H100-80GB-HBM3"
    for d in by_kind(docs, "Node"):
        d["metadata"]["labels"]["nvidia.com/gpu.product"] = "NVIDIA-H100-80GB-HBM3"
        d["metadata"]["labels"]["nvidia.com/gpu.memory"] = "81559"


def _serving(docs):
    for c in containers(docs):
        c["readinessProbe"]["httpGet"]["path"] = "/v1/models"


def _orchestration(docs):
    by_kind(docs, "HorizontalPodAutoscaler")[0]["spec"]["maxReplicas"] = 12


CATEGORY_CASES = [
    # change, check, category, expected, observed, words the hint must contain
    (_model, "model.revision", "model", "0e9e39f249a16976918f6564b8830bc894c89659",
     "5206a32e0bd3067aef1ce90f5528ade7d866253f", ["--revision", "Deployment/llama", "container vllm"]),
    (_runtime, "runtime.dtype", "runtime", "bfloat16", "float16", ["--dtype", "Deployment/llama", "container vllm"]),
    (_hardware, "hardware.gpu-class", "hardware", "a100-80gb", "h100-80gb", ["Deployment/llama", "a100-80gb"]),
    (_serving, "serving.readiness-probe", "serving", {"path": "/health"}, {"path": "/v1/models"},
     ["Deployment/llama", "container vllm", "/health"]),
    (_orchestration, "orchestration.hpa-bounds", "orchestration", 6, 12, ["Deployment/llama"]),
]


@pytest.mark.parametrize("change, check, category, before, after, hint_words", CATEGORY_CASES,
                         ids=[c[2] for c in CATEGORY_CASES])
def test_one_change_per_category(monkeypatch, capsys, tmp_path, last_good, change: Callable, check, category,
                                 before, after, hint_words):
    docs = live_docs()
    change(docs)
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, write(tmp_path / "now.yaml", docs),
                                     "--fail-on", "info")
    assert code == 1
    assert len(results) == 1, [r["message"] for r in results]
    (r,) = results
    assert (r["check"], r["category"], r["status"]) == (check, category, "drift")
    assert (r["expected"], r["observed"][0]["value"]) == (before, after)
    # The serving container is named on every finding, as intent results do, so both group together.
    assert r["target"] == {"kind": "Deployment", "name": "llama", "namespace": "ml", "container": "vllm"}
    assert r["hint"].startswith("Changed since the last-good snapshot.")
    for word in hint_words:
        assert word in r["hint"], r["hint"]
    # Provenance names a real object of the current state.
    assert r["observed"][0]["prov"]["object"].split("/")[0] in ("Pod", "Deployment", "Node", "HorizontalPodAutoscaler")
    # Commands are ready to paste: real namespace and pod names, no template braces left.
    assert r["commands"] and all("{" not in c.replace("{.", "") for c in r["commands"])


def test_gpu_class_change_is_reported_once_with_its_memory(monkeypatch, capsys, tmp_path, last_good):
    docs = live_docs()
    _hardware(docs)
    _, results, _ = baseline_diff(monkeypatch, capsys, last_good, write(tmp_path / "now.yaml", docs))
    (r,) = results
    assert "a100-80gb -> h100-80gb" in r["message"] and "81920 -> 81559" in r["message"]
    assert r["observed"][0]["prov"] == {"source": "node-label", "object": "Node/gpu-a100-1",
                                        "path": "metadata.labels[nvidia.com/gpu.product]"}


def test_driver_change_on_the_nodes(monkeypatch, capsys, tmp_path, last_good):
    docs = live_docs()
    for d in by_kind(docs, "Node"):
        d["metadata"]["labels"]["nvidia.com/cuda.driver-version.full"] = "535.183.01"
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, write(tmp_path / "now.yaml", docs))
    (r,) = results
    assert (r["check"], r["expected"], r["observed"][0]["value"]) == ("hardware.driver-version", "550.107.02",
                                                                       "535.183.01")


def test_secret_change_is_seen_without_revealing_it(monkeypatch, capsys, tmp_path, last_good):
    docs = live_docs()
    for c in containers(docs):
        c["env"][0]["value"] = "hf_RotatedSecretTokenValue999"
    code, out, _ = run(monkeypatch, capsys, "diff", "--baseline", last_good, "--manifest",
                       write(tmp_path / "now.yaml", docs), "--fail-on", "warning")
    assert code == 1
    assert "HF_TOKEN" in out and "<redacted:" in out
    assert "hf_RotatedSecretTokenValue999" not in out and "hf_LiveFixtureSecretToken12345" not in out


# --- --ignore -----------------------------------------------------------------------------------


@pytest.mark.parametrize("pattern", ["containers.vllm.engine.dtype", "containers.*.engine.dtype", "containers.*.engine",
                                     "Deployment/ml/llama:containers.vllm.engine.dtype",
                                     "workloads.*.containers.*.engine.dtype", "Deployment/ml/*"])
def test_ignore_suppresses_a_change(monkeypatch, capsys, tmp_path, last_good, pattern):
    docs = live_docs()
    _runtime(docs)
    now = write(tmp_path / "now.yaml", docs)
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, now)
    assert code == 1 and [r["check"] for r in results] == ["runtime.dtype"]
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, now, "--ignore", pattern)
    assert (code, results) == (0, [])


def test_ignore_leaves_other_changes(monkeypatch, capsys, tmp_path, last_good):
    docs = live_docs()
    _runtime(docs)
    _model(docs)
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, write(tmp_path / "now.yaml", docs),
                                     "--ignore", "containers.*.engine.dtype")
    assert code == 1 and [r["check"] for r in results] == ["model.revision"]


# --- rollouts and replicas ----------------------------------------------------------------------


def mid_rollout(docs: list[dict], *, new_dtype: str | None = None) -> list[dict]:
    """Revision 8 (hash 5f4e3d2c1) rolling out over revision 7: one new pod, the two old ones still up."""
    docs = copy.deepcopy(docs)
    old_rs = by_kind(docs, "ReplicaSet")[0]
    new_rs = copy.deepcopy(old_rs)
    new_rs["metadata"].update(name="llama-5f4e3d2c1", uid="5d1c0a7e-0000-4000-8000-00000000e002")
    new_rs["metadata"]["labels"]["pod-template-hash"] = "5f4e3d2c1"
    new_rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "8"
    new_rs["spec"]["replicas"] = 1
    deploy = by_kind(docs, "Deployment")[0]
    deploy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = "8"
    deploy["spec"]["template"]["metadata"]["annotations"] = {"kubectl.kubernetes.io/restartedAt": "2025-07-01"}
    new_pod = copy.deepcopy(by_kind(docs, "Pod")[0])
    new_pod["metadata"].update(name="llama-5f4e3d2c1-n3w01", uid="5d1c0a7e-0000-4000-8000-00000000f003")
    new_pod["metadata"]["labels"]["pod-template-hash"] = "5f4e3d2c1"
    new_pod["metadata"]["ownerReferences"][0].update(name="llama-5f4e3d2c1", uid=new_rs["metadata"]["uid"])
    if new_dtype:
        for c in deploy["spec"]["template"]["spec"]["containers"] + new_pod["spec"]["containers"]:
            c["args"] = [f"--dtype={new_dtype}" if a.startswith("--dtype=") else a for a in c["args"]]
    return docs + [new_rs, new_pod]


def test_rollout_with_two_replicasets_is_one_finding(monkeypatch, capsys, tmp_path, last_good):
    now = write(tmp_path / "now.yaml", mid_rollout(live_docs()))
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, now, "--fail-on", "info")
    assert code == 1
    (r,) = results  # not one per pod, and the surge pod is not a replica change
    assert (r["check"], r["category"], r["level"]) == ("orchestration.rollout", "orchestration", "info")
    assert "1 pod(s) on revision 5f4e3d2c1, 2 still on llama-7c9f6d5b8" in r["message"]
    assert "rollout status deployment/llama" in " ".join(r["commands"])
    # Any change fails the default gate, whatever its level; only a narrowed gate lets an info change pass.
    code, _, _ = baseline_diff(monkeypatch, capsys, last_good, now)
    assert code == 1
    code, _, _ = baseline_diff(monkeypatch, capsys, last_good, now, "--fail-on", "warning")
    assert code == 0


def test_rollout_of_a_changed_setting_reports_the_rollout_and_the_setting(monkeypatch, capsys, tmp_path, last_good):
    now = write(tmp_path / "now.yaml", mid_rollout(live_docs(), new_dtype="float16"))
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, now)
    assert code == 1
    assert sorted(r["check"] for r in results) == ["orchestration.rollout", "runtime.dtype"]
    dtype = next(r for r in results if r["check"] == "runtime.dtype")
    assert dtype["observed"][0]["prov"]["object"] == "Pod/ml/llama-5f4e3d2c1-n3w01"


def test_rollout_seen_in_both_is_no_change(monkeypatch, capsys, tmp_path):
    now = write(tmp_path / "now.yaml", mid_rollout(live_docs()))
    snap = tmp_path / "mid.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", now, "-o", snap)[0] == 0
    code, results, _ = baseline_diff(monkeypatch, capsys, snap, now, "--fail-on", "info")
    assert (code, results) == (0, [])


def scaled(docs: list[dict], replicas: int, *, hpa: bool) -> list[dict]:
    docs = copy.deepcopy([d for d in docs if hpa or d["kind"] != "HorizontalPodAutoscaler"])
    by_kind(docs, "Deployment")[0]["spec"]["replicas"] = replicas
    by_kind(docs, "ReplicaSet")[0]["spec"]["replicas"] = replicas
    pods = by_kind(docs, "Pod")
    for i in range(len(pods), replicas):
        p = copy.deepcopy(pods[0])
        p["metadata"].update(name=f"llama-7c9f6d5b8-extra{i}", uid=f"5d1c0a7e-0000-4000-8000-0000000ff{i:03d}")
        docs.append(p)
    return docs


def test_replica_change_is_one_finding_not_n_pod_changes(monkeypatch, capsys, tmp_path):
    base = write(tmp_path / "base.yaml", scaled(live_docs(), 2, hpa=False))
    snap = tmp_path / "base.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", base, "-o", snap)[0] == 0
    now = write(tmp_path / "now.yaml", scaled(live_docs(), 4, hpa=False))
    code, results, _ = baseline_diff(monkeypatch, capsys, snap, now, "--fail-on", "warning")
    assert code == 1
    (r,) = results
    assert (r["check"], r["level"], r["expected"], r["observed"][0]["value"]) == ("orchestration.replicas", "warning", 2, 4)
    assert r["message"] == "replica count changed since the baseline: 2 -> 4 (running pods 2 -> 4)"
    assert r["observed"][0]["prov"] == {"source": "workload-spec", "object": "Deployment/ml/llama", "path": "spec.replicas"}


def test_replica_change_made_by_the_hpa_is_info(monkeypatch, capsys, tmp_path, last_good):
    now = write(tmp_path / "now.yaml", scaled(live_docs(), 5, hpa=True))
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, now, "--fail-on", "warning")
    assert code == 0
    (r,) = results
    assert (r["check"], r["level"]) == ("orchestration.replicas", "info")
    assert "HPA llama manages it (min 2, max 6)" in r["message"]


# --- workloads appearing and disappearing -------------------------------------------------------


def test_removed_and_new_workloads(monkeypatch, capsys, tmp_path, last_good):
    docs = live_docs()
    for d in docs:
        if d["kind"] in ("Deployment", "ReplicaSet", "Pod"):
            d["metadata"]["name"] = d["metadata"]["name"].replace("llama", "qwen")
        if d["kind"] == "Pod":
            d["metadata"]["ownerReferences"][0]["name"] = d["metadata"]["ownerReferences"][0]["name"].replace("llama", "qwen")
    code, results, _ = baseline_diff(monkeypatch, capsys, last_good, write(tmp_path / "now.yaml", docs))
    assert code == 1
    msgs = sorted((r["check"], r["message"]) for r in results)
    assert msgs == [("collection.target-not-found", "Deployment/ml/llama ran in the baseline and is not found now"),
                    ("orchestration.baseline-changed", "Deployment/ml/qwen is new since the baseline")]


def test_rendered_manifests_without_namespace_pair_with_the_baseline(monkeypatch, capsys, tmp_path):
    snap = tmp_path / "before.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "before.yaml", "-o", snap)[0] == 0
    docs = [d for d in yaml.safe_load_all((BASELINE / "before.yaml").read_text()) if d]
    for d in docs:
        d["metadata"].pop("namespace", None)
    code, results, _ = baseline_diff(monkeypatch, capsys, snap, write(tmp_path / "no-ns.yaml", docs), "--fail-on", "info")
    assert (code, results) == (0, [])


# --- intent and baseline in one run -------------------------------------------------------------


def test_intent_and_baseline_in_one_run(monkeypatch, capsys, tmp_path):
    spec = EXAMPLES / "llama-3.1-70b-vllm.yaml"
    clean, drifted = MANIFESTS / "llama-3.1-70b-vllm.yaml", MANIFESTS / "llama-3.1-70b-vllm-drifted.yaml"
    snap = tmp_path / "last-good.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", clean, "-o", snap)[0] == 0

    code, out, err = run(monkeypatch, capsys, "diff", spec, "--manifest", drifted, "--baseline", snap, "-F", "json")
    assert code == 1, err
    report = json.loads(out)
    assert report["baseline"] == str(snap)
    intent = [r for r in report["results"] if r["location"]["file"] == str(spec)]
    base = [r for r in report["results"] if r["location"]["file"] == str(snap)]
    assert {r["check"] for r in intent if r["status"] == "drift"} >= {"runtime.dtype", "hardware.gpu-class"}
    assert {r["check"] for r in base} >= {"runtime.dtype", "hardware.gpu-class", "runtime.image", "orchestration.hpa-metric"}
    # Baseline findings are attributed to the spec that targets the workload.
    assert {r["spec"] for r in base} == {"llama-3-1-70b"}
    assert report["summary"]["drift"] == sum(r["status"] == "drift" for r in report["results"])
    for b in ("runtime.dtype", "orchestration.hpa-metric"):
        assert b in report["checks"]

    # Intent clean, baseline changed: the one exit code still says drift.
    now = tmp_path / "now.yaml"
    now.write_text(clean.read_text().replace("--max-num-seqs=256", "--max-num-seqs=256\n            - --enforce-eager"))
    code, out, _ = run(monkeypatch, capsys, "diff", spec, "--manifest", now, "--baseline", snap, "--fail-on", "warning")
    assert code == 1
    assert "enforce_eager" in out and "(baseline)" not in out

    # Both clean: exit 0.
    code, out, _ = run(monkeypatch, capsys, "diff", spec, "--manifest", clean, "--baseline", snap)
    assert code == 0 and out.splitlines()[-1].startswith("0 drifted")


def test_baseline_with_a_spec_compares_only_the_specs_targets(monkeypatch, capsys, tmp_path):
    # The baseline holds two workloads; the spec audits one of them, so the other is not "removed".
    both = live_docs() + [d for d in yaml.safe_load_all((BASELINE / "before.yaml").read_text()) if d]
    snap = tmp_path / "both.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", write(tmp_path / "both.yaml", both), "-o", snap)[0] == 0
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--manifest", BASELINE / "before.yaml", "-o", spec)
    assert code == 0, err
    code, out, err = run(monkeypatch, capsys, "diff", spec, "--manifest", BASELINE / "after.yaml", "--baseline", snap,
                         "-F", "json")
    assert code == 1, err
    base = [r for r in json.loads(out)["results"] if r["location"]["file"] == str(snap)]
    assert sorted(r["check"] for r in base) == ["hardware.gpu-class", "runtime.dtype"]
    assert {r["target"]["name"] for r in base} == {"llama-8b"}


def test_baseline_output_formats(monkeypatch, capsys, tmp_path):
    snap = tmp_path / "before.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "before.yaml", "-o", snap)[0] == 0
    sarif, junit, md = tmp_path / "r.sarif", tmp_path / "r.xml", tmp_path / "r.md"
    code, _, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--manifest", BASELINE / "after.yaml",
                       "-F", "sarif", "-o", sarif, "-F", "junit", "-o", junit, "-F", "markdown", "-o", md)
    assert code == 1, err
    s = json.loads(sarif.read_text())
    assert sorted(r["ruleId"] for r in s["runs"][0]["results"]) == ["hardware.gpu-class", "runtime.dtype"]
    assert "runtime.dtype" in junit.read_text() and "hardware.gpu-class" in md.read_text()


def test_speed_design_only_changed_workloads_reach_deepdiff(monkeypatch):
    """The cheap path: workloads whose views are equal never go through DeepDiff."""
    import msgspec

    from skewaudit import baseline
    from skewaudit.collect import gather
    from skewaudit.commands._options import source_request

    snap = gather(source_request(manifest=[str(BASELINE / "live.yaml")]))
    w = snap.workloads[0]
    many = [msgspec.structs.replace(w, name=f"llama-{i}", object=f"Deployment/ml/llama-{i}") for i in range(50)]
    base = msgspec.structs.replace(snap, workloads=many)
    changed = list(many)
    c = w.pods[0].containers[0]
    f = c.engine.fields["dtype"]
    c2 = msgspec.structs.replace(c, engine=msgspec.structs.replace(
        c.engine, fields={**c.engine.fields, "dtype": msgspec.structs.replace(f, value="float16")}))
    changed[7] = msgspec.structs.replace(many[7], pods=[msgspec.structs.replace(p, containers=[c2]) for p in w.pods])
    current = msgspec.structs.replace(snap, workloads=changed)
    calls = []
    real = baseline._diff
    monkeypatch.setattr(baseline, "_diff", lambda o, n: calls.append(1) or real(o, n))
    results = baseline.compare(base, current)
    assert len(calls) == 1
    assert [(r.check, r.target.name) for r in results] == [("runtime.dtype", "llama-7")]
    assert results.compared == 50


def test_local_process_baseline_ignores_host_specific_env(monkeypatch, capsys, tmp_path):
    import socket

    cmd = "vllm serve Qwen/Qwen2.5-7B-Instruct --dtype bfloat16 --max-model-len 8192"
    monkeypatch.setattr(socket, "gethostname", lambda: "llama-7c9f6d5b8-abcde")
    for k, v in {"HOSTNAME": "llama-7c9f6d5b8-abcde", "PWD": "/srv", "SHLVL": "1",
                 "LLAMA_SERVICE_HOST": "10.96.14.2", "LLAMA_PORT_80_TCP_ADDR": "10.96.14.2",
                 "VLLM_LOGGING_LEVEL": "INFO"}.items():
        monkeypatch.setenv(k, v)
    snap = tmp_path / "local.json"
    assert run(monkeypatch, capsys, "snapshot", "--cmdline", cmd, "-o", snap)[0] == 0
    # Another pod of the same Deployment: other host name, shell depth, working directory, Service IPs.
    monkeypatch.setattr(socket, "gethostname", lambda: "llama-5f4e3d2c1-zz9q1")
    for k, v in {"HOSTNAME": "llama-5f4e3d2c1-zz9q1", "PWD": "/", "SHLVL": "3",
                 "LLAMA_SERVICE_HOST": "10.96.200.200", "LLAMA_PORT_80_TCP_ADDR": "10.96.200.200"}.items():
        monkeypatch.setenv(k, v)
    code, out, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--cmdline", cmd, "--fail-on", "info",
                         "-F", "json")
    assert code == 0 and json.loads(out)["results"] == [], out + err
    # A real env change is still seen.
    monkeypatch.setenv("VLLM_LOGGING_LEVEL", "DEBUG")
    code, out, _ = run(monkeypatch, capsys, "diff", "--baseline", snap, "--cmdline", cmd, "--fail-on", "info",
                       "-F", "json")
    (r,) = json.loads(out)["results"]
    assert (code, r["check"], r["expected"], r["observed"][0]["value"]) == (1, "runtime.env", "INFO", "DEBUG")


def test_kserve_storage_uri_change_is_a_model_change(monkeypatch, capsys, tmp_path):
    kserve = ROOT / "tests" / "fixtures" / "k8s" / "kserve.yaml"
    snap = tmp_path / "isvc.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", kserve, "-o", snap)[0] == 0
    now = tmp_path / "now.yaml"
    now.write_text(kserve.read_text().replace("hf://Qwen/Qwen2.5-7B-Instruct", "hf://Qwen/Qwen2.5-14B-Instruct"))
    code, results, _ = baseline_diff(monkeypatch, capsys, snap, now)
    assert code == 1
    (r,) = results
    assert (r["check"], r["category"], r["field"]) == ("model.id", "model", "extra.storageUri")
    assert r["observed"][0]["prov"]["path"] == "spec.predictor.model.storageUri"
    assert "spec.predictor.model.storageUri" in r["hint"] and "container kserve-container" in r["hint"]
