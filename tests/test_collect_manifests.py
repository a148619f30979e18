"""Offline collection from rendered manifests: each fixture's facts, input forms, bad input.

``EXPECTED`` and ``key_facts`` are shared with test_collect_kube.py, which checks
the same fixtures through the loopback API server: offline and live must agree.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import msgspec
import pytest
import yaml

from skewaudit import gpus
from skewaudit.collect import manifests
from skewaudit.collect.request import SourceRequest, Target
from skewaudit.errors import InputError
from skewaudit.model.observed import Snapshot

K8S = Path(__file__).resolve().parent / "fixtures" / "k8s"
FIXTURES = sorted(p.name for p in K8S.glob("*.yaml"))

# Every literal secret written in the fixtures: none may appear in any output.
SECRETS = ("hf_PodLiteralSecretValue9876543210", "sk-live-0123456789abcdefXYZ", "hf_LastAppliedSecretValue123456",
           "hf_EnvLiteralTokenAbcdefghij123", "hf_BarePodSecretValueQwerty12345",
           "not-actually-a-key-but-secret-by-name", "c2VjcmV0LWZyb20tc2VjcmV0LW9iamVjdA")

# object -> (engine, model, dtype, quantization, max_model_len, tensor_parallel, gpu count, gpu class,
#            digest (written or running), where the model comes from)
EXPECTED = {
    "Deployment/ml/llama-3-1-70b": (
        "vllm", "meta-llama/Llama-3.1-70B-Instruct", "bfloat16", None, 8192, 4, "4", "a100-80gb",
        "sha256:1f3e5c0a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
        "Deployment/ml/llama-3-1-70b spec.template.spec.containers[0].args[0] (arg)"),
    "Deployment/serving/mistral-tgi": (
        "tgi", "TheBloke/Mistral-7B-Instruct-v0.2-AWQ", None, "awq", 4096, 2, "2", "l4",
        "sha256:4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d",
        "Deployment/serving/mistral-tgi spec.template.spec.containers[0].env[MODEL_ID] (env)"),
    "InferenceService/kserve-test/qwen": (
        "kserve-hf", "/mnt/models", "bfloat16", None, 16384, 1, "1", "h100-80gb",
        "sha256:7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
        "InferenceService/kserve-test/qwen (default)"),
    "StatefulSet/llm/deepseek-sglang": (
        "sglang", "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B", "bfloat16", "fp8", 32768, 2, "2", "h100-80gb",
        "sha256:abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd",
        "StatefulSet/llm/deepseek-sglang spec.template.spec.containers[0].command[4] (arg)"),
    "Pod/llm/vllm-debug": (
        "vllm", "Qwen/Qwen2.5-0.5B-Instruct", "auto", "awq", 32000, 1, "1", "h100-80gb",
        "sha256:5555555555555555555555555555555555555555555555555555555555555555",
        "Pod/llm/vllm-debug spec.containers[0].args[1] (arg)"),
}
BY_FIXTURE = {
    "vllm-rollout.yaml": ["Deployment/ml/llama-3-1-70b"],
    "tgi-env.yaml": ["Deployment/serving/mistral-tgi"],
    "kserve.yaml": ["InferenceService/kserve-test/qwen"],
    "sglang-sts.yaml": ["Pod/llm/vllm-debug", "StatefulSet/llm/deepseek-sglang"],
}


def key_facts(snap: Snapshot) -> dict[str, tuple]:
    """The facts a user checks first, per workload, in EXPECTED's order."""
    out = {}
    for w in snap.workloads:
        c = w.template.containers[0]
        f = c.engine.fields
        current = [p for p in w.pods if p.current]
        node = snap.nodes.get(current[0].node) if current else None
        gpu_class = gpus.node_gpu_facts(node)["class"].value if node else None
        running = current[0].containers[0].image.resolved_digest if current else None
        out[w.object] = (c.engine.engine, f["model"].value, f["dtype"].value, f["quantization"].value,
                         f["max_model_len"].value, f["tensor_parallel_size"].value, c.limits.get("nvidia.com/gpu"),
                         gpu_class, c.image.digest or running, f["model"].prov.where())
    return out


