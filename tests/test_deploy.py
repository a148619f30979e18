"""deploy/: the kustomize base, the example PrometheusRule, the Dockerfile and the krew template, validated
offline: rendered by the real kustomize (kubectl kustomize) when kubectl is installed, every built-in kind
checked strictly against the Kubernetes OpenAPI schemas (kubernetes-validate), the ClusterRole held equal
to specs/rbac.yaml, the Deployment's own arguments run through the real CLI against the loopback API
server, and the alert rules checked by the real promtool when installed."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from clirun import MANIFESTS, ROOT, skewaudit
from kube_server import VERSION_INFO, FakeKube

BASE = ROOT / "deploy" / "base"
KUBECTL = shutil.which("kubectl")
PROMTOOL = shutil.which("promtool")
K8S_VERSION = f"{VERSION_INFO['major']}.{VERSION_INFO['minor']}"   # the loopback server's release
BUILTIN = {("v1", "Namespace"), ("v1", "ServiceAccount"), ("v1", "ConfigMap"), ("v1", "Service"),
           ("apps/v1", "Deployment"), ("rbac.authorization.k8s.io/v1", "ClusterRole"),
           ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")}
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}


def _render_by_hand() -> list[dict]:
    """What kustomize does for this base (namespace, labels, generated ConfigMap), for machines without kubectl."""
    k = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    docs = [d for r in k["resources"] for d in yaml.safe_load_all((BASE / r).read_text()) if d]
    for gen in k.get("configMapGenerator", []):
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]},
                     "data": {Path(f).name: (BASE / f).read_text() for f in gen["files"]}})
    for d in docs:
        for group in k.get("labels", []):
            d["metadata"]["labels"] = {**d["metadata"].get("labels", {}), **group["pairs"]}
        if d["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            d["metadata"]["namespace"] = k["namespace"]
    return docs


@pytest.fixture(scope="module")
def rendered() -> list[dict]:
    if KUBECTL is None:
        return _render_by_hand()
    p = subprocess.run([KUBECTL, "kustomize", str(BASE)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return [d for d in yaml.safe_load_all(p.stdout) if d]


def test_hand_rendering_matches_kustomize(rendered) -> None:
    """The fallback used without kubectl renders what the real kustomize does (names aside: no hash suffix)."""
    def shape(docs):
        return sorted((d["kind"], d["metadata"].get("namespace", ""), tuple(sorted(d["metadata"].get("labels", {}))))
                      for d in docs)
    assert shape(_render_by_hand()) == shape(rendered)


def one(docs: list[dict], kind: str) -> dict:
    [doc] = [d for d in docs if d["kind"] == kind]
    return doc


def test_every_manifest_is_a_known_kind_and_valid(rendered) -> None:
    kinds = {(d["apiVersion"], d["kind"]) for d in rendered}
    assert kinds == BUILTIN | {("monitoring.coreos.com/v1", "ServiceMonitor")}
    for d in rendered:
        if (d["apiVersion"], d["kind"]) in BUILTIN:
            kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    rule = yaml.safe_load((ROOT / "deploy" / "examples" / "prometheusrule.yaml").read_text())
    assert (rule["apiVersion"], rule["kind"]) in CRDS


def test_the_validator_is_strict_enough_to_catch_a_typo(rendered) -> None:
    bad = copy.deepcopy(one(rendered, "Deployment"))
    bad["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_cluster_role_is_the_read_only_one_from_specs_rbac(rendered) -> None:
    ours = one(rendered, "ClusterRole")
    reference = next(d for d in yaml.safe_load_all((ROOT / "specs" / "rbac.yaml").read_text())
                     if d and d["kind"] == "ClusterRole" and d["metadata"]["name"] == "skewaudit-reader")
    assert ours["metadata"]["name"] == reference["metadata"]["name"]
    assert ours["rules"] == reference["rules"]
    assert {v for r in ours["rules"] for v in r["verbs"]} <= {"get", "list"}
    binding = one(rendered, "ClusterRoleBinding")
    sa = one(rendered, "ServiceAccount")
    assert binding["roleRef"]["name"] == ours["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["metadata"]["name"],
                                    "namespace": sa["metadata"]["namespace"]}]


def test_deployment_service_and_monitor_fit_together(rendered) -> None:
    dep, svc, mon, cm = (one(rendered, k) for k in ("Deployment", "Service", "ServiceMonitor", "ConfigMap"))
    pod = dep["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert pod["serviceAccountName"] == one(rendered, "ServiceAccount")["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert c["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}}
    assert c["args"][0] == "serve"
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert c["args"][1] == mounts["specs"] and volumes["specs"]["configMap"]["name"] == cm["metadata"]["name"]
    assert "emptyDir" in volumes["tmp"] and mounts["tmp"] == "/tmp"      # the only writable path
    port = next(p for p in c["ports"] if p["name"] == "metrics")
    assert f"--port={port['containerPort']}" in c["args"] and "--listen=0.0.0.0" in c["args"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert svc["spec"]["selector"].items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["metrics"]
    assert mon["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert [e["port"] for e in mon["spec"]["endpoints"]] == [p["name"] for p in svc["spec"]["ports"]]
    for name, text in cm["data"].items():   # the shipped specs are valid ModelSpecs
        spec = BASE / "specs" / name
        assert spec.read_text() == text
        r = skewaudit("validate", spec)
        assert r.code == 0, r.err


def test_deployment_arguments_run_as_written(rendered, tmp_path: Path) -> None:
    """The container's args, with the ConfigMap's mount replaced by its source directory, audit the loopback
    cluster once: every flag the manifest passes exists and the metrics the alerts use are exported."""
    [c] = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"]
    args = [str(BASE / "specs") if a == c["args"][1] else a for a in c["args"]]
    with FakeKube() as kube:
        kube.load_yaml(MANIFESTS / "llama-3.1-70b-vllm.yaml")
        kc = kube.write_kubeconfig(tmp_path / "kc")
        r = skewaudit(*args, "--once", "--kubeconfig", kc)
    assert r.code == 0, r.err
    rule = yaml.safe_load((ROOT / "deploy" / "examples" / "prometheusrule.yaml").read_text())
    exprs = [x["expr"] for g in rule["spec"]["groups"] for x in g["rules"]]
    for metric in ("skewaudit_gate_failed", "skewaudit_last_run_success"):
        assert any(metric in e for e in exprs) and f"\n{metric} " in r.out
    assert next(x for g in rule["spec"]["groups"] for x in g["rules"] if x["alert"] == "SkewauditGatingDrift")[
        "for"] == "10m"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package prometheus)")
def test_alert_rules_pass_promtool(tmp_path: Path) -> None:
    rule = yaml.safe_load((ROOT / "deploy" / "examples" / "prometheusrule.yaml").read_text())
    f = tmp_path / "rules.yaml"
    f.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    p = subprocess.run([PROMTOOL, "check", "rules", str(f)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "SUCCESS: 2 rules found" in p.stdout, p.stdout + p.stderr


def test_dockerfile_runs_non_root_with_the_deployments_spec_path(rendered) -> None:
    lines = [ln.strip() for ln in (ROOT / "deploy" / "Dockerfile").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    final = lines[max(i for i, ln in enumerate(lines) if ln.startswith("FROM ")):]
    users = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["skewaudit"]' in final
    [c] = one(rendered, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert c["args"][1] in next(ln for ln in final if ln.startswith("CMD "))
    assert int(users[-1].split(":")[0]) == one(rendered, "Deployment")["spec"]["template"]["spec"][
        "securityContext"]["runAsUser"]
