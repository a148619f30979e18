"""Results of an audit: one ``Result`` per checked field per target, and the ``Report``.

The differ (``skewaudit.audit``) produces these; renderers only read them.
``CheckInfo`` (title, remediation, next steps) travels inside the report so
renderers never import the check registry. This is also the documented JSON
output: ``skewaudit diff --format json`` is ``msgspec.json.encode(report)``,
versioned by ``Report.schema``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit.model.observed import CollectionIssue, Prov

REPORT_SCHEMA = "skewaudit.io/report/v1"

LEVELS = ("error", "warning", "info")
LEVEL_RANK = {"info": 1, "warning": 2, "error": 3}

# ``--fail-on`` values. ``drift`` (the default) gates on every drift whatever its
# level; a level narrows the gate to drift at or above it; ``never`` only reports.
FAIL_ON = ("drift", "error", "warning", "info", "never")
FAIL_ON_RANK = {"drift": 0, **LEVEL_RANK}


class Status:
    MATCH = "match"
    DRIFT = "drift"
    UNVERIFIABLE = "unverifiable"
    UNPINNED = "unpinned"
    NOT_APPLICABLE = "not-applicable"
    SUPPRESSED = "suppressed"


# Statuses that are problems (counted, gated on, shown by default).
PROBLEM_STATUSES = (Status.DRIFT, Status.UNPINNED)


class Location(msgspec.Struct, frozen=True, omit_defaults=True):
    """A position in a spec file, 1-based; or in a record the intent came from (an lm-eval results
    JSON, an MLmodel), then ``key`` is the key path inside it (``config.model_args.dtype``)."""

    file: str
    line: int = 0
    col: int = 0
    key: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        return f"{where} ({self.key})" if self.key else where


class TargetRef(msgspec.Struct, frozen=True, omit_defaults=True):
    """What was checked: a workload, optionally narrowed to a pod/container/GPU."""

    kind: str = ""
    name: str = ""
    namespace: str = ""
    container: str | None = None
    context: str | None = None

    def label(self) -> str:
        base = f"{self.kind}/{self.namespace + '/' if self.namespace else ''}{self.name}" if self.kind else self.name
        return f"{base} [{self.container}]" if self.container else base


class Evidence(msgspec.Struct, frozen=True, omit_defaults=True):
    """One distinct observed value, where it came from, and which pods run it."""

    value: Any
    prov: Prov | None = None
    note: str | None = None
    pods: list[str] = []
    count: int = 1
    unverifiable: str | None = None  # these pods' value could not be read: why (counted, never dropped)


class Result(msgspec.Struct, frozen=True, omit_defaults=True):
    """One checked field at one target.

    ``expected`` is the intended value as the spec writes it (a constraint
    text such as ``>=550`` stays text). ``observed`` lists the distinct
    running values; more than one means the replicas disagree, and
    ``scope`` then says e.g. ``2 of 4 pods``.
    """

    check: str
    category: str
    status: str
    level: str
    spec: str
    field: str
    target: TargetRef
    message: str
    expected: Any = None
    observed: list[Evidence] = []
    location: Location | None = None
    scope: str | None = None
    reason: str | None = None        # why unverifiable / suppressed / not applicable
    hint: str | None = None          # what to change where
    next_steps: list[str] = []
    commands: list[str] = []         # ready-to-paste, real names filled in


class CheckInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    """Registry metadata for one check (from ``skewaudit/data/playbook.yaml``)."""

    id: str
    category: str
    title: str
    level: str
    why: str = ""
    fields: list[str] = []
    remediation: str = ""
    next_steps: list[str] = []
    commands: list[str] = []
    aliases: list[str] = []
    flag: str = ""                   # the (vLLM) flag the remediation names; engines differ
    baseline_only: bool = False      # reported only by baseline comparisons (no intent check)


class Summary(msgspec.Struct, frozen=True):
    drift: int = 0
    unverifiable: int = 0
    unpinned: int = 0
    match: int = 0
    suppressed: int = 0
    not_applicable: int = 0
    errors: int = 0          # problem results at level error
    warnings: int = 0
    infos: int = 0
    specs: int = 0
    workloads: int = 0
    pods: int = 0


class Gate(msgspec.Struct, frozen=True):
    """What the exit code was decided on, written with every report so it never disagrees with the summary.

    ``threshold`` is ``--fail-on``; ``fail_on_unpinned``/``fail_on_unverifiable``
    are the switches given on the command line, ``policy_unpinned``/``policy_unverifiable``
    the specs whose ``spec.policy.failOn`` turns the same gate on for their own
    results. ``failing`` counts the results that fail the gate by status
    (``{"drift": 2, "unverifiable": 1}``), ``not_gating`` the drift results
    that do not (below the threshold, or ``never``).
    """

    threshold: str = "drift"
    fail_on_unpinned: bool = False
    fail_on_unverifiable: bool = False
    policy_unpinned: list[str] = []
    policy_unverifiable: list[str] = []
    result: str = "pass"             # pass | fail
    exit_code: int = 0
    reason: str = ""
    failing: dict[str, int] = {}
    not_gating: int = 0


class Report(msgspec.Struct, frozen=True, kw_only=True):
    """The whole audit. Every key is always written (the JSON format is documented). Results are ordered by spec, category, check, target."""

    schema: str = REPORT_SCHEMA
    source: str
    summary: Summary
    skewaudit_version: str = ""
    generated_at: str = ""
    context: str | None = None
    specs: list[str] = []
    results: list[Result] = []
    checks: dict[str, CheckInfo] = {}
    issues: list[CollectionIssue] = []
    baseline: str | None = None        # the baseline snapshot compared against, if any
    gate: Gate | None = None           # the exit-code decision (set by audit.apply_gate)


class ContextRun(msgspec.Struct, frozen=True, kw_only=True):
    """One kube context of a several-cluster run (``diff --context A --context B``).

    ``status`` is ``ok`` or ``unreachable`` (then ``reason`` says why, and the
    context's own ``exit_code`` is 3); ``summary`` counts this context's results,
    cross-context findings included."""

    name: str
    status: str = "ok"
    reason: str = ""
    workloads: int = 0
    pods: int = 0
    summary: Summary = Summary()
    exit_code: int = 0


class MultiReport(Report, frozen=True, kw_only=True):
    """A report over several kube contexts: every ``Report`` key, plus ``contexts`` (one entry per
    context, in the order given). Single-context runs keep writing a plain ``Report``."""

    contexts: list[ContextRun] = []
