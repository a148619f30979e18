"""Finding locations from the load-time position index equal the node walk's, path for path.

A fleet audit places ~27,000 findings; since the performance work it reads
their ``file:line:col`` from an index built while the spec was loaded instead
of composing every file again. A user sees those positions in every report,
so the index must agree with the walk it replaces, written paths and missing
ones alike, and step aside where it cannot (merge keys, aliases).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from skewaudit import specfile as sf

ROOT = Path(__file__).resolve().parent.parent

TRICKY = """\
a:
  b.c: 1
  b:
    c: 2
a.b: {c: 3}
x: [1, {y: 2}, [3, 4]]
"0": zero
"k[1]": brackets
dup: 1
dup:
  inner: 2
flow: {p: [1, 2], q: {r: s}}
nvidia.com/gpu: "4"
nvidia: x
seq:
  - name: a
    args: ["--x", "--y=1"]
  -
    - deep
---
second:
  doc: true
"""

QUERIES = ["", "a", "a.b", "a.b.c", "a.b.c.d", "a.b.x", "x", "x[1].y", "x.1.y", "x[5]", "x[2][1]", "0", "k[1]",
           "dup", "dup.inner", "flow.p[1]", "flow.p[3]", "flow.q.r", "nvidia.com/gpu", "nvidia.com", "seq[0].args[1]",
           "seq.0.args.1", "seq[1][0]", "seq[0].name.deeper", "second.doc", "spec.identity.model.tokenizer.revision",
           "spec.operations.orchestration.requests.nvidia.com/gpu", "spec.runtime.engine.args[0]", "metadata.name"]


def _sources() -> list[sf._Source]:
    texts = [("tricky.yaml", TRICKY)]
    texts += [(str(p), p.read_text(encoding="utf-8")) for p in sorted((ROOT / "specs" / "examples").glob("*.yaml"))]
    out = []
    for name, text in texts:
        src = sf._Source(name, text)
        _index(src)
        out.append(src)
    return out


def _index(src: sf._Source) -> None:
    # Built from the composed nodes, as _load_all does: TRICKY repeats a key, which loading
    # refuses (a located error) but the position walk and the index must still agree on.
    import yaml

    src.index.extend(sf._position_index(n) for n in yaml.compose_all(src.text, Loader=yaml.CSafeLoader))


@pytest.mark.parametrize("src", _sources(), ids=lambda s: Path(s.name).name)
def test_indexed_positions_equal_the_node_walk(src: sf._Source) -> None:
    assert src.index and all(ix is not None for ix in src.index)
    for doc, index in enumerate(src.index):
        queries = [*index, *QUERIES, *(q + ".absent" for q in index)]
        for q in queries:
            assert sf._indexed_position(index, q) == src.position(doc, sf.split_path(q)), (src.name, doc, q)


def test_tricky_keys_are_left_to_the_walk() -> None:
    index = sf._Source("t", TRICKY)
    _index(index)
    first = index.index[0]
    # "a.b" names a -> b (the walk takes the shortest key), never the "a.b" key; brackets and
    # repeated keys are not indexed at all
    assert sf._indexed_position(first, "a.b.c") == (4, 8)
    assert "k[1]" not in first and "dup.inner" not in first


def test_merge_keys_and_aliases_fall_back_to_the_walk(tmp_path: Path) -> None:
    spec = (ROOT / "specs" / "examples" / "minimal-piqc.yaml").read_text(encoding="utf-8")
    anchored = spec.replace("  name: llama-3-8b-chat\n", "  name: &n llama-3-8b-chat\n  labels:\n    copy: *n\n", 1)
    assert anchored != spec
    path = tmp_path / "anchored.yaml"
    path.write_text(anchored, encoding="utf-8")
    specs, _warnings = sf.load_paths([str(path)])
    loaded = specs[0]
    assert loaded._source.index == [None]   # an alias: no index, positions come from the nodes
    loc = loaded.location("spec.identity.model.id")
    assert (loc.line, loc.col) == sf._Source(str(path), anchored).position(0, sf.split_path("spec.identity.model.id"))
