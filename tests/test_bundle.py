"""`skewaudit bundle`: the incident evidence bundle (PREFIX.md + PREFIX.json) as a user writes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clirun import main_inprocess as run

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
BASELINE = ROOT / "tests" / "fixtures" / "baseline"
K8S = ROOT / "tests" / "fixtures" / "k8s"
# Literal secrets in the fixtures (tests/fixtures/baseline/live.yaml, tests/fixtures/k8s/vllm-rollout.yaml).
SECRETS = ("hf_LiveFixtureSecretToken12345", "sk-baseline-fixture-key-0123456789",
           "hf_PodLiteralSecretValue9876543210", "sk-live-0123456789abcdefXYZ", "hf_LastAppliedSecretValue123456")




@pytest.fixture
def incident(monkeypatch, capsys, tmp_path) -> tuple[Path, Path]:
    """A last-good snapshot of live.yaml, and the current state with the dtype changed."""
    snap = tmp_path / "last-good.json"
    assert run(monkeypatch, capsys, "snapshot", "--manifest", BASELINE / "live.yaml", "-o", snap)[0] == 0
    text = (BASELINE / "live.yaml").read_text().replace("--dtype=bfloat16", "--dtype=float16")
    now = tmp_path / "now.yaml"
    now.write_text(text)
    return snap, now


def test_bundle_has_the_playbook_evidence(monkeypatch, capsys, tmp_path, incident):
    snap, now = incident
    prefix = tmp_path / "INC-1234"
    code, out, err = run(monkeypatch, capsys, "bundle", "--manifest", now, "--baseline", snap, "-o", prefix)
    assert code == 0 and out == ""
    assert err == f"wrote {prefix}.md and {prefix}.json (1 workload, 1 finding)\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["INC-1234.json", "INC-1234.md", "last-good.json", "now.yaml"]
    data = json.loads((tmp_path / "INC-1234.json").read_text())
    assert data["schema"] == "skewaudit.io/bundle/v1" and data["baseline"] == str(snap)
    (w,) = data["workloads"]
    # Workload identity: namespace, workload, pod list.
    assert (w["kind"], w["namespace"], w["name"]) == ("Deployment", "ml", "llama")
    assert [p["name"] for p in w["pods"]] == ["llama-7c9f6d5b8-abcde", "llama-7c9f6d5b8-fghij"]
    assert [p["node"] for p in w["pods"]] == ["gpu-a100-1", "gpu-a100-2"]
    # Image tag and digest, args and env (redacted).
    (c,) = w["containers"]
    assert (c["image"], c["tag"]) == ("vllm/vllm-openai:v0.10.0", "v0.10.0")
    assert c["resolved_digest"] == "sha256:1f3e5c0a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
    assert "--dtype=float16" in c["argv"] and "--api-key" in c["argv"]
    assert c["argv"][c["argv"].index("--api-key") + 1].startswith("<redacted:")
    assert c["env"]["VLLM_LOGGING_LEVEL"] == "INFO" and c["env"]["HF_TOKEN"].startswith("<redacted:")
    assert c["engine"]["settings"]["dtype"]["value"] == "float16"
    # GPU type and driver, per node.
    assert w["gpu"]["gpu-a100-1"]["class"] == "a100-80gb" and w["gpu"]["gpu-a100-1"]["driver_version"] == "550.107.02"
    # HPA and Service settings.
    assert (w["hpa"]["min_replicas"], w["hpa"]["max_replicas"]) == (2, 6)
    assert w["hpa"]["metrics"] == ["Pods/vllm:num_requests_waiting AverageValue=10"]
    assert [(s["name"], s["ports"][0]["port"]) for s in w["services"]] == [("llama", 80)]
    # The diff against the baseline.
    (f,) = data["findings"]
    assert (f["check"], f["expected"], f["observed"][0]["value"]) == ("runtime.dtype", "bfloat16", "float16")

    md = (tmp_path / "INC-1234.md").read_text()
    for text in ("# skewaudit evidence bundle", "## Deployment `ml/llama`", "`llama-7c9f6d5b8-abcde` on `gpu-a100-1`",
                 "- tag: `v0.10.0`", "sha256:1f3e5c0a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
                 "--dtype=float16", "| `VLLM_LOGGING_LEVEL` | `INFO` |", "| `a100-80gb` |", "`550.107.02`",
                 "- HPA `llama`: min 2 max 6", "- Service `llama` (ClusterIP): `80->http`",
                 "## Findings (including the diff against the baseline)", "| runtime.dtype | drift | error |",
                 f"compared with baseline `{snap}`"):
        assert text in md, text
    # Redaction markers sit in code spans, so Markdown renderers do not swallow them as HTML tags.
    assert "| `HF_TOKEN` | `<redacted:" in md


def test_bundle_contains_no_secret_value(monkeypatch, capsys, tmp_path, incident):
    snap, now = incident
    cases = [(now, []), (K8S / "vllm-rollout.yaml", [EXAMPLES / "llama-3.1-70b-vllm.yaml"])]
    for source, spec in cases:
        prefix = tmp_path / f"b-{source.stem}"
        code, _, err = run(monkeypatch, capsys, "bundle", *spec, "--manifest", source, "--baseline", snap,
                           "-o", prefix)
        assert code == 0, err
        assert json.loads(Path(f"{prefix}.json").read_text())["workloads"][0]["pods"]
        for suffix in (".md", ".json"):
            text = Path(f"{prefix}{suffix}").read_text()
            for secret in SECRETS:
                assert secret not in text, (suffix, secret)
            assert "<redacted:" in text


def test_bundle_of_a_local_process_redacts_env_and_args(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("HF_TOKEN", "hf_ProcessEnvSecretValue0123456")
    monkeypatch.setenv("OPENAI_API_KEY", "plain-value-that-is-secret-by-name")
    prefix = tmp_path / "local"
    code, _, err = run(monkeypatch, capsys, "bundle", "--cmdline",
                       "vllm serve Qwen/Qwen2.5-7B-Instruct --api-key sk-processArgSecret0123456789 --dtype bfloat16",
                       "-o", prefix)
    assert code == 0, err
    for suffix in (".md", ".json"):
        text = Path(f"{prefix}{suffix}").read_text()
        for secret in ("hf_ProcessEnvSecretValue0123456", "plain-value-that-is-secret-by-name",
                       "sk-processArgSecret0123456789"):
            assert secret not in text
    data = json.loads(Path(f"{prefix}.json").read_text())
    env = data["workloads"][0]["containers"][0]["env"]
    # skewaudit's own environment stands in for the engine's: serving variables only, redacted
    assert env["HF_TOKEN"].startswith("<redacted:") and "OPENAI_API_KEY" not in env


def test_bundle_with_a_spec_and_no_baseline(monkeypatch, capsys, tmp_path):
    prefix = tmp_path / "b"
    code, _, err = run(monkeypatch, capsys, "bundle", EXAMPLES / "llama-3.1-70b-vllm.yaml", "--manifest",
                       EXAMPLES / "manifests" / "llama-3.1-70b-vllm-drifted.yaml", "-o", prefix)
    assert code == 0, err
    data = json.loads(Path(f"{prefix}.json").read_text())
    assert data["baseline"] is None and data["summary"]["drift"] >= 5
    assert {"runtime.dtype", "hardware.gpu-class"} <= {f["check"] for f in data["findings"]}
    md = Path(f"{prefix}.md").read_text()
    assert "## Findings\n" in md and "Pods: not collected" in md
    # Offline, the GPU is what the pod template's nodeSelector pins.
    assert "| `(pod template nodeSelector)` | `a100-40gb` |" in md


def test_bundle_without_spec_or_baseline_has_no_findings_section(monkeypatch, capsys, tmp_path):
    prefix = tmp_path / "b"
    assert run(monkeypatch, capsys, "bundle", "--manifest", BASELINE / "live.yaml", "-o", prefix)[0] == 0
    md = Path(f"{prefix}.md").read_text()
    assert "## Findings" not in md and json.loads(Path(f"{prefix}.json").read_text())["findings"] == []


def test_bundle_prefix_given_with_a_suffix(monkeypatch, capsys, tmp_path):
    code, _, err = run(monkeypatch, capsys, "bundle", "--manifest", BASELINE / "live.yaml", "-o", tmp_path / "x.md")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json", "x.md"]


def test_bundle_with_a_bad_baseline_writes_nothing(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    code, _, err = run(monkeypatch, capsys, "bundle", "--manifest", BASELINE / "live.yaml", "--baseline", bad,
                       "-o", tmp_path / "b")
    assert code == 2 and err.startswith(f"error: {bad}: not a skewaudit snapshot") and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_bundle_json_round_trips_through_yaml_tools(monkeypatch, capsys, tmp_path, incident):
    # Plain JSON types only (a ticket system or jq reads it): no repr() of Python objects anywhere.
    snap, now = incident
    assert run(monkeypatch, capsys, "bundle", "--manifest", now, "--baseline", snap, "-o", tmp_path / "b")[0] == 0
    text = (tmp_path / "b.json").read_text()
    assert yaml.safe_load(text) == json.loads(text)
    assert "Fact(" not in text and "Prov(" not in text
