"""Compact, mergeable data profiles: one per dataset, a few sketches per feature.

A profile holds, per feature: its kind (numeric, categorical or text), the
Arrow type seen, row and missing counts, and sketches (``sketches.py``):
numeric values in a quantile sketch (``quantiles``) plus exact min/max/sum/sum of squares;
categorical values in a frequent-items sketch plus an HLL distinct count;
text values as their length in characters (a quantile sketch) and, when a tokenizer is given
(``tokens``), in tokens (a second one; the profile names the tokenizer). Every
string feature also keeps its character-length sketch, so shards whose kind was
guessed differently still merge. Its size is set by the sketch parameters, never by the number of rows,
and ``merge`` of per-shard profiles equals one pass over all shards (up to the
sketches' documented error).

File format: JSON, schema ``skewaudit.io/data-profile/v1``; sketches are base64:
quantile sketches in skewaudit's own format (``quantiles``; DataSketches KLL bytes
from earlier versions are still read), frequent items and HLL in DataSketches' own.
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import msgspec

from skewaudit.dataskew import sketches as sk

PROFILE_SCHEMA = "skewaudit.io/data-profile/v1"
KINDS = ("numeric", "categorical", "text")
TEXT_MEAN_CHARS = 64        # a string column averaging this many characters is text, not a category
CATEGORY_MAX_CHARS = 256    # longer category values are cut before counting (bounds the sketch's memory)


class NumericStats(msgspec.Struct, frozen=True, omit_defaults=True):
    kll: str
    min: float | None = None
    max: float | None = None
    sum: float = 0.0
    sumsq: float = 0.0


class CategoricalStats(msgspec.Struct, frozen=True, omit_defaults=True):
    freq: str
    hll: str


class FeatureProfile(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str
    kind: str
    type: str                     # the Arrow type seen (``int64``, ``string`` …)
    count: int = 0                # rows seen, missing included
    missing: int = 0              # null, NaN or infinite
    numeric: NumericStats | None = None
    categorical: CategoricalStats | None = None
    lengths: str | None = None    # KLL of string lengths in characters (every string feature)
    tokens: str | None = None     # KLL of text lengths in tokens (text features, with a tokenizer)


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    schema: str = PROFILE_SCHEMA
    skewaudit_version: str = ""
    created_at: str = ""
    rows: int = 0
    sources: list[str] = []
    sample: float | None = None
    kll_k: int = sk.KLL_K
    tokenizer: str | None = None  # the tokenizer that counted ``tokens`` (tokens.Tokenizer.ident)
    features: dict[str, FeatureProfile] = {}


# --- building ---------------------------------------------------------------------------

@dataclass
class _Acc:
    """The live sketches of one feature while batches stream through."""

    name: str
    kind: str
    type: str
    count: int = 0
    missing: int = 0
    kll: Any = None
    freq: Any = None
    hll: Any = None
    lengths: Any = None
    tokens: Any = None
    min: float | None = None
    max: float | None = None
    sum: float = 0.0
    sumsq: float = 0.0


@dataclass
class Builder:
    """Feed record batches, then ``finish()``; ``kinds`` forces a feature's kind by name."""

    kinds: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    sample: float | None = None
    kll_k: int = sk.KLL_K
    tokenizer: Any = None         # a tokens.Tokenizer: text features also get token lengths
    notes: list[str] = field(default_factory=list)
    rows: int = 0
    _acc: dict[str, _Acc] = field(default_factory=dict)
    _skipped: set[str] = field(default_factory=set)

    def add(self, batch: Any) -> None:
        import pyarrow as pa

        self.rows += batch.num_rows
        for name, col in zip(batch.schema.names, batch.columns):
            if name in self._skipped:
                continue
            acc = self._acc.get(name)
            if acc is None:
                kind = self.kinds.get(name) or _guess_kind(col)
                if kind is None:
                    self._skipped.add(name)
                    self.notes.append(f"feature {name!r}: type {col.type} is not profiled (numbers, strings and "
                                      "booleans are)")
                    continue
                acc = self._acc[name] = _new_acc(name, kind, str(col.type), self.kll_k, self.tokenizer)
            elif str(col.type) != acc.type and acc.type != "null":
                if _family(col.type) != _family_name(acc.type) and not pa.types.is_null(col.type):
                    from skewaudit.errors import InputError

                    raise InputError(f"feature {name!r}: mixed types ({acc.type} then {col.type}); "
                                     "cast the column to one type or pass --kind")
            if acc.type == "null" and not pa.types.is_null(col.type):
                # All-null so far: the first batch with values decides the kind.
                kind = self.kinds.get(name) or _guess_kind(col) or acc.kind
                fresh = _new_acc(name, kind, str(col.type), self.kll_k, self.tokenizer)
                fresh.count, fresh.missing = acc.count, acc.missing
                acc = self._acc[name] = fresh
            _update(acc, col, self.tokenizer)

    def finish(self) -> Profile:
        from skewaudit import __version__

        return Profile(skewaudit_version=__version__, created_at=_now(), rows=self.rows, sources=list(self.sources),
                       sample=self.sample, kll_k=self.kll_k,
                       tokenizer=self.tokenizer.ident if self.tokenizer is not None else None,
                       features={n: _freeze(a) for n, a in sorted(self._acc.items())})


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _family(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return "number"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_dictionary(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    if pa.types.is_null(t):
        return "null"
    return str(t)


def _family_name(type_text: str) -> str:
    if type_text.startswith(("int", "uint", "float", "double", "halffloat", "decimal")):
        return "number"
    if type_text in ("string", "large_string", "utf8") or type_text.startswith("dictionary"):
        return "string"
    return {"bool": "bool", "null": "null"}.get(type_text, type_text)


def _guess_kind(col: Any) -> str | None:
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    fam = _family(t)
    if fam == "number" or pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_duration(t):
        return "numeric"
    if fam == "bool":
        return "categorical"
    if fam == "null":
        return "numeric"          # all-null so far: counted as missing; a later batch may say more
    if fam == "string":
        values = col.dictionary_decode() if pa.types.is_dictionary(t) else col
        lengths = pc.utf8_length(values.drop_null())
        mean = pc.mean(lengths).as_py() if len(lengths) else 0
        return "text" if (mean or 0) >= TEXT_MEAN_CHARS else "categorical"
    return None


def _new_acc(name: str, kind: str, type_text: str, k: int, tokenizer: Any = None) -> _Acc:
    acc = _Acc(name=name, kind=kind, type=type_text)
    if kind == "numeric":
        acc.kll = sk.new_kll(k)
    elif kind == "categorical":
        acc.freq, acc.hll = sk.new_freq(), sk.new_hll()
    if kind in ("categorical", "text"):
        acc.lengths = sk.new_kll(k)
    if kind == "text" and tokenizer is not None:
        acc.tokens = sk.new_kll(k)
    return acc


def _update(acc: _Acc, col: Any, tokenizer: Any = None) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    acc.count += len(col)
    if pa.types.is_null(col.type):
        acc.missing += len(col)
        return
    if acc.kind == "numeric":
        values = _as_float(col)
        mask = np.isfinite(values)
        # A sketch takes only a writable array; the filter's copy is one, a clean batch is copied once.
        finite = np.array(values) if mask.all() else values[mask]
        acc.missing += len(col) - len(finite)
        if len(finite):
            acc.kll.update(finite)
            lo, hi = float(finite.min()), float(finite.max())
            acc.min = lo if acc.min is None else min(acc.min, lo)
            acc.max = hi if acc.max is None else max(acc.max, hi)
            acc.sum += float(finite.sum())
            # einsum, not np.dot: dot goes through BLAS, which some OpenBLAS core settings slow 20x.
            acc.sumsq += float(np.einsum("i,i->", finite, finite))
        return
    if pa.types.is_dictionary(col.type):
        col = col.dictionary_decode()
    if pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.string())
    elif not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        col = pc.cast(col, pa.string())
    present = col.drop_null()
    acc.missing += len(col) - len(present)
    if not len(present):
        return
    lengths = pc.utf8_length(present).to_numpy(zero_copy_only=False).astype("float64")
    acc.lengths.update(lengths)
    if acc.tokens is not None:
        acc.tokens.update(np.asarray(tokenizer.lengths(present.to_pylist()), dtype="float64"))
    if acc.kind == "categorical":
        long = lengths > CATEGORY_MAX_CHARS
        if long.any():
            present = pc.utf8_slice_codeunits(present, 0, CATEGORY_MAX_CHARS)
        counts = pc.value_counts(present)
        for value, n in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()):
            acc.freq.update(value, n)
            acc.hll.update(value)


