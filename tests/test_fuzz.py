"""Property-based fuzzing of every input parser (Hypothesis).

One property per target: given a real-shaped hostile input (generators in
``fuzz_inputs.py``), the code raises nothing but skewaudit's own input error
(``SkewauditError``: a one-line exit 2/3, never a traceback or exit 70), within a
bounded time per input (Hypothesis' ``deadline``); for redaction, no secret
marker survives in any output.

Profiles (``SKEWAUDIT_FUZZ_PROFILE``): ``ci`` (default; what ``make test``
runs: ~60 derandomized examples per target, seconds in all) and ``fuzz`` (long,
random; ``make fuzz`` drives it through ``tests/fuzz_run.py`` for
``FUZZ_MINUTES`` and prints examples tried and failures per target).
"""

from __future__ import annotations

import collections
import json
import os
import tempfile
from datetime import timedelta
from pathlib import Path

import msgspec
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import fuzz_inputs as fi
from skewaudit import redact
from skewaudit.errors import SkewauditError

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
# deadline: per input, generous (2 cores shared by many runs); a real hang trips it anyway
settings.register_profile("ci", max_examples=60, derandomize=True, deadline=timedelta(seconds=10),
                          suppress_health_check=_SLOW_OK, database=None, print_blob=True)
settings.register_profile("fuzz", max_examples=400, deadline=timedelta(seconds=10),
                          suppress_health_check=_SLOW_OK, database=None, print_blob=True)
PROFILE = os.environ.get("SKEWAUDIT_FUZZ_PROFILE", "ci")
settings.load_profile(PROFILE)

TRIED: collections.Counter[str] = collections.Counter()   # examples run per target (fuzz_run.py reports it)
SECRET = "ZQX7SECRET"                                      # the marker no output may contain


def _only_input_errors(fn, *args, **kwargs):
    """Run ``fn``; skewaudit's own error is an accepted answer, anything else fails the property."""
    try:
        return fn(*args, **kwargs)
    except SkewauditError as e:
        assert e.message.strip(), "an input error must say what is wrong"
        return None


# --- spec loader ----------------------------------------------------------------------------


@given(fi.yaml_text(fi.BASE_SPECS))
def test_spec_loader(text: str) -> None:
    from skewaudit.specfile import load_paths

    TRIED["spec loader"] += 1
    _only_input_errors(load_paths, ["-"], stdin_text=text)


# --- manifest loader and collector ------------------------------------------------------------


@st.composite
def generated_deployment(draw: st.DrawFn) -> dict:
    """A serving Deployment built from engine argv, env and images (valid shape, odd content)."""
    command, args = draw(fi.container_command())
    env = draw(fi.ENV)
    container = {"name": "server", "image": draw(st.sampled_from(fi.IMAGES)),
                 "env": [{"name": k, **({"value": v} if v is not None else {})} for k, v in env.items() if k],
                 "resources": {"limits": {"nvidia.com/gpu": draw(st.sampled_from([1, 2, 4, 8, "2", "1k", 0]))}}}
    if command is not None:
        container["command"] = command
    if args is not None:
        container["args"] = args
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "llm", "namespace": "ml", "labels": {"app": "llm"}},
            "spec": {"replicas": draw(st.integers(0, 3)), "selector": {"matchLabels": {"app": "llm"}},
                     "template": {"metadata": {"labels": {"app": "llm"}}, "spec": {"containers": [container]}}}}


@st.composite
def manifest_text(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(fi.yaml_text(fi.BASE_OBJECTS))
    docs = [draw(generated_deployment()) for _ in range(draw(st.integers(1, 2)))]
    if draw(st.booleans()):
        # a JSON List as kubectl prints it (indented or one line, items first or last), sometimes
        # damaged: every object is located by its offset (collect/jsonpos.py)
        head = {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}}
        doc = {"items": docs, **head} if draw(st.booleans()) else {**head, "items": docs}
        if draw(st.booleans()):
            return draw(fi.json_bytes([doc])).decode("utf-8", "surrogateescape")
        return json.dumps(doc, indent=draw(st.sampled_from([None, 2, 4, "\t"])), ensure_ascii=draw(st.booleans()))
    return draw(fi.yaml_text(docs))


# found by `make fuzz` (2026-12-02): invalid UTF-8 in a JSON object's field the List head skips
@example('{"apiVersion":[],"kind":"List","metadata":{"resourceVersion":""},"items":[{"apiVersion":"apps/v1",'
         '"kind":"Deployment","metadata":{"name":"llm","namespace":"ml","labels":{"app":"llm"}},"spec":{"replicas":0,'
         '"selector":{"matchLabels":{"app":"llm"}},"template":{"metadata":{"labels":{"app":"llm"}},"spec":{'
         '"containers":[{"name":"server","image":"vllm/vllm-openai:v0.6.3","env":[],"resources":{"limits":'
         '{"nvidia.com/gpu":1}},"command":["vllm","serve","\udc80-model","1"]}]}}}}]}')
