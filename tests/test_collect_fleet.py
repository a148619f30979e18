"""Fleet-size live collection (issue 17): what the fast paths skip must never change a report.

Each case talks HTTP to the loopback API server (``kube_server.FakeKube``) through the real
client: pods of one template whose resource dicts are checked once (a bad quantity on any
sibling is still its own issue), list pages read in one call (the byte limit still refuses
them), and a fleet of untargeted workloads whose pods are never fact-built.
"""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kube_server import FakeKube
from skewaudit import limits
from skewaudit.collect import kube as live
from skewaudit.collect.request import SourceRequest, Target
from skewaudit.errors import EnvironmentUnavailable

GPU = "nvidia.com/gpu"


def collect(kubeconfig: Path, **kw):
    kw.setdefault("timeout", 5.0)
    return live.collect(SourceRequest(kubeconfig=str(kubeconfig), **kw))


def _container(limits: dict) -> dict:
    return {"name": "vllm", "image": "vllm/vllm-openai:v0.10.0",
            "args": ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192"],
            "resources": {"limits": limits, "requests": dict(limits)}}


def _fleet(kube: FakeKube, name: str, limits: list[dict], ns: str = "ml") -> None:
    """A Deployment, its ReplicaSet and one pod per entry of ``limits`` (the pods' own resources)."""
    labels = {"app": name}
    template = {"metadata": {"labels": labels}, "spec": {"containers": [_container(limits[0])]}}
    h = "5f6d7c8b9a"
    kube.add({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns,
                                                                         "labels": labels},
              "spec": {"replicas": len(limits), "selector": {"matchLabels": labels}, "template": template}})
    kube.add({"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{name}-{h}", "namespace": ns, "labels": {**labels, "pod-template-hash": h},
                           "annotations": {"deployment.kubernetes.io/revision": "1"},
                           "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                                                "uid": "u1", "controller": True}]},
              "spec": {"replicas": len(limits)}})
    for i, lim in enumerate(limits):
        kube.add({"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": f"{name}-{h}-p{i}", "namespace": ns,
                               "labels": {**labels, "pod-template-hash": h},
                               "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                    "name": f"{name}-{h}", "uid": "u2", "controller": True}]},
                  "spec": {"nodeName": "gpu-1", "containers": [_container(lim)]},
                  "status": {"phase": "Running", "containerStatuses": [{"name": "vllm", "ready": True}]}})


def _resource_issues(snap) -> dict[str, str]:
    return {i.scope: i.message for i in snap.issues if i.area == "resources"}


def test_a_bad_quantity_on_any_sibling_pod_is_its_own_issue(kube: FakeKube, kubeconfig: Path) -> None:
    good = {GPU: "1", "memory": "32Gi"}
    # pods 0, 2 and 4 run the template's valid resources; 1 and 3 carry a broken GPU count after a
    # sibling was already found valid (what the once-per-dict check must not hide)
    _fleet(kube, "llama", [good, {GPU: "abc", "memory": "32Gi"}, good, {GPU: "1.5", "memory": "32Gi"}, good])
    snap = collect(kubeconfig, all_namespaces=True)
    issues = _resource_issues(snap)
    assert sorted(issues) == ["Pod/ml/llama-5f6d7c8b9a-p1", "Pod/ml/llama-5f6d7c8b9a-p3"]
    assert "containers[0].resources.limits[nvidia.com/gpu]: not a Kubernetes quantity: 'abc'" in \
        issues["Pod/ml/llama-5f6d7c8b9a-p1"]
    assert "not a whole number of devices: '1.5'" in issues["Pod/ml/llama-5f6d7c8b9a-p3"]
    pods = {p.name: p for p in snap.workloads[0].pods}
    # the broken count was dropped from those pods only; the valid siblings keep theirs
    assert [GPU in pods[f"llama-5f6d7c8b9a-p{i}"].containers[0].limits for i in range(5)] == \
        [True, False, True, False, True]


def test_a_quantity_written_as_a_number_is_checked_on_every_pod(kube: FakeKube, kubeconfig: Path) -> None:
    # JSON numbers are not what an API server sends, but a proxy could: 1.5 devices is refused on
    # each pod that says so, though the same dict written as strings was valid on a sibling
    _fleet(kube, "qwen", [{GPU: "1"}, {GPU: 1.5}, {GPU: 1.5}])
    issues = _resource_issues(collect(kubeconfig, all_namespaces=True))
    assert sorted(issues) == ["Pod/ml/qwen-5f6d7c8b9a-p1", "Pod/ml/qwen-5f6d7c8b9a-p2"]


def test_untargeted_pods_still_report_their_bad_quantities(kube: FakeKube, kubeconfig: Path) -> None:
    good = {GPU: "1"}
    _fleet(kube, "audited", [good, good])
    _fleet(kube, "other", [good, {GPU: "abc"}], ns="team-b")
    # every serving Deployment of ml: pods are listed cluster-wide (-A), those of team-b are not audited
    snap = collect(kubeconfig, all_namespaces=True, targets=(Target(namespace="ml", kind="Deployment"),))
    assert [w.object for w in snap.workloads] == ["Deployment/ml/audited"]
    assert sorted(_resource_issues(snap)) == ["Pod/team-b/other-5f6d7c8b9a-p1"]


@pytest.mark.parametrize("limit,refused", [(None, False), (600, True)])
def test_a_page_is_read_whole_within_the_byte_limit(kube: FakeKube, kubeconfig: Path, limit, refused) -> None:
    _fleet(kube, "llama", [{GPU: "1"}] * 3)
    if limit is not None:
        limits.set_max_input_bytes(limit)   # reset after each test (conftest)
    if refused:
        with pytest.raises(EnvironmentUnavailable, match=r"sent an answer larger than .*\(\d+ bytes\)"):
            collect(kubeconfig, all_namespaces=True)
        return
    snap = collect(kubeconfig, all_namespaces=True)
    assert [len(w.pods) for w in snap.workloads] == [3]


def test_a_live_run_imports_only_the_client_parts_it_uses(kube: FakeKube, kubeconfig: Path) -> None:
    # a fresh interpreter: the kubernetes package's own __init__ would import dynamic (kubernetes_validate,
    # jsonschema), watch, stream, leaderelection and informer; a live run uses none of them, yet the
    # package must still look complete to anyone who asks (its version, its subpackages)
    _fleet(kube, "llama", [{GPU: "1"}] * 2)
    code = ("import json, sys; from skewaudit.collect import kube; from skewaudit.collect.request import "
            f"SourceRequest; snap = kube.collect(SourceRequest(kubeconfig={str(kubeconfig)!r}, all_namespaces=True)); "
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'jsonschema', "
            "'kubernetes_validate') and m.count('.') <= 1); import kubernetes, kubernetes.client; "
            "print(json.dumps([len(snap.workloads[0].pods), loaded, kubernetes.__version__, "
            "kubernetes.watch.Watch.__name__, 'kubernetes.dynamic' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    pods, loaded, version, watch, dynamic = json.loads(out.stdout)
    assert pods == 2
    assert not [m for m in loaded if m.split(".")[0] in ("jsonschema", "kubernetes_validate")
                or m in ("kubernetes.dynamic", "kubernetes.watch", "kubernetes.stream", "kubernetes.informer",
                         "kubernetes.leaderelection")], loaded
    assert version == importlib.metadata.version("kubernetes") and watch == "Watch" and dynamic
