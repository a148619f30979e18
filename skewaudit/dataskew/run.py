"""Profile data sources on one machine: stream, sample, sketch.

``profile_sources`` is what ``skewaudit profile`` runs without a cluster: each
source is read batch by batch (``readers``), optionally Bernoulli-sampled with a
seeded generator, and fed to one ``Builder``. ``profile_piece`` profiles one
independently readable piece (a Parquet file or a set of its row groups); it is
also what each Dask worker runs (``distributed``), so a distributed profile is
the merge of exactly the profiles a single machine would build per piece.
"""

from __future__ import annotations

from typing import Any

from skewaudit.dataskew import readers
from skewaudit.dataskew.profile import KINDS, Builder, Profile


def parse_kinds(items: list[str]) -> dict[str, str]:
    """``--kind prompt=text`` flags (repeatable) as a mapping."""
    from skewaudit.errors import InputError

    out = {}
    for item in items:
        name, sep, kind = item.partition("=")
        if not sep or kind not in KINDS or not name:
            raise InputError(f"--kind {item!r}: expected COLUMN=KIND with KIND one of {', '.join(KINDS)}")
        out[name] = kind
    return out


def resolve_jobs(jobs: int) -> int:
    """``--jobs 0`` means one worker per core."""
    import os

    return jobs or (os.cpu_count() or 1)


def check_sample(sample: float | None) -> None:
    from skewaudit.errors import InputError

    if sample is not None and not (0 < sample <= 1):
        raise InputError(f"--sample must be a fraction in (0, 1], not {sample}")


ROW_GROUPS_PER_PIECE = 8


def pieces(sources: list[readers.Source]) -> list[tuple[str, list[int] | None]]:
    """(file, row groups) pieces of Parquet sources: each file, large files by ``ROW_GROUPS_PER_PIECE``."""
    import pyarrow.parquet as pq

    from skewaudit.errors import InputError

    out: list[tuple[str, list[int] | None]] = []
    for src in sources:
        for path in readers.fragments(src):
            try:
                n = pq.ParquetFile(path).num_row_groups
            except Exception as e:  # noqa: BLE001 - a corrupt footer
                raise InputError(f"{path}: cannot read parquet data: {readers._one_line(e)}") from None
            if n <= ROW_GROUPS_PER_PIECE:
                out.append((path, None))
            else:
                out.extend((path, list(range(i, min(i + ROW_GROUPS_PER_PIECE, n))))
                           for i in range(0, n, ROW_GROUPS_PER_PIECE))
    return out


def splittable(sources: list[readers.Source]) -> bool:
    """Plain Parquet files or directories of them (hive partition values live in paths: not split)."""
    return all(s.fmt == "parquet" and s.path != "-" and not any("=" in part for f in readers.fragments(s)
                                                              for part in f.split("/"))
               for s in sources)


def profile_sources(sources: list[readers.Source], *, columns: list[str] | None = None,
                    kinds: dict[str, str] | None = None, sample: float | None = None, seed: int = 0,
                    jobs: int = 1, tokenizer: str | None = None) -> Profile:
    """Profile every source into one profile; ``jobs`` > 1 profiles Parquet pieces in worker processes
    (the same ``profile_piece`` as the Dask path) and merges them. ``tokenizer``: a local
    ``tokenizer.json`` path; text features then also get token lengths."""
    tok = load_tokenizer(tokenizer)   # loaded here first: a bad file fails before any worker starts
    if jobs > 1 and splittable(sources):
        work = pieces(sources)
        if len(work) > 1:
            return _profile_in_processes(work, sources, columns, dict(kinds or {}), sample, seed, jobs, tokenizer)
    builder = Builder(kinds=dict(kinds or {}), sources=[s.label for s in sources], sample=sample, tokenizer=tok)
    rng = _rng(seed) if sample is not None and sample < 1 else None
    for src in sources:
        for batch in readers.batches(src, columns):
            builder.add(_sampled(batch, rng, sample))
    _warn(builder.notes)
    return builder.finish()


def profile_piece(path: str, row_groups: list[int] | None, columns: list[str] | None, kinds: dict[str, str],
                  sample: float | None, seed: int, tokenizer: str | None = None) -> bytes:
    """Profile one Parquet file (or some of its row groups); the profile as JSON bytes."""
    import msgspec

    from skewaudit.errors import InputError

    builder = Builder(kinds=dict(kinds), sources=[path], sample=sample, tokenizer=load_tokenizer(tokenizer))
    rng = _rng(seed) if sample is not None and sample < 1 else None
    try:
        for batch in readers.parquet_batches(path, row_groups=row_groups, columns=columns):
            builder.add(_sampled(batch, rng, sample))
    except InputError:
        raise
    except Exception as e:  # noqa: BLE001 - pyarrow raises many types for a corrupt file
        raise InputError(f"{path}: cannot read parquet data: {readers._one_line(e)}") from None
    return msgspec.json.encode(builder.finish())


def _profile_in_processes(work: list[tuple[str, list[int] | None]], sources: list[readers.Source],
                          columns: list[str] | None, kinds: dict[str, str], sample: float | None, seed: int,
                          jobs: int, tokenizer: str | None) -> Profile:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import msgspec

    from skewaudit.dataskew.profile import merge

    # spawn, not fork: Arrow's thread pools do not survive a fork.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(jobs, len(work)), mp_context=ctx) as pool:
        futures = [pool.submit(profile_piece, path, groups, columns, kinds, sample, seed + i, tokenizer)
                   for i, (path, groups) in enumerate(work)]
        parts = [msgspec.json.decode(f.result(), type=Profile) for f in futures]
    return msgspec.structs.replace(merge(parts), sources=[s.label for s in sources])


def load_tokenizer(path: str | None) -> Any:
    if path is None:
        return None
    from skewaudit.dataskew import tokens

    return tokens.load(path)


def _rng(seed: int) -> Any:
    import numpy as np

    return np.random.default_rng(seed)


def _sampled(batch: Any, rng: Any, sample: float | None) -> Any:
    if rng is None:
        return batch
    import pyarrow as pa

    return batch.filter(pa.array(rng.random(batch.num_rows) < sample))


def _warn(notes: list[str]) -> None:
    import sys

    for n in notes:
        sys.stderr.write(f"note: {n}\n")
