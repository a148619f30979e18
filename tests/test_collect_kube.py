"""Live collection through the loopback API server (real kubeconfig, real client, real HTTP).

The same fixtures as test_collect_manifests.py must give the same facts live;
then pagination, 410/429/5xx handling, RBAC gaps and the request log (GET only,
Secrets never read).
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from kube_server import FakeKube
from skewaudit.collect import kube as live
from skewaudit.collect import kubehttp
from skewaudit.collect.request import SourceRequest, Target
from skewaudit.errors import EnvironmentUnavailable, InputError
from test_collect_manifests import BY_FIXTURE, EXPECTED, FIXTURES, K8S, SECRETS, key_facts


def collect(kubeconfig: Path, **kw):
    kw.setdefault("timeout", 5.0)
    return live.collect(SourceRequest(kubeconfig=str(kubeconfig), **kw))


@pytest.fixture
def loaded(kube: FakeKube, kubeconfig: Path) -> FakeKube:
    kube.load_yaml(*(K8S / f for f in FIXTURES))
    return kube


@pytest.mark.parametrize("fixture", FIXTURES)
def test_fixture_facts_live(kube: FakeKube, kubeconfig: Path, fixture: str) -> None:
    kube.load_yaml(K8S / fixture)
    snap = collect(kubeconfig, all_namespaces=True)
    got = key_facts(snap)
    assert sorted(got) == BY_FIXTURE[fixture]
    for obj in BY_FIXTURE[fixture]:
        assert got[obj] == EXPECTED[obj]
    assert snap.source == "live" and snap.context == "loopback" and snap.inputs == [kube.url]
    assert all(m == "GET" for m, _, _ in kube.requests)


def test_whole_cluster_only_gets_and_never_secrets(loaded: FakeKube, kubeconfig: Path) -> None:
    snap = collect(kubeconfig, all_namespaces=True)
    assert sorted(w.object for w in snap.workloads) == sorted(EXPECTED)
    assert key_facts(snap) == EXPECTED
    text = msgspec.json.encode(snap).decode()
    assert not [s for s in SECRETS if s in text]
    paths = [p for _, p, _ in loaded.requests]
    assert {m for m, _, _ in loaded.requests} == {"GET"}
    assert not [p for p in paths if "secrets" in p]
    # fleet mode: one list per kind, cluster-wide, paged
    assert paths.count("/api/v1/pods") == 1
    assert all(q.get("limit") == "500" for _, p, q in loaded.requests if p in ("/api/v1/pods", "/apis/apps/v1/deployments"))
    llama = next(w for w in snap.workloads if w.name == "llama-3-1-70b")
    assert llama.old_revisions == ["llama-3-1-70b-5b8d7c9f4"] and sum(p.current for p in llama.pods) == 1
    assert llama.hpa.name == "llama-3-1-70b" and [s.name for s in llama.services] == ["llama"]
    assert set(snap.nodes) == {"gpu-a100-1", "gpu-a100-2", "gke-l4-pool-1a2b", "gpu-h100-1",
                               "ip-10-0-1-23.ec2.internal", "ip-10-0-1-24.ec2.internal"}
    assert snap.nodes["gpu-a100-1"].allocatable["nvidia.com/gpu"] == "4"
    assert "kubernetes.io/hostname" not in snap.nodes["gpu-a100-1"].labels


def test_named_target_uses_its_selector(loaded: FakeKube, kubeconfig: Path) -> None:
    snap = collect(kubeconfig, targets=(Target(namespace="ml", kind="Deployment", name="llama-3-1-70b"),))
    assert [w.object for w in snap.workloads] == ["Deployment/ml/llama-3-1-70b"]
    pod_lists = [(p, q) for _, p, q in loaded.requests if p.endswith("/pods")]
    assert pod_lists == [("/api/v1/namespaces/ml/pods", {"limit": "500", "labelSelector": "app=llama"})]
    # the referenced ConfigMap is read by name, other namespaces are not listed
    assert ("GET", "/api/v1/namespaces/ml/configmaps/llama-config", {}) in loaded.requests
    assert not [p for _, p, _ in loaded.requests if "/namespaces/" in p and "/namespaces/ml/" not in p]


def test_default_namespace_comes_from_the_context(loaded: FakeKube, tmp_path: Path) -> None:
    kc = loaded.write_kubeconfig(tmp_path / "kc", namespace="llm")
    snap = collect(kc)
    assert [w.object for w in snap.workloads] == ["Pod/llm/vllm-debug", "StatefulSet/llm/deepseek-sglang"]
    snap = collect(kc, namespace="serving")
    assert [w.object for w in snap.workloads] == ["Deployment/serving/mistral-tgi"]


def test_pagination_across_pages(loaded: FakeKube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubehttp, "PAGE", 2)
    snap = collect(kubeconfig, all_namespaces=True)
    assert key_facts(snap) == EXPECTED
    pods = [q for _, p, q in loaded.requests if p == "/api/v1/pods"]
    assert len(pods) == 4 and all(q["limit"] == "2" for q in pods)   # 8 pods, 2 per page
    assert "continue" not in pods[0] and all("continue" in q for q in pods[1:])


def test_expired_continue_token_restarts_the_list(loaded: FakeKube, kubeconfig: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubehttp, "PAGE", 2)
    loaded.expire_continue(after_pages=1)   # the first continue token used: page 2 of the pods
    snap = collect(kubeconfig, targets=(Target(namespace="ml", kind="Deployment", name="llama-3-1-70b"),))
    (llama,) = snap.workloads
    assert sorted(p.name for p in llama.pods) == ["llama-3-1-70b-5b8d7c9f4-7hq4d", "llama-3-1-70b-5b8d7c9f4-q8wzr",
                                                  "llama-3-1-70b-6f7c9d8b5-x2k9p"]   # all, no duplicates
    pods = [q for _, p, q in loaded.requests if p == "/api/v1/namespaces/ml/pods"]
    assert ["continue" in q for q in pods] == [False, True, False, True]   # 410 on page 2: started over once
    assert snap.issues == []


def test_429_and_5xx_are_retried(loaded: FakeKube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(kubehttp.time, "sleep", slept.append)
    loaded.fail(r"^/api/v1/pods$", 429, times=2, retry_after=3)
    loaded.fail(r"^/apis/apps/v1/deployments$", 503, times=1)
    snap = collect(kubeconfig, all_namespaces=True)
    assert key_facts(snap) == EXPECTED
    assert [p for _, p, _ in loaded.requests].count("/api/v1/pods") == 3
    assert sorted(slept) == [0.2, 3.0, 3.0]      # Retry-After honoured, else backoff


def test_5xx_after_retries_is_exit_3(loaded: FakeKube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kubehttp.time, "sleep", lambda s: None)
    loaded.fail(r"^/api/v1/pods$", 500, times=10)
    with pytest.raises(EnvironmentUnavailable, match=r"answered 500 to list pods cluster-wide after 3 retries"):
        collect(kubeconfig, all_namespaces=True)
    assert [p for _, p, _ in loaded.requests].count("/api/v1/pods") == 4


def test_retry_waits_are_bounded(loaded: FakeKube, kubeconfig: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(kubehttp.time, "sleep", slept.append)
    loaded.fail(r"^/api/v1/pods$", 429, times=3, retry_after=60)
    with pytest.raises(EnvironmentUnavailable, match=r"answered 429 to list pods cluster-wide after 1 retry"):
        collect(kubeconfig, all_namespaces=True)
    assert slept == [kubehttp.RETRY_BUDGET_S]   # Retry-After: 60 capped at the budget, then give up


def test_forbidden_optional_sources_become_issues(loaded: FakeKube, kubeconfig: Path) -> None:
    loaded.deny("*", "nodes")
    loaded.deny("list", "horizontalpodautoscalers")
    loaded.deny("*", "configmaps", "ml")
    snap = collect(kubeconfig, all_namespaces=True)
    assert snap.nodes == {}
    kinds = {(i.kind, i.area) for i in snap.issues}
    assert ("forbidden", "hardware") in kinds and ("forbidden", "hpa") in kinds and ("forbidden", "configmaps") in kinds
    node_issue = next(i for i in snap.issues if i.area == "hardware")
    assert "specs/rbac.yaml" in node_issue.message and "nodes" in node_issue.message
    llama = next(w for w in snap.workloads if w.name == "llama-3-1-70b")
    env = {e.name: e for e in llama.template.containers[0].env}
    assert env["MODEL_ID"].source == "unresolved"
    assert any(i.kind == "not-collected" and i.scope == "ConfigMap/ml/llama-config" for i in snap.issues)
    assert llama.hpa is None and llama.template.containers[0].engine.fields["dtype"].value == "bfloat16"


def test_forbidden_pods_is_exit_3_naming_verb_resource_namespace(loaded: FakeKube, kubeconfig: Path) -> None:
    loaded.deny("list", "pods", "ml")
    with pytest.raises(EnvironmentUnavailable) as e:
        collect(kubeconfig, targets=(Target(namespace="ml", kind="Deployment", name="llama-3-1-70b"),))
    assert e.value.exit_code == 3
    assert e.value.message.startswith("forbidden: skewaudit needs list on pods in namespace ml; "
                                      "see specs/rbac.yaml")


def test_401_is_exit_3(loaded: FakeKube, tmp_path: Path) -> None:
    kc = loaded.write_kubeconfig(tmp_path / "kc", token="wrong-token")
    with pytest.raises(EnvironmentUnavailable, match=r"rejected the credentials \(401 Unauthorized\) of context loopback"):
        collect(kc)


def test_unreachable_server(loaded: FakeKube, tmp_path: Path) -> None:
    kc = loaded.write_kubeconfig(tmp_path / "kc", extra_contexts={"down": "http://127.0.0.1:1"})
    with pytest.raises(EnvironmentUnavailable, match=r"cannot reach the Kubernetes API at http://127.0.0.1:1: "
                                                      r"connection refused"):
        collect(kc, context="down")


def test_unknown_context_lists_the_available_ones(loaded: FakeKube, tmp_path: Path) -> None:
    kc = loaded.write_kubeconfig(tmp_path / "kc", extra_contexts={"staging": "llm"})
    with pytest.raises(InputError, match=r"unknown context 'prod' in .*; available: loopback, staging"):
        collect(kc, context="prod")


def test_no_kubeconfig_names_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(EnvironmentUnavailable, match=r"no kubeconfig: looked in ~/.kube/config \(the default "
                                                     r"location\), and not running inside a cluster"):
        live.collect(SourceRequest())
    missing = tmp_path / "nope.yaml"
    with pytest.raises(EnvironmentUnavailable, match=f"looked in {missing}"):
        live.collect(SourceRequest(kubeconfig=str(missing)))


def test_not_found_target_lists_near_names(loaded: FakeKube, kubeconfig: Path) -> None:
    snap = collect(kubeconfig, targets=(Target(namespace="ml", kind="Deployment", name="lama-3-1-70b"),))
    assert snap.workloads == []
    (issue,) = snap.issues
    assert issue.kind == "not-found" and issue.scope == "Deployment/ml/lama-3-1-70b"
    assert issue.message.endswith("did you mean: llama-3-1-70b?")


def test_malformed_object_is_skipped_with_an_issue(loaded: FakeKube, kubeconfig: Path) -> None:
    loaded.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "broken", "namespace": "ml"},
                "spec": {"replicas": "three", "template": {"spec": {"containers": [{"name": "x", "image": "y"}]}}}})
    snap = collect(kubeconfig, all_namespaces=True)
    assert key_facts(snap) == EXPECTED
    issue = next(i for i in snap.issues if i.kind == "malformed")
    assert issue.scope == "Deployment/ml/broken" and "$.spec.replicas" in issue.message


def test_kserve_not_installed_is_quiet_unless_asked(kube: FakeKube, kubeconfig: Path) -> None:
    kube.load_yaml(K8S / "tgi-env.yaml")
    # the loopback server serves CRD paths only for kinds it holds: here none -> 404
    snap = collect(kubeconfig, all_namespaces=True)
    assert [w.object for w in snap.workloads] == ["Deployment/serving/mistral-tgi"] and snap.issues == []


def test_exec_failure_falls_back_to_node_labels(kube: FakeKube, kubeconfig: Path) -> None:
    kube.load_yaml(K8S / "tgi-env.yaml")
    snap = collect(kubeconfig, all_namespaces=True, exec_gpu=True)
    (pod,) = snap.workloads[0].pods
    # the loopback server speaks no websockets: exec fails, the run goes on with node labels
    assert pod.gpu.source == "exec" and pod.gpu.status == "unavailable" and "using node labels" in pod.gpu.reason
    assert [(i.kind, i.area) for i in snap.issues] == [("unreachable", "gpu")]
    assert key_facts(snap)["Deployment/serving/mistral-tgi"] == EXPECTED["Deployment/serving/mistral-tgi"]
    assert {m for m, _, _ in kube.requests} == {"GET"}


def test_targets_for_another_context_are_skipped(loaded: FakeKube, kubeconfig: Path) -> None:
    snap = collect(kubeconfig, targets=(Target(namespace="ml", name="llama-3-1-70b", context="prod-eu"),
                                        Target(namespace="serving", name="mistral-tgi", context="loopback")))
    assert [w.object for w in snap.workloads] == ["Deployment/serving/mistral-tgi"]
    (issue,) = snap.issues
    assert issue.kind == "not-collected" and "context prod-eu" in issue.message and "loopback" in issue.message
