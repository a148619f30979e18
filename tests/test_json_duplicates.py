"""A key written twice in one object of a JSON manifest is a located warning, as in YAML.

msgspec keeps the last value, as PyYAML does; kubectl refuses such a file. The user must see which
key, where its second occurrence is (``file:line:col``) and where the first was, and the audit
uses the last value (so the warning explains a verdict that would otherwise surprise)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import yaml

from clirun import EXAMPLES, MANIFESTS, main_inprocess
from skewaudit.collect import jsonmanifest

SPEC = EXAMPLES / "llama-3.1-70b-vllm.yaml"
OBJECTS = list(yaml.safe_load_all((MANIFESTS / "llama-3.1-70b-vllm.yaml").read_text()))
DEPLOYMENT = OBJECTS[0]
IMAGE = DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["image"]
OLD_IMAGE = "vllm/vllm-openai:v0.9.0"
ARGS = DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["args"]
TAIL = "kubectl would refuse this file"


def _list_text() -> str:
    """The manifest as ``kubectl get -o json`` prints a List (4-space indent)."""
    return json.dumps({"apiVersion": "v1", "items": OBJECTS, "kind": "List",
                       "metadata": {"resourceVersion": ""}}, indent=4) + "\n"


def _object_text() -> str:
    """The Deployment alone, as a hand-written JSON object (2-space indent)."""
    return json.dumps(DEPLOYMENT, indent=2) + "\n"


def _with_duplicate(text: str, member: str, again: str, before: bool = False) -> tuple[str, str]:
    """``text`` with ``again`` (a member with the same key as ``member``) written right after
    ``member`` (before it when ``before``), and where the second occurrence is, as
    ``line:col`` and the first's line: the oracle, by construction."""
    at = text.index(member)
    indent = at - (text.rfind("\n", 0, at) + 1)
    pad = "\n" + " " * indent
    if before:
        new = text[:at] + again + "," + pad + text[at:]
        first, second = at, at + len(again) + len(pad) + 1
    else:
        new = text[:at + len(member)] + "," + pad + again + text[at + len(member):]
        first, second = at, at + len(member) + 1 + len(pad)
    line = new.count("\n", 0, second) + 1
    col = second - new.rfind("\n", 0, second)
    return new, f"{line}:{col}: duplicate key {{key!r}} (first at line {new.count(chr(10), 0, first) + 1})"


def _run(monkeypatch, capsys, path: Path, *cmd: str) -> tuple[int, str, str]:
    return main_inprocess(monkeypatch, capsys, *cmd, "--manifest", path, "--format", "json")


def _results(out: str, check: str) -> dict:
    return next(r for r in json.loads(out)["results"] if r["check"] == check)


@pytest.mark.parametrize("shape", ["list", "object"])
def test_a_clean_json_manifest_warns_nothing(tmp_path, monkeypatch, capsys, shape):
    path = tmp_path / "m.json"
    path.write_text(_list_text() if shape == "list" else _object_text())
    code, out, err = _run(monkeypatch, capsys, path, "diff", str(SPEC))
    assert err == "" and _results(out, "runtime.image")["status"] == "match"
    assert code == 0 or shape == "object"   # the Deployment alone: no HPA, replicas unverifiable


@pytest.mark.parametrize("shape", ["list", "object"])
def test_an_image_written_twice_warns_where_and_the_last_one_is_audited(tmp_path, monkeypatch, capsys, shape):
    text = _list_text() if shape == "list" else _object_text()
    member = f'"image": "{IMAGE}"'
    path = tmp_path / "m.json"
    # the pinned image first, an older one last: the older one is audited, and the user is told why
    new, where = _with_duplicate(text, member, f'"image": "{OLD_IMAGE}"')
    path.write_text(new)
    code, out, err = _run(monkeypatch, capsys, path, "diff", str(SPEC))
    assert err == f"warning: {path}:{where.format(key='image')}; the last value is used, {TAIL}\n"
    assert code == 1
    r = _results(out, "runtime.image")
    assert r["status"] == "drift" and OLD_IMAGE in json.dumps(r)
    # the other way round: the spec's image is the last one, so the audit is clean, but still said
    new, where = _with_duplicate(text, member, f'"image": "{OLD_IMAGE}"', before=True)
    path.write_text(new)
    code, out, err = _run(monkeypatch, capsys, path, "diff", str(SPEC))
    assert err == f"warning: {path}:{where.format(key='image')}; the last value is used, {TAIL}\n"
    assert _results(out, "runtime.image")["status"] == "match"
    assert code == 0 or shape == "object"


