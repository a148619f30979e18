"""No value without evidence: assumed entrypoints, engine defaults and unresolved replicas are
provenance, never silent matches; every pod is counted."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import yaml

from clirun import EXAMPLES, MANIFESTS, skewaudit
from test_diff_scenarios import container, mutate, set_arg

LLAMA = EXAMPLES / "llama-3.1-70b-vllm.yaml"
LLAMA_M = MANIFESTS / "llama-3.1-70b-vllm.yaml"
CUSTOM_IMAGE = "registry.example.com/team/mistral-vllm:1.2"


def report(*args) -> tuple[int, dict]:
    r = skewaudit("diff", *args, "--format", "json")
    assert r.code in (0, 1), r.err
    return r.code, json.loads(r.out)


def by_check(rep: dict, status: str | None = None) -> dict[str, dict]:
    return {x["check"]: x for x in rep["results"] if status is None or x["status"] == status}


def args_only(image: str, **changes):
    """The example Deployment with `command:` removed (the image ENTRYPOINT decides) and args as flags."""
    def fn(docs):
        c = container(docs)
        c["image"] = image
        c.pop("command")
        model = c["args"].pop(0)
        c["args"].insert(0, f"--model={model}")
        for flag, value in changes.items():
            set_arg(docs, flag, value)
    return fn


def open_image_spec(tmp_path: Path) -> Path:
    """The example spec without an image pin (so another image is not itself drift)."""
    doc = yaml.safe_load(LLAMA.read_text())
    for k in ("image", "imageDigest"):
        doc["spec"]["runtime"]["engine"].pop(k)
    spec = tmp_path / "open-image.yaml"
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    return spec


def test_custom_image_without_command_has_its_args_read_as_the_engine_flags(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "custom.yaml", args_only(CUSTOM_IMAGE, **{"--max-model-len": "16384"}))
    code, rep = report(LLAMA, "--manifest", m)
    assert code == 1
    mml = by_check(rep, "drift")["runtime.max-model-len"]
    ev = mml["observed"][0]
    assert ev["value"] == 16384 and ev["prov"]["source"] == "arg" and ".args[" in ev["prov"]["path"]
    assert f"args, entrypoint assumed from image {CUSTOM_IMAGE}" in ev["note"]
    # The other engine settings were read too (not unknown): model, dtype and TP match.
    matched = by_check(rep, "match")
    assert {"model.id", "runtime.dtype", "runtime.tensor-parallel"} <= set(matched)
    # collect says where argv came from.
    c = skewaudit("collect", "--manifest", m)
    assert c.code == 0 and f"entrypoint assumed from image {CUSTOM_IMAGE}" in c.out
    assert "argv unknown" not in c.out


def test_custom_image_unchanged_is_clean(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "custom.yaml", args_only(CUSTOM_IMAGE))
    code, rep = report(open_image_spec(tmp_path), "--manifest", m)
    assert [x["check"] for x in rep["results"] if x["status"] == "drift"] == []
    assert code == 0
    # The custom image's tag (1.2) versions the image, not vLLM: no evidence of the engine version.
    ver = by_check(rep)["runtime.engine-version"]
    assert ver["status"] == "unverifiable" and "not an official vllm image" in ver["reason"]


def test_official_vllm_image_without_command_runs_the_api_server(tmp_path):
    # vllm/vllm-openai v0.10.0: ENTRYPOINT python3 -m vllm.entrypoints.openai.api_server (vllm issue #22072).
    image = "vllm/vllm-openai:v0.10.0@sha256:6b2d2a1e8c3f0b6e9c4f7a1d5e2b8c9f0a3d6e1b4c7f2a5d8e0b3c6f9a2d5e8b"
    m = mutate(LLAMA_M, tmp_path / "official.yaml", args_only(image, **{"--max-model-len": "16384"}))
    code, rep = report(LLAMA, "--manifest", m)
    assert code == 1
    assert by_check(rep, "drift")["runtime.max-model-len"]["observed"][0]["value"] == 16384
    c = skewaudit("collect", "--manifest", m, "--format", "json")
    eng = json.loads(c.out)["workloads"][0]["template"]["containers"][0]["engine"]
    assert eng["entrypoint"] == "api_server"


def test_engine_port_from_its_default_says_engine_default(tmp_path):
    m = mutate(LLAMA_M, tmp_path / "noport.yaml", lambda d: set_arg(d, "--port", None))
    code, rep = report(LLAMA, "--manifest", m)
    port = by_check(rep)["serving.port"]
    assert code == 0 and port["status"] == "match"
    ev = port["observed"][0]
    assert ev["value"] == 8000 and ev["prov"]["source"] == "default" and "engine default" in ev["note"]
    assert "containerPort" not in json.dumps(port)


def test_engine_port_unknown_is_unverifiable_even_with_a_container_port(tmp_path):
    # No command, an image nobody knows: argv is unknown, so is the engine and its port.
    def unknown(docs):
        c = container(docs)
        c["image"] = "registry.example.com/team/server:7"
        c.pop("command")
    m = mutate(LLAMA_M, tmp_path / "unknown.yaml", unknown)
    spec = open_image_spec(tmp_path)
    code, rep = report(spec, "--manifest", m)
    port = by_check(rep)["serving.port"]
    assert port["status"] == "unverifiable"
    assert "containerPort (8000) declares a port but does not say where the engine listens" in port["reason"]
    assert [x["check"] for x in rep["results"] if x["status"] == "drift"] == []
    assert code == 0  # unverifiable never fails the default gate…
    assert skewaudit("diff", spec, "--manifest", m, "--fail-on-unverifiable").code == 1


def _live_snapshot(tmp_path: Path) -> Path:
    """4 live-shaped pods: 3 run --max-model-len 16384, the 4th takes it from a ConfigMap nobody could read."""
    from skewaudit.collect import SourceRequest, gather
    from skewaudit.collect import snapshot as snap_io
    from skewaudit.model.observed import PodObs

    raised = mutate(LLAMA_M, tmp_path / "raised.yaml", lambda d: set_arg(d, "--max-model-len", "16384"))

    def from_cm(docs):
        set_arg(docs, "--max-model-len", "$(MAX_LEN)")
        container(docs)["env"].append({"name": "MAX_LEN", "valueFrom": {
            "configMapKeyRef": {"name": "serving-limits", "key": "max-len"}}})
    unread = mutate(LLAMA_M, tmp_path / "cm.yaml", from_cm)
    c_raised = gather(SourceRequest(manifests=(str(raised),))).workloads[0].template.containers[0]
    snap = gather(SourceRequest(manifests=(str(unread),)))
    w = snap.workloads[0]
    c_unread = w.template.containers[0]
    assert c_unread.engine.fields["max_model_len"].value is None      # the parser could not resolve it
    pods = [PodObs(name=f"llama-{i}", namespace="ml", node="node-0", containers=[c_raised if i < 3 else c_unread])
            for i in range(4)]
    live = msgspec.structs.replace(snap, source="live", workloads=[msgspec.structs.replace(w, pods=pods,
                                                                                           pods_collected=True)])
    path = tmp_path / "live.json"
    snap_io.save(live, str(path))
    return path


def test_a_replica_whose_value_cannot_be_resolved_is_counted_not_dropped(tmp_path):
    path = _live_snapshot(tmp_path)
    code, rep = report(LLAMA, "--snapshot", path)
    assert code == 1
    mml = by_check(rep, "drift")["runtime.max-model-len"]
    assert mml["scope"] == "3 of 4 pods (1 unverifiable)"
    assert sum(e.get("count", 1) for e in mml["observed"]) == 4
    drifted, unread = mml["observed"]
    assert drifted["value"] == 16384 and sorted(drifted["pods"]) == ["llama-0", "llama-1", "llama-2"]
    assert unread["pods"] == ["llama-3"] and "MAX_LEN" in unread["unverifiable"]
    table = skewaudit("diff", LLAMA, "--snapshot", path)
    assert "16384 (3 of 4 pods)" in table.out and "unverifiable (1 of 4 pods)" in table.out
