"""JSON manifests are located like YAML ones: every warning and collection issue about an object
of a ``kubectl get -o json`` dump names the file, the line and the column where that object
starts, whatever the layout (indented, one line, nested Lists, escaped keys, non-ASCII text)."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from clirun import main_inprocess
from skewaudit.collect import jsonpos
from test_collect_manifests import offline
from test_manifest_lists import BAD_POD, _objects

GPU_ABC = {"apiVersion": "apps/v1", "kind": "Deployment",
           "metadata": {"name": "q", "namespace": "serving", "annotations": {"team": "é€ü"}},
           "spec": {"selector": {"matchLabels": {"app": "q"}}, "template": {
               "metadata": {"labels": {"app": "q"}},
               "spec": {"containers": [{"name": "c", "image": "vllm/vllm-openai:v0.6.3",
                                        "resources": {"limits": {"nvidia.com/gpu": "abc"}}}]}}}}
NO_NAME = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "serving"}}


# (prefix, separator between items, suffix, json.dumps options of an item)
LAYOUTS = {
    "kubectl": ('{\n    "apiVersion": "v1",\n    "items": [\n        ', ",\n        ",
                '\n    ],\n    "kind": "List",\n    "metadata": {"resourceVersion": ""}\n}\n', {"indent": 4}),
    "one-line": ('{"apiVersion":"v1","items":[', ",", '],"kind":"List"}', {"separators": (",", ":")}),
    "spaced": ('{"kind": "List", "metadata": {"note": "é ] { \\" ["}, "items": [ ', " , ", " ]}", {}),
}


def _dump(items: list, layout: str) -> tuple[str, list[tuple[int, int]]]:
    """The List text and where each item starts (line, column in characters), known by
    construction: the oracle the located messages are checked against."""
    prefix, sep, suffix, opts = LAYOUTS[layout]
    text, starts = prefix, []
    for i, item in enumerate(items):
        text += sep if i else ""
        starts.append((text.count("\n") + 1, len(text) - (text.rfind("\n") + 1) + 1))
        text += json.dumps(item, ensure_ascii=False, **opts)
    return text + suffix, starts


@pytest.mark.parametrize("layout", LAYOUTS)
def test_issues_and_warnings_name_the_objects_line_and_column(tmp_path: Path, capsys, layout: str) -> None:
    objs = [o for o in _objects() if o is not BAD_POD]
    items = [*objs[:2], BAD_POD, GPU_ABC, NO_NAME, *objs[2:]]
    text, starts = _dump(items, layout)
    path = tmp_path / "dump.json"
    path.write_text(text)
    snap = offline(path)
    issues = {i.scope: i.message for i in snap.issues if i.kind == "malformed"}
    line, col = starts[2]
    assert issues["Pod/serving/bad"].startswith(f"{path}:{line}:{col}: Pod/serving/bad: ")
    line, col = starts[3]
    assert issues["Deployment/serving/q"].startswith(f"{path}:{line}:{col}: Deployment/serving/q: ")
    line, col = starts[4]
    assert f"warning: {path}:{line}:{col}: Deployment without metadata.name; ignored" in capsys.readouterr().err


def test_nested_lists_escaped_keys_and_non_ascii_columns(tmp_path: Path, capsys) -> None:
    # a List inside a List, "items" written with an escape, a key before it holding brackets and
    # quotes in strings, and a non-ASCII name earlier on the same line (columns count characters)
    text = ('{"metadata": {"note": "a ] } [ { \\" trap", "x": [1, {"y": null}]}, "kind": "List", "\\u0069tems": ['
            '{"kind": "ConfigMap", "metadata": {"name": "é€"}}, 7,\n'
            '  {"kind": "List", "items": [null, {"apiVersion": "v1"}]}]}')
    path = tmp_path / "nested.json"
    path.write_text(text)
    offline(path)
    err = capsys.readouterr().err.splitlines()
    seven = text.split("\n")[0].index(", 7,") + 3
    assert err == [f"warning: {path}:1:{seven}: List.items[1] is a JSON int, not a Kubernetes object; ignored",
                   f"warning: {path}:2:30: List.items[2].items[0] is null, not a Kubernetes object; ignored",
                   f"warning: {path}:2:36: List.items[2].items[1] has no kind; ignored"]


@pytest.mark.parametrize("layout", [{"indent": 2}, {"separators": (",", ":")}, {"indent": "\t"}])
def test_every_item_offset_is_where_its_bytes_are(layout: dict) -> None:
    # the walk's offsets checked against the decoder's own view of each item, in several layouts
    items = [*_objects(), None, "s", 1.5, [1, [2]], {"kind": "List", "items": [{"a": "]}"}]}]
    data = json.dumps({"apiVersion": "v1", "metadata": {"k": "[{\"]"}, "items": items, "kind": "List"},
                      ensure_ascii=False, **layout).encode()

    class Head(msgspec.Struct):
        items: list[msgspec.Raw]

    raws = msgspec.json.decode(data, type=Head).items
    offsets = list(jsonpos.item_offsets(data, jsonpos.start(data), raws))
    assert [data[o:o + len(r)] for o, r in zip(offsets, raws)] == [bytes(r) for r in raws]


def test_a_list_the_walk_cannot_follow_is_named_by_file_only(tmp_path: Path, capsys) -> None:
    # duplicate "items" keys: the decoder keeps the last, the walk stops at the first and checks
    # that its offsets agree with what was decoded; rather than a wrong position, the file alone
    # (the duplicate key itself is located: the scan that finds it reads every token)
    path = tmp_path / "dup.json"
    path.write_text('{"kind": "List", "items": [1, 2, 3], "items": [null]}')
    offline(path)
    err = capsys.readouterr().err
    assert err == (f"warning: {path}:1:38: duplicate key 'items' (first at line 1); the last value is used, "
                   "kubectl would refuse this file\n"
                   f"warning: {path}: List.items[0] is null, not a Kubernetes object; ignored\n"
                   f"warning: {path}: no Kubernetes objects in this file\n")


def test_invalid_utf8_inside_an_object_is_a_located_input_error(tmp_path: Path, monkeypatch, capsys) -> None:
    # found by the confirmation fuzz run: the List's head decodes (the bad bytes sit in a field it
    # skips), the object's own decode then met them and crashed (exit 70)
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"apiVersion": "v1", "kind": "List", "items": [\n  {"apiVersion": "apps/v1", '
                     b'"kind": "Deployment", "metadata": {"name": "llm", "namespace": "ml"}, "spec": {"template": '
                     b'{"spec": {"containers": [{"name": "s", "image": "x", "command": ["\x80-model"]}]}}}}]}')
    code, out, err = main_inprocess(monkeypatch, capsys, "collect", "--manifest", path, "--format", "json")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and f"{path}:2:3: Deployment llm: " in err
