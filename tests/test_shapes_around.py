"""The objects around a model server (issue 12 §4), end to end through the CLI.

Each fixture under ``tests/fixtures/around/`` is shaped after a public sample (cited at
its top) and has an intent spec next to it (``<name>.spec.yaml``). For each one:

* the clean manifests diff with 0 drift, offline (``--manifest``) and live (the same
  objects served by the loopback API server);
* each edit in the table is caught by the right check, with the right observed value
  and provenance (source, object, field path).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from clirun import main_inprocess as run
from kube_server import FakeKube

AROUND = Path(__file__).resolve().parent / "fixtures" / "around"


def docs_of(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((AROUND / f"{name}.yaml").read_text()) if d]


def obj(docs: list[dict], kind: str, name: str | None = None) -> dict:
    return next(d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name))


@dataclass
class Edit:
    """One edited value and what the audit must say about it."""

    id: str
    change: Callable[[list[dict]], Any]
    check: str
    observed: Any
    prov: tuple[str, str, str]          # (source, object, path prefix)
    also: tuple[str, ...] = ()          # other checks the edit rightly moves (a rollout in progress)
    message: str = ""                   # a part of the finding's message


def _so(d: list[dict]) -> dict:
    return obj(d, "ScaledObject")["spec"]


def _canary(change_args: Callable[[list[str]], None]) -> Callable[[list[dict]], None]:
    """Start a canary on the settled Rollout: step 1 (setWeight 20), one pod of a new revision
    whose container args are changed by ``change_args``."""
    def run_(d: list[dict]) -> None:
        ro = obj(d, "Rollout")
        ro["status"].update(currentPodHash="7b9f6d5c8", currentStepIndex=1)
        pod = next(x for x in d if x["kind"] == "Pod")
        pod["metadata"]["name"] = "qwen-chat-7b9f6d5c8-m2v9q"
        pod["metadata"]["labels"]["rollouts-pod-template-hash"] = "7b9f6d5c8"
        pod["metadata"]["ownerReferences"][0]["name"] = "qwen-chat-7b9f6d5c8"
        change_args(pod["spec"]["containers"][0]["args"])
    return run_


def _set(args: list[str], flag: str, value: str) -> None:
    args[args.index(flag) + 1] = value


def _ann(d: list[dict], key: str, value: str | None) -> None:
    ann = obj(d, "Ingress")["metadata"]["annotations"]
    if value is None:
        ann.pop(key)
    else:
        ann[key] = value


def _container(d: list[dict]) -> dict:
    return obj(d, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def _env(name: str, value: str) -> Callable[[list[dict]], None]:
    def run_(d: list[dict]) -> None:
        next(e for e in _container(d)["env"] if e["name"] == name)["value"] = value
    return run_


def _flag(flag: str, value: str, where: str = "args") -> Callable[[list[dict]], None]:
    return lambda d: _set(_container(d)[where], flag, value)


def _at(d_name: str, where: str, flag: str) -> str:
    docs = docs_of(d_name)
    return f"spec.template.spec.containers[0].{where}[{_container(docs)[where].index(flag) + 1}]"


DEPLOY_ENV = "spec.template.spec.containers[0].env"
FIXTURES: dict[str, list[Edit]] = {
    "nim-llama": [
        Edit("max-model-len", _env("NIM_MAX_MODEL_LEN", "4096"), "runtime.max-model-len", 4096,
             ("env", "Deployment/nim/llama-31-8b-nim", f"{DEPLOY_ENV}[NIM_MAX_MODEL_LEN]")),
        Edit("profile-precision", _env("NIM_MODEL_PROFILE", "vllm-fp8-tp1-pp1"), "runtime.quantization", "fp8",
             ("env", "Deployment/nim/llama-31-8b-nim", f"{DEPLOY_ENV}[NIM_MODEL_PROFILE]")),
        Edit("served-name", _env("NIM_SERVED_MODEL_NAME", "llama"), "model.served-name", "llama",
             ("env", "Deployment/nim/llama-31-8b-nim", f"{DEPLOY_ENV}[NIM_SERVED_MODEL_NAME]")),
    ],
    "llamacpp-gguf": [
        Edit("ctx-size", _flag("-c", "4096"), "runtime.max-model-len", 4096,
             ("arg", "Deployment/edge/llama-gguf", _at("llamacpp-gguf", "args", "-c"))),
        Edit("gpu-layers", _flag("-ngl", "20"), "runtime.gpu-layers", 20,
             ("arg", "Deployment/edge/llama-gguf", _at("llamacpp-gguf", "args", "-ngl"))),
        Edit("parallel-slots", _flag("-np", "1"), "runtime.max-num-seqs", 1,
             ("arg", "Deployment/edge/llama-gguf", _at("llamacpp-gguf", "args", "-np"))),
        Edit("gguf-type", _flag("-m", "/models/Meta-Llama-3.1-8B-Instruct-Q8_0.gguf"), "runtime.quantization",
             "q8_0", ("arg", "Deployment/edge/llama-gguf", _at("llamacpp-gguf", "args", "-m"))),
    ],
    "trtllm-serve": [
        Edit("max-batch-size", _flag("--max_batch_size", "256", "command"), "runtime.max-num-seqs", 256,
             ("arg", "Deployment/trt/llama-70b-trtllm", _at("trtllm-serve", "command", "--max_batch_size"))),
        Edit("max-seq-len", _flag("--max_seq_len", "32768", "command"), "runtime.max-model-len", 32768,
             ("arg", "Deployment/trt/llama-70b-trtllm", _at("trtllm-serve", "command", "--max_seq_len"))),
        Edit("kv-cache-fraction", _flag("--kv_cache_free_gpu_memory_fraction", "0.5", "command"),
             "runtime.gpu-memory-utilization", 0.5,
             ("arg", "Deployment/trt/llama-70b-trtllm",
              _at("trtllm-serve", "command", "--kv_cache_free_gpu_memory_fraction"))),
    ],
    "routes-vllm": [
        Edit("httproute-request-timeout", lambda d: obj(d, "HTTPRoute")["spec"]["rules"][0]["timeouts"].__setitem__(
            "request", "30s"), "serving.timeout", 30, ("route", "HTTPRoute/serving/llama-8b",
                                                         "spec.rules[0].timeouts.request"),
             message="request timeout: intended 600"),
        Edit("nginx-read-timeout-defaulted", lambda d: _ann(d, "nginx.ingress.kubernetes.io/proxy-read-timeout", None),
             "serving.timeout", 60, ("default", "Ingress/serving/llama-8b",
                                     "metadata.annotations[nginx.ingress.kubernetes.io/proxy-read-timeout]")),
        Edit("istio-timeout-unset", lambda d: obj(d, "VirtualService")["spec"]["http"][0].pop("timeout"),
             "serving.timeout", 0, ("default", "VirtualService/serving/llama-8b", "spec.http[0].timeout")),
        Edit("istio-retries", lambda d: obj(d, "VirtualService")["spec"]["http"][0]["retries"].__setitem__(
            "attempts", 3), "serving.retries", 3, ("route", "VirtualService/serving/llama-8b",
                                                   "spec.http[0].retries.attempts")),
        Edit("nginx-body-size", lambda d: _ann(d, "nginx.ingress.kubernetes.io/proxy-body-size", "1m"),
             "serving.request-body-size", 1048576, ("route", "Ingress/serving/llama-8b",
                                                    "metadata.annotations[nginx.ingress.kubernetes.io/proxy-body-size]")),
    ],
    "rollout-canary": [
        Edit("canary-runs-another-max-model-len", _canary(lambda a: _set(a, "--max-model-len", "32768")),
             "runtime.max-model-len", 32768, ("arg", "Pod/ml/qwen-chat-7b9f6d5c8-m2v9q", "spec.containers[0].args[2]"),
             also=("orchestration.rollout",),
             message="(the canary pods of Rollout/ml/qwen-chat, canary weight 20%)"),
        Edit("replicas", lambda d: obj(d, "Rollout")["spec"].__setitem__("replicas", 6), "orchestration.replicas", 6,
             ("workload-spec", "Rollout/ml/qwen-chat", "spec.replicas")),
    ],
    "keda-vllm": [
        Edit("max-replica-count", lambda d: _so(d).__setitem__("maxReplicaCount", 8), "orchestration.hpa-bounds", 8,
             ("hpa", "ScaledObject/llm/vllm-llama3-scaledobject", "spec.maxReplicaCount")),
        Edit("min-replica-count-defaulted", lambda d: _so(d).pop("minReplicaCount"), "orchestration.hpa-bounds", 0,
             ("default", "ScaledObject/llm/vllm-llama3-scaledobject", "spec.minReplicaCount")),
        Edit("trigger-on-cpu", lambda d: _so(d).__setitem__("triggers", [
            {"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]),
            "orchestration.hpa-metric", "Resource/cpu Utilization=60",
            ("hpa", "ScaledObject/llm/vllm-llama3-scaledobject", "spec.triggers")),
    ],
}
EDITS = [(name, e) for name, edits in FIXTURES.items() for e in edits]


def report(*args: Any, monkeypatch, capsys) -> tuple[int, dict]:
    code, out, err = run(monkeypatch, capsys, "diff", *args, "--format", "json")
    assert code in (0, 1), err
    return code, json.loads(out)


def drifts(rep: dict) -> list[dict]:
    return [r for r in rep["results"] if r["status"] == "drift"]


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_clean_fixture_has_no_drift_offline(name: str, monkeypatch, capsys) -> None:
    code, rep = report(AROUND / f"{name}.spec.yaml", "--manifest", AROUND / f"{name}.yaml",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    matched = {r["check"] for r in rep["results"] if r["status"] == "match"}
    assert {e.check for e in FIXTURES[name]} <= matched   # the edited settings were really compared


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_clean_fixture_has_no_drift_live(name: str, kube: FakeKube, kubeconfig: Path, monkeypatch,
                                         capsys) -> None:
    kube.load_yaml(AROUND / f"{name}.yaml")
    code, rep = report(AROUND / f"{name}.spec.yaml", "--kubeconfig", kubeconfig, monkeypatch=monkeypatch,
                       capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    assert {m for m, _, _ in kube.requests} == {"GET"}


@pytest.mark.parametrize("name,edit", EDITS, ids=[f"{n}-{e.id}" for n, e in EDITS])
def test_each_edit_is_caught_with_value_and_provenance(name: str, edit: Edit, tmp_path: Path, monkeypatch,
                                                       capsys) -> None:
    docs = docs_of(name)
    edit.change(docs)
    m = tmp_path / "m.yaml"
    m.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    code, rep = report(AROUND / f"{name}.spec.yaml", "--manifest", m, "--fail-on", "warning",
                       monkeypatch=monkeypatch, capsys=capsys)
    found = [r for r in drifts(rep) if r["check"] == edit.check]
    assert code == 1 and len(found) == 1, drifts(rep)
    ev = found[0]["observed"][0]
    assert ev["value"] == edit.observed
    source, object_, path = edit.prov
    assert (ev["prov"]["source"], ev["prov"]["object"]) == (source, object_)
    assert ev["prov"]["path"].startswith(path)
    assert edit.message in found[0]["message"]
    assert sorted(r["check"] for r in drifts(rep)) == sorted([edit.check, *edit.also])   # nothing else moved


def test_keda_generated_hpa_is_attributed_not_reported_twice(kube: FakeKube, kubeconfig: Path) -> None:
    from skewaudit.collect import kube as live
    from skewaudit.collect import unread
    from skewaudit.collect.request import SourceRequest

    kube.load_yaml(AROUND / "keda-vllm.yaml")
    snap = live.collect(SourceRequest(kubeconfig=str(kubeconfig), all_namespaces=True, timeout=5.0))
    (w,) = snap.workloads
    assert (w.hpa.kind, w.hpa.name) == ("ScaledObject", "vllm-llama3-scaledobject")
    # bounds from the ScaledObject, replica counts from the HPA KEDA generated
    assert (w.hpa.min_replicas, w.hpa.max_replicas, w.hpa.current_replicas) == (1, 4, 2)
    assert w.hpa.metrics == ['prometheus/vllm:num_requests_waiting AverageValue=5 '
                             '(query: vllm:num_requests_waiting{model="llama3"})']
    assert w.replicas.note == "managed by ScaledObject vllm-llama3-scaledobject"
    assert ("GET", "/apis/keda.sh/v1alpha1/scaledobjects", {"limit": "500"}) in kube.requests
    # no trigger metadata beyond what is measured (the Prometheus address is not copied)
    assert "prometheus-operated" not in json.dumps([w.hpa.metrics])


def test_keda_hint_names_the_scaledobject(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("keda-vllm")
    _so(docs)["maxReplicaCount"] = 8
    m = tmp_path / "m.yaml"
    m.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    _, rep = report(AROUND / "keda-vllm.spec.yaml", "--manifest", m, monkeypatch=monkeypatch, capsys=capsys)
    (r,) = drifts(rep)
    assert "ScaledObject vllm-llama3-scaledobject" in r["hint"] and "generates" in r["hint"]


@pytest.mark.parametrize("query,metric", [
    ('vllm:num_requests_waiting{model="llama3"}', "vllm:num_requests_waiting"),
    ("sum(vllm:num_requests_waiting)", "vllm:num_requests_waiting"),
    ('sum by (model_name) (rate(vllm:num_requests_running{namespace="llm"}[1m]))', "vllm:num_requests_running"),
    ("avg_over_time(vllm:gpu_cache_usage_perc[5m]) * 100", "vllm:gpu_cache_usage_perc"),
    ("1 - avg(up)", "up"),
])
def test_promql_metric_name(query: str, metric: str) -> None:
    from skewaudit.collect.keda import promql_metric

    assert promql_metric(query) == metric


def _rules(doc_kind: str) -> dict[tuple[str, str], set[str]]:
    root = Path(__file__).resolve().parent.parent
    docs = [d for d in yaml.safe_load_all((root / "specs" / "rbac.yaml").read_text()) if d]
    role = next(d for d in docs if d["kind"] == doc_kind and d["metadata"]["name"] == "skewaudit-reader")
    out: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                out.setdefault((g, r), set()).update(rule["verbs"])
    return out


def test_rbac_grants_list_on_exactly_the_resources_skewaudit_reads() -> None:
    from skewaudit.collect import kube as live
    from skewaudit.collect import unread

    reads = {(res.prefix.split("/")[2] if res.prefix.startswith("/apis/") else "", res.plural)
             for res in (live.DEPLOY, live.STS, live.RS, live.JOB, live.POD, live.ISVC, live.SR, live.CSR, live.NODE,
                         live.HPA, live.SVC, live.CM)}
    reads |= {(e.group, e.plural) for e, _ in live.ext_resources()}
    reads |= {(res.prefix.split("/")[2], res.plural) for res in unread.resources()}   # the by-name look-ups
    cluster = _rules("ClusterRole")
    assert set(cluster) == reads and all("list" in v for v in cluster.values())
    namespaced = {gr for gr in _rules("Role")}
    # a Role cannot grant cluster-scoped kinds; every namespaced one is there
    assert namespaced == reads - {("", "nodes"), ("serving.kserve.io", "clusterservingruntimes")}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_init_captures_the_fixture_and_diffs_clean(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--manifest", AROUND / f"{name}.yaml", "-o", spec)
    assert code == 0, err
    # A GPU class the manifest does not name is a required TODO, never a placeholder: the owner fills it in.
    text = spec.read_text()
    if "# TODO GPU class" in text:
        assert "required field left as a TODO: GPU class" in err
        spec.write_text("\n".join("      type: l4" if "# TODO GPU class" in ln else ln for ln in text.splitlines()))
    text = spec.read_text()
    if "# TODO model family" in text:   # a model read from a file path: the family is the owner's to name
        spec.write_text("\n".join("      family: unknown" if "# TODO model family" in ln else ln
                                  for ln in text.splitlines()))
    assert run(monkeypatch, capsys, "validate", spec)[0] == 0
    code, rep = report(spec, "--manifest", AROUND / f"{name}.yaml",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    matched = {r["check"] for r in rep["results"] if r["status"] == "match"}
    assert {e.check for e in FIXTURES[name]} <= matched


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_snapshot_then_baseline_names_the_edit(name: str, tmp_path: Path, monkeypatch, capsys) -> None:
    snap = tmp_path / "last-good.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", "--manifest", AROUND / f"{name}.yaml", "-o", snap)
    assert code == 0, err
    edit = FIXTURES[name][0]
    docs = docs_of(name)
    edit.change(docs)
    m = tmp_path / "m.yaml"
    m.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    code, out, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--manifest", m, "--format", "json",
                         "--fail-on", "warning")
    rep = json.loads(out)
    changed = [r for r in rep["results"] if r["status"] == "drift"]
    assert code == 1 and sorted(r["check"] for r in changed) == sorted([edit.check, *edit.also]), changed
    # unchanged: the same input against its own snapshot
    code, out, _ = run(monkeypatch, capsys, "diff", "--baseline", snap, "--manifest", AROUND / f"{name}.yaml",
                       "--format", "json")
    assert code == 0 and [r for r in json.loads(out)["results"] if r["status"] == "drift"] == []


def test_missing_crd_is_quiet_and_forbidden_crd_is_unverifiable(kube: FakeKube, kubeconfig: Path, monkeypatch,
                                                                 capsys) -> None:
    docs = [d for d in docs_of("keda-vllm") if d["kind"] != "ScaledObject"]
    kube.add(*docs)   # no ScaledObject: keda.sh is not served at all (404)
    code, rep = report(AROUND / "keda-vllm.spec.yaml", "--kubeconfig", kubeconfig, monkeypatch=monkeypatch,
                       capsys=capsys)
    assert rep["issues"] == [] and ("GET", "/apis/keda.sh/v1alpha1/namespaces/llm/scaledobjects",
                                    {"limit": "500"}) in kube.requests
    # the KEDA HPA alone (its ScaledObject unreadable) is still the workload's autoscaler
    bounds = [r for r in rep["results"] if r["check"] == "orchestration.hpa-bounds"]
    assert {r["observed"][0]["prov"]["object"] for r in bounds} == {
        "HorizontalPodAutoscaler/llm/keda-hpa-vllm-llama3-scaledobject"}
    kube.add(obj(docs_of("keda-vllm"), "ScaledObject"))
    kube.deny("list", "scaledobjects")
    code, rep = report(AROUND / "keda-vllm.spec.yaml", "--kubeconfig", kubeconfig, monkeypatch=monkeypatch,
                       capsys=capsys)
    (issue,) = rep["issues"]
    assert (issue["kind"], issue["area"]) == ("forbidden", "hpa") and "specs/rbac.yaml" in issue["message"]
    metric = next(r for r in rep["results"] if r["check"] == "orchestration.hpa-metric")
    assert metric["status"] == "unverifiable"


def test_rollout_canary_live_is_replica_skew_naming_the_rollout(kube: FakeKube, kubeconfig: Path, monkeypatch,
                                                                capsys) -> None:
    docs = docs_of("rollout-canary")
    FIXTURES["rollout-canary"][0].change(docs)
    kube.add(*docs)
    code, rep = report(AROUND / "rollout-canary.spec.yaml", "--kubeconfig", kubeconfig, "--fail-on", "warning",
                       monkeypatch=monkeypatch, capsys=capsys)
    (mml,) = [r for r in drifts(rep) if r["check"] == "runtime.max-model-len"]
    assert code == 1 and mml["scope"] == "1 of 4 pods (the canary pods of Rollout/ml/qwen-chat, canary weight 20%)"
    canary, stable = mml["observed"]
    assert (canary["value"], canary["pods"]) == (32768, ["qwen-chat-7b9f6d5c8-m2v9q (canary)"])
    assert stable["value"] == 16384 and stable["count"] == 3 and all(p.endswith("(stable)") for p in stable["pods"])
    (ro,) = [r for r in drifts(rep) if r["check"] == "orchestration.rollout"]
    assert ro["level"] == "info" and ro["message"] == (
        "canary in progress on Rollout/ml/qwen-chat at weight 20%: 1 of 4 pods run the canary revision 7b9f6d5c8, "
        "3 the stable revision 6c8d7f9b4")
    # pods were listed in the namespace, the Rollout from its CRD path, nothing written
    assert ("GET", "/apis/argoproj.io/v1alpha1/namespaces/ml/rollouts", {"limit": "500"}) in kube.requests
    assert {m for m, _, _ in kube.requests} == {"GET"}
