"""Text helpers shared by every report renderer.

One place decides how a value is written, how replicas that disagree are
phrased ("fp16 (2 of 4 pods)"), what a result's status is called, how results
are ordered and grouped, and what the one summary line says, so the table,
Markdown, JUnit and SARIF outputs never disagree with each other. Pure string
work: imports only :mod:`skewaudit.model`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from skewaudit.errors import printable as clean  # noqa: F401  (the one escaping helper)
from skewaudit.model.finding import PROBLEM_STATUSES, Gate, Report, Result, Status, Summary, TargetRef

# Display order of categories: the playbook's order (correctness before
# capacity before cost), collection problems last. Unknown ones follow, sorted.
CATEGORY_ORDER = ("model", "runtime", "hardware", "serving", "orchestration", "data", "collection")

# Statuses shown by default; matches and not-applicable only on request.
SHOWN_STATUSES = (Status.DRIFT, Status.UNPINNED, Status.UNVERIFIABLE, Status.SUPPRESSED)

def fmt_value(value: Any, none: str = "unset") -> str:
    """One-line human form of an intended or observed value.

    Booleans are ``true``/``false`` (as in YAML), floats keep full precision
    (``0.9`` vs ``0.90000001`` must not print alike), lists are ``[a, b]`` and
    mappings ``{k: v}`` with sorted keys so the output is deterministic.
    """
    if value is None:
        return none
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return clean(value) if value else '""'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt_value(v, "null") for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "{" + ", ".join(f"{clean(str(k))}: {fmt_value(v, 'null')}" for k, v in items) + "}"
    return clean(str(value))


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def pods_phrase(count: int, total: int) -> str:
    return f"{count} of {total} pods"


# Marks a provenance cell that is only a note (no object/path to point at).
NOTE_PREFIX = "note: "


def observed_rows(result: Result) -> list[tuple[str, str]]:
    """``(value, provenance)`` per distinct observed value.

    When replicas disagree each value says how many pods run it
    (``fp16 (2 of 4 pods)``); a single value carries the result's ``scope``
    when the differ set one. Provenance is ``Prov.where()`` plus the
    evidence note (e.g. that an engine default depends on the GPU).
    """
    evidence = result.observed
    total = sum(e.count for e in evidence)
    rows = []
    for e in evidence:
        value = "unverifiable" if e.unverifiable else fmt_value(e.value)
        if len(evidence) > 1:
            value += f" ({pods_phrase(e.count, total)})"
        elif result.scope:
            value += f" ({clean(result.scope)})"
        where = clean(e.prov.where()) if e.prov else ""
        # The result's own reason is printed once, below; only other reasons go next to their pods.
        for note in (e.note, e.unverifiable if e.unverifiable != result.reason else None):
            if note:
                where = f"{where}; {clean(note)}" if where else NOTE_PREFIX + clean(note)
        rows.append((value, where))
    return rows


def observed_text(result: Result, sep: str = "; ") -> str:
    """All observed values on one line (provenance left out)."""
    rows = observed_rows(result)
    if not rows:
        return "not observed" if result.status == Status.UNVERIFIABLE else "-"
    return sep.join(v for v, _ in rows)


def intended_text(result: Result) -> str:
    return fmt_value(result.expected, none="-")


def location_text(result: Result) -> str:
    """``file:line:col`` of the spec field, or ``""`` when unknown."""
    return clean(str(result.location)) if result.location else ""


def target_label(target: TargetRef) -> str:
    label = clean(target.label())
    return f"{label} (context {clean(target.context)})" if target.context else label


def status_label(result: Result) -> str:
    """What a result's outcome is called everywhere: the level for a drift,
    ``warning, unpinned`` for a prevention finding, else the outcome."""
    if result.status == Status.DRIFT:
        return result.level
    if result.status == Status.UNPINNED:
        return f"{result.level}, unpinned"
    return {Status.UNVERIFIABLE: "unverifiable", Status.SUPPRESSED: "skipped",
            Status.MATCH: "ok", Status.NOT_APPLICABLE: "n/a"}.get(result.status, clean(result.status))


def reason_text(result: Result) -> str | None:
    """The line that explains a non-problem outcome, or None."""
    reason = clean(result.reason) if result.reason else "no reason given"
    if result.status == Status.UNVERIFIABLE:
        return f"unverifiable: {reason}"
    if result.status == Status.SUPPRESSED:
        return f"skipped: {reason}"
    if result.status == Status.NOT_APPLICABLE and result.reason:
        return f"not applicable: {reason}"
    return None


def is_problem(result: Result) -> bool:
    return result.status in PROBLEM_STATUSES


def category_rank(category: str) -> tuple[int, str]:
    try:
        return (CATEGORY_ORDER.index(category), "")
    except ValueError:
        return (len(CATEGORY_ORDER), category)


def sort_key(result: Result) -> tuple:
    t = result.target
    return (result.spec, category_rank(result.category), result.check, t.namespace, t.kind, t.name,
            t.container or "", t.context or "", result.field)


def report_key(report: Report):
    """The result order of ``report``: :func:`sort_key`, within each context in the order given when the
    report spans several (``diff --context A --context B``)."""
    names = [c.name for c in getattr(report, "contexts", None) or []]
    if not names:
        return sort_key
    rank = {n: i for i, n in enumerate(names)}
    return lambda r: (rank.get(r.target.context or "", len(rank)), sort_key(r))


def by_context(report: Report, results: list[Result]) -> list[tuple[str | None, list[Result]]]:
    """``results`` split per context of a several-context report, in the order given; one group
    (context None) otherwise."""
    names = [c.name for c in getattr(report, "contexts", None) or []]
    if not names:
        return [(None, results)]
    groups = [(n, [r for r in results if r.target.context == n]) for n in names]
    rest = [r for r in results if r.target.context not in names]
    return [g for g in groups if g[1]] + ([(None, rest)] if rest else [])


def ordered(results: Iterable[Result], show_matches: bool = False) -> list[Result]:
    """Results to show, in report order (spec, category, check, target).

    The differ already orders them; sorting again keeps every output
    deterministic even for a hand-built or merged report.
    """
    keep = [r for r in results if show_matches or r.status in SHOWN_STATUSES]
    return sorted(keep, key=sort_key)


def blocks(results: list[Result]) -> Iterator[tuple[str, list[tuple[str, TargetRef, list[Result]]]]]:
    """Group ordered results: category -> [(spec, target, results)], in
    display order (category first, then spec and target)."""
    by_cat: dict[str, dict[tuple[str, TargetRef], list[Result]]] = {}
    for r in results:
        by_cat.setdefault(r.category, {}).setdefault((r.spec, r.target), []).append(r)
    for cat in sorted(by_cat, key=category_rank):
        groups = by_cat[cat]
        keys = sorted(groups, key=lambda k: (k[0], k[1].namespace, k[1].kind, k[1].name, k[1].container or "",
                                             k[1].context or ""))
        yield cat, [(spec, target, sorted(groups[(spec, target)], key=sort_key)) for spec, target in keys]


def is_clean(summary: Summary) -> bool:
    return not (summary.drift or summary.unverifiable or summary.unpinned)


def _gate_tags(summary: Summary, gate: Gate | None) -> dict[str, str]:
    """What the gate did with each count, where that is not the default reading.

    Drift fails the default gate, so only drift that does *not* gate is tagged;
    unpinned and unverifiable do not gate by default, so only those that *do*
    are. The summary line and the exit code then never disagree."""
    if gate is None:
        return {}
    tags = {}
    if gate.not_gating and summary.drift:
        n = "" if gate.not_gating >= summary.drift else f"{gate.not_gating} "
        tags["drift"] = f" ({n}not gating: --fail-on {gate.threshold})"
    for status, total, flag, pol in (("unpinned", summary.unpinned, gate.fail_on_unpinned, gate.policy_unpinned),
                                     ("unverifiable", summary.unverifiable, gate.fail_on_unverifiable,
                                      gate.policy_unverifiable)):
        k = gate.failing.get(status, 0)
        if k:
            why = f"--fail-on-{status}" if flag else f"policy.failOn.{status}"
            tags[status] = f" ({'' if k >= total else f'{k} '}gating: {why})"
    return tags


def summary_line(summary: Summary, gate: Gate | None = None) -> str:
    """The one line every human format ends with.

    ``3 drifted, 1 unverifiable, 1 unpinned across 4 pods (1 workload, 1 spec), 1 suppressed``
    or ``no drift: 12 checks matched across 4 pods``. Offline audits that saw
    no pods count workloads instead of writing "across 0 pods". With the
    report's ``gate``, counts whose gating differs from the default say so:
    ``2 drifted (not gating: --fail-on error)``, ``1 unverifiable (gating: --fail-on-unverifiable)``.
    """
    s = summary
    if not s.pods and not s.workloads and not s.specs:
        # data-diff: findings about a dataset, no workload or spec involved.
        return (f"no drift: {plural(s.match, 'check')} matched" if is_clean(s) else
                f"{s.drift} drifted, {s.unverifiable} unverifiable") + " in the data" + (
            f", {s.suppressed} suppressed" if s.suppressed else "")
    if is_clean(s):
        where = plural(s.pods, "pod") if s.pods else plural(s.workloads, "workload")
        line = f"no drift: {plural(s.match, 'check')} matched across {where}"
    else:
        tags = _gate_tags(s, gate)
        scope = (f"{plural(s.pods, 'pod')} ({plural(s.workloads, 'workload')}, {plural(s.specs, 'spec')})"
                 if s.pods else f"{plural(s.workloads, 'workload')} ({plural(s.specs, 'spec')})")
        line = (f"{s.drift} drifted{tags.get('drift', '')}, {s.unverifiable} unverifiable"
                f"{tags.get('unverifiable', '')}, {s.unpinned} unpinned{tags.get('unpinned', '')} across {scope}")
    return f"{line}, {s.suppressed} suppressed" if s.suppressed else line


def verdict(summary: Summary, gate: Gate | None = None) -> str:
    """Short verdict for headings: ``3 drifted, 1 unverifiable`` or ``no drift`` (gate tags as in the summary line)."""
    s = summary
    tags = _gate_tags(s, gate)
    parts = [f"{n} {word}{tags.get(status, '')}" for n, word, status in (
        (s.drift, "drifted", "drift"), (s.unverifiable, "unverifiable", "unverifiable"),
        (s.unpinned, "unpinned", "unpinned")) if n]
    return ", ".join(parts) if parts else "no drift"


def issue_text(report: Report) -> list[str]:
    """Collection issues as lines: ``scope: kind: message (area)``, sorted."""
    lines = []
    for i in report.issues:
        area = f" (area: {clean(i.area)})" if i.area else ""
        lines.append(f"{clean(i.scope)}: {clean(i.kind)}: {clean(i.message)}{area}")
    return sorted(lines)


def context_lines(report: Report) -> list[str]:
    """A several-cluster report's contexts, one line each, with the exit code each alone would have:
    ``context prod-eu: 2 drifted, 0 unverifiable, 1 unpinned (exit 1)``,
    ``context prod-ap: could not be read: … (exit 3)``. Empty for a one-cluster report."""
    out = []
    for c in getattr(report, "contexts", None) or []:
        if c.status != "ok":
            what = f"could not be read: {c.reason}"
        elif is_clean(c.summary):
            what = "no drift"
        else:
            s = c.summary
            what = f"{s.drift} drifted, {s.unverifiable} unverifiable, {s.unpinned} unpinned"
        out.append(clean(f"context {c.name}: {what} (exit {c.exit_code})"))
    return out


def shows_message(report: Report, r: Result) -> bool:
    """Whether a result's message says more than its row: a comparison of two running sides
    (``compare``, the cross-context findings of a several-cluster run) names both sides only there."""
    two_sided = report.source == "compare" or bool(getattr(report, "contexts", None))
    return two_sided and r.status == "drift" and r.location is not None and not r.location.line
