"""Data-distribution skew: training (baseline) versus serving data, per feature.

Profiles (``profile``) are compact and mergeable: a few sketches per
feature, built by streaming record batches (``readers``) on one machine
(``run``) or on a Dask cluster (``distributed``), saved and loaded by
``store``. ``compare`` turns two profiles into the same findings as the
configuration checks (category ``data``), using the metrics in ``metrics``
and the thresholds in ``thresholds``. ``sides`` loads either side from a
profile file or from data.

``pyarrow``, ``datasketches`` and ``numpy`` are the optional ``data`` extra
and are imported lazily, never on the CLI start-up path.
"""
