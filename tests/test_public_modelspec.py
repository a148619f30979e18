"""The contract with the public ModelSpec format (paralleliq/modelspec, copies in tests/fixtures/public-modelspec).

Every public example is accepted unchanged; under ``piqc.ai/v1alpha1`` skewaudit is at least as strict as the
public JSON Schema and validator, checked with ``jsonschema`` itself on a set of edge-case documents: whatever
skewaudit accepts there, the public validator accepts too. ``skewaudit.io/v1alpha1`` is the superset.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from clirun import main_inprocess as run
from skewaudit.errors import SpecError
from skewaudit.specfile import load_paths

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = ROOT / "tests" / "fixtures" / "public-modelspec"
EXAMPLES = sorted(PUBLIC.glob("*.modelspec.yaml"))
SCHEMA = json.loads((PUBLIC / "modelspec.v0.1.json").read_text())
OWN_PIQC = [ROOT / "specs" / "examples" / "minimal-piqc.yaml", ROOT / "tests" / "fixtures" / "specs" / "piqc-all-fields.yaml",
            ROOT / "tests" / "fixtures" / "specs" / "multi.yaml"]


def public_problems(doc: dict) -> list[str]:
    """What the public validator (tooling/validator/validate.py at the stored commit) reports: schema errors plus
    its one semantic rule. Written from its documented behaviour, independently of skewaudit's code."""
    out = [f"{list(e.absolute_path)}: {e.message}" for e in Draft202012Validator(SCHEMA).iter_errors(doc)]
    model = ((doc.get("spec") or {}).get("identity") or {}).get("model") or {}
    runtime = (doc.get("spec") or {}).get("runtime") or {}
    if model.get("framework") == "vllm" and "maxSequenceLengthTokens" not in (runtime.get("batch", {}) or {}):
        out.append("maxSequenceLengthTokens required for framework=vllm")
    return out


def skewaudit_problems(tmp_path: Path, doc: dict) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        load_paths([str(path)])
    except SpecError as e:
        return [p for p in e.problems if ": warning: " not in p]
    return []


def test_there_are_nine_public_examples_and_the_bundled_schema_is_the_public_one():
    assert len(EXAMPLES) == 9
    bundled = ROOT / "skewaudit" / "data" / "piqc-modelspec.schema.json"
    assert bundled.read_bytes() == (PUBLIC / "modelspec.v0.1.json").read_bytes()


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_public_example_is_accepted_unchanged(monkeypatch, capsys, path):
    doc = yaml.safe_load(path.read_text())
    assert doc["apiVersion"] == "piqc.ai/v1alpha1" and public_problems(doc) == []
    code, out, err = run(monkeypatch, capsys, "validate", path)
    assert (code, err) == (0, ""), out + err
    assert out == f"{path}: ok (1 spec: {doc['metadata']['name']})\n"


@pytest.mark.parametrize("path", OWN_PIQC, ids=[p.name for p in OWN_PIQC])
def test_skewaudits_own_piqc_examples_pass_the_public_schema(path):
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d and d["apiVersion"] == "piqc.ai/v1alpha1"]
    assert docs
    for doc in docs:
        assert public_problems(doc) == []


BASE = yaml.safe_load((PUBLIC / "08-full-production.modelspec.yaml").read_text())


def _with(path: str, value, base: dict = BASE) -> dict:
    doc = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = doc
    for p in parents:
        node = node.setdefault(p, {})
    if value is _DROP:
        node.pop(last, None)
    else:
        node[last] = value
    return doc


_DROP = object()
PIQC_ONLY, BOTH = "piqc-only", "both"
# (dotted path, value, what skewaudit's located message says under piqc.ai/v1alpha1 or None if accepted,
#  and whether the value is refused only under piqc (skewaudit.io/v1alpha1 accepts it) or under both)
EDGES = [
    ("spec.runtime.accelerator.count", 0, "requires at least 1 here, got the number 0", PIQC_ONLY),
    ("spec.runtime.accelerator.count", 2, None, None),
    ("spec.runtime.batch.maxBatchSize", 0, "requires at least 1 here", PIQC_ONLY),
    ("spec.runtime.batch.maxBatchSize", ">=64", "requires an integer here, got the string '>=64'", PIQC_ONLY),
    ("spec.runtime.batch.maxSequenceLengthTokens", 0, "requires at least 1 here", PIQC_ONLY),
    ("spec.runtime.batch.maxSequenceLengthTokens", "32K", "requires an integer here, got the string '32K'", PIQC_ONLY),
    ("spec.runtime.batch.maxSequenceLengthTokens", [4096, 8192], "requires an integer here, got a list", PIQC_ONLY),
    ("spec.runtime.batch.maxSequenceLengthTokens", _DROP, "required when framework is 'vllm'", PIQC_ONLY),
    ("spec.runtime.batch.maxSequenceLengthTokens", None, "requires an integer here, got an empty value", PIQC_ONLY),
    ("spec.identity.model.framework", "vLLM", None, None),      # the public rule compares the exact string 'vllm'
    ("spec.operations.serving.maxConcurrency", 0, "requires at least 1 here", PIQC_ONLY),
    ("spec.operations.serving.maxConcurrency", "<=32", "requires an integer here", PIQC_ONLY),
    ("spec.operations.serving.timeoutSeconds", 60.5, "requires an integer here, got the number 60.5", PIQC_ONLY),
    ("spec.runtime.resources.cpuCores", 1.5, "requires an integer here, got the number 1.5", PIQC_ONLY),
    ("spec.runtime.resources.cpuCores", 16.0, None, None),      # JSON Schema counts 16.0 as an integer
    ("spec.runtime.resources.memoryGb", 127.5, None, None),
    ("spec.runtime.environment.variables.OMP_NUM_THREADS", 8, "requires a string here, got the number 8", PIQC_ONLY),
    ("spec.runtime.environment.variables.OMP_NUM_THREADS", "8", None, None),
    ("metadata.version", 3, "requires a string here, got the number 3", PIQC_ONLY),
    ("metadata.labels.tier", 1.5, "requires a string here, got the number 1.5", PIQC_ONLY),
    ("spec.identity.model.precision", None, "requires a string here, got an empty value", PIQC_ONLY),
    ("spec.runtime.engine", {"name": "vllm"},
     "'engine' is a skewaudit extension, not part of piqc.ai/v1alpha1: set 'apiVersion: skewaudit.io/v1alpha1'",
     PIQC_ONLY),
    ("spec.target", {"namespace": "ml"}, "'target' is a skewaudit extension", PIQC_ONLY),
    ("spec.operations.serving.streaming", True, "'streaming' is a skewaudit extension", PIQC_ONLY),
    ("spec.operations.serving.readinessProbe.periodSeconds", 10, "'periodSeconds' is a skewaudit extension", PIQC_ONLY),
    ("spec.identity.model.revision", "abc123", "'revision' is a skewaudit extension", PIQC_ONLY),
    # Nonsense the public schema lets through (it has no maximum); skewaudit refuses it under both apiVersions.
    ("spec.runtime.accelerator.count", 10**26, "must be at most 2,147,483,647, got a 27-digit number", BOTH),
    ("spec.operations.scaling.maxReplicas", 10**26, "must be at most 2,147,483,647", BOTH),
    ("spec.runtime.resources.memoryGb", float("inf"), "finite number", BOTH),
]
IDS = [f"{p.rsplit('.', 1)[-1]}={v!r:.20}" for p, v, *_ in EDGES]


