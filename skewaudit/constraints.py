"""Intended values that are not a single exact value: ranges, tolerances, sets.

A ModelSpec field may hold an exact value or a constraint, compiled here once:

* comparisons, comma-separated, all must hold: ``">=550"``, ``">=12.2,<13"``,
  ``">= 8192"``, ``"!=0.9"``;
* version wildcards: ``"12.4.*"`` (any 12.4.x), ``"550.*"``;
* tolerance: ``"0.90 ± 0.02"`` (also ``+-`` and ``+/-``);
* sets: a YAML list, ``[awq, gptq]``: the observed value must be one of them.

``kind`` says how values compare: ``int``, ``tokens`` (``32K`` = 32768),
``float``, ``version`` (dotted, numeric per part), ``quantity`` (Kubernetes),
``str`` (exact after the caller's normalization).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from skewaudit import units

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
    "==": operator.eq, "=": operator.eq, "!=": operator.ne,
}
_CMP = re.compile(r"^\s*(>=|<=|==|!=|>|<|=)\s*(\S.*?)\s*$")
_TOL = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(?:±|\+-|\+/-)\s*(\d+(?:\.\d+)?)\s*$")


# The largest value a spec may declare, per kind. Anything beyond is a typo or hostile input, never intent:
# Kubernetes and the engines hold counts and token lengths in 32-bit integers, and quantities in 64 bits.
LIMITS: dict[str, float] = {"int": 2**31 - 1, "tokens": 2**31 - 1, "quantity": 2**63 - 1, "float": 1e15}


def _within(kind: str, raw: Any, value: Any) -> Any:
    limit = LIMITS.get(kind)
    if limit is None:
        return value
    try:
        ok = abs(float(value)) <= limit  # False for inf and nan too
    except OverflowError:  # an int too large for a float
        ok = False
    if not ok:
        text = str(raw).strip()
        shown = repr(raw) if len(text) <= 24 else f"a {len(text)}-{'digit number' if text.isdigit() else 'character value'}"
        raise ValueError(f"{shown} is beyond any sane value here (at most {int(limit):,})")
    return value


def _parser(kind: str) -> Callable[[Any], Any]:
    return _PARSERS[kind]


def _int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(f"expected an integer, got {v!r}")
    if isinstance(v, int):
        return v
    s = str(v).strip()
    if not re.fullmatch(r"[+-]?\d+", s):
        raise ValueError(f"expected an integer, got {v!r}")
    return int(s)


def _float(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {v!r}")
    try:
        return float(v)
    except (TypeError, ValueError):
        raise ValueError(f"expected a number, got {v!r}") from None


# Built once: ``matches`` looks its parser up for every observed value (~66,000 times in a
# 1,000-spec fleet audit).
_PARSERS: dict[str, Callable[[Any], Any]] = {
    "int": _int, "tokens": units.parse_tokens, "float": _float, "version": units.parse_version,
    "quantity": units.parse_quantity, "str": str,
}


@dataclass(frozen=True)
class Constraint:
    """A compiled intended value. ``matches`` takes an observed value already
    normalized by the caller (a canonical dtype, an int, a version string)."""

    kind: str
    text: str                      # how the user wrote it, for messages
    exact: Any = None              # set when the constraint is one exact value
    _test: Callable[[Any], bool] | None = None

    @property
    def is_exact(self) -> bool:
        return self._test is None

    def matches(self, observed: Any) -> bool:
        """True when ``observed`` satisfies the constraint; False when it does
        not or cannot be read as this kind (``"abc"`` for an int)."""
        if observed is None:
            return False
        try:
            value = _parser(self.kind)(observed)
        except (ValueError, TypeError, ArithmeticError):
            return False
        if self._test is None:
            return value == self.exact
        return self._test(value)

    def __str__(self) -> str:
        return self.text


# Compiled constraints by (kind, written value): a fleet audit compiles the same few hundred
# intended values ~26,000 times (1,000 specs). Only plain scalars (and lists of them) are keyed,
# by type and repr, so 1 / 1.0 / True / "1" and 0.0 / -0.0 stay apart; Constraint is frozen and
# its members immutable, so sharing one is safe. Errors are not cached (raised again each time).
_COMPILED: dict[tuple, Constraint] = {}
_COMPILED_MAX = 4096
_PLAIN = (str, int, float, bool, type(None))


def _memo_key(raw: Any, kind: str) -> tuple | None:
    if type(raw) in _PLAIN:
        return (kind, type(raw), repr(raw))
    if type(raw) in (list, tuple) and all(type(v) in _PLAIN for v in raw):
        return (kind, type(raw), tuple((type(v), repr(v)) for v in raw))
    return None


def compile(raw: Any, kind: str) -> Constraint:  # noqa: A001 - the natural name
    """Compile a spec value into a Constraint; ValueError with a clear message if malformed or out of bounds
    (``LIMITS``; observed values are not bounded, only what a spec declares)."""
    key = _memo_key(raw, kind)
    if key is None:
        return _compile(raw, kind)
    hit = _COMPILED.get(key)
    if hit is None:
        hit = _compile(raw, kind)
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = hit
    return hit


def _compile(raw: Any, kind: str) -> Constraint:
    unbounded = _parser(kind)

    def parse(v: Any) -> Any:
        return _within(kind, v, unbounded(v))

    if isinstance(raw, (list, tuple)):
        if not raw:
            raise ValueError("an empty list allows nothing; give at least one value")
        members = [parse(v) for v in raw]
        text = "one of [" + ", ".join(str(v) for v in raw) + "]"
        return Constraint(kind, text, None, lambda v, _m=tuple(members): v in _m)
    if isinstance(raw, str):
        s = raw.strip()
        tol = _TOL.match(s)
        if tol:
            if kind not in ("float", "int", "tokens"):
                raise ValueError(f"a tolerance ({s!r}) only applies to numbers")
            center, width = _within(kind, s, float(tol.group(1))), _within(kind, s, float(tol.group(2)))
            return Constraint(kind, s, None, lambda v, c=center, w=width: abs(float(v) - c) <= w + 1e-12)
        if kind == "version" and "*" in s and "," not in s and not _CMP.match(s):
            prefix = s.rstrip("*").rstrip(".")
            want = units.parse_version(prefix)
            return Constraint(kind, s, None, lambda v, p=want: tuple(v[: len(p)]) == p)
        # Plain strings (names, paths, label values) are exact: "a,b" is not a comparison list.
        if kind != "str" and (any(s.startswith(op) for op in _OPS) or "," in s):
            tests: list[Callable[[Any], bool]] = []
            for part in s.split(","):
                m = _CMP.match(part)
                if not m:
                    raise ValueError(f"cannot read {part.strip()!r} in {s!r}: use comparisons like '>=550' or '>=12.2,<13'")
                op, operand = m.group(1), m.group(2)
                if kind == "version" and operand.endswith("*"):
                    raise ValueError(f"{s!r}: a wildcard cannot follow a comparison; write '12.4.*' or '>=12.4,<12.5'")
                bound = parse(operand)
                tests.append(lambda v, f=_OPS[op], b=bound: f(v, b))
            return Constraint(kind, s, None, lambda v, ts=tuple(tests): all(t(v) for t in ts))
    value = parse(raw)
    return Constraint(kind, str(raw), value, None)
