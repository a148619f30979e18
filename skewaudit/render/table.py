"""Human output: problems grouped by category, one block per spec and target.

Each row shows check id, level, ModelSpec field with its ``file:line:col``,
intended value, observed values (one line per distinct value, with "2 of 4
pods" when replicas disagree) and where each came from; below it, dimmed, why
it could not be verified or was skipped, the hint and ready-to-paste commands.
Matches and not-applicable results are hidden unless ``show_matches``. Ends
with one summary line, never wrapped (scripts grep it; commands are not
wrapped either, so they paste whole). When the columns would be too narrow
(under ~100 characters for typical reports) each result is written as a
stacked block instead: check and level, then field, intended and observed.

Columns are laid out here, not by a rich ``Table``: a rich Table of 1,000
findings takes about 1.2 s to render, plain lines a few milliseconds, and a
hint line must span the whole width under its row (rich has no column span).
rich is used only to colour segments (imported lazily, and only when colour is
on) and, for large reports (more than ``LARGE`` rows), for a small table of
counts per check printed just before the summary line, where it stays on
screen. Widths are measured in characters, which is exact for the ASCII these
values are made of.
"""

from __future__ import annotations

import os
import shutil
import sys

from skewaudit.model.finding import LEVEL_RANK, Report, Result, Status
from skewaudit.render import _text

NAME = "table"
SUFFIX = ".txt"

LARGE = 200          # rows above which a per-check count table is added
DEFAULT_WIDTH = 100  # when not on a terminal and COLUMNS is unset
MIN_WIDTH = 40

_HEAD = ("Check", "Level", "Field", "Intended", "Observed")
_ROW_INDENT = "    "
_DETAIL_INDENT = "      "
_GAP = "  "
_CHECK_MAX = 36      # check ids longer than this wrap
_MIN_COL = 8
_NARROW = 20   # a flexible column squeezed below this (and below its content) -> stacked layout

_STYLE = {
    "error": "bold red", "warning": "yellow", "info": "cyan", "unverifiable": "magenta", "unpinned": "yellow",
    "skipped": "dim", "ok": "green", "n/a": "dim", "check": "bold", "category": "bold underline",
    "block": "bold", "head": "dim", "detail": "dim", "why": "magenta", "issue": "yellow",
    "summary": "bold", "clean": "bold green",
}

Seg = tuple[str, str | None]
Line = list[Seg]