def test_args_written_twice_in_a_list_item_audit_the_last_ones(tmp_path, monkeypatch, capsys):
    text = _list_text()
    first_arg = json.dumps(ARGS[0])
    member = text[text.index('"args": ['):text.index("]", text.index('"args": [')) + 1]
    assert first_arg in member
    short = [a.replace("--max-model-len=8192", "--max-model-len=4096") for a in ARGS]
    new, where = _with_duplicate(text, member, '"args": ' + json.dumps(short))
    path = tmp_path / "m.json"
    path.write_text(new)
    code, out, err = _run(monkeypatch, capsys, path, "diff", str(SPEC))
    assert err == f"warning: {path}:{where.format(key='args')}; the last value is used, {TAIL}\n"
    assert code == 1
    r = _results(out, "runtime.max-model-len")
    assert r["status"] == "drift" and "4096" in json.dumps(r)


@pytest.mark.parametrize("shape", ["list", "object"])
def test_a_top_level_key_written_twice_is_located_too(tmp_path, monkeypatch, capsys, shape):
    if shape == "list":   # the List's own members: its metadata written twice
        text = _list_text()
        member = '"metadata": {\n        "resourceVersion": ""\n    }'
        again, key = '"metadata": {}', "metadata"
    else:   # the object's own: apiVersion written twice (the last one, apps/v1, is read)
        text = _object_text()
        member, again, key = '"apiVersion": "apps/v1"', '"apiVersion": "apps/v1beta2"', "apiVersion"
        new, where = _with_duplicate(text, member, again, before=True)
    if shape == "list":
        new, where = _with_duplicate(text, member, again)
    path = tmp_path / "m.json"
    path.write_text(new)
    code, out, err = _run(monkeypatch, capsys, path, "diff", str(SPEC))
    assert err == f"warning: {path}:{where.format(key=key)}; the last value is used, {TAIL}\n"
    assert _results(out, "runtime.image")["status"] == "match"
    assert code == 0 or shape == "object"


def test_every_duplicate_is_named_and_escaped_keys_count(tmp_path, monkeypatch, capsys):
    """Two in one object, one in another, and a key spelled with an escape (``\\u0069mage`` is
    ``image``, and ``\\u003a`` a colon the fast count cannot see)."""
    text = _object_text()
    member = f'"image": "{IMAGE}"'
    new, where2 = _with_duplicate(text, '"name": "vllm"', '"name": "a\\u003ab"', before=True)
    new, where1 = _with_duplicate(new, member, '"\\u0069mage": "x"', before=True)   # after the name
    path = tmp_path / "m.json"
    path.write_text(new)
    code, out, err = _run(monkeypatch, capsys, path, "collect")
    lines = err.splitlines()
    assert code == 0 and len(lines) == 2
    assert f"{path}:{where2.format(key='name')}" in lines[0]
    assert f"{path}:{where1.format(key='image')}" in lines[1]