@pytest.mark.parametrize("path, value, message, scope", EDGES, ids=IDS)
def test_edge_cases_skewaudit_accepts_under_piqc_the_public_validator_accepts(tmp_path, path, value, message, scope):
    doc = _with(path, value)
    got = skewaudit_problems(tmp_path, doc)
    if message is None:
        assert got == [] and public_problems(doc) == []
        return
    assert public_problems(doc) or scope == BOTH
    assert len(got) == 1, got
    where, _, text = got[0].partition(": ")
    assert where.startswith(str(tmp_path / "spec.yaml") + ":") and where.count(":") == 2  # file:line:col
    assert text.startswith(path + ": ") and message in text, text


@pytest.mark.parametrize("path, value, message, scope", EDGES, ids=IDS)
def test_skewaudit_io_is_the_superset(tmp_path, path, value, message, scope):
    got = skewaudit_problems(tmp_path, _with(path, value, _with("apiVersion", "skewaudit.io/v1alpha1")))
    assert (got == []) == (scope != BOTH), got


def test_an_accepted_piqc_document_never_fails_the_public_schema(tmp_path):
    # Every accepted edge case above, and every combination of two of them, is public-valid.
    accepted = [(p, v) for p, v, m, _ in EDGES if m is None]
    for i, (p1, v1) in enumerate(accepted):
        for p2, v2 in accepted[i:]:
            doc = _with(p2, v2, _with(p1, v1))
            if not skewaudit_problems(tmp_path, doc):
                assert public_problems(doc) == [], (p1, v1, p2, v2)


def test_extension_key_error_points_at_the_key(monkeypatch, capsys, tmp_path):
    path = tmp_path / "s.yaml"
    text = (PUBLIC / "00-minimal.modelspec.yaml").read_text().rstrip("\n") + "\n"
    path.write_text(text + "  target:\n    namespace: ml\n")
    code, out, err = run(monkeypatch, capsys, "validate", path)
    assert code == 2
    line = len(text.splitlines()) + 1
    assert err.strip().splitlines() == [
        f"{path}:{line}:3: spec.target: 'target' is a skewaudit extension, not part of piqc.ai/v1alpha1: set "
        "'apiVersion: skewaudit.io/v1alpha1' to use it"]


MANIFEST = PUBLIC / "manifests" / "08-full-production.yaml"


def test_the_full_public_example_diffs_against_its_rendered_deployment(monkeypatch, capsys, tmp_path):
    spec = PUBLIC / "08-full-production.modelspec.yaml"
    code, out, err = run(monkeypatch, capsys, "diff", spec, "--manifest", MANIFEST, "-F", "json")
    by_field = {r["field"]: r["status"] for r in json.loads(out)["results"]}
    for field in ("spec.identity.model.id", "spec.identity.model.precision", "spec.runtime.batch.maxSequenceLengthTokens",
                  "spec.runtime.batch.maxBatchSize", "spec.runtime.accelerator.count", "spec.runtime.accelerator.type",
                  "spec.runtime.environment.variables.VLLM_LOG_LEVEL", "spec.operations.serving.port",
                  "spec.operations.serving.readinessProbe.path", "spec.operations.scaling.maxReplicas",
                  "spec.runtime.resources.cpuCores"):
        assert by_field[field] == "match", (field, by_field)
    drifted = tmp_path / "drifted.yaml"
    drifted.write_text(MANIFEST.read_text().replace("--max-model-len=4096", "--max-model-len=8192"))
    code, out, err = run(monkeypatch, capsys, "diff", spec, "--manifest", drifted, "-F", "json")
    results = {r["field"]: r for r in json.loads(out)["results"]}
    assert code == 1 or results["spec.runtime.batch.maxSequenceLengthTokens"]["level"] != "error"
    assert results["spec.runtime.batch.maxSequenceLengthTokens"]["status"] == "drift"
