"""Large ``kind: List`` YAML dumps (``kubectl get -A -o yaml``) are read item by item: the same
facts as the JSON and multi-document forms of the same objects, every item still guarded
(alias bombs, deep nesting) and every error located on the item's own line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest
import yaml

from skewaudit.errors import InputError
from test_collect_manifests import FIXTURES, K8S, offline

BAD_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "bad", "namespace": "serving"},
           "spec": {"containers": "not-a-list"}}


def _objects() -> list[dict]:
    objs = [d for f in FIXTURES for d in yaml.safe_load_all((K8S / f).read_text()) if d]
    return objs + [BAD_POD]


def _list_yaml(objs: list[dict]) -> str:
    # kubectl's shape: top-level keys sorted, `items:` entries at column 0, block style
    return yaml.safe_dump({"apiVersion": "v1", "items": objs, "kind": "List", "metadata": {"resourceVersion": ""}},
                          default_flow_style=False, sort_keys=False, width=10**6)


def _facts(path: Path) -> tuple[bytes, list[tuple[str, str, str]]]:
    snap = offline(path)
    issues = [(i.kind, i.scope, re.sub(r"^\S+: ", "", i.message)) for i in snap.issues]
    return msgspec.json.encode(snap.workloads) + msgspec.json.encode(snap.nodes), issues


def test_yaml_list_json_list_and_multi_document_give_the_same_facts(tmp_path: Path) -> None:
    objs = _objects()
    (tmp_path / "list.yaml").write_text(_list_yaml(objs))
    (tmp_path / "list.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    (tmp_path / "multi.yaml").write_text(yaml.safe_dump_all(objs, sort_keys=False))
    got = {name: _facts(tmp_path / name) for name in ("list.yaml", "list.json", "multi.yaml")}
    assert got["list.yaml"] == got["list.json"] == got["multi.yaml"]
    workloads, issues = got["list.yaml"]
    assert b"Deployment/serving/mistral-tgi" in workloads
    assert [(k, s) for k, s, _ in issues if k == "malformed"] == [("malformed", "Pod/serving/bad")]


def test_malformed_item_names_its_own_line(tmp_path: Path) -> None:
    text = _list_yaml(_objects())
    path = tmp_path / "dump.yaml"
    path.write_text(text)
    line = next(i for i, ln in enumerate(text.split("\n"), 1) if ln.startswith("-") and "name: bad" in
                "\n".join(text.split("\n")[i - 1:i + 6]))
    issue = next(i for i in offline(path).issues if i.kind == "malformed")
    assert issue.message.startswith(f"{path}:{line}: Pod/serving/bad")


def _big_list_with(item_text: str, at: int = 150, n: int = 300) -> tuple[str, int]:
    """A List of ``n`` ConfigMaps with ``item_text`` (an entry starting with '- ') as entry ``at``,
    and the 1-based line that entry starts on."""
    entries = [f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: cm-{i}\n    namespace: ml\n"
               f"  data:\n    k: v{i}\n" for i in range(n)]
    entries.insert(at, item_text)
    head = "apiVersion: v1\nitems:\n"
    line = head.count("\n") + "".join(entries[:at]).count("\n") + 1
    return head + "".join(entries) + "kind: List\nmetadata:\n  resourceVersion: \"\"\n", line


def test_deep_nesting_in_one_item_is_refused_at_that_item(tmp_path: Path) -> None:
    deep = "[" * 300 + "]" * 300
    text, line = _big_list_with(f"- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: deep\n"
                                f"  data:\n    x: {deep}\n")
    path = tmp_path / "dump.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}:{line + 5}:\d+: YAML nesting is deeper than"):
        offline(path)


def test_alias_bomb_in_one_item_is_refused(tmp_path: Path) -> None:
    bomb = "  data:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"    {c}: &{c} [{', '.join([f'*{p}'] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    text, line = _big_list_with("- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: lol\n" + bomb)
    path = tmp_path / "dump.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}:\d+:\d+: .*aliases"):
        offline(path)


def test_syntax_error_in_one_item_has_its_line_and_column(tmp_path: Path) -> None:
    text, line = _big_list_with("- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: x: y\n")
    path = tmp_path / "dump.yaml"
    text = text.replace("items:\n", "items:\n# a comment before the first entry\n\n")
    line += 2
    path.write_text(text)
    with pytest.raises(InputError, match=rf"^{re.escape(str(path))}:{line + 3}:12: YAML syntax error"):
        offline(path)


def test_trailer_comments_and_list_kinds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text, _ = _big_list_with("# a comment between entries\n- 7\n", n=3, at=1)
    path = tmp_path / "dump.yaml"
    path.write_text(text.replace("kind: List", "kind: ConfigMapList"))
    snap = offline(path)
    assert snap.issues == []
    # the one entry that is not an object is named by its own line, the others are read silently
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"warning: {path}:11: ConfigMapList.items[1]: ")
    assert err[0].endswith("not a Kubernetes object; ignored")
    # a document with items but another kind is one object, not a list: its items are not objects to read
    path.write_text("apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\nitems:\n- a: 1\n")
    offline(path)
    assert capsys.readouterr().err == ""


def test_a_top_level_key_starting_with_a_dash_ends_the_items(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text, _ = _big_list_with("", n=2, at=0)
    path = tmp_path / "dump.yaml"
    path.write_text(text.replace("kind: List", "-x: 1\nkind: List"))   # a key named "-x", not an entry
    offline(path)
    assert capsys.readouterr().err == ""