@pytest.mark.parametrize("text,found", [
    ('{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}', []),            # same key, other objects
    ('{"a": "x:y", "a": "z"}', [("a", 1, 13)]),
    ('{"a": {"k": 1, "k": 2}, "b": ["{\\"k\\": 1, \\"k\\": 2}"]}', [("k", 7, 15)]),   # not in a string
    ('{"a\\u003ab": 1, "a:b": 2}', [("a:b", 1, 16)]),
    ('{"e": "\\u003a", "e": ""}', [("e", 1, 16)]),
    ('{"n": 1' + '9' * 400 + ', "a": 1, "a": 2}', [("a", 409, 417)]),   # beyond float: decoded by nothing
    ('{"\\ud800": 1, "\\ud800": 2, "a": "\\udfff", "a": 3}', [("\\ud800", 1, 14), ("a", 27, 42)]),
])
def test_the_fast_test_never_misses_what_the_scan_finds(text, found):
    """The count test may only say "no duplicates" when the token scan finds none."""
    raw = text.encode()
    got = jsonmanifest.duplicates(raw, 0, len(raw))
    assert got == found
    assert jsonmanifest._maybe_duplicates(raw) or not got


def test_a_file_beyond_the_checked_size_is_read_as_before(tmp_path, monkeypatch, capsys):
    """The documented bound: a JSON file larger than ``DUPLICATES_CHECKED_UP_TO`` (a dump the
    API server wrote) is not checked; it is read as it always was, the last value used."""
    new, _ = _with_duplicate(_list_text(), f'"image": "{IMAGE}"', f'"image": "{OLD_IMAGE}"')
    path = tmp_path / "m.json"
    path.write_text(new)
    monkeypatch.setattr(jsonmanifest, "DUPLICATES_CHECKED_UP_TO", len(new.encode()) - 1)
    code, out, err = _run(monkeypatch, capsys, path, "diff", str(SPEC))
    assert (code, err) == (1, "") and _results(out, "runtime.image")["status"] == "drift"


def test_items_written_twice_are_scanned_once(tmp_path, monkeypatch, capsys):
    """``items`` twice: the walk cannot step over them, so the List is scanned whole, and a
    duplicate inside an item is said once, located."""
    text = ('{"kind": "List", "items": [],\n "items": [{"apiVersion": "v1", "kind": "Service", '
            '"metadata": {"name": "s", "name": "t"}}]}')
    path = tmp_path / "m.json"
    path.write_text(text)
    code, out, err = _run(monkeypatch, capsys, path, "collect")
    tail = f"; the last value is used, {TAIL}"
    assert (code, err.splitlines()) == (0, [f"warning: {path}:2:2: duplicate key 'items' (first at line 1){tail}",
                                            f"warning: {path}:2:78: duplicate key 'name' (first at line 2){tail}"])


# keys and strings as written, escapes included: `\u003a` is the colon the count cannot see
_KEYS = ['"a"', '"\\u0061"', '"b"', '"a:b"', '"a\\u003ab"', '":"']
_STRINGS = ['"x"', '":"', '"\\u003a"', '"{\\"a\\": 1, \\"a\\": 2}"', '"é:"']


class _Obj(list):
    """An object as written: its (key text, value) members, a key possibly twice."""


_VALUES = st.recursive(
    st.one_of(st.none(), st.integers(), st.sampled_from(_STRINGS)),
    lambda inner: st.lists(inner, max_size=3) | st.lists(st.tuples(st.sampled_from(_KEYS), inner),
                                                         max_size=4).map(_Obj),
    max_leaves=12)


def _write(v) -> str:
    if isinstance(v, _Obj):
        return "{" + ", ".join(f"{k}: {_write(x)}" for k, x in v) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_write(x) for x in v) + "]"
    return "null" if v is None else v if isinstance(v, str) else str(v)


def _repeats(v) -> int:
    """How many keys are written again in an object of ``v`` (keys compared decoded)."""
    if isinstance(v, _Obj):
        keys = [json.loads(k) for k, _ in v]
        return len(keys) - len(set(keys)) + sum(_repeats(x) for _, x in v)
    return sum(_repeats(x) for x in v) if isinstance(v, list) else 0


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_KEYS), _VALUES), max_size=5).map(_Obj))
def test_the_count_test_and_the_scan_agree_with_the_text(obj):
    """The scan names every key written again, and the fast test never clears a text that has one."""
    raw = _write(obj).encode()
    found = jsonmanifest.duplicates(raw, 0, len(raw))
    assert len(found) == _repeats(obj)
    assert jsonmanifest._maybe_duplicates(raw) or not found
