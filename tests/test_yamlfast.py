"""The compiled YAML fast path (``skewaudit.yamlfast``) reads every document exactly as the PyYAML
path (``yamlsafe.load_document``) does, or declines it: a differential test on a corpus of tricky
documents and on generated ones, plus the guards and warnings seen from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clirun import skewaudit
from skewaudit import yamlfast, yamlsafe

pytestmark = pytest.mark.skipif(yamlfast.yaml_rs is None, reason="yaml-rs is not installed")


def _pyyaml(text: str) -> tuple:
    """What the PyYAML path gives: ('ok', value, duplicate keys?) or ('error',)."""
    try:
        yamlsafe.check(text)
        doc, dups = yamlsafe.load_document(text)
    except (yaml.YAMLError, yamlsafe.Refused):
        return ("error",)
    return ("ok", doc, bool(dups))


def _same(text: str) -> bool:
    """The fast path declined, or gave what PyYAML gives (types included: 1 is not True) with no
    duplicate-key warning owed."""
    fast = yamlfast.load(text)
    if fast is yamlfast.MISS:
        return True
    ref = _pyyaml(text)
    return ref[0] == "ok" and not ref[2] and repr(fast) == repr(ref[1]) and fast == ref[1]


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: llama-0
  namespace: serving
  uid: 306889e1-6fd1-81c2-f3ea-97bcb6a36320
  resourceVersion: '23518825'
  creationTimestamp: '2025-06-10T04:26:11Z'
  labels:
    app: llama
    pod-template-hash: 5f0ec7e0
  annotations:
    prometheus.io/scrape: 'true'
    k8s.v1.cni.cncf.io/network-status: "[\\n    {\\n        \\"name\\": \\"aws-cni\\",\\n        \\"default\\": true\\n    }\\n]"
  managedFields:
  - manager: kube-controller-manager
    operation: Update
    time: '2025-06-04T08:09:06Z'
    fieldsV1:
      f:metadata:
        .: {}
        f:labels:
          .: {}
          f:app: {}
      f:spec:
        f:containers:
          k:{"name":"vllm"}:
            .: {}
            f:args: {}
spec:
  nodeName: gpu-node-7
  containers:
  - name: vllm
    image: vllm/vllm-openai:v0.6.3
    args:
    - --max-model-len=8192
    - --gpu-memory-utilization=0.90
    - --tensor-parallel-size
    - '2'
    ports:
    - containerPort: 8000
      protocol: TCP
    resources:
      limits:
        nvidia.com/gpu: 2
        memory: 64Gi
        cpu: 500m
    env:
    - name: RATIO
      value: '0.5'
    - name: EMPTY
      value: ''
    securityContext: {}
    volumeMounts: []
status:
  phase: Running
  podIP: 10.94.144.97
  startTime: '2025-06-10T04:26:11Z'
  containerStatuses:
  - name: vllm
    ready: true
    restartCount: 0
    imageID: docker.io/vllm/vllm-openai@sha256:89b45af621a0533d74b3a4e7537f26b7659bc06ff52593499ba370639290a982
  weight: -1.5
  ratio: 2.5e+3
  none: null
  tilde: ~
  block: |
    line one
    two: lines
  folded: >-
    folded
    text
"""


def test_machine_written_documents_take_the_fast_path_and_read_the_same() -> None:
    for text in (POD, " " + POD.replace("\n", "\n ")[:-1], POD.replace("'true'", '"true"')):
        fast = yamlfast.load(text)
        assert fast is not yamlfast.MISS
        assert _pyyaml(text) == ("ok", fast, False)
    assert fast["metadata"]["managedFields"][0]["fieldsV1"]["f:spec"]["f:containers"]['k:{"name":"vllm"}'] == \
        {".": {}, "f:args": {}}
    assert fast["status"]["containerStatuses"][0]["restartCount"] == 0
    assert fast["metadata"]["annotations"]["prometheus.io/scrape"] == "true"


