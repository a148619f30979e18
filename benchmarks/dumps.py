"""Offline dumps of a generated cluster: the files people feed ``skewaudit diff --manifest``.

From ``gen.py``'s ``cluster/*.jsonl`` it writes, under ``DIR/dumps/``:

- ``list.yaml``: one ``kind: List`` document, the shape ``kubectl get … -A -o yaml`` prints;
- ``list.json``: the same objects as ``kubectl get … -o json`` prints them;
- ``multi.yaml``: the same objects as multi-document YAML (``---`` between them), the shape
  ``helm template`` prints.

Each object gets its ``apiVersion`` and ``kind`` back (the API server's list items omit them).
YAML is written with PyYAML's libyaml emitter in block style, two-space indent, as kubectl does.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

API = {"Pod": "v1", "Node": "v1", "Service": "v1", "ConfigMap": "v1", "Deployment": "apps/v1",
       "ReplicaSet": "apps/v1", "HorizontalPodAutoscaler": "autoscaling/v2"}


def _objects(cluster: Path):
    for kind, api in API.items():
        f = cluster / f"{kind}.jsonl"
        if not f.exists():
            continue
        with open(f, "rb") as fh:
            for line in fh:
                if line.strip():
                    yield {"apiVersion": api, "kind": kind} | json.loads(line)


def _yaml(obj: object) -> str:
    return yaml.dump(obj, Dumper=yaml.CSafeDumper, default_flow_style=False, sort_keys=False,
                     allow_unicode=True, width=10**9)


def write(data: Path) -> dict[str, Path]:
    """Write the three dumps of ``data/cluster`` (once; kept when already there)."""
    out = data / "dumps"
    paths = {"list_yaml": out / "list.yaml", "list_json": out / "list.json", "multi_yaml": out / "multi.yaml"}
    if all(p.exists() for p in paths.values()):
        return paths
    out.mkdir(parents=True, exist_ok=True)
    tmp = {k: p.with_suffix(p.suffix + ".tmp") for k, p in paths.items()}
    with open(tmp["list_yaml"], "w", encoding="utf-8") as ly, open(tmp["list_json"], "w", encoding="utf-8") as lj, \
            open(tmp["multi_yaml"], "w", encoding="utf-8") as my:
        ly.write("apiVersion: v1\nitems:\n")
        lj.write('{"apiVersion":"v1","items":[')
        for i, obj in enumerate(_objects(data / "cluster")):
            text = _yaml(obj)
            # a list item in block style: "- " before the first line, two spaces before the rest
            ly.write("- " + text[:-1].replace("\n", "\n  ") + "\n")
            lj.write(("," if i else "") + json.dumps(obj, separators=(",", ":"), ensure_ascii=False))
            my.write("---\n" + text)
        ly.write("kind: List\nmetadata:\n  resourceVersion: \"\"\n")
        lj.write('],"kind":"List","metadata":{"resourceVersion":""}}\n')
    for k, p in paths.items():
        tmp[k].replace(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data", help="a directory gen.py wrote (cluster/ inside)")
    a = ap.parse_args(argv)
    for k, p in write(Path(a.data)).items():
        print(f"{k}: {p} ({p.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
