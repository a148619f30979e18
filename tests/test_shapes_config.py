"""Configuration that lives beside the pod spec (issue 12 §2, §4, §5), through the real CLI:

* vLLM ``--config FILE`` read from the ConfigMap it is mounted from (``items`` remaps,
  ``subPath``), the command line winning over the file, a baked-in file unverifiable;
* the KEDA ScaledObject's Prometheus threshold against ``scaling.targetValue``;
* DRA device counts from ResourceClaimTemplates.

Fixtures live in ``tests/fixtures/around/`` (sources cited at their tops); the helpers are
those of ``test_shapes_around``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from clirun import main_inprocess as run
from kube_server import FakeKube
from test_shapes_around import AROUND, Edit, docs_of, drifts, obj, report

SECRET = "sk-live-4f9a8b7c6d5e4f3a2b1c"
CM = "ConfigMap/serving/qwen-vllm-config"


def _cm_file(d: list[dict]) -> dict:
    return yaml.safe_load(obj(d, "ConfigMap")["data"]["serve.yaml"])


def _set_cm(key: str, value: Any) -> Callable[[list[dict]], None]:
    def change(d: list[dict]) -> None:
        f = _cm_file(d)
        f[key] = value
        obj(d, "ConfigMap")["data"]["serve.yaml"] = yaml.safe_dump(f)
    return change


def _pods_and_templates(d: list[dict]) -> list[dict]:
    return [x["spec"] if x["kind"] == "Pod" else x["spec"]["template"]["spec"]
            for x in d if x["kind"] in ("Pod", "Deployment")]


def _command(fn: Callable[[list[str]], None]) -> Callable[[list[dict]], None]:
    def change(d: list[dict]) -> None:
        for spec in _pods_and_templates(d):
            fn(spec["containers"][0]["command"])
    return change


def _cli_override(d: list[dict]) -> None:
    _command(lambda c: c.extend(["--max-model-len", "8192"]))(d)


CONFIG_EDITS = [
    Edit("tp-in-file", _set_cm("tensor-parallel-size", 4), "runtime.tensor-parallel", 4,
         ("configmap", CM, "data[serve.yaml].tensor-parallel-size"), also=("hardware.parallelism-fits",)),
    Edit("max-model-len-in-file", _set_cm("max_model_len", 16384), "runtime.max-model-len", 16384,
         ("configmap", CM, "data[serve.yaml].max_model_len")),
    Edit("switch-off-in-file", _set_cm("enable-prefix-caching", False), "runtime.prefix-caching", False,
         ("configmap", CM, "data[serve.yaml].enable-prefix-caching")),
    Edit("cli-wins-over-file", _cli_override, "runtime.max-model-len", 8192,
         ("arg", "Pod/serving/qwen-vllm-5d8f7c9b6-x2k4p", "spec.containers[0].command[8]")),
]


def _write(tmp_path: Path, docs: list[dict]) -> Path:
    m = tmp_path / "m.yaml"
    m.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return m


def _by(rep: dict, check: str) -> dict:
    (r,) = [r for r in rep["results"] if r["check"] == check]
    return r


# --- vLLM --config from a mounted ConfigMap ---------------------------------------------------


def test_config_file_clean_offline_reads_every_value_from_the_configmap(monkeypatch, capsys) -> None:
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", AROUND / "vllm-config.yaml",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    for check in ("runtime.tensor-parallel", "runtime.max-model-len", "runtime.gpu-memory-utilization",
                  "runtime.max-num-seqs", "runtime.prefix-caching", "runtime.dtype"):
        r = _by(rep, check)
        assert r["status"] == "match", r
        assert (r["observed"][0]["prov"]["source"], r["observed"][0]["prov"]["object"]) == ("configmap", CM)
    assert SECRET not in json.dumps(rep)


def test_config_file_clean_live_reads_the_configmap_through_the_api(kube: FakeKube, kubeconfig: Path,
                                                                    monkeypatch, capsys) -> None:
    kube.load_yaml(AROUND / "vllm-config.yaml")
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--kubeconfig", kubeconfig, monkeypatch=monkeypatch,
                       capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    assert _by(rep, "runtime.max-model-len")["observed"][0]["prov"]["object"] == CM
    assert any(p.endswith("/namespaces/serving/configmaps/qwen-vllm-config") for _, p, _ in kube.requests)
    assert {m for m, _, _ in kube.requests} == {"GET"}


@pytest.mark.parametrize("edit", CONFIG_EDITS, ids=[e.id for e in CONFIG_EDITS])
def test_config_file_edit_is_caught_with_value_and_provenance(edit: Edit, tmp_path: Path, monkeypatch,
                                                              capsys) -> None:
    docs = docs_of("vllm-config")
    edit.change(docs)
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", _write(tmp_path, docs), "--fail-on",
                       "warning", monkeypatch=monkeypatch, capsys=capsys)
    found = [r for r in drifts(rep) if r["check"] == edit.check]
    assert code == 1 and len(found) == 1, drifts(rep)
    ev = found[0]["observed"][0]
    assert ev["value"] == edit.observed
    source, object_, path = edit.prov
    assert (ev["prov"]["source"], ev["prov"]["object"], ev["prov"]["path"]) == (source, object_, path)
    assert sorted(r["check"] for r in drifts(rep)) == sorted([edit.check, *edit.also])


def test_command_line_override_says_which_file_value_it_beats(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("vllm-config")
    _cli_override(docs)
    _, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", _write(tmp_path, docs),
                    monkeypatch=monkeypatch, capsys=capsys)
    note = _by(rep, "runtime.max-model-len")["observed"][0]["note"]
    assert "overrides 32768 from --config /etc/vllm/config/vllm.yaml" in note and CM in note


def test_subpath_mount_reads_the_key_it_names(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("vllm-config")
    for spec in _pods_and_templates(docs):
        spec["volumes"][0]["configMap"].pop("items")
        spec["containers"][0]["volumeMounts"][0] = {"name": "vllm-config", "mountPath": "/etc/vllm/config/vllm.yaml",
                                                    "subPath": "serve.yaml"}
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    assert _by(rep, "runtime.tensor-parallel")["observed"][0]["prov"]["path"] == \
        "data[serve.yaml].tensor-parallel-size"


# each level doubles the one before: 2**60 nodes once expanded
ALIAS_BOMB = "b0: &b0 [x, x]\n" + "".join(f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]\n" for i in range(1, 60))


def _unverifiable_because(rep: dict, check: str) -> str:
    r = _by(rep, check)
    assert r["status"] == "unverifiable", r
    return r["message"]


@pytest.mark.parametrize("case,change,reason", [
    ("baked-in", lambda d: [s["containers"][0].pop("volumeMounts") for s in _pods_and_templates(d)],
     "baked into the image"),
    ("not-projected", lambda d: [s["volumes"][0]["configMap"]["items"][0].__setitem__("path", "other.yaml")
                                 for s in _pods_and_templates(d)], "projects only other.yaml (items)"),
    ("secret-volume", lambda d: [s["volumes"].__setitem__(0, {"name": "vllm-config", "secret": {"secretName": "c"}})
                                 for s in _pods_and_templates(d)],
     "Secret volume 'vllm-config': Secrets are never read"),
    ("configmap-missing", lambda d: d.remove(obj(d, "ConfigMap")), "not read (no ConfigMaps in the input)"),
    ("not-yaml", lambda d: obj(d, "ConfigMap")["data"].__setitem__("serve.yaml", "tensor-parallel-size: [2\n"),
     "not valid YAML"),
    ("not-a-mapping", lambda d: obj(d, "ConfigMap")["data"].__setitem__("serve.yaml", "- 2\n- 3\n"),
     "not a mapping"),
    # untrusted text: the manifest guards refuse it before any YAML loader builds it
    ("too-deep", lambda d: obj(d, "ConfigMap")["data"].__setitem__("serve.yaml", "a: " + "[" * 300 + "]" * 300),
     "nesting is deeper than 200 levels"),
    ("alias-bomb", lambda d: obj(d, "ConfigMap")["data"].__setitem__("serve.yaml", ALIAS_BOMB), "refusing to"),
])
def test_config_file_that_cannot_be_read_is_unverifiable_with_the_reason(case: str, change, reason: str,
                                                                          tmp_path: Path, monkeypatch,
                                                                          capsys) -> None:
    docs = docs_of("vllm-config")
    change(docs)
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    assert drifts(rep) == [] and code == 0
    for check in ("runtime.tensor-parallel", "runtime.max-model-len"):
        assert reason in _unverifiable_because(rep, check)


def test_config_file_secret_never_reaches_any_output(tmp_path: Path, monkeypatch, capsys) -> None:
    snap = tmp_path / "s.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", AROUND / "vllm-config.spec.yaml", "--manifest",
                       AROUND / "vllm-config.yaml", "-o", snap)
    assert code == 0, err
    assert SECRET not in snap.read_text()
    for fmt in ("table", "json", "sarif"):
        code, out, err = run(monkeypatch, capsys, "diff", AROUND / "vllm-config.spec.yaml", "--manifest",
                             AROUND / "vllm-config.yaml", "--format", fmt, "--show-matches")
        assert code == 0 and SECRET not in out + err
    facts = json.loads(snap.read_text())["workloads"][0]["template"]["containers"][0]["engine"]
    assert "--api-key" in facts["unknown_args"]


# --- KEDA threshold vs scaling.targetValue ---------------------------------------------------

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


# --- DRA device counts from ResourceClaimTemplates --------------------------------------------

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


# --- init, snapshot and --baseline on the three fixtures ---------------------------------------


def _dra_count(n: int) -> Callable[[list[dict]], None]:
    return lambda d: _request(d)["exactly"].__setitem__("count", n)


LIFECYCLE = [
    ("vllm-config", _set_cm("tensor-parallel-size", 4), "runtime.tensor-parallel", 4, ("configmap", CM)),
    ("dra-claims", _dra_count(4), "hardware.gpu-count", 4, ("resource-claim", RCT)),
    ("keda-vllm", lambda d: _trigger(d).__setitem__("threshold", "50"), "orchestration.hpa-metric", None,
     ("hpa", SO)),
]


@pytest.mark.parametrize("name", ["vllm-config", "dra-claims", "keda-vllm"])
def test_init_reads_config_file_claims_and_target_and_diffs_clean(name: str, tmp_path: Path, monkeypatch,
                                                                  capsys) -> None:
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--manifest", AROUND / f"{name}.yaml", "-o", spec)
    assert code == 0, err
    text = spec.read_text()
    spec.write_text("\n".join("      type: l4" if "# TODO GPU class" in ln else ln for ln in text.splitlines()))
    intent = yaml.safe_load(spec.read_text())["spec"]
    if name == "vllm-config":   # the values written in the mounted file, not the engine defaults
        assert (intent["runtime"]["engine"]["tensorParallelSize"], intent["runtime"]["engine"]["maxModelLen"]) == (
            2, 32768)
    elif name == "dra-claims":
        assert intent["runtime"]["accelerator"] == {"vendor": "nvidia", "type": "h100-80gb", "count": 2}
    else:
        assert intent["operations"]["scaling"]["targetValue"] == 5
    assert run(monkeypatch, capsys, "validate", spec)[0] == 0
    code, rep = report(spec, "--manifest", AROUND / f"{name}.yaml", monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])


@pytest.mark.parametrize("name,change,check,value,prov", LIFECYCLE, ids=[x[0] for x in LIFECYCLE])
def test_snapshot_then_baseline_names_the_edit(name: str, change, check: str, value: Any, prov: tuple[str, str],
                                               tmp_path: Path, monkeypatch, capsys) -> None:
    snap = tmp_path / "last-good.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", "--manifest", AROUND / f"{name}.yaml", "-o", snap)
    assert code == 0, err
    assert SECRET not in snap.read_text()
    docs = docs_of(name)
    change(docs)
    code, out, err = run(monkeypatch, capsys, "diff", "--baseline", snap, "--manifest", _write(tmp_path, docs),
                         "--format", "json", "--fail-on", "warning")
    changed = [r for r in json.loads(out)["results"] if r["status"] == "drift"]
    assert code == 1 and [r["check"] for r in changed] == [check], changed
    ev = changed[0]["observed"][0]
    assert (ev["prov"]["source"], ev["prov"]["object"]) == prov
    if value is not None:
        assert ev["value"] == value
    code, out, _ = run(monkeypatch, capsys, "diff", "--baseline", snap, "--manifest", AROUND / f"{name}.yaml",
                       "--format", "json")
    assert code == 0 and [r for r in json.loads(out)["results"] if r["status"] == "drift"] == []


def test_collect_shows_what_each_claim_asks_for(monkeypatch, capsys) -> None:
    code, out, err = run(monkeypatch, capsys, "collect", "--manifest", AROUND / "dra-claims.yaml")
    assert code == 0, err
    line = next(ln for ln in out.splitlines() if "dra claim gpus" in ln)
    assert "2 × gpu.nvidia.com" in line and f"{RCT} spec.spec.devices.requests[0].exactly.count" in line
