"""Runtime probes live: the real kubernetes client, the loopback API server's pod proxy, fake engines.

Each engine's clean replicas give 0 drift against its spec; "effective max length
clamped", "model sha differs", "KV-cache dtype differs", "engine version outside range"
and "one replica differs" are each caught with runtime provenance; a refused pods/proxy,
a pod not Ready and an engine behind --api-key leave the run going with the reason.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import pytest

from clirun import main_inprocess
from fake_engines import FakeEngine
from kube_server import FakeKube

SPECS = Path(__file__).resolve().parent / "fixtures" / "specs" / "probe"
NS = "ml"

# (fixture, workload name, image, args, env, port): a container whose argv agrees with the fixture
ENGINES = {
    "vllm": ("vllm-0.6.3", "llama", "vllm/vllm-openai:v0.6.3.post1",
             ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192", "--port", "8000"], [], 8000),
    "tgi": ("tgi-3.0.1", "qwen", "ghcr.io/huggingface/text-generation-inference:3.0.1",
            ["--model-id", "Qwen/Qwen2.5-7B-Instruct", "--revision", "a09a35458c702b33eeacc393d103063234e8bc28",
             "--max-total-tokens", "16384", "--port", "80"], [], 80),
    "sglang": ("sglang-0.5.2", "r1", "lmsysorg/sglang:v0.5.2",
               ["python3", "-m", "sglang.launch_server", "--model-path", "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
                "--port", "30000", "--enable-metrics"], [], 30000),
    "triton": ("triton-24.08", "trtllm", "nvcr.io/nvidia/tritonserver:24.08-trtllm-python-py3",
               ["tritonserver", "--model-repository=/models", "--http-port=8000"], [], 8000),
}


def _objects(name: str, image: str, args: list[str], env: list[dict], port: int, n: int,
             ready: list[bool] | None = None) -> list[dict]:
    labels = {"app": name}
    cmd = {"command": args[:3], "args": args[3:]} if args[0] in ("python3", "tritonserver") else {"args": args}
    if args[0] == "tritonserver":
        cmd = {"command": args[:1], "args": args[1:]}
    container = {"name": "engine", "image": image, **cmd, "env": env,
                 "ports": [{"name": "http", "containerPort": port}],
                 "resources": {"limits": {"nvidia.com/gpu": "1"}}}
    tmpl = {"metadata": {"labels": labels}, "spec": {"containers": [container]}}
    out = [{"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "labels": labels},
            "spec": {"replicas": n, "selector": {"matchLabels": labels}, "template": tmpl}}]
    for i in range(n):
        ok = True if ready is None else ready[i]
        out.append({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": f"{name}-7f9c-{i}", "namespace": NS,
                                 "labels": {**labels, "pod-template-hash": "7f9c"},
                                 "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                      "name": f"{name}-7f9c", "uid": f"uid-rs-{name}",
                                                      "controller": True}]},
                    "spec": {**tmpl["spec"], "nodeName": "gpu-1"},
                    "status": {"phase": "Running" if ok else "Pending",
                               "conditions": [{"type": "Ready", "status": "True" if ok else "False"}],
                               "containerStatuses": [{"name": "engine", "ready": ok, "restartCount": 0,
                                                      "image": image, "imageID": ""}]}})
    return out


class Cluster:
    """A FakeKube with one workload whose pods are routed to fake engines."""

    def __init__(self, kube: FakeKube, stack: ExitStack, engine: str, n: int = 2, *,
                 args: list[str] | None = None, env: list[dict] | None = None, ready: list[bool] | None = None,
                 engines: list[FakeEngine] | None = None, **engine_kw):
        fixture, self.name, image, default_args, default_env, port = ENGINES[engine]
        kube.add(*_objects(self.name, image, args or default_args, env or default_env, port, n, ready))
        self.engines = engines or [stack.enter_context(FakeEngine(fixture, **engine_kw)) for _ in range(n)]
        for i, eng in enumerate(self.engines):
            kube.route_pod(NS, f"{self.name}-7f9c-{i}", eng.url)


def _diff(monkeypatch, capsys, kubeconfig, spec: Path, *extra) -> tuple[int, dict]:
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", spec, "--kubeconfig", kubeconfig, "--probe",
                                    "--format", "json", "--timeout", "5", *extra)
    assert out.strip(), err
    return code, json.loads(out)


def _drifts(report: dict) -> dict[str, dict]:
    return {r["check"]: r for r in report["results"] if r["status"] == "drift"}


def _spec(tmp_path: Path, engine: str, old: str, new: str) -> Path:
    text = (SPECS / f"{engine}.yaml").read_text()
    assert old in text
    p = tmp_path / f"{engine}.yaml"
    p.write_text(text.replace(old, new))
    return p


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_clean_replicas_give_no_drift(monkeypatch, capsys, kube, kubeconfig, engine: str) -> None:
    with ExitStack() as stack:
        cl = Cluster(kube, stack, engine, n=2)
        code, report = _diff(monkeypatch, capsys, kubeconfig, SPECS / f"{engine}.yaml")
        assert not _drifts(report), _drifts(report)
        assert code == 0
        provs = [e["prov"] for r in report["results"] for e in r.get("observed", []) if e.get("prov")]
        assert any(p["source"] == "runtime" and p["object"].startswith(f"Pod/{NS}/{cl.name}-7f9c-") for p in provs)
    # every engine GET went through the API server's pod proxy, with GET only
    proxied = [p for m, p, _ in kube.requests if "/proxy/" in p]
    assert proxied and {m for m, _, _ in kube.requests} == {"GET"}
    assert all(p.startswith(f"/api/v1/namespaces/{NS}/pods/{cl.name}-7f9c-") for p in proxied)
    # the API server's bearer token never reached an engine
    assert not [h for e in cl.engines for _, h in e.requests if "authorization" in {k.lower() for k in h}]


def test_effective_max_length_clamped(monkeypatch, capsys, kube, kubeconfig, tmp_path) -> None:
    args = ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "32768", "--port", "8000"]
    spec = _spec(tmp_path, "vllm", "maxModelLen: 8192", "maxModelLen: 32768")
    with ExitStack() as stack:
        Cluster(kube, stack, "vllm", n=2, args=args)
        code, report = _diff(monkeypatch, capsys, kubeconfig, spec)
    d = _drifts(report)
    eff = d["runtime.effective-differs"]
    assert eff["expected"] == 32768 and eff["observed"][0]["value"] == 8192
    assert eff["observed"][0]["prov"]["source"] == "runtime" and eff["observed"][0]["prov"]["path"] == "GET /v1/models"
    assert "asks for 32768" in eff["message"] and "runs 8192" in eff["message"]
    # the spec check compares with the value in force (runtime beats argv)
    assert d["runtime.max-model-len"]["observed"][0]["value"] == 8192


def test_model_sha_differs(monkeypatch, capsys, kube, kubeconfig) -> None:
    info = json.loads((Path(__file__).parent / "fixtures/engines/tgi-3.0.1/info.json").read_text())
    info["model_sha"] = "0123456789abcdef0123456789abcdef01234567"
    with ExitStack() as stack:
        Cluster(kube, stack, "tgi", n=2, overrides={"/info": info})
        code, report = _diff(monkeypatch, capsys, kubeconfig, SPECS / "tgi.yaml")
    d = _drifts(report)
    assert code == 1
    rev = d["model.revision"]
    assert rev["observed"][0]["value"] == info["model_sha"] and rev["observed"][0]["prov"]["path"] == "GET /info"
    assert d["runtime.effective-differs"]["observed"][0]["value"] == info["model_sha"]


def test_unpinned_revision_reports_the_loaded_sha(monkeypatch, capsys, kube, kubeconfig, tmp_path) -> None:
    args = ["--model-id", "Qwen/Qwen2.5-7B-Instruct", "--max-total-tokens", "16384", "--port", "80"]
    spec = _spec(tmp_path, "tgi", ", revision: a09a35458c702b33eeacc393d103063234e8bc28", "")
    with ExitStack() as stack:
        Cluster(kube, stack, "tgi", n=2, args=args)
        code, report = _diff(monkeypatch, capsys, kubeconfig, spec)
    (r,) = [r for r in report["results"] if r["check"] == "runtime.effective-differs"]
    assert r["status"] == "unpinned" and "a09a35458c702b33eeacc393d103063234e8bc28" in r["message"]
    assert "--revision a09a35458c702b33eeacc393d103063234e8bc28" in r["message"]


def test_kv_cache_dtype_differs(monkeypatch, capsys, kube, kubeconfig, tmp_path) -> None:
    # the manifest asks for fp8; the engine (e.g. an image default or --config) runs auto
    args = ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192", "--kv-cache-dtype", "fp8",
            "--port", "8000"]
    spec = _spec(tmp_path, "vllm", "kvCacheDtype: auto", "kvCacheDtype: fp8")
    with ExitStack() as stack:
        Cluster(kube, stack, "vllm", n=2, args=args)
        code, report = _diff(monkeypatch, capsys, kubeconfig, spec)
    d = _drifts(report)
    assert code == 1
    kv = d["runtime.kv-cache-dtype"]
    assert kv["observed"][0]["value"] == "auto"
    assert kv["observed"][0]["prov"]["path"] == "GET /metrics vllm:cache_config_info"
    assert d["runtime.effective-differs"]["expected"] == "fp8"


def test_engine_version_outside_range(monkeypatch, capsys, kube, kubeconfig, tmp_path) -> None:
    spec = _spec(tmp_path, "sglang", 'version: ">=0.5"', 'version: ">=0.5.3"')
    with ExitStack() as stack:
        Cluster(kube, stack, "sglang", n=2)
        code, report = _diff(monkeypatch, capsys, kubeconfig, spec)
    ver = _drifts(report)["runtime.engine-version"]
    assert ver["observed"][0]["value"] == "0.5.2" and ver["observed"][0]["prov"]["path"] == "GET /get_server_info"


def test_one_replica_differs(monkeypatch, capsys, kube, kubeconfig) -> None:
    info = json.loads((Path(__file__).parent / "fixtures/engines/tgi-3.0.1/info.json").read_text())
    odd = {**info, "model_sha": "fedcba9876543210fedcba9876543210fedcba98"}
    with ExitStack() as stack:
        engines = [stack.enter_context(FakeEngine("tgi-3.0.1")) for _ in range(3)]
        engines.append(stack.enter_context(FakeEngine("tgi-3.0.1", overrides={"/info": odd})))
        Cluster(kube, stack, "tgi", n=4, engines=engines)
        code, report = _diff(monkeypatch, capsys, kubeconfig, SPECS / "tgi.yaml")
    d = _drifts(report)
    skew = d["runtime.replicas-differ"]
    assert skew["scope"] == "1 of 4 pods" and "1 of 4 pods report model_sha fedcba98" in skew["message"]
    assert skew["observed"][0]["pods"] == ["qwen-7f9c-3"]
    assert skew["observed"][0]["prov"]["source"] == "runtime"
    assert d["model.revision"]["scope"] == "1 of 4 pods"
    assert code == 1


def test_forbidden_pod_proxy_is_unverifiable_and_the_run_goes_on(monkeypatch, capsys, kube, kubeconfig) -> None:
    kube.deny("get", "pods/proxy")
    with ExitStack() as stack:
        Cluster(kube, stack, "vllm", n=6)
        code, report = _diff(monkeypatch, capsys, kubeconfig, SPECS / "vllm.yaml")
        assert code == 0
        assert [r for r in report["results"] if r["check"] == "runtime.max-model-len"][0]["status"] == "match"
        kube.requests.clear()
        code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "--probe", "-A",
                                      "--format", "json", "--workers", "2")
    snap = json.loads(out)
    (issue,) = [i for i in snap["issues"] if i["area"] == "runtime"]
    assert issue["kind"] == "forbidden" and "pods/proxy" in issue["message"] and "specs/rbac.yaml" in issue["message"]
    assert all(p["runtime"]["status"] == "unavailable" for w in snap["workloads"] for p in w["pods"])
    # one refusal stops the round: at most one 403 per worker, not one per pod
    assert sum(1 for _, p, _ in kube.requests if "/proxy/" in p) <= 2


def test_pod_not_ready_and_api_key_are_reasons(monkeypatch, capsys, kube, kubeconfig) -> None:
    with ExitStack() as stack:
        Cluster(kube, stack, "vllm", n=2, ready=[True, False], mode="unauthorized")
        code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "--probe", "-A",
                                      "--format", "json")
    pods = {p["name"]: p for w in json.loads(out)["workloads"] for p in w["pods"]}
    assert pods["llama-7f9c-1"]["runtime"]["reason"].startswith("pod not Ready")
    rt0 = pods["llama-7f9c-0"]["runtime"]
    assert rt0["endpoints"]["/v1/models"] == "endpoint requires the API key (401); skewaudit never sends one"
    assert rt0["fields"]["engine_version"]["value"] == "0.6.3.post1"     # /version needs no key


def test_hanging_engine_through_the_proxy_is_bounded(monkeypatch, capsys, kube, kubeconfig) -> None:
    with ExitStack() as stack:
        Cluster(kube, stack, "vllm", n=1, mode="hang", hang_s=120.0)
        # --timeout bounds the API server's answers too: 3 s, not 0.5, so that a loaded machine's slow answer
        # to a healthy list is not what times out; the engine's 120 s hang is
        code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "--probe", "-A",
                                        "--format", "json", "--timeout", "3")
    assert code == 0, err
    rt = json.loads(out)["workloads"][0]["pods"][0]["runtime"]
    assert rt["status"] == "unavailable" and "did not answer within 3 s (--timeout)" in rt["reason"], rt["reason"]


def test_record_live_then_replay(monkeypatch, capsys, kube, kubeconfig, tmp_path) -> None:
    rec = tmp_path / "rec.json"
    with ExitStack() as stack:
        Cluster(kube, stack, "sglang", n=2)
        code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "-A",
                                      "--record", rec, "--format", "json")
    live = json.loads(out)
    assert code == 0 and set(json.loads(rec.read_text())["targets"]) == {"Pod/ml/r1-7f9c-0", "Pod/ml/r1-7f9c-1"}
    # engines gone, pods no longer routed: the recording answers
    kube.route_pod(NS, "r1-7f9c-0", None)
    kube.route_pod(NS, "r1-7f9c-1", None)
    monkeypatch.setenv("SKEWAUDIT_RUNTIME_REPLAY", str(rec))
    code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "-A", "--probe",
                                  "--format", "json")
    replayed = json.loads(out)
    fa = [p["runtime"]["fields"] for w in live["workloads"] for p in w["pods"]]
    fb = [p["runtime"]["fields"] for w in replayed["workloads"] for p in w["pods"]]
    assert fa == fb and fa[0]["max_model_len"]["value"] == 131072


def test_rbac_probe_tier_grants_only_get_on_pods_proxy() -> None:
    import yaml

    docs = [d for d in yaml.safe_load_all((Path(__file__).resolve().parent.parent / "specs" / "rbac.yaml").read_text())
            if d]
    (role,) = [d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "skewaudit-prober"]
    assert role["rules"] == [{"apiGroups": [""], "resources": ["pods/proxy"], "verbs": ["get"]}]
    # the base reader never includes it: the tier stays optional
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "Role") and d["metadata"]["name"] != "skewaudit-prober"
                and any("pods/proxy" in r["resources"] for r in d["rules"])]


def test_nothing_listening_in_the_pod_is_the_proxy_s_reason(monkeypatch, capsys, kube, kubeconfig) -> None:
    with ExitStack() as stack:
        Cluster(kube, stack, "tgi", n=1)
        kube.route_pod(NS, "qwen-7f9c-0", None)
        code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "--probe", "-A",
                                      "--format", "json")
    assert code == 0
    rt = json.loads(out)["workloads"][0]["pods"][0]["runtime"]
    assert rt["status"] == "unavailable"
    assert rt["reason"].startswith("pod unreachable through the proxy: error trying to reach service")


def test_older_engine_and_malformed_bodies_through_the_proxy(monkeypatch, capsys, kube, kubeconfig) -> None:
    with ExitStack() as stack:
        engines = [stack.enter_context(FakeEngine("vllm-0.2.7")),
                   stack.enter_context(FakeEngine("vllm-0.6.3", mode="malformed"))]
        Cluster(kube, stack, "vllm", n=2, engines=engines)
        code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "--probe", "-A",
                                      "--format", "json")
    assert code == 0
    pods = {p["name"]: p["runtime"] for w in json.loads(out)["workloads"] for p in w["pods"]}
    old, bad = pods["llama-7f9c-0"], pods["llama-7f9c-1"]
    assert old["status"] == "partial" and "not served (404)" in old["endpoints"]["/version"]
    assert old["fields"]["model"]["value"] == "meta-llama/Llama-2-7b-chat-hf" and "max_model_len" not in old["fields"]
    assert bad["status"] == "unavailable" and bad["endpoints"]["/v1/models"].startswith("GET /v1/models: malformed JSON")
    assert "cut off" in bad["endpoints"]["/metrics"]


def test_collect_table_shows_each_distinct_runtime_once(monkeypatch, capsys, kube, kubeconfig) -> None:
    info = json.loads((Path(__file__).parent / "fixtures/engines/tgi-3.0.1/info.json").read_text())
    with ExitStack() as stack:
        engines = [stack.enter_context(FakeEngine("tgi-3.0.1")) for _ in range(2)]
        engines.append(stack.enter_context(FakeEngine("tgi-3.0.1", overrides={
            "/info": {**info, "model_sha": "fedcba9876543210fedcba9876543210fedcba98"}})))
        Cluster(kube, stack, "tgi", n=3, engines=engines)
        code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--kubeconfig", kubeconfig, "--probe", "-A")
    assert code == 0
    assert out.count("runtime: tgi via pod proxy :80: ok") == 3
    assert out.count("; the same values as qwen-7f9c-0") == 1          # pod 1 repeats pod 0
    assert "fedcba9876543210fedcba9876543210fedcba98  Pod/ml/qwen-7f9c-2 GET /info (runtime)" in out
