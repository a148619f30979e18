"""Baseline profile versus serving profile, per feature, as findings.

Produces the same ``Result`` objects as configuration checks (category
``data``), so levels, provenance, hints, every output format, suppression
(``policy.ignore``, ``policy.severity``) and the CI gate work unchanged. One
result per feature and metric: ``data.psi``, ``data.js-distance``,
``data.ks``, ``data.wasserstein`` (numeric), ``data.psi``,
``data.js-distance``, ``data.linf``, ``data.unseen-categories``
(categorical), ``data.prompt-length`` (text), ``data.missing-rate`` and
``data.schema`` (every feature). A metric that cannot be computed (no values
on one side) is *unverifiable* with the reason, never a match.

Lengths are compared in tokens when both profiles counted them with the same
tokenizer (``--tokenizer``), else in characters, the fallback, and the
finding says which and why.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Callable

from skewaudit.dataskew import metrics as mx
from skewaudit.dataskew import sketches as sk
from skewaudit.dataskew import thresholds as th
from skewaudit.dataskew.profile import FeatureProfile, Profile
from skewaudit.model.finding import Evidence, Location, Result, Status, TargetRef
from skewaudit.model.observed import Prov

CHECKS = ("data.psi", "data.js-distance", "data.ks", "data.wasserstein", "data.linf", "data.unseen-categories",
          "data.missing-rate", "data.schema", "data.prompt-length")


@dataclass(frozen=True)
class Side:
    profile: Profile
    label: str                      # what the user named: files, or the profile path


@dataclass
class Setup:
    """What the comparison needs besides the two profiles."""

    spec_name: str = "data-diff"
    thresholds: dict[str, Any] = field(default_factory=dict)          # spec-wide (camelCase or canonical)
    features: dict[str, dict[str, Any]] = field(default_factory=dict)  # per feature: {thresholds: {...}}
    only: list[str] | None = None                                     # compare just these features
    flags: dict[str, float | str] = field(default_factory=dict)       # --threshold (a number or 'off'), wins
    location: Callable[[str], Location | None] = lambda _f: None
    spec: Any = None                                                   # the loaded ModelSpec, for its policy
    today: _dt.date | None = None


def compare(base: Side, serve: Side, setup: Setup) -> list[Result]:
    from skewaudit.playbook import load_playbook

    book = load_playbook()
    out: list[_Draft] = []
    names = sorted(set(base.profile.features) | set(serve.profile.features))
    if setup.only:
        names = [n for n in names if n in setup.only] + [n for n in setup.only if n not in names]
    for name in names:
        feat_cfg = setup.features.get(name) or {}
        limits = th.resolve(setup.thresholds, feat_cfg.get("thresholds"), setup.flags)
        b, s = base.profile.features.get(name), serve.profile.features.get(name)
        out.extend(_feature(name, b, s, limits, base, serve))
    return [_stamp(d, book, base, serve, setup) for d in out]


@dataclass
class _Draft:
    check: str
    feature: str
    status: str
    message: str
    expected: Any = None
    value: Any = None
    note: str | None = None
    reason: str | None = None
    level: str | None = None
    target: TargetRef | None = None     # default: the serving dataset
    prov: Prov | None = None            # default: the serving dataset's rows


def _feature(name: str, b: FeatureProfile | None, s: FeatureProfile | None, limits: dict[str, float | None],
             base: Side, serve: Side) -> list[_Draft]:
    if b is None and s is None:
        return [_Draft("data.schema", name, Status.DRIFT, f"feature {name}: in neither the baseline nor the serving "
                       "data", expected="present")]
    if s is None:
        return [_Draft("data.schema", name, Status.DRIFT, f"feature {name}: in the baseline, missing from the serving "
                       "data", expected="present", value="missing")]
    if b is None:
        return [_Draft("data.schema", name, Status.NOT_APPLICABLE, f"feature {name}: only in the serving data "
                       "(not in the baseline): not compared", reason="no baseline for this feature")]
    drafts: list[_Draft] = []
    if b.kind != s.kind or _family(b.type) != _family(s.type):
        drafts.append(_Draft("data.schema", name, Status.DRIFT,
                             f"feature {name}: {b.kind} ({b.type}) in the baseline, {s.kind} ({s.type}) when serving",
                             expected=f"{b.kind} ({b.type})", value=f"{s.kind} ({s.type})"))
        if b.kind != s.kind and {b.kind, s.kind} != {"categorical", "text"}:
            drafts.append(_missing(name, b, s, limits))
            return drafts
    else:
        drafts.append(_Draft("data.schema", name, Status.MATCH, f"feature {name}: {b.kind} ({b.type}) on both sides",
                             expected=f"{b.kind} ({b.type})", value=f"{s.kind} ({s.type})"))
    drafts.append(_missing(name, b, s, limits))
    if b.kind == "numeric" and s.kind == "numeric":
        drafts.extend(_numeric(name, b, s, limits))
    elif b.kind == "categorical" and s.kind == "categorical":
        drafts.extend(_categorical(name, b, s, limits))
    if b.lengths and s.lengths and (b.kind == "text" or s.kind == "text"):
        drafts.extend(_lengths(name, b, s, limits, base, serve))
    return drafts


def _family(type_text: str) -> str:
    if type_text.startswith(("int", "uint", "float", "double", "halffloat", "decimal")):
        return "number"
    if type_text in ("string", "large_string") or type_text.startswith("dictionary"):
        return "string"
    return type_text


def _rate(f: FeatureProfile) -> float:
    return f.missing / f.count if f.count else 0.0


def _missing(name: str, b: FeatureProfile, s: FeatureProfile, limits: dict[str, float | None]) -> _Draft:
    limit = limits["missing_rate"]
    rb, rs = _rate(b), _rate(s)
    msg = f"feature {name}: {rs:.1%} missing when serving, {rb:.1%} in the baseline"
    if limit is None:
        return _Draft("data.missing-rate", name, Status.NOT_APPLICABLE, msg, reason="threshold is off")
    status = Status.DRIFT if abs(rs - rb) > limit else Status.MATCH
    return _Draft("data.missing-rate", name, status, msg + (f" (moved more than {limit:.0%})" if status == Status.DRIFT
                                                          else ""),
                  expected=f"{rb:.4f} ± {limit:g}", value=round(rs, 6))


def _threshold_result(check: str, name: str, what: str, score: float, limit: float | None, extra: str = "") -> _Draft:
    text = f"feature {name}: {what} {score:.4f}{extra}"
    if limit is None:
        return _Draft(check, name, Status.NOT_APPLICABLE, text, reason="threshold is off", value=round(score, 6))
    if score > limit:
        return _Draft(check, name, Status.DRIFT, f"{text} (threshold {limit:g})", expected=f"<= {limit:g}",
                      value=round(score, 6))
    return _Draft(check, name, Status.MATCH, text, expected=f"<= {limit:g}", value=round(score, 6))


def _no_values(check: str, name: str, side: str) -> _Draft:
    return _Draft(check, name, Status.UNVERIFIABLE, f"feature {name}: no values in the {side} data to compare",
                  reason=f"every {side} value of {name} is missing")


def _numeric(name: str, b: FeatureProfile, s: FeatureProfile, limits: dict[str, float | None]) -> list[_Draft]:
    checks = (("data.psi", "psi", "PSI"), ("data.js-distance", "js_distance", "JS distance"),
              ("data.ks", "ks", "KS statistic"), ("data.wasserstein", "wasserstein", "normalised Wasserstein"))
    kb = sk.decode_kll(b.numeric.kll) if b.numeric else None
    ks_ = sk.decode_kll(s.numeric.kll) if s.numeric else None
    if kb is None or kb.is_empty():
        return [_no_values(c, name, "baseline") for c, _k, _w in checks]
    if ks_ is None or ks_.is_empty():
        return [_no_values(c, name, "serving") for c, _k, _w in checks]
    std = mx.std(b.count - b.missing, b.numeric.sum, b.numeric.sumsq)
    scores = mx.numeric_metrics(kb, ks_, std)
    scores["js_distance"] = scores.pop("js")
    return [_threshold_result(c, name, w, scores[k], limits[k]) for c, k, w in checks]


def _categorical(name: str, b: FeatureProfile, s: FeatureProfile, limits: dict[str, float | None]) -> list[_Draft]:
    fb, exact_b = sk.frequent(sk.decode_freq(b.categorical.freq))
    fs, _exact_s = sk.frequent(sk.decode_freq(s.categorical.freq))
    nb, ns = b.count - b.missing, s.count - s.missing
    checks = ("data.psi", "data.js-distance", "data.linf", "data.unseen-categories")
    if nb == 0:
        return [_no_values(c, name, "baseline") for c in checks]
    if ns == 0:
        return [_no_values(c, name, "serving") for c in checks]
    scores = mx.categorical_metrics(dict(fb), nb, dict(fs), ns)
    out = [_threshold_result("data.psi", name, "PSI", scores["psi"], limits["psi"]),
           _threshold_result("data.js-distance", name, "JS distance", scores["js"], limits["js_distance"]),
           _threshold_result("data.linf", name, "L-infinity distance", scores["linf"], limits["linf"])]
    unseen = sorted(scores["unseen"].items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{v!r} ({n / ns:.1%})" for v, n in unseen[:5]) + (" …" if len(unseen) > 5 else "")
    extra = f" of serving rows in {len(unseen)} categories the baseline never saw" + (f": {shown}" if unseen else "")
    d = _threshold_result("data.unseen-categories", name, "share", scores["unseen_share"], limits["unseen_share"], extra)
    notes = [f"unseen: {shown}"] if unseen else []
    if not exact_b:
        notes.append("the baseline has more distinct values than its sketch keeps: a rare baseline category can "
                     "count as unseen (an upper bound)")
    d.note = "; ".join(notes) or None
    out.append(d)
    return out


def length_sketches(f: FeatureProfile, tokenizer: str | None, other: tuple[FeatureProfile, str | None] | None = None
                    ) -> tuple[Any, str, str]:
    """The length sketch to compare, its unit, and a note saying which lengths and why: tokens when
    ``f`` (and ``other``, if given) counted them with the same tokenizer, else characters."""
    if other is None:
        if f.tokens and tokenizer:
            return sk.decode_kll(f.tokens), "tokens", f"token lengths ({tokenizer})"
        return sk.decode_kll(f.lengths), "characters", "character lengths (no tokenizer: --tokenizer PATH)"
    o, o_tok = other
    if f.tokens and o.tokens and tokenizer and tokenizer == o_tok:
        return sk.decode_kll(f.tokens), "tokens", f"token lengths ({tokenizer})"
    if f.tokens and o.tokens and tokenizer != o_tok:
        why = f"the two sides counted tokens with different tokenizers ({tokenizer} vs {o_tok})"
    elif f.tokens or o.tokens:
        why = "only one side has token lengths: profile both with the same --tokenizer"
    else:
        why = "no tokenizer: profile with --tokenizer PATH for token lengths"
    return sk.decode_kll(f.lengths), "characters", f"character lengths, the fallback ({why})"


def _lengths(name: str, b: FeatureProfile, s: FeatureProfile, limits: dict[str, float | None], base: Side,
             serve: Side) -> list[_Draft]:
    kb, unit, note = length_sketches(b, base.profile.tokenizer, (s, serve.profile.tokenizer))
    ks_, _u, _n = length_sketches(s, serve.profile.tokenizer, (b, base.profile.tokenizer))
    if kb.is_empty():
        return [_no_values("data.prompt-length", name, "baseline")]
    if ks_.is_empty():
        return [_no_values("data.prompt-length", name, "serving")]
    longest = kb.get_max_value()
    over = 1.0 - ks_.get_cdf([longest], inclusive=True)[0]
    psi = mx.numeric_metrics(kb, ks_, None)["psi"]
    quantiles = (f"serving p50/p95 {ks_.get_quantile(0.5):,.0f}/{ks_.get_quantile(0.95):,.0f} vs baseline "
                 f"{kb.get_quantile(0.5):,.0f}/{kb.get_quantile(0.95):,.0f} {unit}")
    text = (f"feature {name}: {over:.2%} of serving values are longer than the longest in the baseline "
            f"({int(longest):,} {unit}); length PSI {psi:.4f}, {quantiles}")
    return [_length_verdict(name, text, over, psi, int(longest), unit, limits, f"{quantiles}; {note}")]


def _length_verdict(name: str, text: str, over: float, psi: float, longest: int, unit: str,
                    limits: dict[str, float | None], note: str) -> _Draft:
    """data.prompt-length: drift when more than the limit's share of serving values is longer than the
    longest validated one, or the length distribution moved past the PSI threshold."""
    limit = limits["prompt_over_validated"]
    if limit is None:
        return _Draft("data.prompt-length", name, Status.NOT_APPLICABLE, text, reason="threshold is off")
    psi_limit = limits["psi"]
    drift = over > limit or (psi_limit is not None and psi > psi_limit)
    return _Draft("data.prompt-length", name, Status.DRIFT if drift else Status.MATCH, text,
                  expected=f"<= {limit:.0%} longer than {longest:,} {unit}", value=round(over, 6), note=note)


def _stamp(d: _Draft, book: dict, base: Side, serve: Side | None, setup: Setup) -> Result:
    """The finding of one draft; ``serve`` None: the draft names its own target and provenance."""
    from skewaudit.audit import _ignored, fill_template

    info = book[d.check]
    policy = getattr(getattr(setup.spec, "spec", None), "policy", None) if setup.spec is not None else None
    level = (d.level or (getattr(policy, "severity", None) or {}).get(d.check) or info.level)
    fieldpath = f"spec.data.features.{d.feature}"
    target = d.target or TargetRef(kind="Dataset", name=serve.label if serve else "")
    status, reason, message = d.status, d.reason, d.message
    if setup.spec is not None and status in (Status.DRIFT, Status.UNVERIFIABLE):
        why, expired = _ignored(setup.spec, d.check, fieldpath, target.label(), [], setup.today or _dt.date.today(),
                                None)
        if why:
            status, reason = Status.SUPPRESSED, why
        elif expired:
            message = f"{message} [{expired}]"
    problem = status in (Status.DRIFT, Status.UNVERIFIABLE, Status.SUPPRESSED)
    values = {"name": d.feature, "field": fieldpath, "expected": str(d.expected), "observed": str(d.value)}
    prov = d.prov or Prov(source="data", object=serve.label if serve else "",
                          path=f"feature {d.feature}: {serve.profile.rows if serve else 0:,} serving rows vs "
                               f"{base.profile.rows:,} baseline rows ({base.label})")
    return Result(check=d.check, category="data", status=status, level=level, spec=setup.spec_name, field=fieldpath,
                  target=target, message=message, expected=d.expected,
                  observed=[Evidence(value=d.value, prov=prov, note=d.note)] if d.value is not None else [],
                  location=setup.location(fieldpath), reason=reason,
                  hint=fill_template(info.remediation, values) if problem else None,
                  next_steps=list(info.next_steps) if problem else [],
                  commands=[fill_template(c, values) for c in info.commands] if problem else [])