def test_managed_fields_parsed_once_still_read_the_same() -> None:
    second = POD.replace("llama-0", "llama-1").replace("10.94.144.97", "10.94.144.98")
    a, b = yamlfast.load(POD), yamlfast.load(second)
    assert a["metadata"]["managedFields"] == b["metadata"]["managedFields"] == \
        _pyyaml(second)[1]["metadata"]["managedFields"]
    assert _pyyaml(second) == ("ok", b, False)


# Every line is a document (or a fragment of one) where YAML 1.1 and 1.2, libyaml and yaml-rs,
# or PyYAML's duplicate-key check and yaml-rs's could part ways.
CORPUS = [
    # plain scalars YAML 1.1 reads otherwise than YAML 1.2
    "a: on", "a: Off", "a: yes", "a: NO", "a: y", "a: 0777", "a: -017", "a: 0o17", "a: 0b101", "a: 0B1",
    "a: 0x1F", "a: 0X1F", "a: +0x1F", "a: 1_000", "a: _1", "a: 1__0", "a: 12:30", "a: 1:30:00", "a: 12:30:45.5",
    "a: 1e3", "a: 1.0e3", "a: 1.0e+3", "a: 1E-3", "a: .5", "a: -.5", "a: +.5", "a: 1.", "a: .inf", "a: -.Inf",
    "a: .iNf", "a: .NaN", "a: .nan", "a: nan", "a: =", "a: ~", "a: null", "a: NULL", "a: nULL", "a: True",
    "a: tRUE", "a: 2024-01-01", "a: 2024-01-01T00:00:00Z", "a: 2024-13-45", "a: 12345678901234567890",
    "a: " + "9" * 5000, "a: 1.7976931348623159e+309", "a: -0", "a: -0.0", "a: +1", "a: 10.0.0.1", "a: 3.3.4",
    "a: 0.90", "a: 100m", "a: 64Gi", "a: 1e", "a: 0x", "a: --port=8000", "a: [1, on, 0777, 1e3, 12:30]",
    "a: {b: on, c: 1e3}", "[on, off, 017]", "on", "1e3", "- yes\n- 1_0",
    # keys
    "1: a\n'1': b", "true: a\n'true': b", "null: a\n~: b", "1: a\n2.5: b\ntrue: c\nnull: d", "on: 1", "0777: x",
    "a: 1\na: 2", "a: 1\n'a': 2", "a: 1\n\"a\": 2", "a:\n  b: 1\n  b: 2", "[a, b]: c", "{a: b}: c", "? a\n: b",
    "[a,\n b]: c", "a: {[b]: c}", "a: [{b}: c]", "x" * 1100 + ": 1", "k: " + "'" + "x" * 2000 + "'",
    # anchors, aliases, merge keys, tags
    "a: &x 1\nb: *x", "a: &x {b: 1}\nc:\n  <<: *x\n  d: 2", "<<: {a: 1}", "a: !!str 1", "a: !!int '1'",
    "a: !custom x", "a: !!binary aGk=", "a: !!timestamp 2024-01-01", "a: !!set {b}", "%YAML 1.1\n---\na: 1",
    "a: *undefined",
    # syntax the two parsers may accept differently
    "a:\tb", "\ta: b", "a: b\tc", "a: \x85b", "a: b\u2028c", "a: \x01", "a: b\x7f", "a: \ufeffb", "a: 1\n---\nb: 2",
    "a: 1\n...\n", "--- a: 1", "{a:1}", '{"a":1}', '{"a":on}', '{"a":1e3}', "[a:1]", "[a: 1]", "a: [1,\n2]",
    "a: [1,\n  2]", "a: b: c", "a: b#c", "a: \"x\\/y\"", 'a: "\\e\\0\\a\\N\\_\\L\\P"', 'a: "\\x41\\u0042"',
    'a: "\\q"', 'a: "\\ud800"', "a: 'x''y'", "a: 'multi\n  line'", 'a: "multi\n  line\\\n  x"', "a: plain\n  cont",
    "a: plain\n# c\n  more", "a: |\n  x\n b", "a: |2\n   x", "a: >\n\n  x\n", "a: |+\n  x\n\n", "a: |-\n  x\n\n",
    "a: >-\n  a\n\n  b\n   c\n  d", "- - - x", "- - x\n  - y", "a: -", "a: --", "a:  # c\n  b", 'a: "x"y',
    "a: [ ]", "a: { }", "a: {,}", "a: [,]", "a: [a,,b]", "a: {a: 1,}", "a: [1, 2,]", "a: [-1, -x, - y]",
    "a: [? x : y]", "a\n: b", "a: b\n  c: d", ": x", "a: 'x", 'a: "x', "a: [b", "a: {b", "", "# only a comment",
    "a:", "a: ''", "- a: 1\n  b: 2\n- c", "a:\n- 1\n- 2\nb: 3",
    # keys and scalars over several lines, comments, indentation
    '"a\n b": c', "'a\n b': c", 'x:\n  "a\n  b": c', "a\n b: c", "{a: 1,\n b: 2}", "a: [b,\n c]: d",
    '- "a\n  b": c', 'a: "b\n\nc"', "a: 'b\n  - c'", "a: b\n- c", "- a\n b: c", "a:\n - b\n c: d",
    "a: 'x'\n  b: c", "a: |\n  x\n  b: c\n d: e", "a: 1 # c\nb: 2", "a: 1 #c\n#d\nb: 2", "a: b\n  # c\n  d",
    'a: "\\\n  x"', 'a: "\\x85\\u2028"', '"a": b\n"a": c', "a: !", "a: &", "a: *", "a: b\n--- \n",
    "a: x\n  ---\n", "\n\n\na: 1\n\n", " a: 1\n b: 2", "  a: 1\n b: 2", "a: 1\n  b: 2",
    # nesting: within the bound, past it, and past what libyaml survives
    "a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 60)) + "  " * 60 + "v: 1",
    "a: " + "[" * 150 + "]" * 150, "a: " + "[" * 300 + "]" * 300, "a: " + "{b: " * 80 + "1" + "}" * 80,
    # an alias bomb
    "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: &d [*c, *c]\ne: &e [*d, *d]\nf: [*e, *e]",
]


