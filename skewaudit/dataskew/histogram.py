"""Baseline-versus-serving histograms of the features that drifted most, for the evidence bundle.

Numeric features (and text lengths) are shown on the baseline's decile bins,
the same bins PSI uses; categorical features as their heaviest categories on
either side plus "other". Plain data here; ``bundle.markdown`` draws the bars.
"""

from __future__ import annotations

from typing import Any

from skewaudit.dataskew import metrics as mx
from skewaudit.dataskew import sketches as sk
from skewaudit.dataskew.compare import Side
from skewaudit.model.finding import Result, Status

TOP_FEATURES = 5
TOP_CATEGORIES = 8


def top_drifting(base: Side, serve: Side, results: list[Result], n: int = TOP_FEATURES) -> list[dict[str, Any]]:
    """The ``n`` drifted features with the highest PSI (then any drifted ones), with their histograms."""
    scores: dict[str, dict[str, Any]] = {}
    for r in results:
        feature = r.field.rsplit(".", 1)[-1]
        entry = scores.setdefault(feature, {"drifted": False, "scores": {}})
        if r.status == Status.DRIFT:
            entry["drifted"] = True
        if r.observed and isinstance(r.observed[0].value, (int, float)):
            entry["scores"][r.check] = r.observed[0].value
    ranked = sorted((f for f, e in scores.items() if e["drifted"]),
                    key=lambda f: (-float(scores[f]["scores"].get("data.psi", 0) or 0), f))[:n]
    out = []
    for feature in ranked:
        b, s = base.profile.features.get(feature), serve.profile.features.get(feature)
        bins = _bins(b, s) if b is not None and s is not None else []
        out.append({"feature": feature, "kind": b.kind if b else (s.kind if s else "?"),
                    "scores": scores[feature]["scores"], "bins": bins})
    return out


def _bins(b: Any, s: Any) -> list[dict[str, Any]]:
    if b.kind == "numeric" and s.kind == "numeric" and b.numeric and s.numeric:
        return _numeric_bins(sk.decode_kll(b.numeric.kll), sk.decode_kll(s.numeric.kll), "")
    if b.kind == "categorical" and s.kind == "categorical" and b.categorical and s.categorical:
        return _category_bins(b, s)
    if b.lengths and s.lengths:
        return _numeric_bins(sk.decode_kll(b.lengths), sk.decode_kll(s.lengths), " chars")
    return []


def _numeric_bins(kb: Any, ks: Any, unit: str) -> list[dict[str, Any]]:
    if kb.is_empty() or ks.is_empty():
        return []
    cuts = mx.cut_points(kb)
    sb, ss = mx.shares(kb, cuts), mx.shares(ks, cuts)
    labels = ([f"≤ {_num(cuts[0])}{unit}"] + [f"{_num(a)} – {_num(c)}{unit}" for a, c in zip(cuts, cuts[1:])]
              + [f"> {_num(cuts[-1])}{unit}"]) if cuts else ["all"]
    return [{"label": lab, "baseline": round(x, 4), "serving": round(y, 4)} for lab, x, y in zip(labels, sb, ss)]


def _category_bins(b: Any, s: Any) -> list[dict[str, Any]]:
    fb, _ = sk.frequent(sk.decode_freq(b.categorical.freq))
    fs, _ = sk.frequent(sk.decode_freq(s.categorical.freq))
    nb, ns = max(b.count - b.missing, 1), max(s.count - s.missing, 1)
    db, ds = dict(fb), dict(fs)
    cats = sorted(set(db) | set(ds), key=lambda c: -max(db.get(c, 0) / nb, ds.get(c, 0) / ns))[:TOP_CATEGORIES]
    rows = [{"label": c, "baseline": round(db.get(c, 0) / nb, 4), "serving": round(ds.get(c, 0) / ns, 4)} for c in cats]
    rest_b = 1 - sum(r["baseline"] for r in rows)
    rest_s = 1 - sum(r["serving"] for r in rows)
    if rest_b > 0.0005 or rest_s > 0.0005:
        rows.append({"label": "(other)", "baseline": round(max(rest_b, 0), 4), "serving": round(max(rest_s, 0), 4)})
    return rows


def _num(x: float) -> str:
    if abs(x) >= 1000 or x == int(x):
        return f"{x:,.0f}"
    return f"{x:.3g}"
