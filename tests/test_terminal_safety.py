"""Terminal safety: control characters and ANSI escapes from a manifest, an API answer or a
Status message are written as visible escapes in table output and one-line errors, so a
hostile object name can neither clear the screen, retitle the terminal nor forge a line."""

from __future__ import annotations

import re

import yaml

from clirun import main_inprocess

HOSTILE = "\x1b[2J\x1b]0;pwned\x07\r\nforged"
RAW = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")   # any control character but \t and \n


def _manifest(tmp_path):
    dep = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "llama", "namespace": "ml", "annotations": {"note": "a" + HOSTILE}},
           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "x"}}, "template": {
               "metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{
                   "name": "vllm" + HOSTILE, "image": "vllm/vllm-openai:v0.10.0" + HOSTILE,
                   "command": ["vllm", "serve", "m" + HOSTILE, "--dtype", "half" + HOSTILE, "--weird" + HOSTILE],
                   "env": [{"name": "X" + HOSTILE, "value": "v" + HOSTILE}],
                   "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}}}
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(dep))
    spec = {"apiVersion": "skewaudit.io/v1alpha1", "kind": "ModelSpec", "metadata": {"name": "s"},
            "spec": {"identity": {"model": {"id": "m", "family": "llama", "task": "text-generation",
                                            "framework": "pytorch"}},
                     "runtime": {"engine": {"name": "vllm", "dtype": "float16", "args": ["--enforce-eager"]},
                                 "accelerator": {"vendor": "nvidia", "type": "a100", "count": 1}},
                     "target": {"kind": "Deployment", "name": "llama", "namespace": "ml"}}}
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    return path, spec_path


def test_hostile_values_are_escaped_in_collect_and_diff_tables(monkeypatch, capsys, tmp_path):
    manifest, spec = _manifest(tmp_path)
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--manifest", manifest)
    assert code == 0, err
    assert not RAW.search(out + err) and "forged" not in [line.strip() for line in out.splitlines()]
    assert "vllm\\x1b[2J\\x1b]0;pwned\\x07\\r\\nforged" in out
    for extra in ((), ("--show-matches",)):
        code, out, err = main_inprocess(monkeypatch, capsys, "diff", spec, "--manifest", manifest, *extra)
        assert code == 1, err
        assert not RAW.search(out + err) and "\\x1b[2J" in out
    code, out, err = main_inprocess(monkeypatch, capsys, "init", "--manifest", manifest)
    assert code == 0 and not RAW.search(out + err)


def test_a_hostile_file_name_stays_on_one_escaped_error_line(monkeypatch, capsys, tmp_path):
    manifest, spec = _manifest(tmp_path)
    code, out, err = main_inprocess(monkeypatch, capsys, "diff", tmp_path / f"gone{HOSTILE}.yaml", "--manifest",
                                    manifest)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and not RAW.search(err) and "gone\\x1b[2J" in err


def test_a_hostile_api_status_message_is_escaped(monkeypatch, capsys, tmp_path, kube, kubeconfig):
    manifest, spec = _manifest(tmp_path)
    kube.fault(r"/deployments$", "status", status=403, message=f"denied{HOSTILE}")
    kube.fault(r"/pods$", "status", status=500, message=f"boom{HOSTILE}")
    for args in (("collect", "-n", "ml"), ("diff", spec)):
        code, out, err = main_inprocess(monkeypatch, capsys, *args, "--kubeconfig", kubeconfig)
        assert code in (1, 2, 3), err
        assert not RAW.search(out + err), (out + err)[-400:]
        assert all(not line.startswith("forged") for line in (out + err).splitlines())
