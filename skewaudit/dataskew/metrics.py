"""Divergence metrics between a baseline and a serving distribution, from sketches.

Numeric features (and text lengths) are compared on the baseline's quantile
bins: ``BINS`` equal-mass bins cut at the baseline's quantiles, each side's
share per bin read from its own KLL sketch (its CDF at the cut points). On
those bins:
- PSI, population stability index: sum((s - b) * ln(s / b)), shares floored at
  ``EPS`` so an empty bin is finite (the convention of most drift tools);
- Jensen–Shannon distance, base 2: sqrt of the JS divergence, in [0, 1];
and, from the sketches directly:
- KS, the two-sample Kolmogorov–Smirnov statistic: the largest CDF gap,
  evaluated at both sketches' quantiles on a fine grid;
- normalised Wasserstein-1: the mean |Qb(p) - Qs(p)| over a grid of p, divided
  by the baseline's standard deviation (Evidently's normalisation), so 0.1
  means "moved by a tenth of a standard deviation".
Categorical features use category shares (baseline categories plus the
serving-only ones, and "other" for the sketches' remainders): PSI, JS distance,
and L-infinity, the largest absolute share difference (TFDV's skew measure).

All functions are pure: sketches in, floats out. ``exact_*`` twins compute the
same quantities from full numpy arrays for tests and benchmarks.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

BINS = 10
EPS = 1e-4
GRID = 512


def _clip(shares: Sequence[float]) -> list[float]:
    out = [max(s, EPS) for s in shares]
    total = sum(out)
    return [s / total for s in out]


def psi(base: Sequence[float], serve: Sequence[float]) -> float:
    b, s = _clip(base), _clip(serve)
    return float(sum((si - bi) * math.log(si / bi) for bi, si in zip(b, s)))


def js_distance(base: Sequence[float], serve: Sequence[float]) -> float:
    tb, ts = sum(base) or 1.0, sum(serve) or 1.0
    b, s = [x / tb for x in base], [x / ts for x in serve]
    div = 0.0
    for bi, si in zip(b, s):
        m = (bi + si) / 2
        if bi > 0:
            div += 0.5 * bi * math.log2(bi / m)
        if si > 0:
            div += 0.5 * si * math.log2(si / m)
    return math.sqrt(max(div, 0.0))


def linf(base: Sequence[float], serve: Sequence[float]) -> float:
    tb, ts = sum(base) or 1.0, sum(serve) or 1.0
    return max((abs(bi / tb - si / ts) for bi, si in zip(base, serve)), default=0.0)


# --- numeric, from KLL sketches -----------------------------------------------------------

def cut_points(base_kll: Any, bins: int = BINS) -> list[float]:
    """Interior cut points: the baseline's quantiles at 1/bins … (bins-1)/bins, deduplicated."""
    qs = base_kll.get_quantiles([i / bins for i in range(1, bins)])
    cuts: list[float] = []
    for q in qs:
        if not cuts or q > cuts[-1]:
            cuts.append(float(q))
    return cuts


def shares(kll: Any, cuts: list[float]) -> list[float]:
    """Share of the sketch's mass in (-inf, c0], (c0, c1], …, (c_last, inf)."""
    if not cuts:
        return [1.0]
    cdf = kll.get_cdf(cuts, inclusive=True)
    # get_cdf returns len(cuts)+1 values, the last being 1.0
    out, prev = [], 0.0
    for c in cdf:
        out.append(max(float(c) - prev, 0.0))
        prev = float(c)
    return out


def numeric_metrics(base_kll: Any, serve_kll: Any, base_std: float | None) -> dict[str, float]:
    cuts = cut_points(base_kll)
    b, s = shares(base_kll, cuts), shares(serve_kll, cuts)
    # JS on the baseline's bins plus two outer bins beyond its minimum and maximum (where the
    # baseline has no mass): serving data that moved entirely outside the baseline's range then
    # reaches the maximum of 1, while bins stay as wide as PSI's (narrow bins add sketch noise).
    outer = _outer_cuts(base_kll.get_min_value(), cuts, base_kll.get_max_value())
    return {"psi": psi(b, s), "js": js_distance(shares(base_kll, outer), _resolved(shares(serve_kll, outer), serve_kll)),
            "ks": ks_statistic(base_kll, serve_kll), "wasserstein": wasserstein_normalised(base_kll, serve_kll, base_std)}


