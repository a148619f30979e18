"""Messages that match what a real kube-apiserver does, through the loopback API server."""

from __future__ import annotations

from pathlib import Path

import pytest

from clirun import main_inprocess as run
from kube_server import FakeKube

LIVE = Path(__file__).resolve().parent / "fixtures" / "baseline" / "live.yaml"


@pytest.fixture
def cluster(kube: FakeKube, kubeconfig: Path) -> tuple[FakeKube, Path]:
    kube.load_yaml(LIVE)
    return kube, kubeconfig


def issue_lines(out: str) -> list[str]:
    return [ln.strip() for ln in out.splitlines() if "--exec failed" in ln]


@pytest.mark.parametrize("status, expected", [
    (400, "exec into ml/llama-7c9f6d5b8-abcde failed: HTTP 400 Bad Request: the server rejected our request for "
          "an unknown reason; using node labels"),
    (500, "exec into ml/llama-7c9f6d5b8-abcde failed: HTTP 500 Internal Server Error: Internal error occurred: "
          "injected failure; using node labels"),
    (403, "forbidden: pods/exec in namespace ml (--exec needs get, and create on clusters 1.30+, on pods/exec); "
          "using node labels"),
])
def test_a_failed_exec_is_one_clean_line_with_the_http_status(cluster, monkeypatch, capsys, status, expected):
    kube, kc = cluster
    kube.fail(r"/exec$", status, times=4)
    code, out, err = run(monkeypatch, capsys, "collect", "--kubeconfig", kc, "-n", "ml", "--exec", "--timeout", "3")
    assert code == 0, err
    (line,) = issue_lines(out)
    assert line.endswith(f"e.g. {expected}")
    # Never the websocket client's raw text (headers dict, separators).
    assert "-+-+-" not in out and "Handshake" not in out and "{'" not in out


def test_forbidden_names_exactly_the_verb_refused(cluster, monkeypatch, capsys):
    kube, kc = cluster
    kube.deny("list", "pods", "ml")
    code, out, err = run(monkeypatch, capsys, "collect", "--kubeconfig", kc, "-n", "ml")
    assert code == 3 and err.startswith("error: forbidden: skewaudit needs list on pods in namespace ml; ")
    assert "get/list" not in err


def _live_docs() -> list[dict]:
    import yaml

    return [d for d in yaml.safe_load_all(LIVE.read_text()) if d]


def _audit_node_case(kube: FakeKube, kc: Path, tmp_path: Path, monkeypatch, capsys, change=None, deny=None):
    import json

    import yaml

    docs = _live_docs()
    if change:
        change(docs)
    p = tmp_path / "live.yaml"
    p.write_text(yaml.safe_dump_all(docs))
    kube.load_yaml(p)
    if deny:
        kube.deny(*deny)
    spec = tmp_path / "spec.yaml"
    assert run(monkeypatch, capsys, "init", "--manifest", LIVE, "-o", spec)[0] == 0
    code, out, err = run(monkeypatch, capsys, "diff", spec, "--kubeconfig", kc, "-F", "json")
    rep = json.loads(out)
    gpu = next(r for r in rep["results"] if r["check"] == "hardware.gpu-class")
    return code, gpu, rep["issues"]


def test_a_pod_on_a_node_that_returns_404_says_so(kube, kubeconfig, tmp_path, monkeypatch, capsys):
    def gone(docs):
        docs[:] = [d for d in docs if not (d["kind"] == "Node" and d["metadata"]["name"] == "gpu-a100-2")]
    code, gpu, issues = _audit_node_case(kube, kubeconfig, tmp_path, monkeypatch, capsys, change=gone)
    assert code == 0 and gpu["status"] == "unverifiable" and gpu["scope"] == "1 of 2 pods"
    assert "node gpu-a100-2 (running pod ml/llama-7c9f6d5b8-fghij) was not found (404)" in gpu["reason"]
    assert {"scope": "Node/gpu-a100-2", "kind": "not-found", "area": "node",
            "message": gpu["reason"]} in issues