@pytest.mark.parametrize("text", CORPUS, ids=range(len(CORPUS)))
def test_corpus_reads_as_pyyaml_reads_it_or_is_declined(text: str) -> None:
    assert _same(text)


def test_corpus_is_not_all_declined() -> None:
    # the guard above passes trivially if everything is declined: plain documents must not be
    taken = [t for t in CORPUS if yamlfast.load(t) is not yamlfast.MISS]
    assert {"a: -0", "a: 0.90", "a: 64Gi", "a: 10.0.0.1", "a: 1.0e+3", "a: null", "a: ~", "a: True",
            "a: 2024-01-01", "a: |-\n  x\n\n", "a: [1, 2,]"} <= set(taken)
    for declined in ("a: on", "a: 0777", "a: 1e3", "a: 12:30", "1: a\n'1': b", "a: &x 1\nb: *x", "<<: {a: 1}",
                     "a:\tb", "a: b\u2028c", "[a, b]: c", "a: 1\na: 2", "a: " + "9" * 5000):
        assert declined not in taken


# generated documents: block mappings and sequences of tokens from the risky classes, plain or quoted
_TOKENS = st.sampled_from([
    "on", "off", "yes", "No", "y", "true", "False", "null", "~", "", "=", "<<", "0", "7", "-3", "+4", "017",
    "0o17", "0x1f", "0b1", "1_0", "1e3", "1.5", "-2.5e+3", ".5", "-.5", "1.", ".inf", ".NaN", "12:30", "1:2:3",
    "10.0.0.1", "64Gi", "500m", "2024-01-01", "v0.6.3", "a b", "x#y", "x # c", "-x", "--f=1", "k:{\"a\":1}",
    "[]", "{}", "[1, on]", "{a: 017}", "'q'", '"q"', "'on'", '"1e3"', "&a x", "*a", "!!str 1", "? x",
])
_KEYS = st.sampled_from(["a", "b", "on", "1", "'1'", "true", "null", "k:{\"a\":1}", "0777", "x y", "a"])


