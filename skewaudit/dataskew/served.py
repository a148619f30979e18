"""Validated prompt lengths against a serving engine's prompt-token histogram (``data.prompt-length``).

vLLM exports ``vllm:request_prompt_tokens``, a histogram of every served
request's prompt length in tokens (buckets 1, 2, 5, 10, 20, 50, … up to
``max_model_len``). With it the serving side needs no request logs: the
baseline's token-length sketch is read at the histogram's bucket bounds and the
two are compared on those buckets:

- the share of served prompts longer than the longest validated prompt,
  interpolated inside its bucket as PromQL's ``histogram_quantile`` does, with
  the bucket's bounds given as the range the histogram allows;
- PSI over the buckets (each side's share per bucket).

Tokens compare only with tokens: the baseline must have token lengths
(profiled with ``--tokenizer``, the served model's tokenizer). Without them the
finding is *unverifiable* with the reason, never a match on characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skewaudit.dataskew import metrics as mx
from skewaudit.dataskew import sketches as sk
from skewaudit.dataskew.compare import Setup, Side, _Draft, _length_verdict, _stamp
from skewaudit.dataskew import thresholds as th
from skewaudit.model.finding import Result, Status, TargetRef
from skewaudit.model.observed import Prov, SourceKind, TokenHistogram

CHECK = "data.prompt-length"


@dataclass(frozen=True)
class Served:
    """One serving histogram and where it came from."""

    hist: TokenHistogram
    object: str          # the pod, endpoint or saved page it was read from
    path: str            # "GET /metrics vllm:request_prompt_tokens_bucket"
    target: TargetRef


def compare_served(base: Side, served: Served, setup: Setup) -> list[Result]:
    from skewaudit.playbook import load_playbook

    name, feat, why = _prompt_feature(base, setup.only)
    limits = th.resolve(setup.thresholds, ((setup.features.get(name) or {}).get("thresholds")), setup.flags)
    prov = Prov(source=SourceKind.RUNTIME, object=served.object, path=served.path)
    draft = _draft(name, feat, why, served.hist, limits, base)
    draft.target, draft.prov = served.target, prov
    return [_stamp(draft, load_playbook(), base, None, setup)]


def _prompt_feature(base: Side, only: list[str] | None) -> tuple[str, Any, str | None]:
    """The baseline feature holding prompts: a text feature with token lengths (one named like
    'prompt' first), else the reason none fits."""
    feats = {n: f for n, f in base.profile.features.items() if f.kind == "text" and (not only or n in only)}
    ranked = sorted(feats, key=lambda n: ("prompt" not in n.lower(), n))
    with_tokens = [n for n in ranked if feats[n].tokens and base.profile.tokenizer]
    if with_tokens:
        return with_tokens[0], feats[with_tokens[0]], None
    if ranked:
        return ranked[0], None, (f"the baseline ({base.label}) has no token lengths for {ranked[0]}: profile it with "
                                 "--tokenizer PATH (the served model's tokenizer.json) to compare with the engine's "
                                 "prompt-token histogram")
    return "prompt", None, f"the baseline ({base.label}) has no text feature to compare prompt lengths with"


def _draft(name: str, feat: Any, why: str | None, hist: TokenHistogram, limits: dict[str, float | None],
           base: Side) -> _Draft:
    if why is not None:
        return _Draft(CHECK, name, Status.UNVERIFIABLE, f"feature {name}: served prompt lengths not compared: {why}",
                      reason=why)
    kb = sk.decode_kll(feat.tokens)
    if kb.is_empty():
        return _Draft(CHECK, name, Status.UNVERIFIABLE, f"feature {name}: no values in the baseline data to compare",
                      reason=f"every baseline value of {name} is missing")
    if hist.count <= 0 or not hist.bounds:
        return _Draft(CHECK, name, Status.UNVERIFIABLE, f"feature {name}: the engine has served no requests yet "
                      f"({hist.metric} is empty)", reason="no served requests counted yet")
    longest = kb.get_max_value()
    over, lo, hi = _share_over(hist, longest)
    served_shares = _bucket_shares(hist)
    psi = mx.psi(mx.shares(kb, list(hist.bounds)), served_shares)
    quantiles = (f"served p50/p95 {_quantile(hist, 0.5):,.0f}/{_quantile(hist, 0.95):,.0f} vs baseline "
                 f"{kb.get_quantile(0.5):,.0f}/{kb.get_quantile(0.95):,.0f} tokens")
    text = (f"feature {name}: {over:.2%} of {hist.count:,.0f} requests served ({hist.metric}) are longer than the "
            f"longest validated prompt ({int(longest):,} tokens; {lo:.1%}–{hi:.1%} by the histogram's buckets); "
            f"bucket PSI {psi:.4f}, {quantiles}")
    return _length_verdict(name, text, over, psi, int(longest), "tokens", limits,
                           f"{quantiles}; token lengths ({base.profile.tokenizer}) against the engine's histogram")


def _cum_at(hist: TokenHistogram, x: float) -> tuple[float, float, float]:
    """Requests at or below ``x``: interpolated in its bucket, and the bucket's lower and upper counts."""
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(hist.bounds, hist.cumulative):
        if x <= le:
            frac = (x - prev_le) / (le - prev_le) if le > prev_le else 1.0
            return prev_c + (c - prev_c) * frac, prev_c, c
        prev_le, prev_c = le, c
    return prev_c, prev_c, hist.count      # past the last finite bound: only the +Inf bucket knows


def _share_over(hist: TokenHistogram, x: float) -> tuple[float, float, float]:
    at, lo_c, hi_c = _cum_at(hist, x)
    n = hist.count
    return (n - at) / n, (n - hi_c) / n, (n - lo_c) / n


def _bucket_shares(hist: TokenHistogram) -> list[float]:
    out, prev = [], 0.0
    for c in list(hist.cumulative) + [hist.count]:
        out.append(max(c - prev, 0.0) / hist.count)
        prev = c
    return out


def _quantile(hist: TokenHistogram, q: float) -> float:
    rank = q * hist.count
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(hist.bounds, hist.cumulative):
        if c >= rank:
            return prev_le + (le - prev_le) * ((rank - prev_c) / (c - prev_c) if c > prev_c else 1.0)
        prev_le, prev_c = le, c
    return prev_le


def summed(hists: list[TokenHistogram]) -> TokenHistogram | None:
    """Several replicas' histograms as one (``sum by (le)``); None when their buckets differ."""
    if not hists or any(h.bounds != hists[0].bounds for h in hists):
        return None
    return TokenHistogram(metric=hists[0].metric, bounds=list(hists[0].bounds),
                          cumulative=[sum(v) for v in zip(*(h.cumulative for h in hists))],
                          count=sum(h.count for h in hists),
                          sum=sum(h.sum for h in hists) if all(h.sum is not None for h in hists) else None)
