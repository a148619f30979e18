"""JSON output: the ``Report`` itself, encoded with msgspec, 2-space indented.

Schema ``skewaudit.io/report/v1`` (the ``schema`` key; a breaking change bumps
it). Keys whose value is empty or default are omitted. Mapping keys are sorted,
so the same report always gives the same bytes.

Top level:
  ``source`` (``live`` | ``manifest`` | ``local`` | ``snapshot`` | ``baseline`` | ``compare``),
  ``summary``, ``schema``, ``skewaudit_version``, ``generated_at`` (ISO 8601
  UTC), ``context`` (kube context), ``specs`` (spec files audited),
  ``results`` (list, ordered by spec, category in playbook order: model,
  runtime, hardware, serving, orchestration, collection; then check id,
  target, field), ``checks``
  (check id -> ``{id, category, title, level, why, fields, remediation,
  next_steps, commands, aliases}``), ``issues`` (collection issues: ``{scope,
  kind, message, area}``), ``baseline`` (snapshot compared against; for
  ``compare``, the first side), ``gate`` (the exit-code decision, below).
  Several ``--context`` only: ``contexts`` (one ``{name, status: ok |
  unreachable, reason, workloads, pods, summary, exit_code}`` per context, in
  the order given; ``exit_code`` is what that context alone would exit with).

``summary``: ``drift``, ``unverifiable``, ``unpinned``, ``match``,
  ``suppressed``, ``not_applicable`` (result counts by status), ``errors``,
  ``warnings``, ``infos`` (problem results by level), ``specs``,
  ``workloads``, ``pods``. Always written in full.

Each result:
  ``check`` (``category.kebab-name``), ``category``, ``status``, ``level``
  (``error`` | ``warning`` | ``info``), ``spec``, ``field`` (dotted ModelSpec
  path), ``target`` (``{kind, name, namespace, container, context}``),
  ``message``, ``expected`` (the intended value as the spec writes it),
  ``observed`` (distinct running values: ``[{value, prov: {source, object,
  path, container}, note, pods, count}]``), ``location`` (``{file, line,
  col}``, 1-based; ``key`` too when the intent came from a validation record:
  the key path inside it, ``config.model_args.dtype``), ``scope`` (e.g.
  ``2 of 4 pods``), ``reason``, ``hint``,
  ``next_steps``, ``commands``.

``gate``: ``threshold`` (``--fail-on``: ``drift`` = any level, the default;
  ``error`` | ``warning`` | ``info``; ``never``), ``fail_on_unpinned``,
  ``fail_on_unverifiable`` (the command-line switches), ``policy_unpinned``,
  ``policy_unverifiable`` (spec names whose ``policy.failOn`` switches the gate
  on for their own results), ``result`` (``pass`` | ``fail``), ``exit_code``
  (0 | 1 | 3), ``reason`` (one line), ``failing`` (results failing the gate, by
  status), ``not_gating`` (drift results the threshold let through).

``status`` values: ``match``, ``drift``, ``unverifiable`` (could not be
checked; ``reason`` says why; never counted as a match), ``unpinned`` (a
prevention finding: ``:latest``, no revision …), ``not-applicable``,
``suppressed`` (ignored by policy; ``reason`` holds the justification).
Secret values appear only as redaction markers (``<redacted:1a2b3c4d>``).
"""

from __future__ import annotations

from typing import BinaryIO

import msgspec

from skewaudit.model.finding import Report
from skewaudit.render import _text

NAME = "json"
SUFFIX = ".json"


def _ordered(report: Report) -> Report:
    # Same order as every other format, whatever order the report was built in.
    return msgspec.structs.replace(
        report, results=sorted(report.results, key=_text.report_key(report)),
        issues=sorted(report.issues, key=lambda i: (i.scope, i.kind, i.area, i.message)))


def render(report: Report, **opts: object) -> str:
    """The report as indented JSON with a trailing newline."""
    raw = msgspec.json.encode(_ordered(report), order="deterministic")
    # A 1,000-spec fleet report is tens of MB: drop each intermediate copy as
    # soon as the next one exists, so the peak holds two of them, not four.
    out = msgspec.json.format(raw, indent=2)
    del raw
    text = out.decode("utf-8")
    del out
    text += "\n"
    return text


CHUNK = 500   # results encoded at a time by write()


def write(report: Report, fh: BinaryIO, **opts: object) -> None:
    """Write exactly ``render(report).encode()`` to the binary file ``fh``, a chunk of results at a time.

    Memory then follows the chunk, not the report: a 10,000-pod fleet report is
    ~40 MB of text, which ``render`` holds two or three times over while it
    builds the string. Indented JSON is context-free (a value nested one level
    deeper is the same text with two more spaces after each newline, and JSON
    strings hold no raw newline), so the results array is formatted piecewise
    and spliced into the rest of the report.
    """
    report = _ordered(report)
    head = msgspec.json.format(msgspec.json.encode(msgspec.structs.replace(report, results=[]),
                                                   order="deterministic"), indent=2)
    marker = b'\n  "results": [],\n'
    cut = head.find(marker)
    if not report.results or cut < 0 or head.find(marker, cut + 1) >= 0:
        fh.write(render(report).encode("utf-8"))
        return
    fh.write(head[:cut] + b'\n  "results": [\n')
    encoder = msgspec.json.Encoder(order="deterministic")
    results = report.results
    for start in range(0, len(results), CHUNK):
        body = msgspec.json.format(encoder.encode(results[start:start + CHUNK]), indent=2)
        # "[\n  {…},\n  {…}\n]" -> the elements, two spaces deeper
        fh.write((b",\n    " if start else b"    ") + body[4:-2].replace(b"\n", b"\n  "))
    fh.write(b"\n  ],\n" + head[cut + len(marker):] + b"\n")