@st.composite
def _documents(draw) -> str:
    lines, indent = [], 0
    for _ in range(draw(st.integers(1, 12))):
        shape = draw(st.sampled_from(["kv", "kv", "key", "item", "dedent"]))
        pad = " " * indent
        if shape == "kv":
            lines.append(f"{pad}{draw(_KEYS)}: {draw(_TOKENS)}")
        elif shape == "key":
            lines.append(f"{pad}{draw(_KEYS)}:")
            indent += 2
        elif shape == "item":
            lines.append(f"{pad}- {draw(_TOKENS)}")
        elif indent:
            indent -= 2
    return "\n".join(lines) + "\n"


# derandomize, no example database: the same 300 documents on every run, whatever ran first (tests/test_fuzz.py
# loads a profile process-wide at import) and in a read-only or fresh checkout (no .hypothesis/ written)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True,
          database=None)
@given(_documents())
def test_generated_documents_read_the_same(text: str) -> None:
    assert _same(text)


# --- from the command line ---------------------------------------------------------------------

def _pod(name: str, extra: str = "") -> str:
    return (f"- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {name}\n    namespace: serving\n{extra}"
            "  spec:\n    containers:\n    - name: vllm\n      image: vllm/vllm-openai:v0.6.3\n")


def test_list_items_yaml1_1_values_and_duplicates_keep_their_meaning(tmp_path: Path) -> None:
    dump = tmp_path / "pods.yaml"
    dump.write_text("apiVersion: v1\nitems:\n" + _pod("a") + _pod("b", "    labels:\n      x: on\n      x: off\n")
                    + "kind: List\n")
    r = skewaudit("collect", "--manifest", dump, "--format", "json")
    assert r.code == 0, r.err
    again = dump.read_text().split("\n").index("      x: off") + 1
    assert "duplicate key 'x'" in r.err and f"{dump}:{again}:7:" in r.err   # warned, on the item's own line
    assert r.err.count("duplicate key") == 1


@pytest.mark.parametrize("item, message", [
    ("    labels: &a [" + ", ".join(["x"] * 10) + "]\n" + "".join(
        f"    {k}: &{k} [" + ", ".join([f"*{p}"] * 10) + "]\n" for p, k in zip("abcde", "bcdef")), "aliases"),
    ("    labels: " + "[" * 250 + "]" * 250 + "\n", "nesting is deeper than 200"),
])
def test_list_items_past_the_guards_are_still_refused(tmp_path: Path, item: str, message: str) -> None:
    dump = tmp_path / "pods.yaml"
    dump.write_text("apiVersion: v1\nitems:\n" + _pod("a") + _pod("b", item) + "kind: List\n")
    r = skewaudit("collect", "--manifest", dump, "--format", "json")
    assert r.code == 2 and message in r.err and r.err.startswith(f"error: {dump}:")


def test_yaml_and_json_lists_give_the_same_report(tmp_path: Path) -> None:
    objs = [yaml.safe_load(_pod(f"p{i}")[2:].replace("\n  ", "\n")) for i in range(3)]
    (tmp_path / "l.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    (tmp_path / "l.yaml").write_text(yaml.safe_dump({"apiVersion": "v1", "items": objs, "kind": "List"},
                                                    sort_keys=False))
    out = [json.loads(skewaudit("collect", "--manifest", tmp_path / f, "--format", "json").out)
           for f in ("l.json", "l.yaml")]
    for o in out:
        o.pop("collected_at", None)
        o.pop("inputs", None)
    assert out[0] == out[1] and out[0]["workloads"]
