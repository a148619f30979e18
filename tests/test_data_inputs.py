"""Data-skew inputs: Parquet read in bounded batches whatever the row-group size, and profile
files read within the run's one input limit (``--max-input-bytes``)."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from clirun import main_inprocess

from skewaudit.dataskew import readers


def _table(n: int) -> pa.Table:
    rng = np.random.default_rng(4)
    return pa.table({"x": rng.normal(0, 1, n), "c": np.array(["a", "b", "c"])[rng.integers(0, 3, n)]})


def test_a_single_huge_row_group_is_read_in_bounded_batches(tmp_path, monkeypatch):
    # One row group of 50,000 rows: the batches stay at the batch size, not the row group's.
    monkeypatch.setattr(readers, "BATCH_ROWS", 4_096)
    pq.write_table(_table(50_000), tmp_path / "one.parquet", row_group_size=50_000)
    assert pq.ParquetFile(tmp_path / "one.parquet").num_row_groups == 1
    sizes = [b.num_rows for b in readers.batches(readers.resolve(str(tmp_path / "one.parquet")))]
    assert sum(sizes) == 50_000 and max(sizes) <= 4_096 and len(sizes) >= 13


def test_reading_holds_one_batch_in_memory_not_the_row_group(tmp_path, monkeypatch):
    # Arrow's own allocation count (not timing, not RSS): reading a 200,000-row row group in
    # 4,096-row batches must never hold the decoded row group (the dataset scanner did: ~1.1x it).
    monkeypatch.setattr(readers, "BATCH_ROWS", 4_096)
    rng = np.random.default_rng(1)
    n = 200_000
    t = pa.table({"x": rng.normal(0, 1, n), "s": pa.array(["word " * int(k) for k in rng.integers(5, 30, n)])})
    pq.write_table(t, tmp_path / "one.parquet", row_group_size=n)
    decoded = t.nbytes
    del t
    base, peak = pa.total_allocated_bytes(), 0
    for _b in readers.batches(readers.resolve(str(tmp_path / "one.parquet"))):
        peak = max(peak, pa.total_allocated_bytes() - base)
    assert 0 < peak < decoded / 3, (peak, decoded)


def test_hive_partition_values_and_column_subsets_survive_batched_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "BATCH_ROWS", 1_000)
    for region, n in (("us", 3_000), ("eu", 2_000)):
        (tmp_path / f"region={region}").mkdir()
        pq.write_table(_table(n), tmp_path / f"region={region}" / "part-0.parquet")
    src = readers.resolve(str(tmp_path))
    rows: dict[str, int] = {}
    for b in readers.batches(src, ["c", "region"]):
        assert b.schema.names == ["c", "region"] and b.num_rows <= 1_000
        for region, count in zip(*np.unique(b.column("region").to_numpy(zero_copy_only=False), return_counts=True)):
            rows[region] = rows.get(region, 0) + int(count)
    assert rows == {"us": 3_000, "eu": 2_000}


def test_profile_files_are_read_within_max_input_bytes(tmp_path, monkeypatch, capsys):
    pq.write_table(_table(2_000), tmp_path / "d.parquet")
    code, _out, err = main_inprocess(monkeypatch, capsys, "profile", tmp_path / "d.parquet", "-o",
                                     tmp_path / "d.profile")
    assert code == 0, err
    size = (tmp_path / "d.profile").stat().st_size
    assert size > 4096
    # Over the limit: exit 2, one line naming the file and the flag, for data-diff and profile merge alike.
    for args in (["data-diff", tmp_path / "d.profile", tmp_path / "d.profile"],
                 ["profile", "merge", tmp_path / "d.profile"]):
        code, _out, err = main_inprocess(monkeypatch, capsys, *args, "--max-input-bytes", "4096")
        assert code == 2, (args, err)
        assert "d.profile" in err and "--max-input-bytes" in err and len(err.strip().splitlines()) == 1, err
    # The environment variable sets the same limit; a limit above the size reads it.
    monkeypatch.setenv("SKEWAUDIT_MAX_INPUT_BYTES", "4096")
    code, _out, err = main_inprocess(monkeypatch, capsys, "data-diff", tmp_path / "d.profile", tmp_path / "d.profile")
    assert code == 2 and "--max-input-bytes" in err
    code, out, err = main_inprocess(monkeypatch, capsys, "data-diff", tmp_path / "d.profile", tmp_path / "d.profile",
                                    "--max-input-bytes", str(size + 1), "--format", "json")
    assert code == 0, err
    assert json.loads(out)["summary"]["drift"] == 0
