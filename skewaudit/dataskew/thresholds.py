"""Default drift thresholds per metric, and how a spec or flags override them.

Where each default comes from:
- ``psi`` 0.25: the credit-scoring convention (below 0.1 no significant change,
  0.1–0.25 moderate, above 0.25 a major shift); set 0.1 to catch moderate shifts.
- ``js_distance`` 0.1 and ``wasserstein`` 0.1: Evidently's defaults for data drift
  on more than 1,000 rows (JS distance for categorical columns, normalised
  Wasserstein distance for numeric ones).
- ``ks`` 0.1: on large samples a KS *p-value* flags negligible shifts, so the
  statistic itself is thresholded (a CDF gap of 10 percentage points).
- ``linf`` 0.1: TFDV's skew comparator measures categorical skew by the
  L-infinity distance and leaves the threshold to the user (its examples use
  0.01 on curated data); 0.1 stays quiet on sampling noise.
- ``unseen_share`` 0.01: 1 % of serving rows in categories training never saw.
- ``missing_rate`` 0.05: the missing share moved by 5 percentage points.
- ``prompt_over_validated`` 0.01: 1 % of serving prompts longer than the longest
  one in the baseline.
A threshold of ``off`` (or ``false``) turns that metric off.
"""

from __future__ import annotations

from typing import Any, Mapping

DEFAULTS: dict[str, float] = {
    "psi": 0.25,
    "js_distance": 0.1,
    "ks": 0.1,
    "wasserstein": 0.1,
    "linf": 0.1,
    "unseen_share": 0.01,
    "missing_rate": 0.05,
    "prompt_over_validated": 0.01,
}

# Spec (camelCase) and flag spellings of each metric name.
ALIASES = {"psi": "psi", "jsDistance": "js_distance", "js": "js_distance", "js-distance": "js_distance",
           "ks": "ks", "wasserstein": "wasserstein", "linf": "linf", "unseenShare": "unseen_share",
           "unseen-share": "unseen_share", "missingRate": "missing_rate", "missing-rate": "missing_rate",
           "promptOverValidated": "prompt_over_validated", "prompt-over-validated": "prompt_over_validated"}


def canonical(name: str) -> str | None:
    return ALIASES.get(name) or (name if name in DEFAULTS else None)


def resolve(*layers: Mapping[str, Any] | None) -> dict[str, float | None]:
    """Defaults overlaid by each layer in turn (spec-wide, then per feature, then flags).
    ``None`` in the result means the metric is off."""
    out: dict[str, float | None] = dict(DEFAULTS)
    for layer in layers:
        for k, v in (layer or {}).items():
            key = canonical(k)
            if key is None or v is None:
                continue
            out[key] = None if v is False or v == "off" else float(v)
    return out


def parse_flag(text: str) -> tuple[str, float | str]:
    """``psi=0.1`` or ``ks=off`` from ``--threshold``."""
    from skewaudit.errors import InputError

    name, sep, value = text.partition("=")
    key = canonical(name.strip())
    if not sep or key is None:
        raise InputError(f"--threshold {text!r}: expected METRIC=VALUE with METRIC one of "
                         f"{', '.join(sorted(DEFAULTS))}")
    value = value.strip()
    if value in ("off", "false"):
        return key, "off"
    try:
        number = float(value)
    except ValueError:
        raise InputError(f"--threshold {text!r}: {value!r} is not a number or 'off'") from None
    if not (number >= 0) or number == float("inf"):
        raise InputError(f"--threshold {text!r}: must be a finite number >= 0")
    return key, number