def _as_float(col: Any) -> Any:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    t = col.type
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_duration(t):
        col = pc.cast(col, pa.int64()) if not pa.types.is_date32(t) else pc.cast(pc.cast(col, pa.int32()), pa.int64())
    if not pa.types.is_floating(col.type):
        col = pc.cast(col, pa.float64(), safe=False)
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype="float64")  # nulls become NaN


def _freeze(a: _Acc) -> FeatureProfile:
    numeric = categorical = None
    if a.kind == "numeric":
        numeric = NumericStats(kll=sk.encode(a.kll), min=a.min, max=a.max, sum=a.sum, sumsq=a.sumsq)
    elif a.kind == "categorical":
        categorical = CategoricalStats(freq=sk.encode(a.freq), hll=sk.encode(a.hll))
    return FeatureProfile(name=a.name, kind=a.kind, type=a.type, count=a.count, missing=a.missing, numeric=numeric,
                          categorical=categorical, lengths=sk.encode(a.lengths) if a.lengths is not None else None,
                          tokens=sk.encode(a.tokens) if a.tokens is not None else None)


# --- merging ------------------------------------------------------------------------------

def merge(profiles: Iterable[Profile]) -> Profile:
    """One profile equal to a single pass over every shard (kinds must agree; a string feature
    seen as text in one shard and as categories in another becomes text). Token lengths merge
    only when every shard counted them with the same tokenizer; else they are dropped (a
    sketch of some shards' tokens would misstate the whole)."""
    from skewaudit import __version__

    profiles = list(profiles)
    toks = {p.tokenizer for p in profiles}
    if len(toks - {None}) > 1:
        raise ValueError(f"the profiles counted tokens with different tokenizers ({', '.join(sorted(toks - {None}))})")
    tokenizer = toks.pop() if len(toks) == 1 else None
    names = sorted({n for p in profiles for n in p.features})
    feats = {}
    for n in names:
        parts = [p.features[n] for p in profiles if n in p.features]
        feats[n] = _merge_feature(parts, with_tokens=tokenizer is not None)
    samples = {p.sample for p in profiles}
    return Profile(skewaudit_version=__version__, created_at=_now(), rows=sum(p.rows for p in profiles),
                   sources=[s for p in profiles for s in p.sources],
                   sample=samples.pop() if len(samples) == 1 else None,
                   kll_k=min(p.kll_k for p in profiles) if profiles else sk.KLL_K, tokenizer=tokenizer, features=feats)


