"""`skewaudit collect` as a user runs it: output formats, -o, targets, and every error's exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
import yaml

from kube_server import FakeKube
from skewaudit import cli
from skewaudit.model.observed import Snapshot
from test_collect_manifests import EXPECTED, FIXTURES, K8S, SECRETS

ROOT = Path(__file__).resolve().parents[1]
ALL = [arg for f in FIXTURES for arg in ("-f", str(K8S / f))]


def run(args: list[str], capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    """Run the real entry point in-process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["skewaudit", *args])
    with pytest.raises(SystemExit) as e:
        cli.main()
    out, err = capsys.readouterr()
    return int(e.value.code or 0), out, err


@pytest.fixture
def cluster(kube: FakeKube, kubeconfig: Path) -> tuple[FakeKube, Path]:
    kube.load_yaml(*(K8S / f for f in FIXTURES))
    return kube, kubeconfig


def test_table_shows_each_fact_with_provenance(capsys, monkeypatch) -> None:
    code, out, err = run(["collect", "-f", str(K8S / "vllm-rollout.yaml")], capsys, monkeypatch)
    assert code == 0 and err == ""
    lines = out.splitlines()

    def row(name: str) -> str:
        return next(ln for ln in lines if ln.split()[:1] == [name])

    assert "Deployment/ml/llama-3-1-70b" in lines
    assert row("engine").split()[1:3] == ["vllm", "(argv:"]
    assert row("model").split()[1:] == ["meta-llama/Llama-3.1-70B-Instruct", "Deployment/ml/llama-3-1-70b",
                                        "spec.template.spec.containers[0].args[0]", "(arg)"]
    assert row("dtype").split()[1] == "bfloat16"
    assert row("quantization").split()[1:3] == ["-", "Deployment/ml/llama-3-1-70b"]
    assert row("max_model_len").split()[1] == "8192" and row("tensor_parallel_size").split()[1] == "4"
    gpu_count = next(ln for ln in lines if ln.strip().startswith("gpu count")).split()
    assert gpu_count[2:4] == ["4", "Deployment/ml/llama-3-1-70b"]
    assert gpu_count[4] == "spec.template.spec.containers[0].resources.limits[nvidia.com/gpu]"
    gpu_class = next(ln for ln in lines if ln.strip().startswith("gpu class")).split()
    assert gpu_class[2:4] == ["a100-80gb", "Node/gpu-a100-1"]
    assert "metadata.labels[nvidia.com/gpu.product]" in gpu_class[4]
    assert row("image").split()[1] == "vllm/vllm-openai:v0.10.0"
    assert "sha256:1f3e5c0a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f" in row("running").split()[2]
    assert "2 of older revisions: llama-3-1-70b-5b8d7c9f4" in out
    assert "differs from the template: vllm image vllm/vllm-openai:v0.9.2, dtype=float16 (template bfloat16)" in out


@pytest.mark.parametrize("fmt", ["table", "json", "yaml"])
def test_secrets_never_printed_offline_or_live(fmt: str, cluster, capsys, monkeypatch) -> None:
    kube, kc = cluster
    for args in (["collect", *ALL], ["collect", "--kubeconfig", str(kc), "-A"]):
        code, out, err = run([*args, "--format", fmt], capsys, monkeypatch)
        assert code == 0, err
        assert not [s for s in SECRETS if s in out + err]
        assert "llama-3-1-70b" in out
        if fmt != "table":   # the env values are there, as comparable markers
            assert "<redacted:" in out


def test_json_is_the_snapshot_and_reads_back(tmp_path: Path, capsys, monkeypatch) -> None:
    out_file = tmp_path / "facts.json"
    code, out, err = run(["collect", *ALL, "--format", "json", "-o", str(out_file)], capsys, monkeypatch)
    assert code == 0 and out == "" and err == ""
    snap = msgspec.json.decode(out_file.read_bytes(), type=Snapshot)
    assert snap.source == "manifest" and sorted(w.object for w in snap.workloads) == sorted(EXPECTED)
    assert not list(tmp_path.glob(".facts.json.*"))    # written atomically: no temp file left behind
    code, out, err = run(["collect", "--snapshot", str(out_file)], capsys, monkeypatch)
    assert code == 0 and "InferenceService/kserve-test/qwen" in out


def test_yaml_output(capsys, monkeypatch) -> None:
    code, out, _ = run(["collect", "-f", str(K8S / "tgi-env.yaml"), "--format", "yaml"], capsys, monkeypatch)
    doc = yaml.safe_load(out)
    assert code == 0 and doc["source"] == "manifest"
    (w,) = doc["workloads"]
    assert w["template"]["containers"][0]["engine"]["fields"]["quantization"]["value"] == "awq"