def offline(*paths: str | Path, **kw) -> Snapshot:
    return manifests.collect(SourceRequest(manifests=tuple(str(p) for p in paths), **kw))


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixture_facts_offline(fixture: str) -> None:
    snap = offline(K8S / fixture)
    got = key_facts(snap)
    assert sorted(got) == BY_FIXTURE[fixture]
    for obj in BY_FIXTURE[fixture]:
        assert got[obj] == EXPECTED[obj]
    assert snap.source == "manifest" and snap.inputs == [str(K8S / fixture)]


def test_secrets_never_in_snapshot() -> None:
    snap = offline(*(K8S / f for f in FIXTURES))
    text = msgspec.json.encode(snap).decode()
    for secret in SECRETS:
        assert secret not in text
    # ...but the references are visible, and redacted literals are still comparable markers
    env = {e.name: e for w in snap.workloads for p in w.pods for c in p.containers for e in c.env}
    assert env["HF_TOKEN"].value.startswith("<redacted:")
    llama = next(w for w in snap.workloads if w.name == "llama-3-1-70b")
    tmpl = {e.name: e for e in llama.template.containers[0].env}
    assert tmpl["HF_TOKEN"].source == "secret" and tmpl["HF_TOKEN"].ref == "secret hf-token/token"
    assert tmpl["HF_TOKEN"].value is None


def test_rollout_current_and_old_pods() -> None:
    w = offline(K8S / "vllm-rollout.yaml").workloads[0]
    assert w.current_revision == "6f7c9d8b5"
    assert w.old_revisions == ["llama-3-1-70b-5b8d7c9f4"]
    state = {p.name: (p.current, p.revision) for p in w.pods}
    assert state == {"llama-3-1-70b-6f7c9d8b5-x2k9p": (True, "6f7c9d8b5"),
                     "llama-3-1-70b-5b8d7c9f4-7hq4d": (False, "5b8d7c9f4"),
                     "llama-3-1-70b-5b8d7c9f4-q8wzr": (False, "5b8d7c9f4")}
    old = next(p for p in w.pods if not p.current)
    # the old pods really run something else, with provenance in the pod itself
    dtype = old.containers[0].engine.fields["dtype"]
    assert dtype.value == "float16"
    assert dtype.prov.object == "Pod/ml/llama-3-1-70b-5b8d7c9f4-7hq4d"
    assert dtype.prov.path == "spec.containers[0].args[0]"
    assert old.containers[0].restart_count == 2


def test_rollout_without_replicasets_uses_the_template(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "vllm-rollout.yaml").read_text()) if d["kind"] != "ReplicaSet"]
    path = tmp_path / "no-rs.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    w = offline(path).workloads[0]
    # the new pod's container equals the Deployment template's: that revision is current
    assert {p.name: p.current for p in w.pods}["llama-3-1-70b-6f7c9d8b5-x2k9p"] is True
    assert sum(p.current for p in w.pods) == 1
    assert w.old_revisions == ["llama-3-1-70b-5b8d7c9f4"]


def test_workload_context_facts() -> None:
    w = offline(K8S / "vllm-rollout.yaml").workloads[0]
    assert w.hpa.name == "llama-3-1-70b" and w.hpa.metrics == ["Resource/cpu Utilization=70"]
    assert (w.hpa.min_replicas, w.hpa.max_replicas) == (2, 8)
    assert [s.name for s in w.services] == ["llama"]
    assert w.services[0].annotations == {"nginx.ingress.kubernetes.io/proxy-read-timeout": "600"}
    assert w.replicas.value == 3 and "HorizontalPodAutoscaler" in w.replicas.note
    assert "kubectl.kubernetes.io/last-applied-configuration" not in w.annotations
    t = w.template
    assert t.node_selector == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert t.node_affinity == {"nvidia.com/gpu.count": ["Gt:3"],
                               "topology.kubernetes.io/zone": ["us-central1-a", "us-central1-b"]}
    assert t.runtime_class == "nvidia" and t.tolerations[0]["key"] == "nvidia.com/gpu"
    c = t.containers[0]
    assert c.limits == {"memory": "256Gi", "nvidia.com/gpu": "4"}
    assert [(p.kind, p.path, p.port, p.timeout_seconds) for p in c.probes] == [
        ("readiness", "/health", "http", 5), ("liveness", "/health", 8000, None)]
    env = {e.name: e for e in c.env}
    assert env["MODEL_ID"].source == "configmap" and env["MODEL_ID"].ref == "configmap llama-config/MODEL_ID"
    assert env["MODEL_ID"].value == "meta-llama/Llama-3.1-70B-Instruct"
    assert c.argv[:3] == ["vllm", "serve", "--model=meta-llama/Llama-3.1-70B-Instruct"]
    assert c.command == ["/bin/sh", "-c"]


