"""Several clusters in one run (``--context A --context B``) and ``skewaudit compare``, as a user runs them.

Two loopback API servers (``tests/kube_server.py``) serve the live-shaped fixture
``tests/fixtures/baseline/live.yaml`` (Deployment, ReplicaSet, pods, HPA, Service, GPU nodes); one
kubeconfig holds a context for each, plus ``prod-ap`` pointing at a port nothing listens on. The real
``kubernetes`` client talks HTTP to them; nothing is monkeypatched.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path

import pytest
import yaml

from clirun import main_inprocess as run
from kube_server import FakeKube

ROOT = Path(__file__).resolve().parent.parent
LIVE = ROOT / "tests" / "fixtures" / "baseline" / "live.yaml"
# The literal secrets of the fixture (an env value and an --api-key argument), and the servers' bearer token.
SECRETS = ("hf_LiveFixtureSecretToken12345", "sk-baseline-fixture-key-0123456789")
TOKEN = "multicluster-bearer-token-0123456789"
UNREACHABLE = "http://127.0.0.1:1"

SPEC = """\
apiVersion: skewaudit.io/v1alpha1
kind: ModelSpec
metadata:
  name: llama
spec:
  identity:
    model:
      id: meta-llama/Llama-3.1-8B-Instruct
      family: llama-3.1
      task: chat
      framework: vllm
  runtime:
    accelerator:
      vendor: nvidia
      type: a100-80gb
      count: 1
    engine:
      name: vllm
      dtype: bfloat16
      maxModelLen: 8192
  target:
    namespace: ml
    kind: Deployment
    name: llama
