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
    assert s["operations"]["scaling"] == {"minReplicas": 2, "maxReplicas": 8, "metric": "vllm:num_requests_waiting",
                                          "targetValue": 10}   # the HPA's averageValue
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


def test_required_fields_it_cannot_observe_are_todo_lines_without_placeholders(monkeypatch, capsys, tmp_path):
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--cmdline", "python my_server.py --port 9000", "-o", spec)
    assert code == 0, err
    text = spec.read_text()
    assert ("      # TODO the model id: the engine's model flag was not found (required: the spec does not validate "
            "until it is set)\n") in text
    # No placeholder value reads as intent.
    assert "unknown" not in json.dumps(yaml.safe_load(text))
    assert "required field left as a TODO: the model id" in err
    code, out, err = run(monkeypatch, capsys, "validate", spec)
    assert code == 2 and "id" in err


def _mixed(tmp_path: Path, third_args: list[str] | None, third_node_product: str, pods: int = 3) -> Path:
    """live.yaml with a third pod (another node pool, optionally other args), or two pods only."""
    docs = [d for d in yaml.safe_load_all((BASELINE / "live.yaml").read_text()) if d]
    pod = next(d for d in docs if d["kind"] == "Pod")
    node = next(d for d in docs if d["kind"] == "Node")
    third = yaml.safe_load(yaml.safe_dump(pod))
    third["metadata"]["name"] = "llama-7c9f6d5b8-xyz12"
    third["spec"]["nodeName"] = "gpu-new-1"
    if third_args is not None:
        third["spec"]["containers"][0]["args"] = third_args
    new_node = yaml.safe_load(yaml.safe_dump(node))
    new_node["metadata"]["name"] = "gpu-new-1"
    new_node["metadata"]["labels"].update({"kubernetes.io/hostname": "gpu-new-1",
                                           "nvidia.com/gpu.product": third_node_product})
    if pods == 2:
        docs.remove(next(d for d in docs if d["kind"] == "Pod" and d["metadata"]["name"].endswith("fghij")))
    out = tmp_path / "mixed.yaml"
    out.write_text(yaml.safe_dump_all(docs + [third, new_node], sort_keys=False))
    return out


ARGS = ["meta-llama/Llama-3.1-8B-Instruct", "--revision=0e9e39f249a16976918f6564b8830bc894c89659",
        "--dtype=bfloat16", "--max-model-len=16384", "--port=8000"]


def test_pods_that_disagree_give_the_majority_value_with_a_comment(monkeypatch, capsys, tmp_path):
    # 3 pods: two on A100 with --max-model-len 8192, one (mid-rollout) on an H100 pool with 16384.
    m = _mixed(tmp_path, ARGS, "NVIDIA-H100-80GB-HBM3")
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--manifest", m, "-o", spec)
    assert code == 0, err
    text = spec.read_text()
    s = yaml.safe_load(text)["spec"]
    assert s["runtime"]["engine"]["maxModelLen"] == 8192
    assert s["runtime"]["accelerator"]["type"] == "a100-80gb"
    assert ("# 2 of 3 pods run this; also running: 16384 on 1 (llama-7c9f6d5b8-xyz12)\n"
            "      maxModelLen: 8192") in text
    assert "# 2 of 3 pods run this; also running: h100-80gb on 1 (llama-7c9f6d5b8-xyz12)" in text
    assert "maxModelLen: pods disagree; wrote the majority value 8192 (2 of 3 pods)" in err
    assert "accelerator type: pods disagree" in err
    assert run(monkeypatch, capsys, "validate", spec)[0] == 0


def test_pods_that_disagree_without_a_majority_leave_a_todo(monkeypatch, capsys, tmp_path):
    # 2 pods, one per node pool, with different max lengths: nobody's value is the intent.
    m = _mixed(tmp_path, ARGS, "NVIDIA-H100-80GB-HBM3", pods=2)
    spec = tmp_path / "spec.yaml"
    code, _, err = run(monkeypatch, capsys, "init", "--manifest", m, "-o", spec)
    assert code == 0, err
    text = spec.read_text()
    engine = yaml.safe_load(text)["spec"]["runtime"]["engine"]
    assert "maxModelLen" not in engine
    assert "# TODO maxModelLen: the pods disagree (" in text and "8192 on 1" in text and "16384 on 1" in text
    assert "maxModelLen: pods disagree with no majority" in err
    # The GPU class is required: a TODO without a placeholder, named on stderr.
    assert "# TODO accelerator type: the pods disagree" in text and "type: unknown" not in text
    assert "required field left as a TODO: accelerator type" in err


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
    for secret in ("hf_LiveFixtureSecretToken12345", "sk-baseline-fixture-key-0123456789", "<redacted:"):
        assert secret not in text
    # the secrets are named in TODO comments, never given a value (a marker is not intent)
    assert "# TODO HF_TOKEN: the running value holds a secret" in text
    assert "# TODO flags left out: --api-key (secret values" in text
    assert "HF_TOKEN:" not in text.replace("# TODO HF_TOKEN:", "") and "--api-key" not in yaml.safe_dump(
        yaml.safe_load(text))
    assert run(monkeypatch, capsys, "validate", spec)[0] == 0


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
