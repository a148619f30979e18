"""`skewaudit init`: capture what runs as a ModelSpec that validates and diffs clean against its source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clirun import main_inprocess as run

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = ROOT / "specs" / "examples" / "manifests"
BASELINE = ROOT / "tests" / "fixtures" / "baseline"
K8S = ROOT / "tests" / "fixtures" / "k8s"
CLEAN_STATUSES = {"match", "unpinned", "unverifiable", "not-applicable"}




def assert_round_trip(monkeypatch, capsys, spec: Path, *source) -> dict:
    """The written spec validates and `diff` against its own source finds no drift."""
    code, out, err = run(monkeypatch, capsys, "validate", spec)
    assert code == 0, out + err
    code, out, err = run(monkeypatch, capsys, "diff", spec, *source, "-F", "json")
    report = json.loads(out)
    bad = [(r["check"], r["status"], r["message"]) for r in report["results"] if r["status"] not in CLEAN_STATUSES]
    assert bad == [] and code == 0, bad
    assert report["summary"]["drift"] == 0 and report["summary"]["match"] >= 10
    return report


ENGINE_MANIFESTS = [
    (MANIFESTS / "llama-3.1-70b-vllm.yaml", "vllm"),
    (MANIFESTS / "llama-3.1-70b-vllm-drifted.yaml", "vllm"),
    (MANIFESTS / "qwen2.5-7b-tgi-l4.yaml", "tgi"),
    (MANIFESTS / "mistral-7b-sglang-h100.yaml", "sglang"),
    (K8S / "kserve.yaml", "kserve-hf"),            # InferenceService + ServingRuntime + its pod
    (K8S / "tgi-env.yaml", "tgi"),                 # TGI configured through env, with a running pod
    (BASELINE / "live.yaml", "vllm"),              # live-shaped: pods, nodes, HPA
]


@pytest.mark.parametrize("manifest, engine", ENGINE_MANIFESTS, ids=[f"{m.parent.name}/{m.stem}" for m, _ in ENGINE_MANIFESTS])
def test_init_validates_and_diffs_clean(monkeypatch, capsys, tmp_path, manifest, engine):
    spec = tmp_path / "spec.yaml"
    code, out, err = run(monkeypatch, capsys, "init", "--manifest", manifest, "-o", spec)
    assert code == 0 and out == "", err
    assert err == f"wrote {spec} (1 spec); review the TODO lines, then: skewaudit validate {spec}\n"
    doc = yaml.safe_load(spec.read_text())
    assert doc["spec"]["runtime"]["engine"]["name"] == engine
    # The captured spec uses engine/target extensions, so it says so with skewaudit's superset apiVersion.
    assert doc["apiVersion"] == "skewaudit.io/v1alpha1"
    assert_round_trip(monkeypatch, capsys, spec, "--manifest", manifest)


def test_written_spec_captures_the_observed_values(monkeypatch, capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    assert run(monkeypatch, capsys, "init", "--manifest", MANIFESTS / "llama-3.1-70b-vllm.yaml", "-o", spec)[0] == 0
    s = yaml.safe_load(spec.read_text())["spec"]
    m = s["identity"]["model"]
    assert (m["id"], m["family"], m["precision"], m["revision"]) == (
        "meta-llama/Llama-3.1-70B-Instruct", "llama-3.1", "bf16", "1605565b47bb9346c5515c34102e054115b4f98b")
    assert m["tokenizer"] == {"id": "meta-llama/Llama-3.1-70B-Instruct",
                              "revision": "1605565b47bb9346c5515c34102e054115b4f98b"}
    e = s["runtime"]["engine"]
    assert (e["dtype"], e["maxModelLen"], e["tensorParallelSize"], e["gpuMemoryUtilization"]) == ("bfloat16", 8192, 4, 0.9)
    assert e["args"] == ["--disable-log-requests"]
    assert s["runtime"]["accelerator"] == {"vendor": "nvidia", "type": "a100-80gb", "count": 4}
    assert s["operations"]["scaling"] == {"minReplicas": 2, "maxReplicas": 8, "metric": "vllm:num_requests_waiting"}
    assert s["target"] == {"namespace": "ml", "kind": "Deployment", "name": "llama-3-1-70b", "container": "vllm"}


def test_unknown_values_are_todo_comment_lines(monkeypatch, capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    assert run(monkeypatch, capsys, "init", "--manifest", MANIFESTS / "qwen2.5-7b-tgi-l4.yaml", "-o", spec)[0] == 0
    lines = spec.read_text().splitlines()
    todos = [line.strip() for line in lines if "TODO" in line]
    assert todos and all(t.startswith("# TODO ") for t in todos)
    assert "# TODO servedModelName: not set on the engine" in todos
    # A TODO is never a value: the YAML has no key or string mentioning it.
    assert "TODO" not in json.dumps(yaml.safe_load(spec.read_text()))
    # TGI settings read from env are written once, as engine settings, not again as env variables.
    s = yaml.safe_load(spec.read_text())["spec"]
    assert s["runtime"]["engine"]["dtype"] == "float16"
    assert "DTYPE" not in s["runtime"].get("environment", {}).get("variables", {})


def test_required_fields_it_cannot_observe_get_a_placeholder_under_a_todo(monkeypatch, capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--cmdline", "python my_server.py --port 9000", "-o", spec)
    assert code == 0, err
    text = spec.read_text()
    assert "      # TODO the model id: the engine's model flag was not found\n      id: unknown\n" in text
    assert run(monkeypatch, capsys, "validate", spec)[0] == 0


def test_refuses_to_overwrite_without_force(monkeypatch, capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("# my hand-written spec\n")
    code, out, err = run(monkeypatch, capsys, "init", "--manifest", MANIFESTS / "qwen2.5-7b-tgi-l4.yaml", "-o", spec)
    assert code == 2 and out == ""
    assert err == f"error: {spec}: already exists; use --force to overwrite\n"
    assert spec.read_text() == "# my hand-written spec\n"
    code, _, err = run(monkeypatch, capsys, "init", "--manifest", MANIFESTS / "qwen2.5-7b-tgi-l4.yaml", "-o", spec,
                       "--force")
    assert code == 0, err
    assert "name: qwen-tgi" in spec.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["spec.yaml"]


def test_init_to_stdout_and_from_a_snapshot(monkeypatch, capsys, tmp_path):
    manifest = MANIFESTS / "mistral-7b-sglang-h100.yaml"
    code, from_manifest, _ = run(monkeypatch, capsys, "init", "--manifest", manifest)
    assert code == 0 and from_manifest.startswith("# yaml-language-server: $schema=")
    snap = tmp_path / "s.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", manifest, "-o", snap)[0] == 0
    code, from_snapshot, _ = run(monkeypatch, capsys, "init", "--snapshot", snap)
    assert code == 0 and from_snapshot == from_manifest
    spec = tmp_path / "spec.yaml"
    spec.write_text(from_snapshot)
    assert_round_trip(monkeypatch, capsys, spec, "--snapshot", snap)


def test_from_picks_one_workload(monkeypatch, capsys, tmp_path):
    # sglang-sts.yaml holds a StatefulSet, a bare Pod and a Job.
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--manifest", K8S / "sglang-sts.yaml", "--from", "pod/vllm-debug",
                       "-o", spec)
    assert code == 0, err
    docs = list(yaml.safe_load_all(spec.read_text()))
    assert len(docs) == 1 and docs[0]["spec"]["target"]["kind"] == "Pod"
    assert_round_trip(monkeypatch, capsys, spec, "--manifest", K8S / "sglang-sts.yaml")


@pytest.mark.parametrize("value, message", [
    ("deployment", "--from 'deployment': expected KIND/NAME"),
    ("cronjob/x", "--from 'cronjob/x': expected KIND/NAME with KIND one of"),
    ("deployment/nope", "nope"),
])
def test_from_errors_are_one_line(monkeypatch, capsys, tmp_path, value, message):
    code, out, err = run(monkeypatch, capsys, "init", "--manifest", MANIFESTS / "qwen2.5-7b-tgi-l4.yaml", "--from",
                         value, "-o", tmp_path / "s.yaml")
    assert code == 2 and out == "" and err.count("\n") == 1 and message in err
    assert not (tmp_path / "s.yaml").exists()


def test_spec_holds_no_secret(monkeypatch, capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    assert run(monkeypatch, capsys, "init", "--manifest", BASELINE / "live.yaml", "-o", spec)[0] == 0
    text = spec.read_text()
    for secret in ("hf_LiveFixtureSecretToken12345", "sk-baseline-fixture-key-0123456789", "<redacted:", "HF_TOKEN",
                   "--api-key"):
        assert secret not in text


def test_init_from_the_live_cluster(monkeypatch, capsys, tmp_path):
    from kube_server import FakeKube

    with FakeKube() as kube:
        kube.load_yaml(BASELINE / "live.yaml")
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        spec = tmp_path / "spec.yaml"
        code, _, err = run(monkeypatch, capsys, "init", "--from", "deployment/llama", "-n", "ml", "--kubeconfig",
                           kubeconfig, "-o", spec)
        assert code == 0, err
        s = yaml.safe_load(spec.read_text())["spec"]
        assert s["runtime"]["engine"]["imageDigest"].startswith("sha256:1f3e5c0a")
        assert s["runtime"]["gpu"] == {"driverVersion": "550.107.02", "cudaVersion": "12.4"}
        assert_round_trip(monkeypatch, capsys, spec, "--kubeconfig", kubeconfig)
