"""Mergeable sketches for data profiles: the only owner of ``datasketches``.

Apache DataSketches gives sketches whose size is set by a parameter, not by the
number of rows, and which merge exactly as if one pass had seen all shards:
- quantiles of numeric values and text lengths: skewaudit's own deterministic
  KLL-style sketch (``quantiles.py``: DataSketches' KLL draws unseedable coins, so
  the same data gave different profiles); rank error about 0.2 % at k = 1,000,
  a few tens of kB. Profiles written with DataSketches' KLL are still read (its
  contents are converted, exactly, on decode);
- frequent items for categories (counts of the heaviest values, exact while the
  number of distinct values stays under the sketch's capacity);
- HLL for the number of distinct values.
Sketches travel inside profiles as base64 text of their own serialisation.
"""

from __future__ import annotations

import base64
from typing import Any

from skewaudit.dataskew.quantiles import MAGIC, QuantileSketch
from skewaudit.errors import InputError

KLL_K = 1_000          # quantile accuracy (see module docstring); the default of datasketches is 200
FREQ_LG_K = 12         # frequent items: up to 0.75 * 2**12 = 3,072 tracked values
HLL_LG_K = 12          # distinct count: about 1.6 % relative error


def _ds() -> Any:
    try:
        import datasketches
    except ImportError:
        raise InputError("data skew needs the 'data' extra: pip install 'skewaudit[data]' (pyarrow, datasketches)") \
            from None
    return datasketches


def new_kll(k: int = KLL_K) -> QuantileSketch:
    return QuantileSketch(k)


def new_freq(lg_k: int = FREQ_LG_K) -> Any:
    return _ds().frequent_strings_sketch(lg_k)


def new_hll(lg_k: int = HLL_LG_K) -> Any:
    return _ds().hll_sketch(lg_k)


def encode(sketch: Any) -> str:
    if isinstance(sketch, QuantileSketch):
        raw = sketch.to_bytes()
    else:
        raw = sketch.serialize_compact() if hasattr(sketch, "serialize_compact") else sketch.serialize()
    return base64.b64encode(raw).decode("ascii")


def decode_kll(text: str) -> QuantileSketch:
    try:
        raw = base64.b64decode(text, validate=True)
        if raw[:len(MAGIC)] == MAGIC:
            return QuantileSketch.from_bytes(raw)
    except Exception as e:  # noqa: BLE001 - a corrupt sketch is the profile file's fault
        raise ValueError(f"corrupt quantile sketch ({e})") from None
    legacy = _decode(_ds().kll_doubles_sketch, text, "quantile")
    if legacy.is_empty():
        return QuantileSketch(legacy.k)
    try:
        return QuantileSketch.from_weighted(legacy.k, legacy, legacy.get_min_value(), legacy.get_max_value())
    except ValueError as e:
        raise ValueError(f"corrupt quantile sketch ({e})") from None


def decode_freq(text: str) -> Any:
    return _decode(_ds().frequent_strings_sketch, text, "frequent-items")


def decode_hll(text: str) -> Any:
    return _decode(_ds().hll_sketch, text, "distinct-count")


def _decode(cls: Any, text: str, what: str) -> Any:
    try:
        return cls.deserialize(base64.b64decode(text, validate=True))
    except Exception as e:  # noqa: BLE001 - a corrupt sketch is the profile file's fault
        raise ValueError(f"corrupt {what} sketch ({type(e).__name__})") from None


def merge_kll(a: QuantileSketch, b: QuantileSketch) -> QuantileSketch:
    return a.merge(b)


def merge_freq(a: Any, b: Any) -> Any:
    a.merge(b)
    return a


def merge_hll(a: Any, b: Any) -> Any:
    u = _ds().hll_union(max(a.lg_config_k, b.lg_config_k))
    u.update(a)
    u.update(b)
    return u.get_result()


def frequent(sketch: Any) -> tuple[list[tuple[str, int]], bool]:
    """Heaviest values with their estimated counts (no false negatives), heaviest first,
    and whether the counts are exact (the sketch never had to evict a value)."""
    ds = _ds()
    items = sketch.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
    exact = all(lo == hi for _i, _e, lo, hi in items) and sum(e for _i, e, _l, _h in items) == sketch.total_weight
    return [(item, int(est)) for item, est, _lo, _hi in items], exact