def _merge_feature(parts: list[FeatureProfile], with_tokens: bool = False) -> FeatureProfile:
    first = parts[0]
    kinds = {p.kind for p in parts}
    kind = first.kind
    if len(kinds) > 1:
        if kinds <= {"categorical", "text"}:
            kind = "text"
        else:
            raise ValueError(f"feature {first.name!r} is {' in one shard and '.join(sorted(kinds))} in another")
    count, missing = sum(p.count for p in parts), sum(p.missing for p in parts)
    types = [p.type for p in parts if p.type != "null"]
    type_text = types[0] if types else first.type
    numeric = categorical = lengths = None
    if kind == "numeric":
        stats = [p.numeric for p in parts if p.numeric is not None]
        if stats:
            mins = [s.min for s in stats if s.min is not None]
            maxs = [s.max for s in stats if s.max is not None]
            numeric = NumericStats(kll=_merged_kll([st.kll for st in stats]) or "", min=min(mins) if mins else None,
                                   max=max(maxs) if maxs else None, sum=math.fsum(s.sum for s in stats),
                                   sumsq=math.fsum(s.sumsq for s in stats))
    if kind == "categorical":
        cats = [p.categorical for p in parts if p.categorical is not None]
        freq, hll = sk.decode_freq(cats[0].freq), sk.decode_hll(cats[0].hll)
        for c in cats[1:]:
            freq = sk.merge_freq(freq, sk.decode_freq(c.freq))
            hll = sk.merge_hll(hll, sk.decode_hll(c.hll))
        categorical = CategoricalStats(freq=sk.encode(freq), hll=sk.encode(hll))
    lengths = _merged_kll([p.lengths for p in parts if p.lengths])
    tokens = None
    if with_tokens and kind == "text" and all(p.tokens for p in parts):
        tokens = _merged_kll([p.tokens for p in parts])
    return FeatureProfile(name=first.name, kind=kind, type=type_text, count=count, missing=missing, numeric=numeric,
                          categorical=categorical, lengths=lengths, tokens=tokens)


def _merged_kll(encoded: list[str]) -> str | None:
    if not encoded:
        return None
    kll = sk.decode_kll(encoded[0])
    for t in encoded[1:]:
        kll = sk.merge_kll(kll, sk.decode_kll(t))
    return sk.encode(kll)
