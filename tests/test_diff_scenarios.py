"""The skew playbook's scenarios, end to end through the CLI on rendered manifests.

(A) "same model, suddenly slower", (B) "quality got worse, weights unchanged",
(C) "staging OK, prod bad", and a clean deployment of each engine, which must
give zero drift: noise is the first thing users judge.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clirun import EXAMPLES, MANIFESTS, skewaudit

LLAMA = EXAMPLES / "llama-3.1-70b-vllm.yaml"
LLAMA_M = MANIFESTS / "llama-3.1-70b-vllm.yaml"
QWEN = EXAMPLES / "qwen2.5-7b-tgi-l4.yaml"
QWEN_M = MANIFESTS / "qwen2.5-7b-tgi-l4.yaml"
MISTRAL = EXAMPLES / "mistral-7b-sglang-h100.yaml"
MISTRAL_M = MANIFESTS / "mistral-7b-sglang-h100.yaml"


def mutate(src: Path, dst: Path, fn) -> Path:
    """Copy a multi-document manifest, letting ``fn(docs)`` change it."""
    docs = list(yaml.safe_load_all(src.read_text()))
    fn(docs)
    dst.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return dst


def container(docs: list[dict]) -> dict:
    return next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]["containers"][0]


def set_arg(docs: list[dict], flag: str, value: str | None) -> None:
    args = container(docs)["args"]
    args[:] = [a for a in args if not a.startswith(flag + "=") and a != flag]
    if value is not None:
        args.append(f"{flag}={value}")


def json_report(*args) -> tuple[int, dict]:
    r = skewaudit("diff", *args, "--format", "json")
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)


def problems(report: dict) -> dict[str, dict]:
    return {r["check"]: r for r in report["results"] if r["status"] in ("drift", "unpinned")}


@pytest.mark.parametrize("spec,manifest", [(LLAMA, LLAMA_M), (QWEN, QWEN_M), (MISTRAL, MISTRAL_M)],
                         ids=["vllm", "tgi", "sglang"])
def test_clean_deployment_of_each_engine_has_no_drift(spec, manifest):
    r = skewaudit("diff", spec, "--manifest", manifest)
    assert r.code == 0, r.out + r.err
    assert "0 drifted" in r.out
    code, rep = json_report(spec, "--manifest", manifest)
    assert code == 0
    assert [x for x in rep["results"] if x["status"] == "drift"] == []
    # The engine-level settings were really compared, not skipped.
    matched = {x["check"] for x in rep["results"] if x["status"] == "match"}
    assert {"model.id", "model.revision", "runtime.engine"} <= matched


def test_scenario_a_same_model_suddenly_slower(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "a.yaml", lambda d: (set_arg(d, "--dtype", "float32"),
                                                        set_arg(d, "--max-model-len", "32768"),
                                                        set_arg(d, "--max-num-seqs", "512")))
    code, rep = json_report(LLAMA, "--manifest", m)
    assert code == 1
    got = problems(rep)
    dtype = got["runtime.dtype"]
    assert (dtype["expected"], dtype["observed"][0]["value"], dtype["level"]) == ("bfloat16", "float32", "error")
    prov = dtype["observed"][0]["prov"]
    assert prov["source"] == "arg" and prov["object"] == "Deployment/ml/llama-3-1-70b"
    assert prov["path"].startswith("spec.template.spec.containers[0].args[")
    assert dtype["location"]["file"].endswith("llama-3.1-70b-vllm.yaml") and dtype["location"]["line"] > 0
    assert "--dtype bfloat16" in dtype["hint"] and "Deployment/llama-3-1-70b" in dtype["hint"]
    assert "vllm" in dtype["hint"]
    assert got["runtime.max-model-len"]["observed"][0]["value"] == 32768
    assert got["runtime.max-num-seqs"]["observed"][0]["value"] == 512
    # The human table shows intended, observed and where it came from.
    r = skewaudit("diff", LLAMA, "--manifest", m)
    assert r.code == 1
    assert "runtime.dtype" in r.out and "float32" in r.out and "bfloat16" in r.out
    assert "spec.template.spec.containers[0].args[" in r.out
    assert "3 drifted" in r.out


def test_scenario_b_quality_worse_weights_unchanged(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "b.yaml", lambda d: (set_arg(d, "--tokenizer-revision", "main"),
                                                        set_arg(d, "--quantization", "fp8")))
    code, rep = json_report(LLAMA, "--manifest", m)
    assert code == 1
    got = problems(rep)
    assert set(got) >= {"model.tokenizer-revision", "runtime.quantization"}
    assert got["model.tokenizer-revision"]["observed"][0]["value"] == "main"
    assert got["runtime.quantization"]["observed"][0]["value"] == "fp8"
    assert got["runtime.quantization"]["expected"] == "none"
    assert all(got[c]["level"] == "error" for c in ("model.tokenizer-revision", "runtime.quantization"))
    # Weights are unchanged: no model-id or revision finding.
    assert "model.id" not in got and "model.revision" not in got


def test_scenario_c_staging_ok_prod_bad(tmp_path):
    def prod(docs):
        tmpl = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"]
        tmpl["nodeSelector"] = {"cloud.google.com/gke-accelerator": "nvidia-l4"}
        hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
        hpa["spec"]["metrics"] = [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]
        container(docs)["readinessProbe"]["timeoutSeconds"] = 30

    m = mutate(LLAMA_M, tmp_path / "c.yaml", prod)
    spec = tmp_path / "spec.yaml"
    doc = yaml.safe_load(LLAMA.read_text())
    doc["spec"]["operations"]["serving"]["readinessProbe"]["timeoutSeconds"] = 5
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, rep = json_report(spec, "--manifest", m)
    assert code == 1
    got = problems(rep)
    gpu = got["hardware.gpu-class"]
    assert (gpu["expected"], gpu["observed"][0]["value"]) == ("a100-80gb", "l4")
    assert gpu["observed"][0]["prov"]["source"] == "pod-spec"
    assert "Resource/cpu" in got["orchestration.hpa-metric"]["observed"][0]["value"]
    assert got["orchestration.hpa-metric"]["observed"][0]["prov"]["object"] == "HorizontalPodAutoscaler/ml/llama-3-1-70b"
    assert got["serving.readiness-probe"]["observed"][0]["value"] == 30
    assert "kubectl" in " ".join(gpu["commands"]) and "app=llama-3-1-70b" in " ".join(gpu["commands"])


def test_changed_gateway_timeout_on_tgi(tmp_path):
    def shorter(docs):
        svc = next(d for d in docs if d["kind"] == "Service")
        svc["metadata"]["annotations"]["cloud.google.com/backend-timeout"] = "30"

    m = mutate(QWEN_M, tmp_path / "t.yaml", shorter)
    code, rep = json_report(QWEN, "--manifest", m)
    t = problems(rep)["serving.timeout"]
    assert (t["expected"], t["observed"][0]["value"]) == (60, "30")
    assert t["observed"][0]["prov"]["object"] == "Service/ml/qwen-tgi"
    # A warning-level drift fails the default gate; --fail-on error narrows it and the summary says so.
    assert code == 1
    narrowed = skewaudit("diff", QWEN, "--manifest", m, "--fail-on", "error")
    assert narrowed.code == 0
    assert "1 drifted (not gating: --fail-on error)" in narrowed.out.rstrip().splitlines()[-1]


def test_tgi_configured_only_through_env_is_read(tmp_path):
    m = mutate(QWEN_M, tmp_path / "q.yaml", lambda d: [e.update(value="bfloat16") for e in container(d)["env"]
                                                        if e["name"] == "DTYPE"])
    code, rep = json_report(QWEN, "--manifest", m)
    d = problems(rep)["runtime.dtype"]
    assert code == 1
    assert d["observed"][0]["value"] == "bfloat16" and d["observed"][0]["prov"]["path"].endswith("env[DTYPE]")


def test_sglang_sets_and_tolerances(tmp_path):
    # maxNumSeqs: [128, 256] and gpuMemoryUtilization: ">=0.80,<=0.90"
    def drift(docs):
        script = container(docs)["args"][0]
        container(docs)["args"][0] = (script.replace("--max-running-requests 256", "--max-running-requests 64")
                                      .replace("--mem-fraction-static 0.85", "--mem-fraction-static 0.95"))

    code, rep = json_report(MISTRAL, "--manifest", mutate(MISTRAL_M, tmp_path / "s.yaml", drift))
    got = problems(rep)
    assert got["runtime.max-num-seqs"]["observed"][0]["value"] == 64
    assert "one of [128, 256]" in got["runtime.max-num-seqs"]["message"]
    assert got["runtime.gpu-memory-utilization"]["observed"][0]["value"] == 0.95
    assert code == 1  # capacity warnings are drift: they fail the default gate


def test_the_readme_example_incident():
    r = skewaudit("diff", LLAMA, "--manifest", MANIFESTS / "llama-3.1-70b-vllm-drifted.yaml")
    assert r.code == 1
    for check in ("runtime.dtype", "runtime.quantization", "model.tokenizer-revision", "hardware.gpu-class",
                  "orchestration.hpa-metric", "runtime.image-pinned"):
        assert check in r.out
    assert r.out.rstrip().splitlines()[-1].startswith("10 drifted")


def test_target_not_found_lists_near_names(tmp_path):
    doc = yaml.safe_load(LLAMA.read_text())
    doc["spec"]["target"]["name"] = "llama-3-1-7b"
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    code, rep = json_report(spec, "--manifest", LLAMA_M)
    assert code == 1
    nf = problems(rep)["collection.target-not-found"]
    assert "llama-3-1-7b" in nf["message"] and "did you mean: llama-3-1-70b" in nf["message"]


def test_fleet_directory_of_specs(tmp_path):
    manifests = tmp_path / "all.yaml"
    manifests.write_text("\n---\n".join(p.read_text() for p in (LLAMA_M, QWEN_M, MISTRAL_M)))
    specs = tmp_path / "specs"
    specs.mkdir()
    for p in (LLAMA, QWEN, MISTRAL):
        (specs / p.name).write_text(p.read_text())
    code, rep = json_report(specs, "--manifest", manifests)
    assert code == 0
    assert rep["summary"]["specs"] == 3 and rep["summary"]["workloads"] == 3
    assert sorted(rep["specs"]) == ["llama-3-1-70b", "mistral-7b", "qwen2-5-7b"]