"""


def live_docs(dtype: str = "bfloat16") -> list[dict]:
    with open(LIVE, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        spec = d.get("spec", {})
        cs = spec.get("template", {}).get("spec", {}).get("containers", []) if d["kind"] == "Deployment" else \
            spec.get("containers", []) if d["kind"] == "Pod" else []
        for c in cs:
            c["args"] = [f"--dtype={dtype}" if a.startswith("--dtype=") else a for a in c["args"]]
    return copy.deepcopy(docs)


@pytest.fixture
def clusters(tmp_path: Path):
    """(us, eu, kubeconfig, spec): two servers with the same workload; the test changes eu as it needs."""
    with FakeKube(token=TOKEN) as us, FakeKube(token=TOKEN) as eu:
        us.add(*live_docs())
        kc = us.write_kubeconfig(tmp_path / "kubeconfig", context="prod-us", namespace="ml",
                                 extra_contexts={"prod-eu": eu.url, "prod-ap": UNREACHABLE})
        spec = tmp_path / "llama.yaml"
        spec.write_text(SPEC)
        yield us, eu, kc, spec


def sa(monkeypatch, capsys, *args) -> tuple[int, str, str]:
    code, out, err = run(monkeypatch, capsys, *args)
    assert not [s for s in (*SECRETS, TOKEN) if s in out + err], "a secret reached the output"
    return code, out, err


def diff_json(monkeypatch, capsys, kc: Path, spec: Path, *contexts: str, extra=()) -> tuple[int, dict, str]:
    args = [a for c in contexts for a in ("--context", c)]
    code, out, err = sa(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, *args, "--timeout", "5", "-F", "json",
                        *extra)
    return code, json.loads(out), err


def problems(report: dict) -> list[tuple[str, str, str]]:
    return [(r["check"], r["target"].get("context"), r["status"]) for r in report["results"]
            if r["status"] in ("drift", "unverifiable")]


# --- diff --context A --context B ---------------------------------------------------------------


def test_two_clean_clusters_pass_with_one_report_grouped_by_context(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs())
    code, report, err = diff_json(monkeypatch, capsys, kc, spec, "prod-us", "prod-eu")
    assert code == 0, err
    assert problems(report) == []
    assert [(c["name"], c["status"], c["exit_code"]) for c in report["contexts"]] == [
        ("prod-us", "ok", 0), ("prod-eu", "ok", 0)]
    assert [c["pods"] for c in report["contexts"]] == [2, 2] and report["summary"]["pods"] == 4
    # every result says which cluster it is about; the same spec was audited in each
    by_ctx = {c: sorted((r["check"], r["field"]) for r in report["results"] if r["target"]["context"] == c)
              for c in ("prod-us", "prod-eu")}
    assert by_ctx["prod-us"] and by_ctx["prod-us"] == by_ctx["prod-eu"]
    seen = [r["target"]["context"] for r in report["results"]]   # grouped by context, in the order given
    assert seen == sorted(seen, key=["prod-us", "prod-eu"].index) and set(seen) == {"prod-us", "prod-eu"}
    code, out, err = sa(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, "--context", "prod-us", "--context",
                        "prod-eu", "--show-matches")
    assert code == 0 and out.index("== context prod-us") < out.index("== context prod-eu") < out.index("CONTEXTS")
    assert report["gate"]["exit_code"] == 0 and report["context"] is None


def test_one_context_keeps_the_single_cluster_report(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    code, once, err = diff_json(monkeypatch, capsys, kc, spec, "prod-us")
    assert code == 0, err
    code, default, err = diff_json(monkeypatch, capsys, kc, spec)   # the kubeconfig's current context
    assert code == 0, err
    assert "contexts" not in once and list(once) == list(default)
    assert once["context"] == "prod-us"
    code, out, err = sa(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, "--context", "prod-us")
    assert code == 0 and "CONTEXTS" not in out


def test_drift_in_one_cluster_names_both_contexts_and_values(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs(dtype="float16"))
    code, report, err = diff_json(monkeypatch, capsys, kc, spec, "prod-us", "prod-eu")
    assert code == 1, err
    # the intent audit of prod-eu, and the replica skew across the clusters, reported as such
    assert sorted(problems(report)) == [("runtime.dtype", "prod-eu", "drift"), ("runtime.dtype", "prod-eu", "drift")]
    cross = next(r for r in report["results"] if r["field"] == "containers.vllm.engine.dtype")
    assert cross["message"] == "dtype of container vllm: prod-us runs bfloat16, prod-eu runs float16"
    assert cross["location"] == {"file": "context prod-us"}
    assert {c["name"]: c["exit_code"] for c in report["contexts"]} == {"prod-us": 0, "prod-eu": 1}
    code, out, err = sa(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, "--context", "prod-us",
                        "--context", "prod-eu", "-F", "sarif")
    run_ = json.loads(out)["runs"][0]
    dtype = sorted(r["message"]["text"] for r in run_["results"] if r["ruleId"] == "runtime.dtype")
    assert dtype == ["[context prod-eu] dtype: intended bfloat16, running float16",
                     "dtype of container vllm: prod-us runs bfloat16, prod-eu runs float16"]
    assert run_["properties"]["contexts"][1].startswith("context prod-eu: 2 drifted")
    code, out, err = sa(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, "--context", "prod-us",
                        "--context", "prod-eu")
    assert code == 1
    text = " ".join(out.split())
    assert "dtype of container vllm: prod-us runs bfloat16, prod-eu runs float16" in text
    assert "context prod-us: 0 drifted" in text and "(exit 0)" in text
    assert "context prod-eu: 2 drifted" in text and "(exit 1)" in text


def test_scale_differs_by_cluster_without_being_skew(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    docs = live_docs()
    next(d for d in docs if d["kind"] == "Deployment")["spec"]["replicas"] = 6
    eu.add(*docs)
    code, report, err = diff_json(monkeypatch, capsys, kc, spec, "prod-us", "prod-eu")
    assert (code, problems(report)) == (0, []), err


def test_an_unreachable_context_is_exit_3_and_the_others_still_report(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    code, report, err = diff_json(monkeypatch, capsys, kc, spec, "prod-us", "prod-ap")
    assert code == 3
    assert "context prod-ap" in err and "127.0.0.1:1" in err
    (r,) = [r for r in report["results"] if r["status"] == "unverifiable"]
    assert (r["check"], r["target"]["context"], r["spec"]) == ("collection.context-unreachable", "prod-ap", "llama")
    assert "kubectl --context prod-ap version" in r["commands"]
    assert {c["name"]: (c["status"], c["exit_code"]) for c in report["contexts"]} == {
        "prod-us": ("ok", 0), "prod-ap": ("unreachable", 3)}
    assert report["gate"]["exit_code"] == 3 and "prod-ap" in report["gate"]["reason"]
    assert any(r["target"].get("context") == "prod-us" for r in report["results"])   # prod-us still audited
    # never a pass: not with --fail-on error, not in any format
    for extra in (["--fail-on", "error"], ["-F", "sarif"], ["-F", "junit"], ["-F", "markdown"], []):
        code, out, err = sa(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, "--context", "prod-us",
                            "--context", "prod-ap", "--timeout", "5", *extra)
        assert code == 3 and "prod-ap" in out, extra


def test_the_deadline_bounds_all_contexts_together(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs())
    eu.fault(r"/pods$", "hang", hold=120)     # prod-eu accepts the pod list and never answers
    started = time.monotonic()
    code, out, err = sa(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, "--context", "prod-us", "--context",
                        "prod-eu", "--timeout", "100", "--deadline", "10")
    assert code == 3 and out == ""
    # prod-eu, or on a badly loaded machine prod-us first: the run ends either way, naming what it waited for
    assert re.match(r"error: context prod-(eu|us): deadline of 10 s reached while ", err) and err.count("\n") == 1
    assert time.monotonic() - started < 90   # generous: the hang holds 120 s, the timeout 100 s


def test_drift_elsewhere_exits_1_and_still_names_the_unreachable_context(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs(dtype="float32"))
    code, report, err = diff_json(monkeypatch, capsys, kc, spec, "prod-us", "prod-eu", "prod-ap")
    assert code == 1
    assert "context prod-ap: could not be read" in report["gate"]["reason"]
    assert {c["name"]: c["exit_code"] for c in report["contexts"]} == {"prod-us": 0, "prod-eu": 1, "prod-ap": 3}


def test_several_contexts_with_a_baseline_is_a_usage_error(clusters, monkeypatch, capsys, tmp_path) -> None:
    us, eu, kc, spec = clusters
    code, _, err = sa(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, "--context", "prod-us", "--context",
                      "prod-eu", "--baseline", tmp_path / "x.json")
    assert code == 2 and "skewaudit compare" in err
    code, _, err = sa(monkeypatch, capsys, "diff", spec, "--manifest", LIVE, "--context", "prod-us", "--context",
                      "prod-eu")
    assert code == 2 and "cannot be combined with --manifest" in err


def test_diff_save_snapshot_writes_one_set_for_all_contexts(clusters, monkeypatch, capsys, tmp_path) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs())
    saved = tmp_path / "saved.json"
    code, _, err = diff_json(monkeypatch, capsys, kc, spec, "prod-us", "prod-eu", extra=("--save-snapshot", saved))
    assert code == 0, err
    doc = json.loads(saved.read_text())
    assert doc["schema"] == "skewaudit.io/snapshot-set/v1" and doc["unreachable"] == {}
    assert [s["context"] for s in doc["snapshots"]] == ["prod-us", "prod-eu"]
    assert not [s for s in SECRETS if s in saved.read_text()]


# --- snapshot and collect with several contexts -------------------------------------------------------


def test_snapshot_set_records_each_context_and_diff_reads_it_back(clusters, monkeypatch, capsys, tmp_path) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs(dtype="float16"))
    out_file = tmp_path / "fleet.json"
    code, _, err = sa(monkeypatch, capsys, "snapshot", spec, "--kubeconfig", kc, "--context", "prod-us",
                      "--context", "prod-eu", "--context", "prod-ap", "--timeout", "5", "-o", out_file)
    assert code == 3   # written, but one context could not be read
    assert "context prod-us: 1 workload, 2 pods" in err and "context prod-ap: could not be read" in err
    doc = json.loads(out_file.read_text())
    assert doc["schema"] == "skewaudit.io/snapshot-set/v1"
    assert [s["context"] for s in doc["snapshots"]] == ["prod-us", "prod-eu"] and list(doc["unreachable"]) == ["prod-ap"]
    assert "<redacted:" in out_file.read_text()
    code, out, err = sa(monkeypatch, capsys, "diff", spec, "--snapshot", out_file, "-F", "json")
    assert code == 1, err   # the same verdicts offline: prod-eu drifted (1 wins over prod-ap's 3)
    report = json.loads(out)
    assert {c["name"]: c["exit_code"] for c in report["contexts"]} == {"prod-us": 0, "prod-eu": 1, "prod-ap": 3}
    # a reader of one snapshot (--baseline) is told what the file is
    one = tmp_path / "us.json"
    assert sa(monkeypatch, capsys, "snapshot", spec, "--kubeconfig", kc, "--context", "prod-us", "-o", one)[0] == 0
    code, _, err = sa(monkeypatch, capsys, "diff", spec, "--snapshot", one, "--baseline", out_file)
    assert code == 2 and "a snapshot set of several kube contexts" in err


@pytest.mark.parametrize("fmt", ["table", "json", "yaml"])
def test_collect_shows_each_context(fmt, clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs(dtype="float16"))
    code, out, err = sa(monkeypatch, capsys, "collect", "--kubeconfig", kc, "-n", "ml", "--context", "prod-us",
                        "--context", "prod-eu", "--context", "prod-ap", "--timeout", "5", "--format", fmt)
    assert code == 3 and "prod-ap" in err
    if fmt == "table":
        us_part, eu_part = out.split("== context prod-eu")
        assert us_part.startswith("== context prod-us") and "bfloat16" in us_part and "float16" in eu_part
        assert "== context prod-ap: could not be read" in out
    else:
        doc = json.loads(out) if fmt == "json" else yaml.safe_load(out)
        assert [s["context"] for s in doc["snapshots"]] == ["prod-us", "prod-eu"]
        assert "prod-ap" in doc["unreachable"]


# --- skewaudit compare ---------------------------------------------------------------------------


def test_compare_two_live_clusters(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs(dtype="float16"))
    code, out, err = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, "--context", "prod-us", "--context",
                        "prod-eu", "-F", "json")
    assert code == 1, err
    report = json.loads(out)
    (r,) = report["results"]
    assert (r["check"], r["level"], r["status"]) == ("runtime.dtype", "error", "drift")
    assert r["message"] == "dtype of container vllm: prod-us runs bfloat16, prod-eu runs float16"
    assert (r["expected"], r["observed"][0]["value"]) == ("bfloat16", "float16")
    assert report["source"] == "compare" and report["gate"]["exit_code"] == 1
    # the same model as diff --baseline: a gate that does not fail on an error-level finding passes it
    code, _, _ = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, "--context", "prod-us", "--context",
                    "prod-eu", "--fail-on", "never")
    assert code == 0
    code, out, _ = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, "--context", "prod-us", "--context",
                      "prod-eu", "Deployment/llama", "-F", "sarif")
    assert code == 1 and json.loads(out)["runs"][0]["results"][0]["ruleId"] == "runtime.dtype"
    code, out, _ = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, "--context", "prod-us", "--context",
                      "prod-eu")
    assert code == 1 and "prod-us runs bfloat16, prod-eu runs float16" in " ".join(out.split())


def test_compare_clean_and_narrowed(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs())
    code, out, err = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, "--context", "prod-us", "--context",
                        "prod-eu", "-n", "ml", "llama", "-F", "json")
    assert code == 0, err
    assert json.loads(out)["results"] == [] and json.loads(out)["summary"]["workloads"] == 1
    code, _, err = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, "--context", "prod-us", "--context",
                      "prod-eu", "qwen")
    assert code == 2 and "no workload qwen" in err


def test_compare_snapshots_and_a_mix(clusters, monkeypatch, capsys, tmp_path) -> None:
    us, eu, kc, spec = clusters
    eu.add(*live_docs(dtype="float16"))
    a, b, both = tmp_path / "us.json", tmp_path / "eu.json", tmp_path / "both.json"
    for ctx, path in (("prod-us", a), ("prod-eu", b)):
        assert sa(monkeypatch, capsys, "snapshot", "--kubeconfig", kc, "--context", ctx, "-o", path)[0] == 0
    assert sa(monkeypatch, capsys, "snapshot", "--kubeconfig", kc, "--context", "prod-us", "--context", "prod-eu",
              "-o", both)[0] == 0
    for args in (["--snapshot", a, "--snapshot", b], ["--snapshot", both], ["--snapshot", a, "--context", "prod-eu"]):
        code, out, err = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, *args, "-F", "json")
        assert code == 1, (args, err)
        (r,) = json.loads(out)["results"]
        assert r["check"] == "runtime.dtype" and "runs bfloat16" in r["message"] and "runs float16" in r["message"]
    code, out, _ = sa(monkeypatch, capsys, "compare", "--snapshot", b, "--snapshot", b, "-F", "json")
    assert code == 0 and json.loads(out)["results"] == []


def test_compare_with_an_unreachable_side_is_exit_3(clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    code, out, err = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, "--context", "prod-us", "--context",
                        "prod-ap", "--timeout", "5")
    assert code == 3 and "prod-ap" in err and out == ""


@pytest.mark.parametrize("args", [["--context", "prod-us"], ["--context", "prod-us", "--context", "prod-eu",
                                                              "--context", "prod-ap"], ["a/b/c", "--context", "x"]])
def test_compare_needs_exactly_two_sides(args, clusters, monkeypatch, capsys) -> None:
    us, eu, kc, spec = clusters
    code, _, err = sa(monkeypatch, capsys, "compare", "--kubeconfig", kc, *args)
    assert code == 2 and err.startswith("error: ")