def test_a_pod_not_scheduled_yet_says_so(kube, kubeconfig, tmp_path, monkeypatch, capsys):
    def pending(docs):
        pod = [d for d in docs if d["kind"] == "Pod"][1]
        del pod["spec"]["nodeName"]
        pod["status"] = {"phase": "Pending"}
    code, gpu, issues = _audit_node_case(kube, kubeconfig, tmp_path, monkeypatch, capsys, change=pending)
    assert gpu["status"] == "unverifiable" and gpu["scope"] == "1 of 2 pods"
    assert gpu["reason"].startswith("pod llama-7c9f6d5b8-fghij is not scheduled to a node yet (phase Pending)")
    assert [i["kind"] for i in issues if i["scope"] == "Pod/ml/llama-7c9f6d5b8-fghij"] == ["not-scheduled"]


def test_forbidden_nodes_say_forbidden(kube, kubeconfig, tmp_path, monkeypatch, capsys):
    code, gpu, issues = _audit_node_case(kube, kubeconfig, tmp_path, monkeypatch, capsys, deny=("get", "nodes"))
    assert gpu["status"] == "unverifiable" and "cannot get nodes" in gpu["reason"]
    assert "specs/rbac.yaml" in gpu["reason"]
    assert [i["kind"] for i in issues if i["scope"] == "Node/*"] == ["forbidden"]
    assert not [i for i in issues if i["kind"] == "not-found"]   # forbidden is not "not found"


def test_hints_use_the_containers_real_port(tmp_path):
    """SGLang serves 30000: the ready-to-paste curl must not say 8000."""
    import json

    from clirun import EXAMPLES, MANIFESTS, skewaudit
    from test_diff_scenarios import container, mutate

    def other_model(docs):
        script = container(docs)["args"][0]
        container(docs)["args"][0] = script.replace("mistralai/Mistral-7B-Instruct-v0.3", "mistralai/Mistral-7B-v0.1")

    m = mutate(MANIFESTS / "mistral-7b-sglang-h100.yaml", tmp_path / "m.yaml", other_model)
    r = skewaudit("diff", EXAMPLES / "mistral-7b-sglang-h100.yaml", "--manifest", m, "--format", "json")
    assert r.code == 1
    model = next(x for x in json.loads(r.out)["results"] if x["check"] == "model.id")
    curls = [c for c in model["commands"] if "curl" in c]
    assert curls and all("localhost:30000/" in c for c in curls)
    assert "8000" not in " ".join(model["commands"])


def _extra_args_result(tmp_path, spec_src, manifest_src, spec_args, change):
    import json

    import yaml

    from clirun import skewaudit
    from test_diff_scenarios import mutate

    doc = yaml.safe_load(spec_src.read_text())
    doc["spec"]["runtime"]["engine"]["args"] = spec_args
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    m = mutate(manifest_src, tmp_path / "m.yaml", change)
    r = skewaudit("diff", spec, "--manifest", m, "--format", "json")
    return r.code, [x for x in json.loads(r.out)["results"] if x["check"] == "runtime.extra-args"]


def test_extra_args_follow_each_engines_flag_spelling(tmp_path):
    from clirun import EXAMPLES, MANIFESTS
    from test_diff_scenarios import container

    # vLLM's FlexibleArgumentParser reads --disable_log_requests as --disable-log-requests: a match.
    def vllm_underscore(docs):
        args = container(docs)["args"]
        args[args.index("--disable-log-requests")] = "--disable_log_requests"
    code, (r,) = _extra_args_result(tmp_path, EXAMPLES / "llama-3.1-70b-vllm.yaml",
                                    MANIFESTS / "llama-3.1-70b-vllm.yaml", ["--disable-log-requests"], vllm_underscore)
    assert r["status"] == "match" and code == 0

    # SGLang's argparse keeps '_' and '-' distinct: --host_name is not --host-name.
    def sglang_underscore(docs):
        c = container(docs)
        c["args"][0] = c["args"][0].replace("--host 0.0.0.0", "--host 0.0.0.0 --host_name x")
    code, (r,) = _extra_args_result(tmp_path, EXAMPLES / "mistral-7b-sglang-h100.yaml",
                                    MANIFESTS / "mistral-7b-sglang-h100.yaml", ["--host-name"], sglang_underscore)
    assert r["status"] == "drift" and code == 1
    assert "--host_name is on the command line, but sglang does not read it as --host-name" in \
        r["observed"][0]["note"]


