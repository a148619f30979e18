"""Runtime probes over plain HTTP (--endpoint, --local) against fake engines serving recorded bodies.

Each engine's clean server gives 0 drift against its spec; older versions that lack an
endpoint, a 401 behind --api-key, a hang and malformed bodies make runtime facts
unverifiable with the reason; record/replay reproduces a probe without the engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import main_inprocess
from fake_engines import FakeEngine
from ports import refused_port
from skewaudit.collect import probe
from skewaudit.collect.probe import metrics

SPECS = Path(__file__).resolve().parent / "fixtures" / "specs" / "probe"
CLEAN = {"vllm": "vllm-0.6.3", "tgi": "tgi-3.0.1", "sglang": "sglang-0.5.2", "triton": "triton-24.08",
         "nim": "nim-1.8.0"}


def _json(monkeypatch, capsys, *args) -> tuple[int, dict]:
    code, out, err = main_inprocess(monkeypatch, capsys, *args)
    return code, json.loads(out) if out.strip().startswith("{") else {"_err": err}


@pytest.mark.parametrize("engine", sorted(CLEAN))
def test_clean_engine_gives_no_drift_against_its_spec(monkeypatch, capsys, engine: str) -> None:
    with FakeEngine(CLEAN[engine]) as eng:
        code, report = _json(monkeypatch, capsys, "diff", SPECS / f"{engine}.yaml", "--endpoint", eng.url,
                             "--format", "json")
    assert code == 0, report
    results = report["results"]
    assert not [r for r in results if r["status"] == "drift"]
    # the facts compared came from the engine itself
    runtime_matches = [r for r in results if r["status"] == "match"
                       and any((e.get("prov") or {}).get("source") == "runtime" for e in r.get("observed", []))]
    assert runtime_matches, results
    # and no request carried a credential
    assert all("Authorization" not in h and "authorization" not in h for _, h in eng.requests)


def test_engine_version_outside_range_is_caught_with_runtime_provenance(monkeypatch, capsys, tmp_path) -> None:
    spec = (SPECS / "vllm.yaml").read_text().replace('">=0.6,<0.7"', '">=0.7"')
    (tmp_path / "s.yaml").write_text(spec)
    with FakeEngine("vllm-0.6.3") as eng:
        code, report = _json(monkeypatch, capsys, "diff", tmp_path / "s.yaml", "--endpoint", eng.url,
                             "--format", "json")
    assert code != 2     # the exit code of a warning-level drift is the gate's business
    (r,) = [r for r in report["results"] if r["check"] == "runtime.engine-version"]
    assert r["status"] == "drift" and r["observed"][0]["value"] == "0.6.3"
    assert r["observed"][0]["prov"]["source"] == "runtime" and r["observed"][0]["prov"]["path"] == "GET /version"


def test_endpoint_collect_shows_runtime_facts_and_symptoms(monkeypatch, capsys) -> None:
    with FakeEngine("vllm-0.6.3") as eng:
        code, snap = _json(monkeypatch, capsys, "collect", "--endpoint", eng.url, "--format", "json")
    assert code == 0
    rt = snap["workloads"][0]["pods"][0]["runtime"]
    assert rt["engine"] == "vllm" and rt.get("status", "ok") == "ok"
    assert rt["fields"]["max_model_len"]["value"] == 8192
    assert rt["fields"]["kv_cache_dtype"]["prov"] == {"source": "runtime", "object": f"endpoint/{eng.url}",
                                                      "path": "GET /metrics vllm:cache_config_info",
                                                      "container": "engine"}
    sym = rt["symptoms"]
    assert sym["queue_length"] == 2.0 and sym["running"] == 3.0 and sym["kv_cache_usage"] == 0.4125
    assert sym["preemptions"] == 12.0
    assert 0.06 < sym["ttft_p50_s"] < 0.08 and 0.25 < sym["ttft_p95_s"] < 0.5
    assert 0.025 < sym["tpot_p50_s"] < 0.075 and sym["prompt_tokens_per_s"] > 0


def test_endpoint_table_names_the_runtime_source(monkeypatch, capsys) -> None:
    with FakeEngine("tgi-3.0.1") as eng:
        code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--endpoint", eng.url)
    assert code == 0
    assert "GET /info" in out and "a09a35458c702b33eeacc393d103063234e8bc28" in out


def test_local_probes_the_port_in_the_engine_argv(monkeypatch, capsys) -> None:
    with FakeEngine("vllm-0.6.3") as eng:
        code, snap = _json(monkeypatch, capsys, "collect", "--local", "--probe", "--cmdline",
                           f"vllm serve meta-llama/Llama-3.1-8B-Instruct --port {eng.port} --max-model-len 32768",
                           "--format", "json")
    assert code == 0
    rt = snap["workloads"][0]["pods"][0]["runtime"]
    assert rt["via"] == f"http://127.0.0.1:{eng.port}" and rt["fields"]["max_model_len"]["value"] == 8192


def test_clamped_max_length_is_a_finding_locally(monkeypatch, capsys, tmp_path) -> None:
    spec = (SPECS / "vllm.yaml").read_text().replace("maxModelLen: 8192", "maxModelLen: 32768")
    (tmp_path / "s.yaml").write_text(spec)
    with FakeEngine("vllm-0.6.3") as eng:
        code, report = _json(monkeypatch, capsys, "diff", tmp_path / "s.yaml", "--local", "--probe", "--cmdline",
                             f"vllm serve meta-llama/Llama-3.1-8B-Instruct --port {eng.port} --max-model-len 32768",
                             "--format", "json")
    assert code != 2
    by = {r["check"]: r for r in report["results"] if r["status"] == "drift"}
    eff = by["runtime.effective-differs"]
    assert eff["expected"] == 32768 and eff["observed"][0]["value"] == 8192
    assert eff["observed"][0]["prov"]["path"] == "GET /v1/models"
    # the spec comparison uses the value in force, not the flag
    assert by["runtime.max-model-len"]["observed"][0]["value"] == 8192
    assert by["runtime.max-model-len"]["observed"][0]["prov"]["source"] == "runtime"


def test_older_vllm_without_version_endpoint_is_partial() -> None:
    with FakeEngine("vllm-0.2.7") as eng:
        r = probe.probe_url(eng.url, None, "endpoint/x", 5.0)
    assert r.engine == "vllm" and r.status == "partial"
    assert "not served (404)" in r.endpoints["/version"]
    assert "max_model_len" not in r.fields and r.fields["model"].value == "meta-llama/Llama-2-7b-chat-hf"


def test_older_tgi_reports_its_dtype_and_batch_budget() -> None:
    with FakeEngine("tgi-1.4.5") as eng:
        r = probe.probe_url(eng.url, "tgi", "endpoint/x", 5.0)
    assert r.fields["dtype"].value == "float16" and r.fields["max_batch_total_tokens"].value == 125952
    assert r.fields["max_input_tokens"].value == 4095       # spelled max_input_length before 2.1
    assert r.endpoints["/metrics"].startswith("GET /metrics is not served (404)")


def test_api_key_protected_endpoints_are_unverifiable_not_worked_around(monkeypatch, capsys) -> None:
    with FakeEngine("vllm-0.6.3", mode="unauthorized") as eng:
        code, snap = _json(monkeypatch, capsys, "collect", "--endpoint", eng.url, "--format", "json")
    rt = snap["workloads"][0]["pods"][0]["runtime"]
    assert rt["endpoints"]["/v1/models"] == "endpoint requires the API key (401); skewaudit never sends one"
    assert rt["status"] == "partial" and "max_model_len" not in rt["fields"]
    assert all("authorization" not in {k.lower() for k in h} for _, h in eng.requests)


def test_a_hanging_engine_is_bounded(monkeypatch, capsys) -> None:
    import time

    with FakeEngine("vllm-0.6.3", mode="hang", hang_s=120.0) as eng:
        t0 = time.monotonic()
        r = probe.probe_url(eng.url, "vllm", "endpoint/x", 0.3)
        elapsed = time.monotonic() - t0
    assert r.status == "unavailable" and "no answer within 0.3 s" in r.reason
    assert r.endpoints["/version"].startswith("not asked")    # one timeout, not one per endpoint
    # ended by the 0.3 s timeout, not by the engine's 120 s hang (a loaded machine gets ample slack)
    assert elapsed < 60


def test_malformed_bodies_are_named_per_endpoint() -> None:
    with FakeEngine("sglang-0.5.2", mode="malformed") as eng:
        r = probe.probe_url(eng.url, "sglang", "endpoint/x", 5.0)
    assert r.status == "unavailable" and r.fields == {}
    assert r.endpoints["/get_server_info"].startswith("GET /get_server_info: malformed JSON")
    assert r.endpoints["/metrics"].startswith("GET /metrics: not Prometheus text")


def test_nothing_listening_is_unverifiable(monkeypatch, capsys) -> None:
    with refused_port() as port:
        code, snap = _json(monkeypatch, capsys, "collect", "--endpoint", f"http://127.0.0.1:{port}", "--format", "json")
    assert code == 0
    assert snap["workloads"][0]["pods"][0]["runtime"]["status"] == "unavailable"
    assert any(i["area"] == "runtime" for i in snap["issues"])


def test_secret_values_in_engine_answers_are_redacted(monkeypatch, capsys) -> None:
    key = "sk-live-0123456789abcdefABCDEF"
    info = json.loads((probe.__file__ and (Path(__file__).parent / "fixtures/engines/sglang-0.5.2/get_server_info.json"))
                      .read_text())
    info["api_key"] = key
    info["model_path"] = "hf_abcdefghijklmnopqrstuvwx"    # a token where a path should be
    with FakeEngine("sglang-0.5.2", overrides={"/get_server_info": info}) as eng:
        code, out, _ = main_inprocess(monkeypatch, capsys, "collect", "--endpoint", eng.url, "--format", "json")
    assert key not in out and "hf_abcdefghijklmnopqrstuvwx" not in out and "<redacted:" in out


def test_record_then_replay_without_the_engine(monkeypatch, capsys, tmp_path) -> None:
    rec = tmp_path / "probe.json"
    with FakeEngine("tgi-3.0.1") as eng:
        url = eng.url
        code, live = _json(monkeypatch, capsys, "collect", "--endpoint", url, "--record", rec, "--format", "json")
    assert code == 0 and json.loads(rec.read_text())["targets"][url]["/info"]["status"] == 200
    monkeypatch.setenv("SKEWAUDIT_RUNTIME_REPLAY", str(rec))
    code, replayed = _json(monkeypatch, capsys, "collect", "--endpoint", url, "--format", "json")
    assert code == 0
    a, b = live["workloads"][0]["pods"][0]["runtime"], replayed["workloads"][0]["pods"][0]["runtime"]
    assert a["fields"] == b["fields"] and b.get("status", "ok") == "ok" and "replay of" in b["via"]


def test_a_bad_recording_is_a_located_input_error(monkeypatch, capsys, tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "skewaudit.io/runtime-recording/v1", "targets": [1,')
    monkeypatch.setenv("SKEWAUDIT_RUNTIME_REPLAY", str(bad))
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--endpoint", "http://127.0.0.1:9")
    assert code == 2 and f"{bad}:1:" in err and len(err.strip().splitlines()) == 1


def test_a_recording_entry_of_the_wrong_type_is_named(monkeypatch, capsys, tmp_path) -> None:
    # each crashed the replay (int("x") on status, a list as body) before the recording had one reader
    bad = tmp_path / "bad.json"
    for entry, field in [({"status": "x"}, "status: str, expected int"), ({"status": 200, "body": [1]},
                                                                         "body: list, expected str")]:
        bad.write_text(json.dumps({"schema": "skewaudit.io/runtime-recording/v1",
                                   "targets": {"Pod/ml/llama-0": {"/v1/models": entry}}}))
        monkeypatch.setenv("SKEWAUDIT_RUNTIME_REPLAY", str(bad))
        code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--endpoint", "http://127.0.0.1:9")
        assert code == 2
        assert err.strip().endswith(f'{bad}:1:1: not a runtime recording: targets["Pod/ml/llama-0"]["/v1/models"].'
                                    f"{field}"), err


def test_endpoint_must_be_a_url(monkeypatch, capsys) -> None:
    code, _, err = main_inprocess(monkeypatch, capsys, "collect", "--endpoint", "localhost:8000")
    assert code == 2 and "--endpoint must be an http:// or https:// URL" in err


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    text = ('# TYPE x histogram\nx_bucket{le="0.1"} 0\nx_bucket{le="0.2"} 50\nx_bucket{le="0.4"} 100\n'
            'x_bucket{le="+Inf"} 100\nx_sum 20\nx_count 100\n')
    s = metrics.parse(text)
    assert s.quantile(0.5, "x") == pytest.approx(0.2)
    assert s.quantile(0.75, "x") == pytest.approx(0.3)
    assert s.quantile(0.5, "missing") is None


def test_metrics_that_are_not_prometheus_text_raise_one_line() -> None:
    with pytest.raises(ValueError, match="not Prometheus text"):
        metrics.parse("<html>\n<body>502 Bad Gateway</body>\n</html>\n")


def _worse_metrics() -> bytes:
    text = (Path(__file__).parent / "fixtures/engines/vllm-0.6.3/metrics.txt").read_text()
    text = text.replace('vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B-Instruct"} 2.0',
                        'vllm:num_requests_waiting{model_name="meta-llama/Llama-3.1-8B-Instruct"} 9.0')
    text = text.replace('vllm:gpu_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.4125',
                        'vllm:gpu_cache_usage_perc{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.95')
    assert "} 9.0" in text and "} 0.95" in text
    return text.encode()


def test_baseline_and_bundle_show_symptoms_next_to_configuration(monkeypatch, capsys, tmp_path) -> None:
    last_good = tmp_path / "last-good.json"
    with FakeEngine("vllm-0.6.3") as eng:
        code, _, err = main_inprocess(monkeypatch, capsys, "snapshot", SPECS / "vllm.yaml", "--endpoint", eng.url,
                                      "-o", last_good)
    assert code == 0, err
    models = json.loads((Path(__file__).parent / "fixtures/engines/vllm-0.6.3/v1_models.json").read_text())
    models["data"][0]["max_model_len"] = 4096
    with FakeEngine("vllm-0.6.3", overrides={"/metrics": _worse_metrics(), "/v1/models": models}) as eng:
        code, report = _json(monkeypatch, capsys, "diff", "--baseline", last_good, "--endpoint", eng.url,
                             "--format", "json")
        assert code == 1
        by = {r["check"]: r for r in report["results"] if r["status"] == "drift"}
        sym = by["runtime.symptoms-changed"]
        assert "queue length 2 -> 9 (+350%)" in sym["message"] and "KV-cache usage 0.412 -> 0.95" in sym["message"]
        assert "TTFT" not in sym["message"]          # unchanged symptoms are not news
        assert by["runtime.max-model-len"]["expected"] == 8192 and by["runtime.max-model-len"]["observed"][0]["value"] == 4096
        # an incident bundle carries both, side by side
        code, _, err = main_inprocess(monkeypatch, capsys, "bundle", SPECS / "vllm.yaml", "--endpoint", eng.url,
                                      "--baseline", last_good, "-o", tmp_path / "incident")
    md = (tmp_path / "incident.md").read_text()
    assert "runtime.symptoms-changed" in md and "runtime.max-model-len" in md
    # and symptom moves can be ignored like any baseline path
    with FakeEngine("vllm-0.6.3", overrides={"/metrics": _worse_metrics()}) as eng:
        code, report = _json(monkeypatch, capsys, "diff", "--baseline", last_good, "--endpoint", eng.url,
                             "--ignore", "symptoms", "--format", "json")
    assert code == 0 and not [r for r in report["results"] if r["status"] == "drift"]


def test_pods_past_the_round_budget_are_unverifiable_with_that_reason() -> None:
    from skewaudit.collect.probe.transport import Budget
    from skewaudit.model.observed import ContainerObs, EngineFacts, ImageRef, PodObs, WorkloadObs

    c = ContainerObs(name="vllm", image=ImageRef(ref="vllm/vllm-openai:v0.6.3"),
                     engine=EngineFacts(engine="vllm", detected_by="argv: vllm serve"))
    w = WorkloadObs(kind="Deployment", name="llama", namespace="ml",
                    pods=[PodObs(name=f"llama-{i}", namespace="ml", phase="Running", containers=[c]) for i in range(3)])
    asked: list[str] = []
    rnd = probe.Round(2, 1.0, budget=Budget(0.0))
    rnd.make = lambda p, port: asked.append(p.name)
    issues: list = []
    (out,) = rnd.pods([w], issues)
    assert asked == []      # nothing is asked once the budget is spent
    assert {p.runtime.reason for p in out.pods} == {"probe budget of 0 s used up before this pod"}
    assert issues[0].area == "runtime" and "3 of 3 probed pods" in issues[0].message


def test_probe_needs_something_running(monkeypatch, capsys, tmp_path) -> None:
    code, _, err = main_inprocess(monkeypatch, capsys, "collect", "--probe", "--manifest", tmp_path)
    assert code == 2 and "--probe asks running engines: it needs a live cluster or --local, not --manifest" in err


def test_an_engine_that_trickles_its_answer_is_cut_off() -> None:
    import time

    with FakeEngine("tgi-3.0.1", mode="drip", hang_s=0.1) as eng:
        t0 = time.monotonic()
        r = probe.probe_url(eng.url, "tgi", "endpoint/x", 0.5)
        elapsed = time.monotonic() - t0
    assert r.status == "unavailable" and "not complete within 0.5 s" in r.reason
    # bounded by the timeout, not by the body's length (at 0.1 s a byte, /info alone takes 43 s; ample slack)
    assert elapsed < 30