# Where a too-long token (a path, a dotted field) may be broken: after these.
_BREAK_AFTER = "./,=-:]"


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap; over-long tokens break after ``.``/``/``… when possible."""
    if len(text) <= width:
        return [text]
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        while True:
            candidate = f"{line} {word}" if line else word
            if len(candidate) <= width:
                line = candidate
                break
            if line:
                out.append(line)
                line = ""
                continue
            cut = next((i for i in range(width, width // 2, -1) if word[i - 1] in _BREAK_AFTER), width)
            out.append(word[:cut])
            word = word[cut:]
    if line:
        out.append(line)
    return out


def _fit(natural: list[int], avail: int) -> list[int]:
    """Column widths: natural widths when they fit, else water-filling (narrow
    columns keep their width, the wide ones share what is left equally)."""
    if sum(natural) <= avail:
        return list(natural)
    widths = [0] * len(natural)
    left = list(range(len(natural)))
    budget = avail
    while left:
        share = budget // len(left)
        small = [i for i in left if natural[i] <= share]
        if not small:
            extra = budget - share * len(left)
            for k, i in enumerate(left):
                widths[i] = max(_MIN_COL, share + (1 if k < extra else 0))
            break
        for i in small:
            widths[i] = natural[i]
            budget -= natural[i]
            left.remove(i)
    return widths


def _subrows(r: Result) -> list[list[str]]:
    """The row of one result as sub-rows of five cells: the second line holds
    the spec location and, for an unpinned result, the word "unpinned"; one
    line per distinct observed value."""
    status = _text.status_label(r).split(", ")
    obs = [v for v, _ in _text.observed_rows(r)] or [_text.observed_text(r)]
    location = _text.location_text(r)
    n = max(len(obs), 2 if (location or len(status) > 1) else 1)
    return [[
        r.check if i == 0 else "",
        status[i] if i < len(status) else "",
        _text.clean(r.field) if i == 0 else (location if i == 1 else ""),
        _text.intended_text(r) if i == 0 else "",
        obs[i] if i < len(obs) else "",
    ] for i in range(n)]


def _provenance(r: Result) -> list[str]:
    """Where the observed values came from, one line each (one line in all
    when every value has the same source)."""
    rows = [(v, p) for v, p in _text.observed_rows(r) if p]

    def line(v: str | None, p: str) -> str:
        if p.startswith(_text.NOTE_PREFIX):
            return f"{v}: {p[len(_text.NOTE_PREFIX):]}" if v else p
        return f"{v} from {p}" if v else f"from {p}"

    if len({p for _, p in rows}) == 1:
        return [line(None, rows[0][1])]
    return [line(v, p) for v, p in rows]


def _cells_line(cells: list[str], widths: list[int], styles: list[str | None]) -> list[Line]:
    wrapped = [_wrap(c, w) for c, w in zip(cells, widths)]
    height = max(len(w) for w in wrapped)
    lines = []
    for i in range(height):
        texts = [w[i] if i < len(w) else "" for w in wrapped]
        last = max((j for j, t in enumerate(texts) if t), default=-1)
        line: Line = [(_ROW_INDENT, None)]
        for j in range(last + 1):
            line.append((texts[j], styles[j]))
            if j < last:
                line.append((" " * (widths[j] - len(texts[j])) + _GAP, None))
        lines.append(line)
    return lines


def _status_style(label: str) -> str | None:
    return _STYLE.get(label)


def _detail(text: str, style: str | None, width: int) -> list[Line]:
    return [[(_DETAIL_INDENT, None), (t, style)] for t in _wrap(text, max(width - len(_DETAIL_INDENT), 20))]


def _stacked_lines(r: Result, width: int) -> list[Line]:
    """Narrow terminals: the check and level on one line, then labelled
    field, intended and observed lines."""
    status = _text.status_label(r)
    lines: list[Line] = [[(_ROW_INDENT, None), (r.check, _STYLE["check"]), ("  ", None),
                          (status, _status_style(status.split(", ")[0]))]]
    location = _text.location_text(r)
    lines += _detail(f"field     {_text.clean(r.field)}{f'  {location}' if location else ''}", None, width)
    lines += _detail(f"intended  {_text.intended_text(r)}", None, width)
    obs = [v for v, _ in _text.observed_rows(r)] or [_text.observed_text(r)]
    for k, value in enumerate(obs):
        lines += _detail(f"{'observed' if k == 0 else '':8}  {value}", None, width)
    return lines


def _result_lines(r: Result, widths: list[int] | None, width: int, message: bool = False) -> list[Line]:
    if widths is None:
        lines = _stacked_lines(r, width)
    else:
        lines = []
        for cells in _subrows(r):
            styles = [_STYLE["check"], _status_style(cells[1]), None, None, None]
            lines += _cells_line(cells, widths, styles)
    if message:
        lines += _detail(_text.clean(r.message), None, width)
    for prov in _provenance(r):
        lines += _detail(prov, _STYLE["detail"], width)
    reason = _text.reason_text(r)
    if reason:
        lines += _detail(reason, _STYLE["why"] if r.status == Status.UNVERIFIABLE else _STYLE["detail"], width)
    if r.hint and r.status != Status.SUPPRESSED:
        lines += _detail(f"hint: {_text.clean(r.hint)}", _STYLE["detail"], width)
    if r.status != Status.SUPPRESSED:
        # Commands are never wrapped: they must paste as one line.
        lines += [[(_DETAIL_INDENT, None), (f"$ {_text.clean(c)}", _STYLE["detail"])] for c in r.commands]
    return lines


def _widths(results: list[Result], width: int) -> list[int] | None:
    """Column widths for ``width``, or None when the columns would be too
    narrow to read and each result is written as a stacked block instead."""
    natural = [len(h) for h in _HEAD]
    for r in results:
        for cells in _subrows(r):
            for j, c in enumerate(cells):
                if len(c) > natural[j]:
                    natural[j] = len(c)
    # Check id and level keep their width (a wrapped id is hard to grep);
    # field, intended and observed share the rest.
    natural[0] = min(natural[0], _CHECK_MAX)
    avail = width - len(_ROW_INDENT) - len(_GAP) * (len(_HEAD) - 1) - natural[0] - natural[1]
    flexible = _fit(natural[2:], avail)
    if avail < 3 * _MIN_COL or any(w < min(n, _NARROW) for w, n in zip(flexible, natural[2:])):
        return None
    return natural[:2] + flexible


def _body(results: list[Result], width: int, report: Report | None = None) -> list[Line]:
    widths = _widths(results, width)
    head = _cells_line(list(_HEAD), widths, [_STYLE["head"]] * len(_HEAD)) if widths else []
    lines: list[Line] = []
    for category, groups in _text.blocks(results):
        lines.append([(category.upper(), _STYLE["category"])])
        lines += head
        for spec, target, rs in groups:
            lines.append([("  ", None), (f"{_text.clean(spec)} on {_text.target_label(target)}", _STYLE["block"])])
            for r in rs:
                lines += _result_lines(r, widths, width, report is not None and _text.shows_message(report, r))
        lines.append([])
    return lines


def _count_table(results: list[Result], width: int, color: bool) -> str:
    """Counts per check for large reports, rendered with rich (few rows)."""
    from rich import box
    from rich.table import Table

    counts: dict[str, dict[str, int]] = {}
    levels: dict[str, str] = {}
    for r in results:
        c = counts.setdefault(r.check, {})
        c[r.status] = c.get(r.status, 0) + 1
        if LEVEL_RANK.get(r.level, 0) > LEVEL_RANK.get(levels.get(r.check, ""), 0):
            levels[r.check] = r.level
    table = Table(title=f"{len(results)} results by check", title_justify="left", box=box.SIMPLE_HEAD,
                  show_edge=False)
    for col in ("Check", "Level", "Drifted", "Unpinned", "Unverifiable", "Suppressed"):
        table.add_column(col, justify="left" if col in ("Check", "Level") else "right")
    statuses = (Status.DRIFT, Status.UNPINNED, Status.UNVERIFIABLE, Status.SUPPRESSED)
    for check in sorted(counts, key=lambda c: (-LEVEL_RANK.get(levels.get(c, ""), 0), c)):
        table.add_row(check, levels.get(check, ""), *(str(counts[check].get(s, 0)) for s in statuses))
    console = _console(width, color)
    console.print(table)
    text = console.file.getvalue()
    # rich pads cells to the table width; trailing blanks are noise in logs and diffs.
    return text if color else "".join(line.rstrip() + "\n" for line in text.splitlines())


def _console(width: int, color: bool):
    import io

    from rich.console import Console

    return Console(file=io.StringIO(), width=width, color_system="standard" if color else None,
                   force_terminal=color, no_color=not color, highlight=False, emoji=False, markup=False,
                   legacy_windows=False, soft_wrap=True)


def _emit(lines: list[Line], width: int, color: bool) -> str:
    if not color:
        return "".join("".join(t for t, _ in line).rstrip() + "\n" for line in lines)
    from rich.text import Text

    text = Text()
    for line in lines:
        for t, style in line:
            text.append(t, style or None)
        text.append("\n")
    console = _console(width, color)
    console.print(text, end="")
    return console.file.getvalue()


def _color(color: bool | None) -> bool:
    # https://no-color.org: NO_COLOR set and non-empty disables colour unless
    # the user explicitly asked for it (color=True, e.g. --color).
    if color is not None:
        return color
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def render(report: Report, *, width: int | None = None, color: bool | None = None,
           show_matches: bool = False, **opts: object) -> str:
    """The report as terminal text, ``width`` columns wide (default: the terminal's)."""
    width = max(width or shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns, MIN_WIDTH)
    color = _color(color)
    results = _text.ordered(report.results, show_matches=show_matches)
    lines = []
    for context, group in _text.by_context(report, results) if results else []:
        if context is not None:   # several clusters: one block per context, in the order given
            lines.append([(f"== context {_text.clean(context)}", _STYLE["category"])])
        lines += _body(group, width, report)
    issues = _text.issue_text(report)
    if issues:
        lines.append([("COLLECTION ISSUES", _STYLE["category"])])
        for issue in issues:
            lines += [[(_ROW_INDENT if k == 0 else _DETAIL_INDENT, None), (t, _STYLE["issue"])]
                      for k, t in enumerate(_wrap(issue, width - len(_DETAIL_INDENT)))]
        lines.append([])
    contexts = _text.context_lines(report)
    if contexts:
        lines.append([("CONTEXTS", _STYLE["category"])])
        lines += [[(_ROW_INDENT, None), (c, None)] for c in contexts]
        lines.append([])
    out = _emit(lines, width, color)
    if len(results) > LARGE:
        # Last, next to the summary: what is still on screen after 1,000 rows scrolled by.
        out += _count_table(results, width, color) + "\n"
    summary = _text.summary_line(report.summary, report.gate)
    style = _STYLE["clean"] if _text.is_clean(report.summary) else _STYLE["summary"]
    return out + _emit([[(summary, style)]], width, color)
