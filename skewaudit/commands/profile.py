"""`skewaudit profile`: a compact, mergeable data profile; `skewaudit profile merge`: shards into one.

Light at import: the data stack (pyarrow, datasketches, numpy, dask) is
imported only when the command runs.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from skewaudit.commands import _options as o

Columns = Annotated[Optional[str], typer.Option("--columns", help="Comma-separated columns to read (default: all).")]
Kind = Annotated[Optional[list[str]], typer.Option(
    "--kind", help="Force a column's kind: COLUMN=numeric|categorical|text (repeatable). Strings averaging 64+ "
    "characters are text, other strings categorical.")]
Sample = Annotated[Optional[float], typer.Option("--sample", help="Profile a Bernoulli sample: fraction of rows in (0, 1].")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the row sample.")]
Jobs = Annotated[int, typer.Option(
    "--jobs", "-j", min=0, help="Worker processes for Parquet files of several row-group pieces (0: one per core).")]
Tokenizer = Annotated[Optional[str], typer.Option(
    "--tokenizer", help="A local tokenizer.json (or a model directory holding one): text features also get lengths "
    "in tokens (needs the 'tokens' extra; never downloaded). Without it lengths are in characters.")]
InputFormat = Annotated[Optional[str], typer.Option(
    "--input-format", help="parquet, csv or jsonl (default: from the file name; a directory is Parquet; stdin is jsonl).")]


def profile(
    data: Annotated[list[str], typer.Argument(
        help="Data files or directories (Parquet, hive partitions, CSV, JSON Lines; '-' for stdin). "
        "'merge P1 P2 …' merges profiles instead.", show_default=False)],
    output: Annotated[str, typer.Option("--output", "-o", help="Write the profile here ('-' for stdout).")] = "-",
    columns: Columns = None,
    kind: Kind = None,
    sample: Sample = None,
    seed: Seed = 0,
    input_format: InputFormat = None,
    jobs: Jobs = 0,
    dask: Annotated[Optional[str], typer.Option(
        "--dask", help="Profile Parquet on a Dask cluster: a scheduler address (tcp://host:8786) or local[:N].")] = None,
    tokenizer: Tokenizer = None,
    max_input_bytes: o.MaxInputBytes = "256Mi",
) -> None:
    """Profile data per feature (counts, missing, quantile / frequent-item / distinct sketches, text lengths).

    The profile's size is set by sketch parameters, not by rows; profiles of shards merge
    ('skewaudit profile merge A.profile B.profile -o all.profile') into the profile of the whole.
    """
    import sys
    import time

    from skewaudit.dataskew import readers, store
    from skewaudit.dataskew.run import check_sample, parse_kinds, profile_sources, resolve_jobs

    start = time.perf_counter()
    o.apply_input_limit(max_input_bytes)
    if data and data[0] == "merge":
        _merge(data[1:], output)
        return
    check_sample(sample)
    kinds = parse_kinds(list(kind or []))
    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    sources = [readers.resolve(p, input_format) for p in data]
    if dask:
        from skewaudit.dataskew.distributed import profile_on_dask

        result = profile_on_dask(dask, sources, columns=cols, kinds=kinds, sample=sample, seed=seed,
                                 tokenizer=tokenizer)
    else:
        result = profile_sources(sources, columns=cols, kinds=kinds, sample=sample, seed=seed, jobs=resolve_jobs(jobs),
                                 tokenizer=tokenizer)
    store.save(result, output)
    if not result.rows:
        sys.stderr.write(f"note: {', '.join(s.label for s in sources)}: no rows\n")
    sys.stderr.write(f"profiled {result.rows:,} rows × {len(result.features)} features in "
                     f"{time.perf_counter() - start:.1f} s" + (f" -> {output}\n" if output != "-" else "\n"))


def _merge(paths: list[str], output: str) -> None:
    import sys

    from skewaudit.dataskew import store
    from skewaudit.dataskew.profile import merge
    from skewaudit.errors import InputError

    if len(paths) < 1:
        raise InputError("profile merge: give the profiles to merge (at least one)")
    try:
        merged = merge(store.load(p) for p in paths)
    except ValueError as e:
        raise InputError(f"profile merge: {e}") from None
    store.save(merged, output)
    sys.stderr.write(f"merged {len(paths)} profiles: {merged.rows:,} rows × {len(merged.features)} features\n")
