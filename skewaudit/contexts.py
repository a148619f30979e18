"""Several clusters in one run: ``--context A --context B`` on ``diff``, ``collect`` and ``snapshot``.

Each context is collected on its own (one after the other, under the run's one
``--deadline``), and the same specs are audited in each. A context that cannot
be read at all (unreachable, credentials refused, forbidden, deadline) does not
end the run: it becomes a ``collection.context-unreachable`` result per spec,
unverifiable, which the gate turns into exit 3 unless drift elsewhere already
exits 1; the other contexts still report.

Replicas of one workload across clusters are compared with the baseline differ
(:func:`skewaudit.baseline.compare`, worded by :class:`skewaudit.sides.Across`):
every reachable context against the first reachable one, so "prod-eu runs fp8,
prod-us runs bfloat16" is one finding under ``runtime.dtype``. Scale is per
cluster by design (replica and pod counts, HPA bounds), so the cross-context
pass leaves it out (:data:`PER_CLUSTER`); each context's intent audit still
checks the spec's own ``replicas``. A workload missing in one context is
reported by that context's intent audit, not twice.

The result is a :class:`~skewaudit.model.finding.MultiReport`: the usual report
(results ordered by context, in the order given), plus ``contexts`` with each
context's status, counts and own exit code. One context (or none) keeps the
plain single-cluster report, byte for byte.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any, Callable

from skewaudit.errors import EnvironmentUnavailable, InputError, printable

# Leaves of the cross-context comparison that differ between clusters by design (dotted-path globs).
PER_CLUSTER = ("replicas", "pods", "pods.*", "hpa.min_replicas", "hpa.max_replicas", "rollout")
UNREACHABLE = "collection.context-unreachable"


@dataclass
class Side:
    """One side of a several-cluster run: a context (or a snapshot) and what was read there."""

    name: str
    snapshot: Any = None      # model.observed.Snapshot, None when it could not be read
    reason: str = ""          # why it could not be read
    where: str = ""           # what findings point at: "context prod", or the snapshot file

    def __post_init__(self) -> None:
        self.where = self.where or f"context {self.name}"


def contexts_of(source: dict[str, Any]) -> list[str]:
    """The ``--context`` values given (the option is repeatable), duplicates dropped in order."""
    value = source.get("context")
    if not value:
        return []
    return list(dict.fromkeys([value] if isinstance(value, str) else value))


def single(source: dict[str, Any]) -> dict[str, Any]:
    """``source`` with at most one context, as the one-cluster collectors take it."""
    ctxs = contexts_of(source)
    return {**source, "context": ctxs[0] if ctxs else None}


def several(source: dict[str, Any]) -> bool:
    """Whether these flags ask for several live contexts (and are allowed to)."""
    ctxs = contexts_of(source)
    if len(ctxs) < 2:
        return False
    other = next((f for f, k in (("--manifest", "manifest"), ("--snapshot", "snapshot"), ("--local", "local"),
                                 ("--endpoint", "endpoint")) if source.get(k)), None)
    if other:
        raise InputError(f"several --context values read several live clusters; they cannot be combined with {other}")
    return True


def collect_sides(contexts: list[str], source: dict[str, Any],
                  collect_one: Callable[[dict[str, Any]], Any]) -> list[Side]:
    """Collect each context in turn with ``collect_one(source_for_that_context)``; an unreadable one
    is recorded and the next one read.

    The flags are checked and the deadline armed once, up front, so one ``--deadline`` bounds all the
    contexts together; when it passes, the run ends (exit 3, naming the context and what it waited for).
    One after the other, not in threads: against loopback servers on two cores, four contexts at once
    took longer and 40 % more memory (benchmarks/README.md)."""
    from skewaudit import deadline as run_deadline
    from skewaudit import redact
    from skewaudit.commands._options import source_request

    source_request(**{**source, "context": contexts[0]})
    sides = []
    for ctx in contexts:
        try:
            sides.append(Side(ctx, collect_one({**source, "context": ctx, "deadline": None})))
        except run_deadline.DeadlineReached as e:
            # --deadline bounds the whole run, not one context: it ends here, exit 3, naming what it waited for.
            raise run_deadline.DeadlineReached(f"context {ctx}: {e.message}") from None
        except EnvironmentUnavailable as e:
            # The message may quote a kubeconfig server URL with credentials in it: scrubbed before it
            # reaches the report. Said at once on stderr too (a long run shows it early).
            why = redact.scrub(e.message)
            sys.stderr.write(printable(f"error: context {ctx}: {why}") + "\n")
            sides.append(Side(ctx, reason=why))
    return sides


def spec_collector(specs: list[Any], source: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """``collect_one`` for specs: ``-n`` applied to the specs themselves (the audit looks workloads up
    by it), each context collecting through its own shallow copies (their ``target.context`` differs)."""
    import copy

    from skewaudit.pipeline import collect_for, retarget

    retarget(specs, source.get("namespace"), None)
    return lambda src: collect_for([copy.copy(s) for s in specs], src)


def snapshot_sides(path: str, source: dict[str, Any]) -> list[Side]:
    """The sides a ``--snapshot`` file holds: one for a plain snapshot, one per context for a set."""
    from skewaudit.collect.snapshot import load_set
    from skewaudit.commands._options import source_request

    source_request(**single(source))   # validates the flags and applies the byte limit and deadline
    got = load_set(path)
    sides = [Side(s.context or f"{path}#{i}", s, where=f"{path} (context {s.context})" if s.context else path)
             for i, s in enumerate(got.snapshots)]
    return sides + [Side(name, reason=why) for name, why in got.unreachable.items()]


def save(sides: list[Side], path: str) -> None:
    """Write the sides as one snapshot set (``snapshot -o``, ``diff --save-snapshot``)."""
    from skewaudit.collect.snapshot import encode_set
    from skewaudit.fsutil import write_atomic

    write_atomic(path, encode_set([s.snapshot for s in sides if s.snapshot is not None],
                                  {s.name: s.reason for s in sides if s.snapshot is None}))


def audit(specs: list[Any], sides: list[Side], *, inline_ignores: bool = True, ignore: list[str] = ()) -> Any:
    """Audit ``specs`` in every side and compare the sides: one report, grouped by context."""
    import msgspec

    from skewaudit import __version__
    from skewaudit import audit as engine
    from skewaudit.baseline import BASELINE_FILE, compare
    from skewaudit.model.finding import ContextRun, Location, MultiReport
    from skewaudit.playbook import load_playbook
    from skewaudit.sides import Across

    book = load_playbook()
    results: list[Any] = []
    issues: list[Any] = []
    checks: dict[str, Any] = {}
    counts: dict[str, tuple[int, int]] = {}
    ok = [s for s in sides if s.snapshot is not None]
    for side in sides:
        if side.snapshot is None:
            results += unreachable_results(specs, side, book)
            checks[UNREACHABLE] = book[UNREACHABLE]
            continue
        rep = engine.run(specs, side.snapshot, engine.Options(inline_ignores=inline_ignores))
        results += rep.results
        checks.update(rep.checks)
        counts[side.name] = (rep.summary.workloads, rep.summary.pods)
        issues += [msgspec.structs.replace(i, scope=f"context {side.name}: {i.scope}") for i in rep.issues]
    ref = ok[0] if ok else None
    for other in ok[1:]:
        cross = compare(ref.snapshot, other.snapshot, ignore=[*PER_CLUSTER, *ignore], specs=specs,
                        say=Across(ref.name, other.name))
        here = Location(file=ref.where)
        for r in cross:
            if r.field == "workload":
                continue   # missing in one context: that context's intent audit says so
            results.append(msgspec.structs.replace(
                r, location=here if r.location is not None and r.location.file == BASELINE_FILE else r.location))
            checks[r.check] = book[r.check]
    order = {s.name: i for i, s in enumerate(sides)}
    results.sort(key=lambda r: order.get(r.target.context or "", len(order)))   # stable: each context's own order
    n_workloads = sum(w for w, _ in counts.values())
    n_pods = sum(p for _, p in counts.values())
    runs = [ContextRun(name=s.name, status="ok" if s.snapshot is not None else "unreachable", reason=s.reason,
                       workloads=counts.get(s.name, (0, 0))[0], pods=counts.get(s.name, (0, 0))[1])
            for s in sides]
    return MultiReport(
        source=ref.snapshot.source if ref is not None else "live",
        summary=engine.summarize(results, len(specs), n_workloads, n_pods), skewaudit_version=__version__,
        generated_at=_now(), context=None, specs=sorted({s.spec.metadata.name for s in specs}), results=results,
        checks=checks, issues=issues, contexts=runs)


def gate(report: Any, fail_on: str, *, fail_on_unpinned: bool = False, fail_on_unverifiable: bool = False,
         specs: list[Any] = ()) -> Any:
    """``report`` with its gate, and each context with its own summary and exit code under the same gate."""
    import msgspec

    from skewaudit import audit as engine

    report = engine.apply_gate(report, fail_on, fail_on_unpinned=fail_on_unpinned,
                               fail_on_unverifiable=fail_on_unverifiable, specs=specs)
    if not hasattr(report, "contexts"):
        return report
    runs = []
    for run in report.contexts:
        mine = [r for r in report.results if r.target.context == run.name]
        part = msgspec.structs.replace(report, results=mine)
        g = engine.decide_gate(part, fail_on, fail_on_unpinned=fail_on_unpinned,
                               fail_on_unverifiable=fail_on_unverifiable, specs=specs)
        runs.append(msgspec.structs.replace(run, summary=engine.summarize(mine, len(report.specs), run.workloads,
                                                                           run.pods), exit_code=g.exit_code))
    return msgspec.structs.replace(report, contexts=runs)


# --- skewaudit compare: two sides, no spec ----------------------------------------------------------


def _workload(text: str | None) -> tuple[str | None, str | None]:
    """``NAME`` or ``KIND/NAME`` -> (kind, name)."""
    if not text:
        return None, None
    kind, _, name = text.rpartition("/")
    if not name or "/" in kind:
        raise InputError(f"WORKLOAD must be NAME or KIND/NAME, not {text!r}")
    return kind or None, name


def sides_to_compare(snapshots: list[str], source: dict[str, Any], workload: str | None) -> list[Side]:
    """The two sides of ``skewaudit compare``: snapshot files first (a set counts its contexts), then contexts."""
    from skewaudit.collect import gather
    from skewaudit.collect.request import Target
    from skewaudit.commands._options import source_request

    sides: list[Side] = []
    for path in snapshots:
        sides += snapshot_sides(path, {**source, "context": None, "snapshot": path, "probe": False, "exec_gpu": False})
    ctxs = contexts_of(source)
    if len(sides) + len(ctxs) != 2:
        given = [s.name for s in sides] + ctxs
        raise InputError(f"compare takes exactly two sides (--context and/or --snapshot), got {len(given)}"
                         + (f": {', '.join(given)}" if given else ""))
    if ctxs:
        kind, name = _workload(workload)
        targets = (Target(kind=kind, name=name, namespace=source.get("namespace")),) if name else ()
        live = {k: v for k, v in source.items() if k != "snapshot"}
        if snapshots:
            live["deadline"] = None   # armed once already, by the snapshot side
        sides += collect_sides(ctxs, live, lambda src: gather(source_request(**src, targets=targets)))
    bad = [s for s in sides if s.snapshot is None]
    if bad:
        raise EnvironmentUnavailable(f"context {bad[0].name} could not be read ({bad[0].reason}); "
                                     "nothing to compare it with")
    return sides


def _narrow(snap: Any, kind: str | None, name: str | None, namespace: str | None) -> Any:
    import msgspec

    keep = [w for w in snap.workloads if (name is None or w.name == name)
            and (kind is None or w.kind.lower() == kind.lower())
            and (namespace is None or not w.namespace or w.namespace == namespace)]
    return msgspec.structs.replace(snap, workloads=keep)


def compare_sides(sides: list[Side], *, workload: str | None, namespace: str | None, ignore: list[str]) -> Any:
    """The two sides compared as ``diff --baseline`` compares (the first side is the reference)."""
    from skewaudit.baseline import compare, merge
    from skewaudit.sides import Across

    kind, name = _workload(workload)
    a, b = (_narrow(s.snapshot, kind, name, namespace) for s in sides)
    if not a.workloads and not b.workloads:
        # Nothing on either side is not "the same": say where we looked (never a pass).
        what = f"workload {workload}" if name else "serving workload"
        where = f"namespace {namespace}" if namespace else "the contexts' namespaces (-n NS or -A to widen)"
        raise InputError(f"no {what} in {sides[0].where} or {sides[1].where}, {where}")
    results = compare(a, b, ignore=ignore, say=Across(sides[0].name, sides[1].name))
    return merge(None, results, sides[0].where, source="compare")


def unreachable_results(specs: list[Any], side: Side, book: dict[str, Any]) -> list[Any]:
    """One unverifiable ``collection.context-unreachable`` result per spec (one in all without specs)."""
    from skewaudit.audit import fill_template
    from skewaudit.model.finding import Location, Result, Status, TargetRef

    info = book[UNREACHABLE]
    values = {"ctx": f" --context {side.name}"}
    msg = f"context {side.name} could not be read: {side.reason}"
    out = []
    for loaded in specs or [None]:
        t = loaded.spec.target_request() if loaded is not None else None
        loc = loaded.location("spec.target") if loaded is not None else None
        out.append(Result(
            check=UNREACHABLE, category=info.category, status=Status.UNVERIFIABLE, level=info.level,
            spec=loaded.spec.metadata.name if loaded is not None else "(contexts)", field="spec.target",
            target=TargetRef(kind=(t.kind if t else None) or "", name=(t.name or t.fallback_name or "") if t else "",
                             namespace=(t.namespace if t else None) or "", context=side.name),
            message=msg, location=Location(file=loc.file, line=loc.line, col=loc.col) if loc else None,
            reason=side.reason, hint=fill_template(info.remediation, values), next_steps=list(info.next_steps),
            commands=[fill_template(c, values) for c in info.commands]))
    return out


def _now() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
