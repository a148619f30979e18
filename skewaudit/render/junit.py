"""JUnit XML output, for CI test-report views (GitLab, Jenkins, GitHub actions).

``<testsuites>`` holds one ``<testsuite>`` per spec and one ``<testcase>`` per
check × target (``classname="<spec>.<category>"``, ``name="<check> <target>"``);
a check that reads several fields of one target is one case. Outcome of a case,
first rule that applies:

* a drift or unpinned result at level error or warning -> ``<failure>``
  (``type`` = the worst level, ``message`` = the first problem, body = every
  field with intended, observed, provenance, hint and commands);
* an unverifiable field -> ``<skipped message="unverifiable: reason"/>``;
* a suppressed result -> ``<skipped message="suppressed: reason"/>``;
* only not-applicable results -> ``<skipped message="not applicable: …"/>``;
* otherwise a pass; info-level problems are written to ``<system-out>``.

Passes and skips are listed too, so CI shows what was checked, not only what
failed. ``errors`` is always 0: a run that fails to audit exits non-zero
instead of producing a report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from skewaudit.model.finding import LEVEL_RANK, Report, Result, Status
from skewaudit.render import _text

NAME = "junit"
SUFFIX = ".junit.xml"

_FAILING_LEVELS = ("error", "warning")


def _details(results: list[Result]) -> str:
    lines = []
    for r in results:
        where = _text.location_text(r)
        lines.append(f"[{_text.status_label(r)}] {_text.clean(r.field)}{f' ({where})' if where else ''}: "
                     f"{_text.clean(r.message)}")
        lines.append(f"  intended: {_text.intended_text(r)}")
        for value, prov in _text.observed_rows(r) or [(_text.observed_text(r), "")]:
            lines.append(f"  observed: {value}{f'  from {prov}' if prov else ''}")
        reason = _text.reason_text(r)
        if reason:
            lines.append(f"  {reason}")
        if r.hint:
            lines.append(f"  hint: {_text.clean(r.hint)}")
        lines.extend(f"  next: {_text.clean(s)}" for s in r.next_steps)
        lines.extend(f"  $ {_text.clean(c)}" for c in r.commands)
    return "\n".join(lines)


def _reason(r: Result, fallback: str) -> str:
    return _text.clean(r.reason) if r.reason else fallback


def _case(spec: str, check: str, results: list[Result]) -> tuple[ET.Element, str]:
    """One testcase and its outcome: ``failure`` | ``skipped`` | ``pass``."""
    first = results[0]
    case = ET.Element("testcase", {"classname": f"{_text.clean(spec)}.{first.category}",
                                   "name": f"{check} {_text.target_label(first.target)}"})
    if first.location and first.location.file:
        case.set("file", _text.clean(first.location.file))
    failing = [r for r in results if _text.is_problem(r) and r.level in _FAILING_LEVELS]
    unverifiable = [r for r in results if r.status == Status.UNVERIFIABLE]
    suppressed = [r for r in results if r.status == Status.SUPPRESSED]
    if failing:
        worst = max(failing, key=lambda r: LEVEL_RANK.get(r.level, 0))
        failure = ET.SubElement(case, "failure", {"message": _text.clean(failing[0].message), "type": worst.level})
        failure.text = _details(results)
        return case, "failure"
    if unverifiable or suppressed or all(r.status == Status.NOT_APPLICABLE for r in results):
        if unverifiable:
            message = f"unverifiable: {_reason(unverifiable[0], 'not collected')}"
        elif suppressed:
            message = f"suppressed: {_reason(suppressed[0], 'no reason given')}"
        else:
            message = f"not applicable: {_reason(first, 'does not apply to this target')}"
        ET.SubElement(case, "skipped", {"message": message})
        return case, "skipped"
    infos = [r for r in results if _text.is_problem(r)]
    if infos:
        ET.SubElement(case, "system-out").text = _details(infos)
    return case, "pass"


def _counts(el: ET.Element, tests: int, failures: int, skipped: int) -> None:
    el.set("tests", str(tests))
    el.set("failures", str(failures))
    el.set("errors", "0")
    el.set("skipped", str(skipped))


def render(report: Report, **opts: object) -> str:
    """The report as a JUnit XML document (UTF-8 declaration, trailing newline)."""
    # spec -> (check, target) -> results, in report order.
    cases: dict[str, dict[tuple, list[Result]]] = {}
    for r in _text.ordered(report.results, show_matches=True):
        cases.setdefault(r.spec, {}).setdefault((r.check, r.target), []).append(r)
    root = ET.Element("testsuites", {"name": "skewaudit"})
    totals = [0, 0, 0]
    for spec in sorted(cases):
        suite = ET.SubElement(root, "testsuite", {"name": _text.clean(spec)})
        counts = {"failure": 0, "skipped": 0, "pass": 0}
        for (check, _target), results in cases[spec].items():
            case, outcome = _case(spec, check, results)
            suite.append(case)
            counts[outcome] += 1
        n = sum(counts.values())
        _counts(suite, n, counts["failure"], counts["skipped"])
        for i, v in enumerate((n, counts["failure"], counts["skipped"])):
            totals[i] += v
    _counts(root, *totals)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