@given(manifest_text())
def test_manifest_loader_and_collector(text: str) -> None:
    from skewaudit.collect import manifests, snapshot
    from skewaudit.collect.request import SourceRequest

    TRIED["manifest collector"] += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        snap = _only_input_errors(manifests.collect, SourceRequest(manifests=(str(path),)))
    if snap is not None:
        snapshot.encode(snap)   # what was collected can be saved


# --- snapshot decoder -------------------------------------------------------------------------


def _base_snapshots() -> list[dict]:
    from skewaudit.collect import manifests, snapshot
    from skewaudit.collect.request import SourceRequest

    out = []
    for p in sorted(fi.MANIFESTS.glob("*.yaml")):
        snap = manifests.collect(SourceRequest(manifests=(str(p),)))
        out.append(msgspec.json.decode(snapshot.encode(snap)))
    return out


_SNAPSHOTS: list[dict] = []


@st.composite
def snapshot_bytes(draw: st.DrawFn) -> bytes:
    if not _SNAPSHOTS:
        _SNAPSHOTS.extend(_base_snapshots())
    return draw(fi.json_bytes(_SNAPSHOTS))


@given(snapshot_bytes())
def test_snapshot_decoder(data: bytes) -> None:
    from skewaudit.collect import snapshot

    TRIED["snapshot decoder"] += 1
    _only_input_errors(snapshot.decode, data, "snap.json")


# --- recordings (NVML, runtime probes) --------------------------------------------------------

_NVML_RECORDINGS = [json.loads(p.read_text()) for p in sorted((fi.ROOT / "tests" / "fixtures" / "nvml").glob("*.json"))]
# a probe round as `collect --probe --record` writes it (bodies: tests/fixtures/engines, vLLM 0.6.3)
_PROBE_RECORDINGS = [{"schema": "skewaudit.io/runtime-recording/v1", "targets": {
    "Pod/ml/llama-0": {"/v1/models": {"status": 200, "body": '{"object": "list", "data": [{"id": "m", '
                                                             '"max_model_len": 8192}]}'},
                       "/metrics": {"status": 0, "error": "timed out"},
                       "/version": {"status": 200, "body": '{"version": "0.6.3"}', "truncated": False}}}}]


@given(st.sampled_from(["nvml", "probe"]), st.data())
def test_recording_readers(which: str, data: st.DataObject) -> None:
    from skewaudit.collect import nvml
    from skewaudit.collect.probe import replay

    TRIED["recording readers"] += 1
    raw = data.draw(fi.json_bytes(_NVML_RECORDINGS if which == "nvml" else _PROBE_RECORDINGS))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rec.json"
        path.write_bytes(raw)
        if which == "probe":
            rec = _only_input_errors(replay.load, str(path))
            for key, paths in (rec.targets if rec else {}).items():
                for p in paths:
                    rec.transport(key, "pod").get(p)
            return
        old = os.environ.get(nvml.REPLAY_ENV)
        os.environ[nvml.REPLAY_ENV] = str(path)
        try:
            _only_input_errors(nvml.collect_gpus, env={})
        finally:
            if old is None:
                os.environ.pop(nvml.REPLAY_ENV)
            else:
                os.environ[nvml.REPLAY_ENV] = old


# --- argv / shell splitter and engine parsers ------------------------------------------------------


@given(fi.shell_script(), fi.ENV)
def test_shell_splitter(script: str, env: dict) -> None:
    from skewaudit.runtimes._shell import split_script

    TRIED["sh -c splitter"] += 1
    cmds, note = _only_input_errors(split_script, script, {k: v for k, v in env.items() if v is not None}) \
        or ([], None)
    assert all(isinstance(w, str) for c in cmds for w in c)


@given(fi.container_command(), fi.ENV, st.sampled_from(fi.IMAGES))
def test_engine_parsers(cmd: tuple, env: dict, image: str) -> None:
    from skewaudit import runtimes

    TRIED["engine parsers"] += 1
    command, args = cmd
    res = _only_input_errors(runtimes.effective_argv, command, args, env, image, "spec.containers[0]")
    if res is None:
        return
    ci = runtimes.ContainerInput(argv=res.argv, arg_paths=list(res.paths), env=env, env_prov={}, image=image,
                                 object="Deployment/ml/llm", container="server", note=res.note)
    _only_input_errors(runtimes.parse, ci)


# --- redaction ------------------------------------------------------------------------------------

SECRET_NAMES = ["HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "VLLM_API_KEY", "OPENAI_API_KEY", "DB_PASSWORD",
                "AWS_SECRET_ACCESS_KEY", "API_TOKEN", "SECRET"]
