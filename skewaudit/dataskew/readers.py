"""Stream tabular data as Arrow record batches: Parquet, CSV, JSON Lines, stdin.

The only owner of ``pyarrow`` (imported lazily: the data extra is optional and
heavy). Every reader yields bounded record batches, so a profile of any number
of rows runs in memory set by the batch size, never by the file size. Parquet
paths may be single files, directories or hive-partitioned trees (read with
``pyarrow.dataset``). A corrupt or unreadable input raises ``InputError``
naming the file, never a traceback.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from skewaudit.errors import InputError

BATCH_ROWS = 65_536
READ_BUFFER_BYTES = 1 << 20    # Parquet pages stream through this buffer (not whole column chunks)
BLOCK_BYTES = 8 << 20          # CSV / JSON Lines block size: bounds the memory of one batch
FORMATS = ("parquet", "csv", "jsonl")


def require_pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise InputError("data skew needs the 'data' extra: pip install 'skewaudit[data]' (pyarrow, datasketches)") \
            from None
    return pyarrow


@dataclass(frozen=True)
class Source:
    """One data input as given on the command line, with its resolved format."""

    path: str                   # '-' for stdin
    fmt: str

    @property
    def label(self) -> str:
        return "<stdin>" if self.path == "-" else self.path


def resolve(path: str, fmt: str | None = None) -> Source:
    """Pick the reader from ``fmt`` or the file name; a directory is Parquet (hive layout allowed)."""
    if fmt is not None and fmt not in FORMATS:
        raise InputError(f"--input-format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if path == "-":
        return Source(path, fmt or "jsonl")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{path}: no such file or directory")
    if fmt:
        return Source(path, fmt)
    if p.is_dir():
        return Source(path, "parquet")
    name = p.name.lower()
    for suffix in (".gz", ".bz2", ".zst"):
        name = name.removesuffix(suffix)
    if name.endswith((".parquet", ".pq")):
        return Source(path, "parquet")
    if name.endswith((".csv", ".tsv")):
        return Source(path, "csv")
    if name.endswith((".jsonl", ".ndjson", ".json")):
        return Source(path, "jsonl")
    raise InputError(f"{path}: cannot tell the data format from the name; add --input-format parquet|csv|jsonl")


def batches(src: Source, columns: list[str] | None = None) -> Iterator[Any]:
    """Yield ``pyarrow.RecordBatch`` objects of at most ``BATCH_ROWS`` rows from one source."""
    pa = require_pyarrow()
    try:
        if src.fmt == "parquet":
            yield from _parquet(src, columns)
        elif src.fmt == "csv":
            yield from _text_reader(src, columns, csv=True)
        else:
            yield from _text_reader(src, columns, csv=False)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise InputError(f"{src.label}: cannot read {src.fmt} data: {_one_line(e)}") from None


def fragments(src: Source) -> list[str]:
    """The independently readable pieces of a source (Parquet files), for parallel profiling."""
    if src.fmt != "parquet" or src.path == "-":
        return [src.path]
    p = Path(src.path)
    if p.is_file():
        return [src.path]
    return sorted(str(f) for f in p.rglob("*") if f.is_file() and not f.name.startswith((".", "_")))


def _parquet(src: Source, columns: list[str] | None) -> Iterator[Any]:
    import pyarrow.dataset as ds

    # The dataset finds the files (hive partitions too) and the partition values of each; the rows
    # are read file by file with ``parquet_batches``. Not the dataset's scanner: it decodes a whole
    # row group before slicing it into batches (peak memory then grows with the writer's row-group
    # size: 742 MB at 250,000-row groups), where the file reader decodes one batch at a time.
    dataset = ds.dataset(src.path, format="parquet", partitioning="hive",
                         exclude_invalid_files=False, ignore_prefixes=[".", "_"])
    _check_columns(src, columns, dataset.schema.names)
    for frag in dataset.get_fragments():
        keys = ds.get_partition_keys(frag.partition_expression) or {}
        part = {k: (dataset.schema.field(k).type, v) for k, v in keys.items() if columns is None or k in columns}
        wanted = [c for c in columns if c not in part] if columns is not None else None
        try:
            yield from parquet_batches(frag.path, columns=wanted, partition=part, order=columns)
        except (OSError, ValueError) as e:   # name the piece of a directory that failed
            raise InputError(f"{frag.path}: cannot read parquet data: {_one_line(e)}") from None


def parquet_batches(path: str, *, row_groups: list[int] | None = None, columns: list[str] | None = None,
                    partition: dict[str, tuple[Any, Any]] | None = None,
                    order: list[str] | None = None) -> Iterator[Any]:
    """Record batches of at most ``BATCH_ROWS`` rows of one Parquet file (some of its row groups),
    decoded one batch at a time, with ``partition`` values (name: (type, value)) as constant columns.

    Memory is bounded by the batch, not by the file's row groups: pages are read through a
    ``READ_BUFFER_BYTES`` buffer rather than a whole column chunk at once, without pre-buffering,
    on one thread (Arrow's threaded decoding spends ~3x the CPU for the same batches, which a
    2-core machine pays in wall time; parallel profiling is ``--jobs`` and ``--dask``'s job)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)
    for b in pf.iter_batches(batch_size=BATCH_ROWS, row_groups=row_groups, columns=columns, use_threads=False):
        if not b.num_rows:
            continue
        if partition:
            names, arrays = list(b.schema.names), list(b.columns)
            for k, (typ, v) in partition.items():
                names.append(k)
                arrays.append(pa.array([v] * b.num_rows, type=typ) if v is not None else pa.nulls(b.num_rows, typ))
            b = pa.RecordBatch.from_arrays(arrays, names=names)
            if order is not None:
                b = b.select(order)
        yield b


def _text_reader(src: Source, columns: list[str] | None, csv: bool) -> Iterator[Any]:
    import pyarrow as pa

    stream: Any = sys.stdin.buffer if src.path == "-" else src.path
    if csv:
        import pyarrow.csv as pcsv

        delim = "\t" if src.path.lower().removesuffix(".gz").endswith(".tsv") else ","
        reader = pcsv.open_csv(stream, read_options=pcsv.ReadOptions(block_size=BLOCK_BYTES),
                               parse_options=pcsv.ParseOptions(delimiter=delim),
                               convert_options=pcsv.ConvertOptions(include_columns=columns or None,
                                                                   strings_can_be_null=True))
    else:
        import pyarrow.json as pjson

        if stream is not sys.stdin.buffer and os.path.getsize(src.path) == 0:
            return
        reader = pjson.open_json(stream, read_options=pjson.ReadOptions(block_size=BLOCK_BYTES))
    names = reader.schema.names
    if columns:
        _check_columns(src, columns, names)
    for b in reader:
        if columns and not csv:
            b = pa.RecordBatch.from_arrays([b.column(b.schema.get_field_index(c)) for c in columns], names=columns)
        if b.num_rows:
            yield b


def _check_columns(src: Source, columns: list[str] | None, names: list[str]) -> None:
    missing = [c for c in columns or [] if c not in names]
    if missing:
        raise InputError(f"{src.label}: no column {', '.join(map(repr, missing))} (columns: {', '.join(names[:20])})")


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:300] + ("…" if len(text) > 300 else "")
