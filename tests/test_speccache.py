"""Parsed spec files kept between runs (skewaudit.speccache): what a run loads from the cache is what
parsing gives (specs, positions, problems, warnings), and nothing corrupt or foreign is ever used."""

from __future__ import annotations

import os
import re
from pathlib import Path

import msgspec
import pytest

from skewaudit import speccache, specfile
from skewaudit.errors import SpecError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*.yaml"))
FIELDS = ["metadata.name", "spec.runtime.engine.dtype", "spec.runtime.engine.args[1]", "spec.identity.model.id",
          "spec.operations.orchestration.requests.nvidia.com/gpu", "spec.not.written"]


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Twelve spec files (the examples, and copies of the first under other names) and a private cache home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(speccache.DISABLE_ENV, raising=False)
    from skewaudit.redact import _key

    _key.key()   # the installation's key exists after any first run; the cache's MAC key derives from it
    d = tmp_path / "specs"
    d.mkdir()
    for p in EXAMPLES:
        (d / p.name).write_text(p.read_text(encoding="utf-8"), encoding="utf-8")
    text = EXAMPLES[0].read_text(encoding="utf-8")
    for i in range(12 - len(EXAMPLES)):
        (d / f"copy-{i:02d}.yaml").write_text(re.sub(r"(?m)^  name: .*$", f"  name: copy-{i:02d}", text, count=1),
                                             encoding="utf-8")
    return d


def cache_file() -> Path:
    return Path(speccache.cache_dir()) / speccache.FILE


def seen(specs: list) -> list:
    """What a report shows of loaded specs: their values and where each field is written."""
    return [(s.file, s.doc_index, s.spec.model_dump(mode="json"), [s.location(f) for f in FIELDS]) for s in specs]


def parse_never(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*a, **k):
        raise AssertionError("parsed although the cache holds this text")
    monkeypatch.setattr(specfile, "_load_all", fail)


def test_a_second_run_reads_the_cache_and_sees_exactly_what_parsing_gave(fleet: Path, monkeypatch) -> None:
    first, warnings = specfile.load_paths([str(fleet)])
    assert len(first) == 12
    f = cache_file()
    assert f.stat().st_mode & 0o777 == 0o600 and f.parent.stat().st_mode & 0o777 == 0o700
    parse_never(monkeypatch)
    second, warnings2 = specfile.load_paths([str(fleet)])
    assert seen(second) == seen(first) and warnings2 == warnings


def test_problems_and_their_positions_are_computed_afresh(fleet: Path, monkeypatch) -> None:
    bad = fleet / "copy-00.yaml"
    bad.write_text(bad.read_text(encoding="utf-8").replace("dtype: bfloat16", "dtype: bfloat17")
                   .replace("tensorParallelSize: 4", "tensorParallelSize: four"), encoding="utf-8")
    with pytest.raises(SpecError) as one:
        specfile.load_paths([str(fleet)])
    parse_never(monkeypatch)
    with pytest.raises(SpecError) as two:
        specfile.load_paths([str(fleet)])
    assert str(two.value) == str(one.value) and "copy-00.yaml:" in str(one.value)


def test_a_changed_file_is_parsed_again(fleet: Path) -> None:
    specfile.load_paths([str(fleet)])
    f = fleet / "copy-01.yaml"
    f.write_text(f.read_text(encoding="utf-8").replace("name: copy-01", "name: renamed"), encoding="utf-8")
    specs, _ = specfile.load_paths([str(fleet)])
    assert "renamed" in {s.spec.metadata.name for s in specs}


def _rewrite_entries(change) -> None:
    pack = msgspec.msgpack.decode(cache_file().read_bytes(), type=speccache._Pack)
    for digest, e in list(pack.entries.items()):
        pack.entries[digest] = change(e)
    cache_file().write_bytes(msgspec.msgpack.encode(pack))


@pytest.mark.parametrize("how", ["values changed, old mac", "mac of another key", "truncated body"])
def test_a_tampered_or_corrupt_entry_is_ignored(fleet: Path, monkeypatch, how: str) -> None:
    first, _ = specfile.load_paths([str(fleet)])

    def change(e: speccache._Entry) -> speccache._Entry:
        body = msgspec.msgpack.decode(e.body, type=speccache._Body)
        body.docs[0]["metadata"]["name"] = "planted"
        forged = msgspec.msgpack.encode(body)
        if how == "values changed, old mac":
            return speccache._Entry(e.mac, forged)
        if how == "mac of another key":
            import hashlib
            import hmac
            return speccache._Entry(hmac.new(b"guess", forged, hashlib.sha256).digest(), forged)
        return speccache._Entry(e.mac, e.body[: len(e.body) // 2])

    _rewrite_entries(change)
    second, _ = specfile.load_paths([str(fleet)])
    assert "planted" not in {s.spec.metadata.name for s in second}
    assert seen(second) == seen(first)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_damaged_cache_file_is_ignored_silently_and_replaced(fleet: Path, capsys, damage: str) -> None:
    first, _ = specfile.load_paths([str(fleet)])
    data = cache_file().read_bytes()
    cache_file().write_bytes({"garbage": os.urandom(4096), "truncated": data[: len(data) // 3], "empty": b""}[damage])
    second, _ = specfile.load_paths([str(fleet)])
    assert seen(second) == seen(first) and capsys.readouterr().err == ""
    assert msgspec.msgpack.decode(cache_file().read_bytes(), type=speccache._Pack).entries   # whole again


def test_a_cache_others_can_write_is_neither_read_nor_written(fleet: Path, monkeypatch) -> None:
    first, _ = specfile.load_paths([str(fleet)])
    cache_file().chmod(0o666)
    before = cache_file().read_bytes()
    parsed = []
    real = specfile._load_all
    monkeypatch.setattr(specfile, "_load_all", lambda *a, **k: parsed.append(1) or real(*a, **k))
    second, _ = specfile.load_paths([str(fleet)])
    assert len(parsed) == 12 and seen(second) == seen(first)
    assert cache_file().read_bytes() == before and cache_file().stat().st_mode & 0o777 == 0o666


def test_values_that_are_not_plain_are_not_cached(fleet: Path, monkeypatch) -> None:
    f = fleet / "copy-02.yaml"
    text = f.read_text(encoding="utf-8")
    f.write_text(text.rstrip("\n") + "\n        expires: 2999-01-01\n", encoding="utf-8")   # the last ignore's
    first, _ = specfile.load_paths([str(fleet)])
    expires = next(s for s in first if s.file.endswith("copy-02.yaml")).spec.spec.policy.ignore[-1].expires
    pack = msgspec.msgpack.decode(cache_file().read_bytes(), type=speccache._Pack)
    assert len(pack.entries) == 11   # the file holding a date (YAML timestamp) is parsed every time
    second, _ = specfile.load_paths([str(fleet)])
    assert seen(second) == seen(first) and str(expires) == "2999-01-01"


def test_turned_off_nothing_is_written(fleet: Path, monkeypatch) -> None:
    monkeypatch.setenv(speccache.DISABLE_ENV, "1")
    specfile.load_paths([str(fleet)])
    assert not cache_file().exists()