SECRET_FLAGS = ["--api-key", "--hf-token"]


@st.composite
def secret_value(draw: st.DrawFn) -> str:
    # alphanumeric around the marker: the shapes the redactor promises to handle whole
    pre = draw(st.text("abcdefXYZ0123456789_", max_size=8))
    post = draw(st.text("abcdefXYZ0123456789_.", max_size=8))
    return pre + SECRET + post


# found by `make fuzz` (2026-12-02): an unclosed quote mid-word, and an escaped space in a flag's value
@example(SECRET, "HF_TOKEN", "--api-key", ["vllm", "serve", "--model", "0'", "--model", "1", "--model", "1"],
         "pair", False)
@example(SECRET, "HF_TOKEN", "--api-key", ["vllm", "serve", "--model", "1", "--model=\\", "--model", "1", "--model",
                                           "1", "--model=1", "--model=1"], "pair", True)
@example(SECRET, "HF_TOKEN", "--api-key", ["vllm", "serve", "--model", "1", "--api-key", "\\", "--model", "1",
                                           "--model", "1", "--model=1", "--model=1", "--model=1"], "pair", True)
@example(SECRET, "HF_TOKEN", "--api-key", ["vllm", "serve", "--api-key", ")'", "--model", "1", "--model", "1"],
         "pair", False)
@example(SECRET, "HF_TOKEN", "--api-key", ["--model", "1", "--model=;", "--model", "1", "1"], "pair", True)
@example(SECRET, "HF_TOKEN", "--api-key", ["vllm", "serve", "--model", "<", "--model=1"], "pair", True)
@given(secret_value(), st.sampled_from(SECRET_NAMES), st.sampled_from(SECRET_FLAGS), fi.engine_argv(),
       st.sampled_from(["pair", "eq"]), st.booleans())
def test_redaction_leaves_no_secret(secret: str, name: str, flag: str, argv: list[str], form: str,
                                    shell: bool) -> None:
    from skewaudit.collect import manifests, snapshot
    from skewaudit.collect.request import SourceRequest

    TRIED["redaction"] += 1
    assert SECRET not in (redact.value(name, secret) or "")
    i = len(argv) // 2
    tokens = argv[:i] + ([flag, secret] if form == "pair" else [f"{flag}={secret}"]) + argv[i:]
    assert not [t for t in redact.argv(tokens) if SECRET in t], tokens
    assert SECRET not in redact.text(" ".join(tokens))
    # end to end: a Deployment carrying the secret in env and args, collected and saved
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "llm", "namespace": "ml"},
           "spec": {"selector": {"matchLabels": {"app": "llm"}}, "template": {
               "metadata": {"labels": {"app": "llm"}}, "spec": {"containers": [{
                   "name": "server", "image": "vllm/vllm-openai:v0.6.3",
                   "command": tokens if not shell else ["sh", "-c", " ".join(tokens)],
                   "env": [{"name": name, "value": secret}]}]}}}}
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.json"
        path.write_text(json.dumps(dep))
        snap = _only_input_errors(manifests.collect, SourceRequest(manifests=(str(path),)))
    if snap is not None:
        assert SECRET.encode() not in snapshot.encode(snap)


POSITIONAL_FORMS = ["$1", '"$1"', "${1}", '"${1}"', '"$@"', "$*"]


# found by its first fuzz run (2026-12-02): an unclosed quote before the flag (text and shell read it apart)
@example(SECRET, "--api-key", ["vllm", "serve", "--model", '"', "--model", "1", "--model", "1"], '"$1"', "sh", False,
         [])
@example(SECRET, "--api-key", ["vllm", "serve", "--model=1", "--api-key", '"', "--model", "1", "--model", "1", "1"],
         "$1", "sh", False, [])
@given(secret_value(), st.sampled_from(SECRET_FLAGS), fi.engine_argv(), st.sampled_from(POSITIONAL_FORMS),
       st.sampled_from(["sh", "bash", "/bin/sh"]), st.booleans(), st.lists(st.sampled_from(["--dtype", "half", "x"]),
                                                                       max_size=3))
def test_redaction_follows_positional_parameters(secret: str, flag: str, argv: list[str], form: str, shell: str,
                                                 in_args: bool, after: list[str]) -> None:
    """`sh -c '… --api-key $1' NAME KEY`: the key is an item of the command (or the first of ``args``),
    named in the script only by its position; it must be redacted wherever the container is shown."""
    TRIED["redaction"] += 1
    i = len(argv) // 2
    script = " ".join(argv[:i] + [flag, form] + argv[i:])
    params = ["--", secret, *after]
    command, args = ([shell, "-c", script] + ([] if in_args else params)), (params if in_args else None)
    red_cmd, red_args = redact.command_and_args(command, args)
    assert not [w for w in (red_cmd or []) + (red_args or []) if SECRET in w], (command, args)