def _resolved(outer_shares: list[float], kll: Any) -> list[float]:
    """Serving mass outside the baseline's range below the sketch's resolution (two of its heaviest
    items) is sketch granularity, not evidence: one retained item of weight 1,024 just below the
    baseline's minimum would otherwise read as 0.1 % outside and, through JS's square root, as a
    distance of 0.02 between two samples of one distribution."""
    floor = 2 * kll.granularity()
    out = list(outer_shares)
    for i in (0, -1):
        if out[i] < floor:
            out[i] = 0.0
    return out


def _outer_cuts(lo: float, cuts: list[float], hi: float) -> list[float]:
    below = math.nextafter(lo, -math.inf)
    return [below] + [c for c in cuts if below < c < hi] + [hi]


def ks_statistic(base_kll: Any, serve_kll: Any) -> float:
    ranks = [(i + 0.5) / GRID for i in range(GRID)]
    extremes = {base_kll.get_min_value(), base_kll.get_max_value(), serve_kll.get_min_value(),
                serve_kll.get_max_value()}
    points = sorted(set(base_kll.get_quantiles(ranks)) | set(serve_kll.get_quantiles(ranks)) | extremes)
    cb = base_kll.get_cdf(points, inclusive=True)[:-1]
    cs = serve_kll.get_cdf(points, inclusive=True)[:-1]
    return float(max((abs(a - b) for a, b in zip(cb, cs)), default=0.0))


def wasserstein_normalised(base_kll: Any, serve_kll: Any, base_std: float | None) -> float:
    ranks = [(i + 0.5) / GRID for i in range(GRID)]
    qb, qs = base_kll.get_quantiles(ranks), serve_kll.get_quantiles(ranks)
    w = sum(abs(a - b) for a, b in zip(qb, qs)) / GRID
    if not base_std:
        # A constant baseline: any movement is total movement.
        return 0.0 if w == 0 else math.inf
    return float(w / base_std)


def std(count: int, total: float, sumsq: float) -> float | None:
    if count < 2:
        return None
    mean = total / count
    var = max(sumsq / count - mean * mean, 0.0) * count / (count - 1)
    return math.sqrt(var)


# --- categorical ---------------------------------------------------------------------------

def categorical_metrics(base: dict[str, int], base_total: int, serve: dict[str, int],
                        serve_total: int) -> dict[str, Any]:
    """Shares over the union of categories, plus an ``other`` bucket for what the sketches did not keep."""
    cats = sorted(set(base) | set(serve))
    b = [base.get(c, 0) for c in cats] + [max(base_total - sum(base.values()), 0)]
    s = [serve.get(c, 0) for c in cats] + [max(serve_total - sum(serve.values()), 0)]
    unseen = {c: n for c, n in serve.items() if c not in base}
    return {"psi": psi(_norm(b), _norm(s)), "js": js_distance(b, s), "linf": linf(b, s),
            "unseen": unseen, "unseen_share": (sum(unseen.values()) / serve_total) if serve_total else 0.0}


def _norm(v: list[int]) -> list[float]:
    t = sum(v) or 1
    return [x / t for x in v]


# --- exact twins (numpy), for tests and benchmarks -------------------------------------------

def exact_numeric(base: Any, serve: Any) -> dict[str, float]:
    import numpy as np

    base, serve = np.sort(np.asarray(base, float)), np.sort(np.asarray(serve, float))

    def decile_cuts(x: Any) -> list[float]:
        cuts: list[float] = []
        for q in np.quantile(x, [i / BINS for i in range(1, BINS)], method="inverted_cdf"):
            if not cuts or q > cuts[-1]:
                cuts.append(float(q))
        return cuts

    def sh(x: Any, cuts: list[float]) -> list[float]:
        c = np.searchsorted(x, cuts, side="right") / len(x)
        return list(np.diff(np.concatenate([[0.0], c, [1.0]])))

    cuts = decile_cuts(base)
    outer = _outer_cuts(float(base[0]), cuts, float(base[-1]))
    b, s = sh(base, cuts), sh(serve, cuts)
    allv = np.concatenate([base, serve])
    cb = np.searchsorted(base, allv, side="right") / len(base)
    cs = np.searchsorted(serve, allv, side="right") / len(serve)
    ranks = (np.arange(GRID) + 0.5) / GRID
    w = float(np.mean(np.abs(np.quantile(base, ranks) - np.quantile(serve, ranks))))
    sd = float(np.std(base, ddof=1))
    return {"psi": psi(b, s), "js": js_distance(sh(base, outer), sh(serve, outer)), "ks": float(np.max(np.abs(cb - cs))),
            "wasserstein": (w / sd) if sd else (0.0 if w == 0 else math.inf)}
