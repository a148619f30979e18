"""SARIF 2.1.0 output, for code-scanning UIs (GitHub, GitLab, VS Code viewers).

One run. ``tool.driver.rules`` come from ``report.checks`` (title, why,
remediation, default level). Results are written for problems (drift and
unpinned), unverifiable fields (``kind: "review"``, ``level: "none"``: a human
must look, it is not a failure) and suppressed ones (with a ``suppressions``
entry carrying the reason); matches and not-applicable results are left out.
Each result points at the spec line that declares the field
(``region.startLine``) and names the workload as a logical location
``namespace/workload[/container]``. Collection issues become tool execution
notifications. Spec: https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from skewaudit.model.finding import CheckInfo, Report, Result, Status
from skewaudit.render import _text

NAME = "sarif"
SUFFIX = ".sarif.json"

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/skewaudit/skewaudit"

# skewaudit level -> SARIF level (SARIF has "note" where we have "info").
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
_WRITTEN = (Status.DRIFT, Status.UNPINNED, Status.UNVERIFIABLE, Status.SUPPRESSED)


def _rule(info: CheckInfo) -> dict[str, Any]:
    rule: dict[str, Any] = {"id": info.id, "shortDescription": {"text": info.title or info.id}}
    if info.why:
        rule["fullDescription"] = {"text": info.why}
    if info.remediation:
        rule["help"] = {"text": info.remediation}
    rule["defaultConfiguration"] = {"level": _LEVEL.get(info.level, "warning")}
    rule["properties"] = {"category": info.category, "tags": [info.category]}
    return rule


def _uri(path: str) -> str:
    # SARIF wants a URI: forward slashes; absolute paths become file:// URIs,
    # relative ones stay relative to the repository root (what CI uploads expect).
    path = path.replace("\\", "/")
    return f"file://{path}" if path.startswith("/") else path


def _suppression_kind(reason: str) -> str:
    # The differ words annotation suppressions "ignored by annotation …" (on the object
    # itself: inSource); spec-policy ignores live in a separate file (external).
    return "inSource" if "annotation" in reason.lower() else "external"


def _message(r: Result) -> str:
    text = r.message or f"{r.field}: intended {_text.intended_text(r)}, observed {_text.observed_text(r)}"
    if r.status == Status.UNVERIFIABLE and r.reason and r.reason not in text:
        text = f"{text} (unverifiable: {r.reason})"
    return _text.clean(text)


def _fingerprint(r: Result) -> str:
    # Stable across runs for the same finding, so code scanning tracks it
    # instead of opening a new alert each time; values are left out on purpose
    # (a re-drift to another value is the same alert).
    t = r.target
    key = "\0".join((r.check, r.spec, r.field, t.kind, t.namespace, t.name, t.container or "", t.context or ""))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def _result(r: Result, rule_index: dict[str, int], several: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"ruleId": r.check}
    if r.check in rule_index:
        out["ruleIndex"] = rule_index[r.check]
    if r.status == Status.UNVERIFIABLE:
        out["kind"] = "review"
        out["level"] = "none"
    else:
        out["kind"] = "fail"
        out["level"] = _LEVEL.get(r.level, "warning")
    text = _message(r)
    if several and r.target.context and r.target.context not in text:
        # several clusters in one log: a code-scanning alert must say which one it is about
        text = _text.clean(f"[context {r.target.context}] ") + text
    out["message"] = {"text": text}
    if r.location and r.location.file:
        physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(r.location.file)}}
        if r.location.line >= 1:
            region = {"startLine": r.location.line}
            if r.location.col >= 1:
                region["startColumn"] = r.location.col
            physical["region"] = region
        out["locations"] = [{"physicalLocation": physical}]
    t = r.target
    fqn = "/".join(p for p in (t.namespace, t.name, t.container) if p)
    if fqn:
        logical = [{"fullyQualifiedName": fqn, "kind": "resource"}]
        out.setdefault("locations", [{}])[0]["logicalLocations"] = logical
    out["partialFingerprints"] = {"skewauditFinding/v1": _fingerprint(r)}
    if r.status == Status.SUPPRESSED:
        reason = r.reason or "no reason given"
        out["suppressions"] = [{"kind": _suppression_kind(reason), "justification": reason}]
    props: dict[str, Any] = {"status": r.status, "category": r.category, "field": r.field,
                             "spec": r.spec, "target": _text.target_label(t),
                             "intended": _text.intended_text(r), "observed": _text.observed_text(r)}
    if r.scope:
        props["scope"] = r.scope
    if r.hint:
        props["hint"] = r.hint
    if r.commands:
        props["commands"] = list(r.commands)
    out["properties"] = props
    return out


def render(report: Report, **opts: object) -> str:
    """The report as a SARIF 2.1.0 log (indented JSON, trailing newline)."""
    results = _text.ordered(report.results)
    infos = dict(report.checks)
    # A result whose check metadata is missing still gets a rule, so every
    # ruleId resolves in viewers.
    for r in results:
        infos.setdefault(r.check, CheckInfo(id=r.check, category=r.category, title=r.check, level=r.level))
    rule_ids = sorted(infos)
    rule_index = {cid: i for i, cid in enumerate(rule_ids)}
    driver: dict[str, Any] = {"name": "skewaudit"}
    if report.skewaudit_version:
        driver["version"] = report.skewaudit_version
    driver["informationUri"] = INFORMATION_URI
    driver["rules"] = [_rule(infos[cid]) for cid in rule_ids]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "columnKind": "unicodeCodePoints",
        "results": [_result(r, rule_index, bool(getattr(report, "contexts", None))) for r in results
                    if r.status in _WRITTEN],
    }
    notes = [{"level": "warning", "message": {"text": line}} for line in _text.issue_text(report)]
    run["invocations"] = [{"executionSuccessful": True, **({"toolExecutionNotifications": notes} if notes else {})}]
    props: dict[str, Any] = {"source": report.source, "summary": _text.summary_line(report.summary, report.gate)}
    if report.context:
        props["context"] = report.context
    if report.baseline:
        props["baseline"] = report.baseline
    if getattr(report, "contexts", None):
        props["contexts"] = _text.context_lines(report)
    run["properties"] = props
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return msgspec.json.format(msgspec.json.encode(log), indent=2).decode("utf-8") + "\n"
