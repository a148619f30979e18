"""vLLM ``--config FILE`` read from the ConfigMap it is mounted from (issue 12 §5), through the real
CLI and the loopback API server: ``items`` remaps and ``subPath``, the command line winning over the
file, a file that cannot be read (baked in, on a Secret volume, hostile YAML) unverifiable with the
reason, and the file's secrets never in any output.

The fixture is ``tests/fixtures/around/vllm-config.yaml`` (sources at its top); the helpers are those
of ``test_shapes_around`` plus the few below, which the sibling files (``test_shapes_scaling_target``,
``test_shapes_dra``, ``test_shapes_config_lifecycle``) share.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from clirun import main_inprocess as run
from kube_server import FakeKube
from test_shapes_around import AROUND, Edit, docs_of, drifts, obj, report

SECRET = "sk-live-4f9a8b7c6d5e4f3a2b1c"
CM = "ConfigMap/serving/qwen-vllm-config"


def _cm_file(d: list[dict]) -> dict:
    return yaml.safe_load(obj(d, "ConfigMap")["data"]["serve.yaml"])


def _set_cm(key: str, value: Any) -> Callable[[list[dict]], None]:
    def change(d: list[dict]) -> None:
        f = _cm_file(d)
        f[key] = value
        obj(d, "ConfigMap")["data"]["serve.yaml"] = yaml.safe_dump(f)
    return change


def _pods_and_templates(d: list[dict]) -> list[dict]:
    return [x["spec"] if x["kind"] == "Pod" else x["spec"]["template"]["spec"]
            for x in d if x["kind"] in ("Pod", "Deployment")]


def _command(fn: Callable[[list[str]], None]) -> Callable[[list[dict]], None]:
    def change(d: list[dict]) -> None:
        for spec in _pods_and_templates(d):
            fn(spec["containers"][0]["command"])
    return change


def _cli_override(d: list[dict]) -> None:
    _command(lambda c: c.extend(["--max-model-len", "8192"]))(d)


CONFIG_EDITS = [
    Edit("tp-in-file", _set_cm("tensor-parallel-size", 4), "runtime.tensor-parallel", 4,
         ("configmap", CM, "data[serve.yaml].tensor-parallel-size"), also=("hardware.parallelism-fits",)),
    Edit("max-model-len-in-file", _set_cm("max_model_len", 16384), "runtime.max-model-len", 16384,
         ("configmap", CM, "data[serve.yaml].max_model_len")),
    Edit("switch-off-in-file", _set_cm("enable-prefix-caching", False), "runtime.prefix-caching", False,
         ("configmap", CM, "data[serve.yaml].enable-prefix-caching")),
    Edit("cli-wins-over-file", _cli_override, "runtime.max-model-len", 8192,
         ("arg", "Pod/serving/qwen-vllm-5d8f7c9b6-x2k4p", "spec.containers[0].command[8]")),
]


def _write(tmp_path: Path, docs: list[dict]) -> Path:
    m = tmp_path / "m.yaml"
    m.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    return m


def _by(rep: dict, check: str) -> dict:
    (r,) = [r for r in rep["results"] if r["check"] == check]
    return r


def test_config_file_clean_offline_reads_every_value_from_the_configmap(monkeypatch, capsys) -> None:
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", AROUND / "vllm-config.yaml",
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    for check in ("runtime.tensor-parallel", "runtime.max-model-len", "runtime.gpu-memory-utilization",
                  "runtime.max-num-seqs", "runtime.prefix-caching", "runtime.dtype"):
        r = _by(rep, check)
        assert r["status"] == "match", r
        assert (r["observed"][0]["prov"]["source"], r["observed"][0]["prov"]["object"]) == ("configmap", CM)
    assert SECRET not in json.dumps(rep)


def test_config_file_clean_live_reads_the_configmap_through_the_api(kube: FakeKube, kubeconfig: Path,
                                                                    monkeypatch, capsys) -> None:
    kube.load_yaml(AROUND / "vllm-config.yaml")
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--kubeconfig", kubeconfig, monkeypatch=monkeypatch,
                       capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    assert _by(rep, "runtime.max-model-len")["observed"][0]["prov"]["object"] == CM
    assert any(p.endswith("/namespaces/serving/configmaps/qwen-vllm-config") for _, p, _ in kube.requests)
    assert {m for m, _, _ in kube.requests} == {"GET"}


@pytest.mark.parametrize("edit", CONFIG_EDITS, ids=[e.id for e in CONFIG_EDITS])
def test_config_file_edit_is_caught_with_value_and_provenance(edit: Edit, tmp_path: Path, monkeypatch,
                                                              capsys) -> None:
    docs = docs_of("vllm-config")
    edit.change(docs)
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", _write(tmp_path, docs), "--fail-on",
                       "warning", monkeypatch=monkeypatch, capsys=capsys)
    found = [r for r in drifts(rep) if r["check"] == edit.check]
    assert code == 1 and len(found) == 1, drifts(rep)
    ev = found[0]["observed"][0]
    assert ev["value"] == edit.observed
    source, object_, path = edit.prov
    assert (ev["prov"]["source"], ev["prov"]["object"], ev["prov"]["path"]) == (source, object_, path)
    assert sorted(r["check"] for r in drifts(rep)) == sorted([edit.check, *edit.also])


def test_command_line_override_says_which_file_value_it_beats(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("vllm-config")
    _cli_override(docs)
    _, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", _write(tmp_path, docs),
                    monkeypatch=monkeypatch, capsys=capsys)
    note = _by(rep, "runtime.max-model-len")["observed"][0]["note"]
    assert "overrides 32768 from --config /etc/vllm/config/vllm.yaml" in note and CM in note


def test_subpath_mount_reads_the_key_it_names(tmp_path: Path, monkeypatch, capsys) -> None:
    docs = docs_of("vllm-config")
    for spec in _pods_and_templates(docs):
        spec["volumes"][0]["configMap"].pop("items")
        spec["containers"][0]["volumeMounts"][0] = {"name": "vllm-config", "mountPath": "/etc/vllm/config/vllm.yaml",
                                                    "subPath": "serve.yaml"}
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    assert (code, drifts(rep)) == (0, [])
    assert _by(rep, "runtime.tensor-parallel")["observed"][0]["prov"]["path"] == \
        "data[serve.yaml].tensor-parallel-size"


# each level doubles the one before: 2**60 nodes once expanded


ALIAS_BOMB = "b0: &b0 [x, x]\n" + "".join(f"b{i}: &b{i} [*b{i - 1}, *b{i - 1}]\n" for i in range(1, 60))


def _unverifiable_because(rep: dict, check: str) -> str:
    r = _by(rep, check)
    assert r["status"] == "unverifiable", r
    return r["message"]


@pytest.mark.parametrize("case,change,reason", [
    ("baked-in", lambda d: [s["containers"][0].pop("volumeMounts") for s in _pods_and_templates(d)],
     "baked into the image"),
    ("not-projected", lambda d: [s["volumes"][0]["configMap"]["items"][0].__setitem__("path", "other.yaml")
                                 for s in _pods_and_templates(d)], "projects only other.yaml (items)"),
    ("secret-volume", lambda d: [s["volumes"].__setitem__(0, {"name": "vllm-config", "secret": {"secretName": "c"}})
                                 for s in _pods_and_templates(d)],
     "Secret volume 'vllm-config': Secrets are never read"),
    ("configmap-missing", lambda d: d.remove(obj(d, "ConfigMap")), "not read (no ConfigMaps in the input)"),
    ("not-yaml", lambda d: obj(d, "ConfigMap")["data"].__setitem__("serve.yaml", "tensor-parallel-size: [2\n"),
     "not valid YAML"),
    ("not-a-mapping", lambda d: obj(d, "ConfigMap")["data"].__setitem__("serve.yaml", "- 2\n- 3\n"),
     "not a mapping"),
    # untrusted text: the manifest guards refuse it before any YAML loader builds it
    ("too-deep", lambda d: obj(d, "ConfigMap")["data"].__setitem__("serve.yaml", "a: " + "[" * 300 + "]" * 300),
     "nesting is deeper than 200 levels"),
    ("alias-bomb", lambda d: obj(d, "ConfigMap")["data"].__setitem__("serve.yaml", ALIAS_BOMB), "refusing to"),
])
def test_config_file_that_cannot_be_read_is_unverifiable_with_the_reason(case: str, change, reason: str,
                                                                          tmp_path: Path, monkeypatch,
                                                                          capsys) -> None:
    docs = docs_of("vllm-config")
    change(docs)
    code, rep = report(AROUND / "vllm-config.spec.yaml", "--manifest", _write(tmp_path, docs),
                       monkeypatch=monkeypatch, capsys=capsys)
    assert drifts(rep) == [] and code == 0
    for check in ("runtime.tensor-parallel", "runtime.max-model-len"):
        assert reason in _unverifiable_because(rep, check)


def test_config_file_secret_never_reaches_any_output(tmp_path: Path, monkeypatch, capsys) -> None:
    snap = tmp_path / "s.json"
    code, _, err = run(monkeypatch, capsys, "snapshot", AROUND / "vllm-config.spec.yaml", "--manifest",
                       AROUND / "vllm-config.yaml", "-o", snap)
    assert code == 0, err
    assert SECRET not in snap.read_text()
    for fmt in ("table", "json", "sarif"):
        code, out, err = run(monkeypatch, capsys, "diff", AROUND / "vllm-config.spec.yaml", "--manifest",
                             AROUND / "vllm-config.yaml", "--format", fmt, "--show-matches")
        assert code == 0 and SECRET not in out + err
    facts = json.loads(snap.read_text())["workloads"][0]["template"]["containers"][0]["engine"]
    assert "--api-key" in facts["unknown_args"]
