"""-n and --context override the spec's target for the audit as well as for collection (loopback API server)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from clirun import EXAMPLES, MANIFESTS, skewaudit
from kube_server import FakeKube

LLAMA = EXAMPLES / "llama-3.1-70b-vllm.yaml"


def canary(kube: FakeKube, tmp_path: Path) -> None:
    """The example workload, deployed in namespace ml-canary (the spec says ml)."""
    docs = [d for d in yaml.safe_load_all((MANIFESTS / "llama-3.1-70b-vllm.yaml").read_text()) if d]
    for d in docs:
        d["metadata"]["namespace"] = "ml-canary"
    p = tmp_path / "canary.yaml"
    p.write_text(yaml.safe_dump_all(docs))
    kube.load_yaml(p)


def spec_with_target(tmp_path: Path, **target) -> Path:
    doc = yaml.safe_load(LLAMA.read_text())
    doc["spec"]["target"].update(target)
    p = tmp_path / "spec.yaml"
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p


def checks(out: str) -> dict[str, dict]:
    return {x["check"]: x for x in json.loads(out)["results"]}


def test_namespace_flag_overrides_the_spec_target_for_the_audit(kube: FakeKube, kubeconfig: Path, tmp_path: Path):
    canary(kube, tmp_path)
    # Without -n the spec's namespace (ml) is audited: the workload is not there.
    r = skewaudit("diff", LLAMA, "--kubeconfig", kubeconfig, "--format", "json")
    assert r.code == 1 and "not found in namespace ml" in checks(r.out)["collection.target-not-found"]["message"]
    kube.requests.clear()
    r = skewaudit("diff", LLAMA, "--kubeconfig", kubeconfig, "-n", "ml-canary", "--format", "json")
    got = checks(r.out)
    assert "collection.target-not-found" not in got
    assert got["model.id"]["status"] == "match" and got["runtime.dtype"]["status"] == "match"
    assert got["runtime.dtype"]["target"]["namespace"] == "ml-canary"
    assert r.code == 0, r.out
    # Only the overriding namespace was read.
    assert not [p for _, p, _ in kube.requests if "/namespaces/ml/" in p]


def test_context_flag_overrides_the_spec_target_context(kube: FakeKube, kubeconfig: Path, tmp_path: Path):
    canary(kube, tmp_path)
    spec = spec_with_target(tmp_path, namespace="ml-canary", context="prod-us")
    # The spec names another context: this run (context loopback) skips it and says so.
    r = skewaudit("diff", spec, "--kubeconfig", kubeconfig, "--format", "json")
    assert r.code == 1 and "collection.target-not-found" in checks(r.out)
    # --context loopback overrides the spec's context: the workload is audited.
    r = skewaudit("diff", spec, "--kubeconfig", kubeconfig, "--context", "loopback", "--format", "json")
    got = checks(r.out)
    assert "collection.target-not-found" not in got and got["model.id"]["status"] == "match"
    assert r.code == 0, r.out