def test_flags_choose_the_target(capsys, monkeypatch) -> None:
    code, out, _ = run(["collect", *ALL, "--kind", "StatefulSet", "--format", "json"], capsys, monkeypatch)
    assert [w["object"] for w in msgspec.json.decode(out)["workloads"]] == ["StatefulSet/llm/deepseek-sglang"]
    code, out, _ = run(["collect", *ALL, "-l", "purpose=debug", "--format", "json"], capsys, monkeypatch)
    assert [w["object"] for w in msgspec.json.decode(out)["workloads"]] == ["Pod/llm/vllm-debug"]
    code, out, _ = run(["collect", *ALL, "--name", "lama-3-1-70b", "-n", "ml"], capsys, monkeypatch)
    assert code == 0 and "no serving workloads found" in out
    assert "not-found" in out and "did you mean: llama-3-1-70b?" in out


def test_spec_target_section_chooses_the_workload(capsys, monkeypatch) -> None:
    spec = ROOT / "specs" / "examples" / "llama-3.1-70b-vllm.yaml"
    code, out, err = run(["collect", str(spec), *ALL, "--format", "json"], capsys, monkeypatch)
    assert code == 0, err
    assert [w["object"] for w in msgspec.json.decode(out)["workloads"]] == ["Deployment/ml/llama-3-1-70b"]


@pytest.mark.parametrize("args, code, message", [
    (["--format", "xml"], 2, "error: --format must be one of table, json, yaml, not 'xml'"),
    (["-l", "app"], 2, "error: --selector: 'app' is not key=value"),
    (["-f", "/nonexistent/x.yaml"], 2, "error: /nonexistent/x.yaml: no such file or directory"),
])
def test_usage_errors(args: list[str], code: int, message: str, capsys, monkeypatch) -> None:
    got, out, err = run(["collect", *([] if "-f" in args else ALL[:2]), *args], capsys, monkeypatch)
    assert got == code and err.startswith(message) and len(err.splitlines()) == 1


def test_yaml_error_exit_2_with_position(tmp_path: Path, capsys, monkeypatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: Deployment\nmetadata:\n  name: [unclosed\n")
    code, out, err = run(["collect", "-f", str(bad)], capsys, monkeypatch)
    assert code == 2 and err.startswith(f"error: {bad}:4:1: YAML syntax error") and len(err.splitlines()) == 1


def test_cluster_errors_exit_codes(cluster, tmp_path: Path, capsys, monkeypatch) -> None:
    kube, kc = cluster
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    cases = []
    monkeypatch.setenv("HOME", str(tmp_path))
    cases.append((["collect"], 3, "error: no kubeconfig: looked in ~/.kube/config"))
    multi = kube.write_kubeconfig(tmp_path / "multi", extra_contexts={"down": "http://127.0.0.1:1"})
    cases.append((["collect", "--kubeconfig", str(multi), "--context", "nope"], 2,
                   f"error: unknown context 'nope' in {multi}; available: loopback, down"))
    cases.append((["collect", "--kubeconfig", str(multi), "--context", "down", "--timeout", "2"], 3,
                   "error: cannot reach the Kubernetes API at http://127.0.0.1:1: connection refused"))
    bad_token = kube.write_kubeconfig(tmp_path / "bad", token="nope")
    cases.append((["collect", "--kubeconfig", str(bad_token)], 3,
                   f"error: the Kubernetes API at {kube.url} rejected the credentials (401 Unauthorized)"))
    for args, code, message in cases:
        got, out, err = run(args, capsys, monkeypatch)
        assert got == code and err.startswith(message) and len(err.splitlines()) == 1, (args, err)
    kube.deny("list", "pods", "ml")
    got, out, err = run(["collect", "--kubeconfig", str(kc), "-n", "ml"], capsys, monkeypatch)
    assert got == 3 and err.startswith("error: forbidden: skewaudit needs list on pods in namespace ml; "
                                       "see specs/rbac.yaml")
    kube.deny("*", "nodes")
    got, out, err = run(["collect", "--kubeconfig", str(kc), "-n", "serving"], capsys, monkeypatch)
    assert got == 0 and "forbidden     hardware" in out and "mistral-tgi" in out
    assert {m for m, _, _ in kube.requests} == {"GET"}


def test_real_process_no_traceback(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "skewaudit", "collect", "--kubeconfig", str(tmp_path / "none")],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr == (f"error: no kubeconfig: looked in {tmp_path / 'none'} (--kubeconfig/KUBECONFIG), and not "
                        "running inside a cluster (KUBERNETES_SERVICE_HOST is unset); pass --kubeconfig or --manifest\n")


def test_local_mode_table_shows_device_facts(capsys, monkeypatch) -> None:
    monkeypatch.setenv("SKEWAUDIT_NVML_REPLAY", str(ROOT / "tests" / "fixtures" / "nvml" / "a100x4_nvlink.json"))
    code, out, err = run(["collect", "--local", "--cmdline", "vllm serve Qwen/Qwen2.5-7B --dtype half -tp 4"],
                         capsys, monkeypatch)
    assert code == 0, err
    rows = {ln.split()[0] + " " + ln.split()[1]: ln.split()[2:] for ln in out.splitlines() if ln.startswith("    gpu ")}
    assert rows["gpu class"][:2] == ["a100-80gb", "local"] and rows["gpu count"][0] == "4"
    assert "nvml: 4 x NVIDIA A100-SXM4-80GB, driver 550.107.02, CUDA 12.4" in out
