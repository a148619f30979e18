"""Profile large Parquet data on a Dask cluster: pieces in parallel, sketches merged.

Profiles are mergeable by design, so the work splits into independent pieces
(each Parquet file, and large files by row-group ranges); each Dask worker runs
the same ``run.profile_piece`` a single machine would, returns its profile as
JSON bytes (sketches serialised inside), and the client merges them. Only
sketches cross the network, never rows.

Why Dask rather than Spark: it is pure Python from PyPI (``dask[distributed]``,
no JVM), starts a local cluster of worker processes in about a second, and its
futures API maps one function over pieces with no DataFrame layer; Spark needs
a JVM and a ~300 MB package and would run the same sketch code in Python
workers anyway.

``address`` is a scheduler address (``tcp://host:8786``) or ``local`` /
``local:N`` for a local cluster of N worker processes (tests, one big box).
"""

from __future__ import annotations

from typing import Any

from skewaudit.dataskew import readers
from skewaudit.dataskew.profile import Profile, merge
from skewaudit.errors import EnvironmentUnavailable, InputError

CONNECT_TIMEOUT_S = 30


def profile_on_dask(address: str, sources: list[readers.Source], *, columns: list[str] | None,
                    kinds: dict[str, str], sample: float | None, seed: int, tokenizer: str | None = None) -> Profile:
    import msgspec

    from skewaudit.dataskew.run import load_tokenizer, pieces, profile_piece

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--dask needs the 'dask' extra: pip install 'skewaudit[dask]'") from None
    for src in sources:
        if src.fmt != "parquet" or src.path == "-":
            raise InputError(f"{src.label}: --dask profiles Parquet files and directories only")
    load_tokenizer(tokenizer)   # a bad tokenizer fails here, before a cluster starts
    work = pieces(sources)
    cluster = None
    try:
        if address == "local" or address.startswith("local:"):
            n = int(address.partition(":")[2] or 2)
            cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                   host="127.0.0.1")
            client = Client(cluster, timeout=CONNECT_TIMEOUT_S)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError, ValueError) as e:
        raise EnvironmentUnavailable(f"dask scheduler {address}: {e}") from None
    try:
        # Each piece gets its own seed so sampling is reproducible and independent per piece.
        # Workers load the tokenizer from the same path: it must be readable there too (a shared mount).
        futures = [client.submit(profile_piece, path, groups, columns, kinds, sample, seed + i, tokenizer, pure=False)
                   for i, (path, groups) in enumerate(work)]
        parts = [msgspec.json.decode(b, type=Profile) for b in client.gather(futures)]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    merged = merge(parts)
    return msgspec.structs.replace(merged, sources=[s.label for s in sources])