def test_tgi_max_batched_tokens_is_unverifiable_with_the_reason(tmp_path):
    import json

    import yaml

    from clirun import EXAMPLES, MANIFESTS, skewaudit

    doc = yaml.safe_load((EXAMPLES / "qwen2.5-7b-tgi-l4.yaml").read_text())
    doc["spec"]["runtime"]["engine"]["maxNumBatchedTokens"] = 8192
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    r = skewaudit("diff", spec, "--manifest", MANIFESTS / "qwen2.5-7b-tgi-l4.yaml", "--format", "json")
    got = next(x for x in json.loads(r.out)["results"] if x["check"] == "runtime.max-batched-tokens")
    assert got["status"] == "unverifiable" and r.code == 0
    assert "--max-batch-prefill-tokens" in got["reason"] and "--max-batch-total-tokens" in got["reason"]
    assert "--max-batch-prefill-tokens" in skewaudit("explain", "runtime.max-batched-tokens").out


def test_repeated_flag_note_names_the_flag_not_an_internal_field():
    from skewaudit.runtimes import ContainerInput, parse

    argv = ["python", "-m", "huggingfaceserver", "--model_name=a", "--model_name=b", "--model_id=org/m"]
    facts = parse(ContainerInput(argv=argv, arg_paths=[f"args[{i}]" for i in range(len(argv))], env={}, env_prov={},
                                 image="kserve/huggingfaceserver:v0.15.0", object="Deployment/ml/x", container="c"))
    notes = " ".join(facts.notes)
    assert "--model_name: given 2 times" in notes and "_model_name:" not in notes.replace("--model_name:", "")


def test_an_hpa_without_namespace_is_named_without_an_empty_segment(tmp_path):
    import json

    from clirun import EXAMPLES, MANIFESTS, skewaudit
    from test_diff_scenarios import mutate

    def no_ns(docs):
        for d in docs:
            d["metadata"].pop("namespace", None)
        hpa = next(d for d in docs if d["kind"] == "HorizontalPodAutoscaler")
        hpa["spec"]["maxReplicas"] = 4
    m = mutate(MANIFESTS / "llama-3.1-70b-vllm.yaml", tmp_path / "m.yaml", no_ns)
    r = skewaudit("diff", EXAMPLES / "llama-3.1-70b-vllm.yaml", "--manifest", m, "--format", "json")
    bounds = next(x for x in json.loads(r.out)["results"]
                  if x["check"] == "orchestration.hpa-bounds" and x["status"] == "drift")
    assert bounds["observed"][0]["prov"]["object"] == "HorizontalPodAutoscaler/llama-3-1-70b" and r.code == 1
    out = skewaudit("collect", "--manifest", m).out
    assert "HorizontalPodAutoscaler/llama-3-1-70b" in out and "//" not in out


def test_model_id_is_quoted_as_written(tmp_path):
    import json

    from clirun import EXAMPLES, MANIFESTS, skewaudit
    from test_diff_scenarios import container, mutate

    def other(docs):
        container(docs)["args"][0] = "meta-llama/Llama-3.1-8B-Instruct"
    m = mutate(MANIFESTS / "llama-3.1-70b-vllm.yaml", tmp_path / "m.yaml", other)
    r = skewaudit("diff", EXAMPLES / "llama-3.1-70b-vllm.yaml", "--manifest", m, "--format", "json")
    got = next(x for x in json.loads(r.out)["results"] if x["check"] == "model.id")
    assert r.code == 1 and got["status"] == "drift"
    assert got["message"] == "model: intended meta-llama/Llama-3.1-70B-Instruct, running meta-llama/Llama-3.1-8B-Instruct"


def test_collect_table_shows_probes_and_defaulted_ports(tmp_path):
    from clirun import MANIFESTS, skewaudit
    from test_diff_scenarios import mutate, set_arg

    m = mutate(MANIFESTS / "llama-3.1-70b-vllm.yaml", tmp_path / "m.yaml", lambda d: set_arg(d, "--port", None))
    out = skewaudit("collect", "--manifest", m).out
    port = next(ln for ln in out.splitlines() if ln.strip().startswith("port "))
    assert "8000" in port and "(default)" in port          # the engine default, shown like the JSON has it
    assert any("readiness probe" in ln and "httpGet /health :8000, timeout 1s (default), period 10s" in ln
               for ln in out.splitlines())
    assert any("liveness probe" in ln and "period 30s" in ln for ln in out.splitlines())
    assert any(ln.strip().startswith("container ports") and "8000 (http)" in ln for ln in out.splitlines())
