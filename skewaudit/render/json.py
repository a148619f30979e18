"""JSON output: the ``Report`` itself, encoded with msgspec, 2-space indented.

Schema ``skewaudit.io/report/v1`` (the ``schema`` key; a breaking change bumps
it). Keys whose value is empty or default are omitted. Mapping keys are sorted,
so the same report always gives the same bytes.

Top level:
  ``source`` (``live`` | ``manifest`` | ``local`` | ``snapshot``),
  ``summary``, ``schema``, ``skewaudit_version``, ``generated_at`` (ISO 8601
  UTC), ``context`` (kube context), ``specs`` (spec files audited),
  ``results`` (list, ordered by spec, category in playbook order: model,
  runtime, hardware, serving, orchestration, collection; then check id,
  target, field), ``checks``
  (check id -> ``{id, category, title, level, why, fields, remediation,
  next_steps, commands, aliases}``), ``issues`` (collection issues: ``{scope,
  kind, message, area}``), ``baseline`` (snapshot compared against).

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
  col}``, 1-based), ``scope`` (e.g. ``2 of 4 pods``), ``reason``, ``hint``,
  ``next_steps``, ``commands``.

``status`` values: ``match``, ``drift``, ``unverifiable`` (could not be
checked; ``reason`` says why; never counted as a match), ``unpinned`` (a
prevention finding: ``:latest``, no revision …), ``not-applicable``,
``suppressed`` (ignored by policy; ``reason`` holds the justification).
Secret values appear only as redaction markers (``<redacted:1a2b3c4d>``).
"""

from __future__ import annotations

import msgspec

from skewaudit.model.finding import Report
from skewaudit.render import _text

NAME = "json"
SUFFIX = ".json"


def render(report: Report, **opts: object) -> str:
    """The report as indented JSON with a trailing newline."""
    # Same order as every other format, whatever order the report was built in.
    report = msgspec.structs.replace(
        report, results=sorted(report.results, key=_text.sort_key),
        issues=sorted(report.issues, key=lambda i: (i.scope, i.kind, i.area, i.message)))
    raw = msgspec.json.encode(report, order="deterministic")
    return msgspec.json.format(raw, indent=2).decode("utf-8") + "\n"
