"""skewaudit.specfile: loading files, directories and stdin; positions; refusing hostile input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from skewaudit.errors import SpecError
from skewaudit import yamlsafe
from skewaudit.specfile import MAX_BYTES, load_paths, split_path

SPECS = Path(__file__).resolve().parent / "fixtures" / "specs"
EXAMPLES = Path(__file__).resolve().parent.parent / "specs" / "examples"

MINIMAL = """\
apiVersion: skewaudit.io/v1alpha1
kind: ModelSpec
metadata:
  name: {name}
spec:
  identity:
    model: {{id: org/m, family: f, task: chat, framework: vllm}}
  runtime:
    accelerator:
      vendor: nvidia
      type: a100-80gb
      count: 1
"""


def _problems(*paths: str, stdin_text: str | None = None) -> list[str]:
    with pytest.raises(SpecError) as e:
        load_paths(list(paths), stdin_text=stdin_text)
    return e.value.problems


def _write(tmp_path: Path, name: str, text: str | bytes) -> str:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return str(p)


def test_multi_document_file_keeps_document_indexes():
    specs, warnings = load_paths([str(SPECS / "multi.yaml")])
    assert [(s.spec.metadata.name, s.doc_index) for s in specs] == [("first", 0), ("second", 2)]
    assert warnings == []
    loc = specs[1].location("spec.runtime.engine.dtype")
    assert (loc.file, loc.line, loc.col) == (str(SPECS / "multi.yaml"), 22, 14)


def test_location_of_nested_keys_list_items_and_keys_with_dots():
    (s,), _ = load_paths([str(SPECS / "extensions-all-fields.yaml")])
    where = lambda p: (s.location(p).line, s.location(p).col)  # noqa: E731
    assert where("spec.runtime.engine.maxModelLen") == (29, 20)
    assert where("spec.runtime.engine.args[1]") == (36, 31)
    assert where("spec.operations.orchestration.requests.nvidia.com/gpu") == (60, 58)
    assert where("spec.operations.orchestration.requests[nvidia.com/gpu]") == (60, 58)
    assert where("spec.policy.ignore[1].field") == (83, 16)
    # A block mapping points at its key; an unwritten field at its nearest written ancestor.
    assert where("spec.runtime.gpu") == (38, 5)
    assert where("spec.runtime.gpu.nonexistent") == (38, 5)
    assert where("spec.operations.scaling.warmPool.size") == (53, 5)


def test_location_follows_merge_keys(tmp_path):
    text = MINIMAL.format(name="m").replace(
        "  runtime:\n", "  runtime:\n    engine:\n      <<: &e {name: vllm, dtype: bfloat16}\n")
    (s,), _ = load_paths([_write(tmp_path, "merge.yaml", text)])
    assert s.spec.spec.runtime.engine.dtype == "bfloat16"
    assert s.location("spec.runtime.engine.dtype").line == 10


def test_directory_is_recursive_sorted_and_skips_other_yaml():
    specs, warnings = load_paths([str(SPECS / "fleet")])
    assert [(Path(s.file).relative_to(SPECS).as_posix(), s.spec.metadata.name) for s in specs] == [
        ("fleet/a-specs.yaml", "first"), ("fleet/a-specs.yaml", "second"), ("fleet/team-b/c.yml", "third")]
    assert warnings == []


def test_a_manifest_given_as_a_file_is_an_error():
    problems = _problems(str(SPECS / "fleet" / "deployment.yaml"))
    assert problems == [f"{SPECS / 'fleet' / 'deployment.yaml'}:3:7: kind: expected 'ModelSpec', got 'Deployment': "
                        "this is not a ModelSpec document (pass spec files, not manifests)"]


def test_stdin_text():
    specs, _ = load_paths(["-"], stdin_text=MINIMAL.format(name="from-stdin"))
    assert specs[0].file == "<stdin>" and specs[0].spec.metadata.name == "from-stdin"
    assert specs[0].location("spec.runtime.accelerator.count").line == 12


def test_every_problem_in_every_file_is_reported(tmp_path):
    a = _write(tmp_path, "a.yaml", MINIMAL.format(name="a").replace("count: 1", "count: one"))
    b = _write(tmp_path, "b.yaml", MINIMAL.format(name="b").replace("family: f, ", "").replace("vendor", "vendro"))
    assert _problems(a, b, str(tmp_path / "missing.yaml")) == [
        f"{tmp_path / 'missing.yaml'}: no such file or directory",
        f"{a}:12:14: spec.runtime.accelerator.count: expected an integer, got the string 'one'",
        f"{b}:7:5: spec.identity.model.family: required field is missing",
        f"{b}:10:7: spec.runtime.accelerator.vendro: unknown field; did you mean 'vendor'?",
    ]


def test_warnings_are_returned_not_raised(tmp_path):
    text = MINIMAL.format(name="m") + "    batch: {maxSequenceLengthTokens: 32k}\n"
    specs, warnings = load_paths([_write(tmp_path, "w.yaml", text)])
    assert len(specs) == 1
    assert warnings == [f"{tmp_path / 'w.yaml'}:13:38: warning: spec.runtime.batch.maxSequenceLengthTokens: "
                        "32k means 32000 tokens; write 32K or 32768 for 32768"]


def test_directory_without_yaml_or_without_specs(tmp_path):
    (tmp_path / "empty").mkdir()
    _write(tmp_path, "manifests/d.yaml", "apiVersion: v1\nkind: Service\n")
    assert _problems(str(tmp_path / "empty"), str(tmp_path / "manifests")) == [
        f"{tmp_path / 'empty'}: no *.yaml or *.yml files in this directory",
        f"{tmp_path / 'manifests'}: no ModelSpec documents (kind: ModelSpec) in this directory",
    ]


@pytest.mark.parametrize("content, expected", [
    (b"", "1:1: empty file: expected a ModelSpec document (apiVersion, kind, metadata, spec)"),
    (b"# only a comment\n", "1:1: empty file: expected a ModelSpec document (apiVersion, kind, metadata, spec)"),
    (b"- a\n- b\n", "1:1: document 1 is a list, not a mapping; a ModelSpec starts with 'apiVersion:' and "
     "'kind: ModelSpec'"),
    (b"just text\n", "1:1: document 1 is a single value (the string 'just text'), not a mapping; a ModelSpec "
     "starts with 'apiVersion:' and 'kind: ModelSpec'"),
    (b"kind: ModelSpec\nmetadata: {name: x\n", "3:1: YAML syntax error: did not find expected ',' or '}' "
     "(while parsing a flow mapping)"),
    (b"a: b: c\n", "1:5: YAML syntax error: mapping values are not allowed in this context"),
    (b"kind: ModelSpec\n\tmetadata: {}\n", "2:1: YAML syntax error: found a tab character that violates "
     "indentation (while scanning a plain scalar)"),
    (b"\x7fELF\x02\x01\x01\x00\x00", "1:8: binary data (NUL byte): not a YAML text file"),
    (b"kind: ModelSpec\nmetadata: {name: caf\xe9}\n", "2:21: not valid UTF-8 (byte 0xe9); ModelSpec files must be "
     "UTF-8 text"),
    (b"kind: ModelSpec\nx: \x1b[31m\n", "2:4: control character U+001B is not allowed in YAML (binary file?)"),
    (b"\xff\xfek\x00i\x00", "1:1: file is UTF-16 text; save it as UTF-8"),
    (b"kind: !!python/object:os.system x\n", "1:7: YAML syntax error: could not determine a constructor for the "
     "tag 'tag:yaml.org,2002:python/object:os.system'"),
    (b"a: " + b"9" * 5000 + b"\n", "1:4: a 5000-digit integer is beyond any sane value for a spec field"),
])
def test_bad_files_get_one_clear_line(tmp_path, content, expected):
    path = _write(tmp_path, "bad.yaml", content)
    assert _problems(path) == [f"{path}:{expected}" if expected[0].isdigit() else f"{path}: {expected}"]


def test_too_large_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(MAX_BYTES + 1)  # sparse: costs nothing, would be 5 MiB of NULs if read
    assert _problems(str(path)) == [f"{path}: file is too large (5.0 MiB; a ModelSpec file may be at most 5 MiB)"]
    assert _problems("-", stdin_text="a: 1\n" * (MAX_BYTES // 5 + 1)) == [
        "<stdin>: input is too large (more than 5 MiB)"]


BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def test_alias_bomb_is_refused_quickly(tmp_path):
    path = _write(tmp_path, "bomb.yaml", BILLION_LAUGHS)
    start = time.perf_counter()
    problems = _problems(path)
    # Bounded time is the property under test (an expanded bomb takes minutes), not speed: the refusal took 1 s
    # on a loaded 2-core machine, so the bound leaves ample slack.
    assert time.perf_counter() - start < 60.0
    assert problems == [f"{path}:6:8: YAML aliases expand to more than 100000 nodes; refusing to load "
                        "(a 'billion laughs' document?)"]


def test_many_aliases_are_refused(tmp_path):
    text = "x: &x 1\nl: [" + ", ".join(["*x"] * 101) + "]\n"
    path = _write(tmp_path, "aliases.yaml", text)
    assert _problems(path) == [f"{path}:2:405: more than 100 YAML aliases; refusing to expand them (a ModelSpec "
                               "needs few or none; this looks like a 'billion laughs' document)"]


@pytest.mark.parametrize("text, col", [("[" * 300 + "]" * 300, 201), ("- " * 300 + "x\n", 401)])
def test_deep_nesting_is_refused(tmp_path, text, col):
    path = _write(tmp_path, "deep.yaml", text)
    assert _problems(path) == [f"{path}:1:{col}: YAML nesting is deeper than 200 levels; refusing to load"]


def test_a_few_aliases_are_fine(tmp_path):
    text = MINIMAL.format(name="m").replace("model: {", "model: &m {") + "  pipeline:\n    dependencies:\n" \
        "      - {id: x, role: custom, interface: {inputType: *m}}\n"
    # The alias puts a mapping where a string belongs: a normal type error, not a refusal.
    path = _write(tmp_path, "alias.yaml", text)
    assert _problems(path) == [f"{path}:15:43: spec.pipeline.dependencies[0].interface.inputType: expected a "
                               "string, got a mapping"]


def test_split_path():
    assert split_path("spec.a[2].b") == ["spec", "a", 2, "b"]
    assert split_path("requests[nvidia.com/gpu]") == ["requests", "nvidia.com/gpu"]


def test_secret_values_never_appear_in_messages(tmp_path):
    text = MINIMAL.format(name="m") + "    environment: 'HF_TOKEN=hf_abcdefghijklmnopqrstuvwx'\n"
    (problem,) = _problems(_write(tmp_path, "s.yaml", text))
    assert "hf_abcdefghijklmnopqrstuvwx" not in problem
    assert "expected a mapping (key: value), got the string 'HF_TOKEN=<redacted:" in problem


def test_a_thousand_specs_load(tmp_path):
    for i in range(1000):
        (tmp_path / f"s{i:04}.yaml").write_text(MINIMAL.format(name=f"m{i}"))
    specs, _ = load_paths([str(tmp_path)])
    assert len(specs) == 1000  # speed is measured by benchmarks/, not asserted here


def hazard(text: str, **kw) -> str | None:
    try:
        yamlsafe.check(text, **kw)
    except yamlsafe.Refused as e:
        return f"{e.line}:{e.col}: {e.text}"
    return None


def test_yamlsafe_for_every_reader_of_untrusted_yaml():
    assert hazard("a: " + "[" * 300 + "]" * 300) == "1:203: YAML nesting is deeper than 200 levels; " \
        "refusing to load"
    assert hazard(BILLION_LAUGHS).startswith("6:8: YAML aliases expand to more than 100000 nodes")
    assert hazard(MINIMAL.format(name="ok")) is None
    assert hazard("k: v\n" * 250 + "a: b: c\n") is None  # a syntax error: the loader reports it
    # A big file without aliases (a kubectl dump) is fine for manifests, refused for a spec file.
    big = "items:\n" + "- {a: 1, b: 2}\n" * 40_000
    assert hazard(big) is None
    assert "more than 100000 YAML nodes" in hazard(big, limit_plain_nodes=True)