def test_kserve_resolution() -> None:
    w = offline(K8S / "kserve.yaml").workloads[0]
    c = w.template.containers[0]
    assert c.name == "kserve-container"
    assert c.argv[3:5] == ["--model_name=qwen", "--dtype=bfloat16"]   # runtime args, then isvc args
    served = c.engine.fields["served_model_name"]
    assert served.value == "qwen"
    assert served.prov.path == "ClusterServingRuntime/kserve-huggingfaceserver:spec.containers[0].args[0]"
    assert c.engine.fields["dtype"].prov.path == "spec.predictor.model.args[0]"
    assert "storageUri hf://Qwen/Qwen2.5-7B-Instruct" in c.engine.fields["model"].note
    env = {e.name: e.value for e in c.env}
    assert env["HF_HOME"] == "/tmp/hf_home" and env["HF_HUB_OFFLINE"] == "1"
    assert c.limits["nvidia.com/gpu"] == "1" and c.limits["cpu"] == "6"   # isvc resources win
    extra = {k: f.value for k, f in w.extra.items()}
    assert extra["runtime"] == "kserve-huggingfaceserver" and extra["containerConcurrency"] == 8
    assert extra["deploymentMode"] == "RawDeployment" and extra["storageUri"] == "hf://Qwen/Qwen2.5-7B-Instruct"
    assert (extra["minReplicas"], extra["maxReplicas"], extra["scaleMetric"], extra["scaleTarget"]) == (1, 3, "cpu", 75)
    assert w.hpa.name == "qwen-predictor" and [s.name for s in w.services] == ["qwen-predictor"]
    # the generated predictor Deployment is not reported as a second workload
    assert [x.object for x in offline(K8S / "kserve.yaml").workloads] == ["InferenceService/kserve-test/qwen"]


def test_kserve_without_runtime_in_input(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "kserve.yaml").read_text()) if d["kind"] == "InferenceService"]
    path = tmp_path / "isvc.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    snap = offline(path)
    assert snap.workloads[0].object == "InferenceService/kserve-test/qwen"
    assert any(i.kind == "not-collected" and i.area == "engine" and "ServingRuntimes" in i.message
               for i in snap.issues)


def test_kubectl_json_list_and_stdin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = list(yaml.safe_load_all((K8S / "tgi-env.yaml").read_text()))
    docs.append({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "namespace": "serving"},
                 "spec": {"containers": "not-a-list"}})
    path = tmp_path / "dump.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": docs, "metadata": {}}, indent=4))
    snap = offline(path)
    assert key_facts(snap) == {"Deployment/serving/mistral-tgi": EXPECTED["Deployment/serving/mistral-tgi"]}
    assert [(i.kind, i.scope) for i in snap.issues] == [("malformed", "Pod/serving/bad")]
    assert "$.spec.containers" in snap.issues[0].message
    monkeypatch.setattr(sys, "stdin", io.StringIO((K8S / "tgi-env.yaml").read_text()))
    snap = offline("-")
    assert snap.inputs == ["<stdin>"] and list(key_facts(snap)) == ["Deployment/serving/mistral-tgi"]


