"""Markdown output for pull-request comments (GitHub-flavoured).

A heading with the verdict (``skewaudit: 3 drifted, 1 unverifiable``), the
audit's source, a table of problems and unverifiable fields (check, level,
target, intended, observed, where), one collapsible ``<details>`` per row with
the hint, next steps and commands in a ``sh`` block, the suppressed results
with their reasons, collection issues, and the summary line.

Values sit in code spans so redaction markers such as ``<redacted:1a2b3c4d>``
are not swallowed as HTML; free text is HTML-escaped and ``|`` escaped in
table cells. GitHub caps a comment at 65,536 characters, so at most
``MAX_ROWS`` problems are listed; the rest are counted and left to the JSON,
SARIF or JUnit artifact.
"""

from __future__ import annotations

import html
import re

from skewaudit.model.finding import Report, Result, Status
from skewaudit.render import _text

NAME = "markdown"
SUFFIX = ".md"

MAX_ROWS = 100


def _esc(text: str) -> str:
    """Free text for Markdown: no raw HTML, control characters made visible."""
    return html.escape(_text.clean(text), quote=False)


def _code(text: str) -> str:
    """A code span that survives backticks inside ``text``."""
    text = _text.clean(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    # GFM splits rows on | before parsing inline code, so escape it even inside code spans.
    return text.replace("|", "\\|")


def _observed_cell(r: Result) -> str:
    rows = _text.observed_rows(r)
    if not rows:
        return _esc(_text.observed_text(r))
    return "<br>".join(_code(v) for v, _ in rows)


def _where(r: Result) -> str:
    where = _text.location_text(r)
    return f"{_code(r.field)} {_code(where)}" if where else _code(r.field)


def _row(r: Result) -> str:
    cells = [_code(r.check), _esc(_text.status_label(r)), _code(_text.target_label(r.target)),
             _code(_text.intended_text(r)), _observed_cell(r), _where(r)]
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _fence(lines: list[str]) -> str:
    body = "\n".join(lines)
    fence = "```"
    while fence in body:
        fence += "`"
    return f"{fence}sh\n{body}\n{fence}"


def _details(r: Result) -> list[str]:
    summary = f"<code>{_esc(r.check)}</code> on {_esc(_text.target_label(r.target))}: {_esc(r.message)}"
    out = ["<details>", f"<summary>{summary}</summary>", ""]
    for value, prov in _text.observed_rows(r):
        if prov:
            out.append(f"- observed {_code(value)} from {_esc(prov)}")
    reason = _text.reason_text(r)
    if reason:
        out.append(f"- {_esc(reason)}")
    if r.hint:
        out += ["", _esc(r.hint)]
    if r.next_steps:
        out += ["", "Next steps:", ""] + [f"1. {_esc(s)}" for s in r.next_steps]
    if r.commands:
        out += ["", _fence([_text.clean(c) for c in r.commands])]
    out += ["", "</details>"]
    return out


def render(report: Report, **opts: object) -> str:
    """The report as a Markdown PR comment (trailing newline)."""
    results = _text.ordered(report.results)
    shown = [r for r in results if r.status != Status.SUPPRESSED]
    suppressed = [r for r in results if r.status == Status.SUPPRESSED]
    out = [f"## skewaudit: {_text.verdict(report.summary, report.gate)}", ""]
    source = f"Source: {_code(report.source)}"
    if report.context:
        source += f", context {_code(report.context)}"
    if report.baseline:
        source += f", baseline {_code(report.baseline)}"
    out += [source + ".", ""]
    contexts = _text.context_lines(report)
    if contexts:
        out += [f"- {_esc(c)}" for c in contexts] + [""]
    if shown:
        out += ["| Check | Level | Target | Intended | Observed | Where |",
                "|---|---|---|---|---|---|"]
        out += [_row(r) for r in shown[:MAX_ROWS]]
        out.append("")
        for r in shown[:MAX_ROWS]:
            out += _details(r) + [""]
        if len(shown) > MAX_ROWS:
            out += [f"{len(shown) - MAX_ROWS} more not listed here; see the JSON, SARIF or JUnit output.", ""]
    if suppressed:
        out += [f"**Suppressed ({len(suppressed)})**", ""]
        out += [f"- {_code(r.check)} on {_code(_text.target_label(r.target))}: {_esc(_text.reason_text(r) or '')}"
                for r in suppressed[:MAX_ROWS]]
        out.append("")
    issues = _text.issue_text(report)
    if issues:
        out += [f"**Collection issues ({len(issues)})**", ""] + [f"- {_esc(i)}" for i in issues] + [""]
    out.append(f"**{_esc(_text.summary_line(report.summary, report.gate))}**")
    return "\n".join(out) + "\n"
