"""Hostile or broken inputs to --manifest and --snapshot: one clear line, exit 2, bounded time, no crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clirun import EXAMPLES, skewaudit

SPEC = EXAMPLES / "llama-3.1-70b-vllm.yaml"


def _bomb() -> str:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


CASES = {
    "deep.yaml": ("a: " + "[" * 50_000 + "]" * 50_000 + "\n", "nesting is deeper"),
    "deep.json": ('{"a": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested too deeply"),
    "bomb.yaml": (_bomb(), "billion laughs"),
    "broken.yaml": ("apiVersion: v1\nkind: [unclosed\n", "YAML syntax error"),
    "junk.yaml": (b"\x00\x01\x02\xff\xfe binary".decode("latin-1"), "junk.yaml"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_manifest_inputs(tmp_path: Path, name: str):
    text, expected = CASES[name]
    p = tmp_path / name
    p.write_text(text, encoding="latin-1" if name == "junk.yaml" else "utf-8")
    r = skewaudit("diff", SPEC, "--manifest", p)
    assert r.code == 2, r.err
    assert expected in r.err and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_snapshot_nested_too_deeply(tmp_path: Path):
    p = tmp_path / "deep.json"
    p.write_text(CASES["deep.json"][0])
    r = skewaudit("diff", SPEC, "--snapshot", p)
    assert r.code == 2 and "nested too deeply" in r.err and "Traceback" not in r.err


def test_manifest_path_that_does_not_exist(tmp_path: Path):
    r = skewaudit("diff", SPEC, "--manifest", tmp_path / "nope.yaml")
    assert r.code == 2 and "nope.yaml" in r.err


def test_a_large_manifest_dump_without_aliases_is_read(tmp_path: Path):
    """A fleet's `kubectl get -o yaml` has far more than 100k nodes: only aliases and depth are limited."""
    import yaml

    base = next(yaml.safe_load_all((EXAMPLES / "manifests" / "llama-3.1-70b-vllm.yaml").read_text()))
    one = yaml.safe_dump(base, sort_keys=False)
    item = "\n".join(("- " if i == 0 else "  ") + line for i, line in enumerate(one.splitlines()))
    # 3,000 Deployments (~150k YAML nodes); the one the spec targets is among them.
    items = [item.replace("name: llama-3-1-70b\n", f"name: w{i}\n", 1) if i else item for i in range(3000)]
    p = tmp_path / "fleet.yaml"
    p.write_text("apiVersion: v1\nkind: List\nitems:\n" + "\n".join(items) + "\n")
    r = skewaudit("diff", SPEC, "--manifest", p, "--format", "json")
    # Read whole: the only drift is the HPA the dump does not hold (drift fails the default gate).
    assert r.code == 1, r.err
    assert '"workloads": 1' in r.out
    drifted = {x["check"] for x in json.loads(r.out)["results"] if x["status"] == "drift"}
    assert drifted == {"orchestration.hpa-bounds", "orchestration.hpa-metric", "orchestration.hpa-target"}