def test_directory_and_helm_template_output(tmp_path: Path) -> None:
    chart = tmp_path / "rendered" / "templates"
    chart.mkdir(parents=True)
    text = (K8S / "sglang-sts.yaml").read_text()
    # helm template: "# Source:" comments, no namespaces, a leading "---"
    helm = "---\n# Source: sglang/templates/sts.yaml\n" + text.replace("  namespace: llm\n", "")
    (chart / "all.yaml").write_text(helm)
    (chart / "NOTES.txt").write_text("not a manifest")
    snap = offline(tmp_path / "rendered", namespace="llm")
    assert sorted(key_facts(snap)) == ["Pod/llm/vllm-debug", "StatefulSet/llm/deepseek-sglang"]
    assert snap.inputs == [str(chart / "all.yaml")]
    # without -n, namespace-less objects keep no namespace and still match namespaced targets
    snap = offline(tmp_path / "rendered", targets=(Target(namespace="llm", kind="StatefulSet"),))
    assert [w.object for w in snap.workloads] == ["StatefulSet/deepseek-sglang"]


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
                   "  name: x: y\n")
    with pytest.raises(InputError, match=r"bad\.yaml:7:10: YAML syntax error: mapping values are not allowed"):
        offline(bad)
    with pytest.raises(InputError, match="no such file or directory"):
        offline(tmp_path / "missing.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no manifests"):
        offline(tmp_path / "empty")


def test_malformed_object_is_an_issue_and_the_rest_is_collected(tmp_path: Path) -> None:
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "broken", "namespace": "ml"},
           "spec": {"replicas": "three", "template": {"spec": {"containers": [{"name": "x", "image": "y"}]}}}}
    path = tmp_path / "m.yaml"
    path.write_text((K8S / "tgi-env.yaml").read_text() + "\n---\n" + yaml.safe_dump(bad))
    snap = offline(path)
    assert list(key_facts(snap)) == ["Deployment/serving/mistral-tgi"]
    issue = next(i for i in snap.issues if i.kind == "malformed")
    assert issue.scope == "Deployment/ml/broken"
    assert "$.spec.replicas" in issue.message and f"{path}:" in issue.message


def test_named_target_not_found_lists_near_names() -> None:
    snap = offline(K8S / "vllm-rollout.yaml",
                   targets=(Target(namespace="ml", kind="Deployment", name="llama-3-1-70"),))
    assert snap.workloads == []
    (issue,) = snap.issues
    assert (issue.kind, issue.scope, issue.area) == ("not-found", "Deployment/ml/llama-3-1-70", "workload")
    assert "did you mean: llama-3-1-70b?" in issue.message


def test_targets_by_kind_name_and_selector() -> None:
    paths = [K8S / f for f in FIXTURES]
    snap = offline(*paths, targets=(Target(kind="sts", name="deepseek-sglang"),))
    assert [w.object for w in snap.workloads] == ["StatefulSet/llm/deepseek-sglang"]
    snap = offline(*paths, targets=(Target(selector={"purpose": "debug"}),))
    assert [w.object for w in snap.workloads] == ["Pod/llm/vllm-debug"]
    snap = offline(*paths, targets=(Target(namespace="llm", kind="Job", name="db-migrate"),))
    assert [w.object for w in snap.workloads] == ["Job/llm/db-migrate"]   # named: kept even without an engine
    assert snap.workloads[0].template.containers[0].engine is None


def test_no_pods_in_input(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "vllm-rollout.yaml").read_text()) if d["kind"] != "Pod"]
    path = tmp_path / "nopods.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    w = offline(path).workloads[0]
    assert w.pods_collected is False and w.pods == []
    assert w.old_revisions == ["llama-3-1-70b-5b8d7c9f4"]   # from the ReplicaSets' replica counts


def test_configmap_missing_is_reported_once(tmp_path: Path) -> None:
    docs = [d for d in yaml.safe_load_all((K8S / "vllm-rollout.yaml").read_text()) if d["kind"] != "ConfigMap"]
    docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": "ml"},
                 "data": {"A": "b"}})
    path = tmp_path / "nocm.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    snap = offline(path)
    env = {e.name: e for e in snap.workloads[0].template.containers[0].env}
    assert env["MODEL_ID"].source == "unresolved" and env["MODEL_ID"].value is None
    issues = [i for i in snap.issues if i.area == "configmaps"]
    assert len(issues) == 1 and issues[0].kind == "not-found" and issues[0].scope == "ConfigMap/ml/llama-config"
    # the model is unknown, never guessed, and the fact says why
    model = snap.workloads[0].template.containers[0].engine.fields["model"]
    assert model.value is None and "$(MODEL_ID)" in model.note
