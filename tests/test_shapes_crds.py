"""Serving CRDs read as workloads: KServe LLMInferenceService, KubeRay RayService, NIM operator NIMService.

For each kind a clean fixture (tests/fixtures/crds/<name>.yaml, each citing the public sample and the
commit it was shaped after) diffs with 0 drift against its spec offline and live (loopback API server),
one edited value per case is caught with the observed value and the CRD field it came from, and
`init`, `collect`, `snapshot` and `--baseline` handle the kind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from clirun import main_inprocess
from kube_server import FakeKube

CRDS = Path(__file__).resolve().parent / "fixtures" / "crds"


@dataclass(frozen=True)
class Edit:
    old: str              # text replaced in the fixture (first occurrence)
    new: str
    check: str            # the check that must drift
    value: object         # the observed value it must report
    path: str             # the field the value was read from
    source: str = "workload-spec"
    kind: str = ""        # the kind of the object it was read from (default: the case's)


@dataclass(frozen=True)
class Case:
    fixture: str
    kind: str
    name: str
    alias: str
    edits: tuple[Edit, ...]
    crd: bool = True      # a custom kind: a cluster without its CRD is a note
    scaling: tuple[tuple[str, object], ...] = ()   # what `init` must capture under operations.scaling


_LLM = "spec.serveConfigV2:applications[0].args.llm_configs[0]"
CASES = {c.fixture: c for c in (
    Case("rayservice-vllm", "RayService", "ray-serve-llm", "rayservice", (
        Edit("max_model_len: 1024", "max_model_len: 2048", "runtime.max-model-len", 2048,
             f"{_LLM}.engine_kwargs.max_model_len"),
        Edit("tensor_parallel_size: 4", "tensor_parallel_size: 2", "runtime.tensor-parallel", 2,
             f"{_LLM}.engine_kwargs.tensor_parallel_size"),
        Edit("model_source: Qwen/Qwen2.5-7B-Instruct", "model_source: Qwen/Qwen2.5-3B-Instruct", "model.id",
             "Qwen/Qwen2.5-3B-Instruct", f"{_LLM}.model_loading_config.model_source"),
        Edit("max_ongoing_requests: 128", "max_ongoing_requests: 32", "serving.max-concurrency", 32,
             f"{_LLM}.deployment_config.max_ongoing_requests"),
        Edit("max_replicas: 4", "max_replicas: 8", "orchestration.hpa-bounds", 8,
             f"{_LLM}.deployment_config.autoscaling_config.max_replicas"),
    ), scaling=(("minReplicas", 1), ("maxReplicas", 4))),
    Case("nimservice-llm", "NIMService", "meta-llama3-8b-instruct", "nimservice", (
        Edit('value: "8192"', 'value: "4096"', "runtime.max-model-len", 4096, "spec.env[NIM_MAX_MODEL_LEN]", "env"),
        Edit("profile: vllm-bf16-tp1-pp1", "profile: vllm-bf16-tp2-pp1", "runtime.tensor-parallel", 2,
             "spec.storage.nimCache.profile", "env"),
        Edit("repository: nvcr.io/nim/meta/llama-3.1-8b-instruct", "repository: nvcr.io/nim/meta/llama-3.1-70b-instruct",
             "model.id", "meta/llama-3.1-70b-instruct", "spec.image.repository"),
        Edit("maxReplicas: 3", "maxReplicas: 5", "orchestration.hpa-bounds", 5, "spec.scale.hpa.maxReplicas"),
        Edit("name: gpu_cache_usage_perc", "name: num_requests_running", "orchestration.hpa-metric",
             "num_requests_running", "spec.scale.hpa.metrics"),
        Edit("port: 8000", "port: 9000", "serving.port", 9000, "spec.expose.service.port", "env"),
        Edit("NVIDIA-H100-80GB-HBM3", "NVIDIA-A100-SXM4-80GB", "hardware.gpu-class", "a100-80gb",
             "nodeSelector[nvidia.com/gpu.product]", "pod-spec"),
    ), scaling=(("minReplicas", 1), ("maxReplicas", 3), ("metric", "gpu_cache_usage_perc"))),
    Case("llmisvc-pd", "LLMInferenceService", "qwen2-7b-instruct-pd", "llmisvc", (
        Edit("tensor: 1", "tensor: 2", "runtime.tensor-parallel", 2, "spec.parallelism.tensor"),
        Edit("--max-model-len 8192", "--max-model-len 4096", "runtime.max-model-len", 4096,
             "spec.template.containers[0].env[VLLM_ADDITIONAL_ARGS]", "env"),
        Edit("name: Qwen/Qwen2.5-7B-Instruct", "name: qwen-chat", "model.served-name", "qwen-chat", "spec.model.name"),
        Edit("uri: hf://Qwen/Qwen2.5-7B-Instruct", "uri: hf://Qwen/Qwen2.5-14B-Instruct", "model.id",
             "hf://Qwen/Qwen2.5-14B-Instruct", "spec.model.uri"),
        Edit("  replicas: 1\n  model:", "  replicas: 3\n  model:", "orchestration.replicas", 3, "spec.replicas"),
    ), scaling=(("replicas", 1),)),
    # Serverless InferenceService: what the generated Knative Service enforces
    Case("isvc-serverless", "InferenceService", "qwen-serverless", "isvc", (
        Edit("      containerConcurrency: 8", "      containerConcurrency: 16", "serving.max-concurrency", 16,
             "spec.template.spec.containerConcurrency", kind="KnativeService"),
        Edit("timeoutSeconds: 300", "timeoutSeconds: 60", "serving.timeout", 60, "spec.template.spec.timeoutSeconds",
             kind="KnativeService"),
        Edit('        autoscaling.knative.dev/max-scale: "3"', '        autoscaling.knative.dev/max-scale: "5"',
             "orchestration.hpa-bounds", 5, "spec.template.metadata.annotations[autoscaling.knative.dev/max-scale]",
             kind="KnativeService"),
        Edit("        autoscaling.knative.dev/metric: concurrency", "        autoscaling.knative.dev/metric: rps",
             "orchestration.hpa-metric", "rps", "spec.template.metadata.annotations[autoscaling.knative.dev/metric]",
             kind="KnativeService"),
    ), crd=False, scaling=(("minReplicas", 1), ("maxReplicas", 3), ("metric", "concurrency"))),
)}


def _spec(case: Case) -> Path:
    return CRDS / "specs" / f"{case.fixture}.yaml"


def _manifest(case: Case) -> Path:
    return CRDS / f"{case.fixture}.yaml"


def _edited(case: Case, e: Edit, tmp_path: Path) -> Path:
    text = _manifest(case).read_text()
    assert e.old in text, e.old
    p = tmp_path / f"{case.fixture}-edited.yaml"
    p.write_text(text.replace(e.old, e.new, 1))
    return p


def _diff(monkeypatch, capsys, spec: Path, *args) -> tuple[int, dict, str]:
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", str(spec), "-F", "json", *args)
    return code, json.loads(out), err


def _problems(rep: dict) -> list[dict]:
    return [r for r in rep["results"] if r["status"] in ("drift", "unverifiable")]


EDITS = [(name, i) for name, c in CASES.items() for i in range(len(c.edits))]


@pytest.mark.parametrize("name", sorted(CASES))
def test_clean_fixture_diffs_clean_offline(name: str, monkeypatch, capsys) -> None:
    case = CASES[name]
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--manifest", str(_manifest(case)))
    assert _problems(rep) == [] and code == 0, err
    assert rep["summary"]["workloads"] == 1


@pytest.mark.parametrize("name, i", EDITS)
def test_edited_value_is_caught_with_its_field(name: str, i: int, tmp_path: Path, monkeypatch, capsys) -> None:
    case = CASES[name]
    e = case.edits[i]
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--manifest", str(_edited(case, e, tmp_path)))
    assert code == 1, err
    drift = [r for r in rep["results"] if r["status"] == "drift"]
    hit = next((r for r in drift if r["check"] == e.check), None)
    assert hit is not None, [r["check"] for r in drift]
    ob = next(o for o in hit["observed"] if o["value"] == e.value)
    assert ob["prov"]["path"] == e.path and ob["prov"]["source"] == e.source
    assert ob["prov"]["object"].startswith(f"{e.kind or case.kind}/") and case.name in ob["prov"]["object"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_init_captures_and_diffs_clean(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    case = CASES[name]
    out = tmp_path / "captured.yaml"
    code, _, err = main_inprocess(monkeypatch, capsys, "init", "-f", str(_manifest(case)), "-o", str(out))
    assert code == 0, err
    spec = yaml.safe_load(out.read_text())["spec"]
    assert spec["target"]["kind"] == case.kind and spec["target"]["name"] == case.name
    # the workload's own autoscaler (Ray Serve, spec.scale.hpa, Knative) is captured like an HPA
    assert [(key, spec["operations"]["scaling"].get(key)) for key, _ in case.scaling] == list(case.scaling)
    if case.kind == "RayService":
        # rayproject/ray-llm:2.50.1 is Ray's version, not vLLM's: left to the owner, never guessed
        assert "version" not in spec["runtime"]["engine"]
        assert "is not an official vllm image" in out.read_text()
    assert main_inprocess(monkeypatch, capsys, "validate", str(out))[0] == 0
    code, rep, err = _diff(monkeypatch, capsys, out, "-f", str(_manifest(case)))
    assert [r["check"] for r in rep["results"] if r["status"] == "drift"] == [] and code == 0, err


@pytest.mark.parametrize("name", sorted(CASES))
def test_collect_kind_flag_reads_the_kind(name: str, monkeypatch, capsys) -> None:
    case = CASES[name]
    for kind in (case.kind, case.alias):
        code, out, err = main_inprocess(monkeypatch, capsys, "collect", "-f", str(_manifest(case)), "--kind", kind,
                                        "--format", "json")
        assert code == 0, err
        snap = json.loads(out)
        assert [(w["kind"], w["name"]) for w in snap["workloads"]] == [(case.kind, case.name)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_live_snapshot_and_baseline(name: str, kube: FakeKube, kubeconfig: Path, tmp_path: Path, monkeypatch,
                                    capsys) -> None:
    case = CASES[name]
    kube.load_yaml(_manifest(case))
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--kubeconfig", str(kubeconfig))
    assert _problems(rep) == [] and code == 0, err
    snap = tmp_path / "good.json"
    code, _, err = main_inprocess(monkeypatch, capsys, "snapshot", str(_spec(case)), "--kubeconfig", str(kubeconfig),
                                  "-o", str(snap))
    assert code == 0, err
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--snapshot", str(snap))
    assert _problems(rep) == [] and code == 0, err
    # the first edit applied in the cluster: caught against the spec and against the last-good snapshot
    e = case.edits[0]
    kube.load_yaml(_edited(case, e, tmp_path))
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--kubeconfig", str(kubeconfig), "--baseline", str(snap))
    assert code == 1, err
    drift = [r for r in rep["results"] if r["status"] == "drift"]
    assert e.check in {r["check"] for r in drift}
    assert any(r["field"].startswith("spec.") is False for r in drift), [r["field"] for r in drift]


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.crd))
def test_cluster_without_the_crd_is_a_note(name: str, kube: FakeKube, kubeconfig: Path, monkeypatch, capsys) -> None:
    case = CASES[name]
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--kind", case.alias, "--format", "json")
    assert code == 0, err
    note = next(i for i in json.loads(out)["issues"] if i["scope"] == f"{case.kind}/*")
    assert note["kind"] == "unsupported" and "is not installed" in note["message"]
    # nobody names the kind: the 404 on its list path is quiet
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--format", "json")
    assert code == 0, err
    assert not [i for i in json.loads(out)["issues"] if i["scope"].startswith(case.kind)]


# --- RayService: the serveConfigV2 string is untrusted input ---------------------------------------------------


def _ray_with(tmp_path: Path, serve_config: str) -> Path:
    doc = yaml.safe_load(_manifest(CASES["rayservice-vllm"]).read_text())
    doc["spec"]["serveConfigV2"] = serve_config
    p = tmp_path / "ray.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _collect_issues(monkeypatch, capsys, path: Path) -> tuple[int, list[dict], dict]:
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "-f", str(path), "--format", "json")
    snap = json.loads(out)
    return code, snap["issues"], snap["workloads"][0]


@pytest.mark.parametrize("text, where, what", [
    ("applications:\n- name: llms\n  args: {llm_configs: [\n", ":4:1:", "YAML syntax error"),
    ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(f"b{i}: &b{i} [*{'a' if i == 0 else f'b{i - 1}'}] \n"
                                                    for i in range(120)), ":", "aliases"),
    ("x:\n" + "".join("  " * i + "- \n" for i in range(1, 260)), ":", "nesting is deeper"),
])
def test_bad_serve_config_is_a_located_malformed_issue(text: str, where: str, what: str, tmp_path: Path,
                                                       monkeypatch, capsys) -> None:
    code, issues, w = _collect_issues(monkeypatch, capsys, _ray_with(tmp_path, text))
    assert code == 0
    (issue,) = [i for i in issues if i["kind"] == "malformed"]
    assert issue["scope"] == "RayService/ray/ray-serve-llm" and issue["area"] == "engine"
    assert issue["message"].startswith("RayService/ray/ray-serve-llm spec.serveConfigV2" + where)
    assert what in issue["message"] and "unverifiable" in issue["message"]
    # no engine facts were made up: the worker's own argv (none) is what is left
    assert (w["template"]["containers"][0].get("engine") or {}).get("engine") != "vllm"


def test_oversized_serve_config_is_refused_before_parsing(tmp_path: Path, monkeypatch, capsys) -> None:
    code, issues, _ = _collect_issues(monkeypatch, capsys, _ray_with(tmp_path, "# pad\n" * 200_000))
    (issue,) = [i for i in issues if i["kind"] == "malformed"]
    assert "over the 1048576 limit" in issue["message"] and code == 0


def test_serve_config_without_llm_app_is_unsupported_not_guessed(tmp_path: Path, monkeypatch, capsys) -> None:
    text = "applications:\n- name: app\n  import_path: my_app:deployment\n"
    code, issues, _ = _collect_issues(monkeypatch, capsys, _ray_with(tmp_path, text))
    (issue,) = [i for i in issues if i["kind"] == "unsupported"]
    assert "no Ray Serve LLM application (args.llm_configs)" in issue["message"] and code == 0
    case = CASES["rayservice-vllm"]
    code, rep, _ = _diff(monkeypatch, capsys, _spec(case), "-f", str(_ray_with(tmp_path, text)))
    ml = next(r for r in rep["results"] if r["check"] == "runtime.max-model-len")
    assert ml["status"] == "unverifiable"


# --- live pods: joined by label, and only the decode workload's -------------------------------------------------


def _llm_pod(name: str, component: str, max_len: str) -> dict:
    rs = "qwen2-7b-instruct-pd-kserve" + ("-prefill" if component.endswith("prefill") else "") + "-5d8f7"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": "llm",
        "labels": {"app.kubernetes.io/name": "qwen2-7b-instruct-pd", "app.kubernetes.io/component": component,
                   "app.kubernetes.io/part-of": "llminferenceservice", "pod-template-hash": "5d8f7"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": "u", "controller": True}]},
        "spec": {"nodeName": "l40s-node-1", "containers": [{
            "name": "main", "image": "ghcr.io/llm-d/llm-d-dev:v0.2.2",
            "command": ["vllm", "serve", "/mnt/models"],
            "args": ["--served-model-name", "Qwen/Qwen2.5-7B-Instruct", "--port", "8000", "--tensor-parallel-size", "1"],
            "env": [{"name": "VLLM_ADDITIONAL_ARGS", "value": f"--max-model-len {max_len}"}],
            "resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}}]},
        "status": {"phase": "Running", "containerStatuses": [{"name": "main", "ready": True, "restartCount": 0,
                                                              "image": "ghcr.io/llm-d/llm-d-dev:v0.2.2"}]}}


def test_llmisvc_live_pods_are_the_decode_ones(kube: FakeKube, kubeconfig: Path, monkeypatch, capsys) -> None:
    case = CASES["llmisvc-pd"]
    kube.load_yaml(_manifest(case))
    kube.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "l40s-node-1", "labels": {
        "nvidia.com/gpu.product": "NVIDIA-L40S", "nvidia.com/gpu.count": "1"}},
        "status": {"allocatable": {"nvidia.com/gpu": "1"}}})
    # a prefill pod running another context length is the prefill workload's, not decode drift
    kube.add(_llm_pod("qwen-decode-0", "llminferenceservice-workload", "8192"),
             _llm_pod("qwen-prefill-0", "llminferenceservice-workload-prefill", "2048"))
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--kubeconfig", str(kubeconfig))
    assert _problems(rep) == [] and code == 0, err
    assert rep["summary"]["pods"] == 1
    ml = next(r for r in rep["results"] if r["check"] == "runtime.max-model-len")
    assert ml["observed"][0]["prov"]["object"] == "Pod/llm/qwen-decode-0"
    # the decode pod drifts: caught on the pod, with the env string that set it
    kube.add(_llm_pod("qwen-decode-0", "llminferenceservice-workload", "4096"))
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--kubeconfig", str(kubeconfig))
    assert code == 1
    ml = next(r for r in rep["results"] if r["check"] == "runtime.max-model-len")
    assert ml["status"] == "drift" and ml["observed"][0]["value"] == 4096
    assert ml["observed"][0]["prov"]["path"] == "spec.containers[0].env[VLLM_ADDITIONAL_ARGS]"


def test_nimservice_live_pod_joined_by_label(kube: FakeKube, kubeconfig: Path, monkeypatch, capsys) -> None:
    case = CASES["nimservice-llm"]
    kube.load_yaml(_manifest(case))
    kube.add({"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "meta-llama3-8b-instruct-7c9-x", "namespace": "nim-service",
        "labels": {"app": "meta-llama3-8b-instruct", "app.kubernetes.io/name": "meta-llama3-8b-instruct",
                   "pod-template-hash": "7c9"},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "meta-llama3-8b-instruct-7c9",
                             "uid": "u", "controller": True}]},
        "spec": {"containers": [{
            "name": "meta-llama3-8b-instruct-ctr", "image": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8",
            "env": [{"name": "NIM_CACHE_PATH", "value": "/model-store"}, {"name": "NIM_SERVER_PORT", "value": "8000"},
                    {"name": "NIM_MODEL_PROFILE", "value": "vllm-bf16-tp1-pp1"},
                    {"name": "NIM_MAX_MODEL_LEN", "value": "16384"}],
            "resources": {"limits": {"nvidia.com/gpu": "1"}}}]},
        "status": {"phase": "Pending"}})
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--kubeconfig", str(kubeconfig))
    assert code == 1, err
    ml = next(r for r in rep["results"] if r["check"] == "runtime.max-model-len")
    assert ml["status"] == "drift" and ml["observed"][0]["value"] == 16384
    assert ml["observed"][0]["prov"]["object"] == "Pod/nim-service/meta-llama3-8b-instruct-7c9-x"


# --- Serverless InferenceService without its Knative Service in the input ---------------------------------------


def _isvc_only(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    text = _manifest(CASES["isvc-serverless"]).read_text()
    text = text[:text.index("---\napiVersion: serving.knative.dev/v1")]
    if edit is not None:
        text = text.replace(*edit, 1)
    p = tmp_path / "isvc.yaml"
    p.write_text(text)
    return p


def test_knative_annotations_on_the_isvc_are_read_and_predictor_fields_win(tmp_path: Path, monkeypatch,
                                                                          capsys) -> None:
    spec = _spec(CASES["isvc-serverless"])
    code, rep, err = _diff(monkeypatch, capsys, spec, "-f", str(_isvc_only(tmp_path)))
    assert _problems(rep) == [] and code == 0, err
    edited = _isvc_only(tmp_path, ('autoscaling.knative.dev/max-scale: "3"', 'autoscaling.knative.dev/max-scale: "6"'))
    code, rep, err = _diff(monkeypatch, capsys, spec, "-f", str(edited))
    bounds = next(r for r in rep["results"] if r["check"] == "orchestration.hpa-bounds" and r["status"] == "drift")
    ob = bounds["observed"][0]
    assert code == 1 and ob["value"] == 6
    assert ob["prov"] == {"source": "workload-spec", "object": "InferenceService/kserve-test/qwen-serverless",
                          "path": "metadata.annotations[autoscaling.knative.dev/max-scale]"}
    # spec.predictor.maxReplicas is what KServe writes to the revision: it wins over the annotation
    edited.write_text(edited.read_text().replace("    containerConcurrency: 8\n", "    containerConcurrency: 8\n"
                                                 "    maxReplicas: 3\n", 1))
    code, rep, err = _diff(monkeypatch, capsys, spec, "-f", str(edited))
    assert _problems(rep) == [] and code == 0, err


def test_cluster_without_knative_stays_quiet(kube: FakeKube, kubeconfig: Path, tmp_path: Path, monkeypatch,
                                             capsys) -> None:
    kube.load_yaml(_isvc_only(tmp_path))
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--format", "json")
    assert code == 0, err
    snap = json.loads(out)
    assert [w["kind"] for w in snap["workloads"]] == ["InferenceService"]
    assert not [i for i in snap["issues"] if "knative" in i["message"].lower() or i["scope"].startswith("Knative")]
    assert any(p == "/apis/serving.knative.dev/v1/services" for _, p, _q in kube.requests)


@pytest.mark.parametrize("name", sorted(n for n, c in CASES.items() if c.crd))
def test_init_from_kind_slash_name(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    case = CASES[name]
    out = tmp_path / "from.yaml"
    code, _, err = main_inprocess(monkeypatch, capsys, "init", "--from", f"{case.alias}/{case.name}", "-f",
                                  str(_manifest(case)), "-o", str(out))
    assert code == 0, err
    assert yaml.safe_load(out.read_text())["spec"]["target"]["kind"] == case.kind


def _ray_pod(name: str, node_type: str, group: str, node: str) -> dict:
    cluster = "ray-serve-llm-raycluster-x7k2p"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": "ray",
        "labels": {"ray.io/cluster": cluster, "ray.io/node-type": node_type, "ray.io/group": group,
                   "ray.io/is-ray-node": "yes"},
        "ownerReferences": [{"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": cluster, "uid": "u",
                             "controller": True}]},
        "spec": {"nodeName": node, "containers": [{
            "name": "ray-worker" if node_type == "worker" else "ray-head",
            "image": "rayproject/ray-llm:2.50.1-py311-cu124",
            "command": ["/bin/bash", "-c", "--"], "args": ["ulimit -n 65536; ray start --block"],
            "resources": {"limits": {"nvidia.com/gpu": "4"} if node_type == "worker" else {"cpu": "2"}}}]},
        "status": {"phase": "Running"}}


def test_rayservice_live_pods_of_its_cluster_carry_the_serve_facts(kube: FakeKube, kubeconfig: Path, monkeypatch,
                                                                  capsys) -> None:
    case = CASES["rayservice-vllm"]
    doc = yaml.safe_load(_manifest(case).read_text())
    doc["status"] = {"activeServiceStatus": {"rayClusterName": "ray-serve-llm-raycluster-x7k2p"}}
    kube.add(doc)
    for n, product in (("l4-node-1", "NVIDIA-L4"), ("cpu-node-1", None)):
        kube.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": n, "labels": {
            "nvidia.com/gpu.product": product, "nvidia.com/gpu.count": "4"} if product else {}},
            "status": {"allocatable": {"nvidia.com/gpu": "4"} if product else {}}})
    kube.add(_ray_pod("ray-serve-llm-raycluster-x7k2p-gpu-group-worker-abc", "worker", "gpu-group", "l4-node-1"),
             _ray_pod("ray-serve-llm-raycluster-x7k2p-head-xyz", "head", "headgroup", "cpu-node-1"))
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--kubeconfig", str(kubeconfig))
    assert _problems(rep) == [] and code == 0, err
    assert rep["summary"]["pods"] == 1   # the GPU worker, not the head
    ml = next(r for r in rep["results"] if r["check"] == "runtime.max-model-len")
    assert ml["observed"][0]["prov"]["object"] == "RayService/ray/ray-serve-llm"
    # the worker lands on another GPU class: caught on that pod, from its node's label
    kube.add({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "l4-node-1", "labels": {
        "nvidia.com/gpu.product": "NVIDIA-A10G", "nvidia.com/gpu.count": "4"}},
        "status": {"allocatable": {"nvidia.com/gpu": "4"}}})
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--kubeconfig", str(kubeconfig))
    gc = next(r for r in rep["results"] if r["check"] == "hardware.gpu-class")
    assert code == 1 and gc["status"] == "drift"
    assert gc["observed"][0]["prov"]["object"] == "Node/l4-node-1"
    assert gc["observed"][0]["pods"] == ["ray-serve-llm-raycluster-x7k2p-gpu-group-worker-abc"]


def test_prefill_change_against_the_baseline(kube: FakeKube, kubeconfig: Path, tmp_path: Path, monkeypatch,
                                             capsys) -> None:
    case = CASES["llmisvc-pd"]
    kube.load_yaml(_manifest(case))
    snap = tmp_path / "good.json"
    code, _, err = main_inprocess(monkeypatch, capsys, "snapshot", str(_spec(case)), "--kubeconfig", str(kubeconfig),
                                  "-o", str(snap))
    assert code == 0, err
    text = _manifest(case).read_text()
    i = text.index("  prefill:")
    edited = tmp_path / "prefill.yaml"
    edited.write_text(text[:i] + text[i:].replace("replicas: 2", "replicas: 1", 1))
    kube.load_yaml(edited)
    code, rep, err = _diff(monkeypatch, capsys, _spec(case), "--kubeconfig", str(kubeconfig), "--baseline", str(snap))
    assert code == 1, err
    (change,) = [r for r in rep["results"] if r["status"] == "drift"]
    assert change["check"] == "orchestration.replicas" and "prefillReplicas" in change["field"]


def test_knative_denied_leaves_other_workloads_hpa_facts_alone(kube: FakeKube, kubeconfig: Path, monkeypatch,
                                                              capsys) -> None:
    kube.load_yaml(CRDS.parent / "k8s" / "vllm-rollout.yaml")
    kube.install_crd("serving.knative.dev/v1", "Service")
    kube.deny("list", "services.serving.knative.dev")
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", str(kubeconfig), "-A",
                                    "--format", "json")
    assert code == 0, err
    issues = json.loads(out)["issues"]
    (denied,) = [i for i in issues if i["scope"].startswith("KnativeService")]
    assert denied["kind"] == "forbidden" and denied["area"] == "knative"
    assert not [i for i in issues if i["area"] == "hpa"]


def test_llmisvc_base_refs_are_named_as_not_read(tmp_path: Path, monkeypatch, capsys) -> None:
    text = _manifest(CASES["llmisvc-pd"]).read_text().replace("  replicas: 1\n  model:", "  replicas: 1\n  baseRefs:\n"
                                                              "    - name: my-vllm-config\n  model:", 1)
    p = tmp_path / "refs.yaml"
    p.write_text(text)
    code, issues, _ = _collect_issues(monkeypatch, capsys, p)
    (issue,) = [i for i in issues if i["kind"] == "not-collected"]
    assert code == 0 and "LLMInferenceServiceConfig my-vllm-config (spec.baseRefs) is not read" in issue["message"]
