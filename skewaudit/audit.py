"""The audit engine: specs × observed facts → a Report, and the exit code.

For each spec it finds the target workloads through indexes (never a
specs × workloads scan), builds the running *instances* (each pod's serving
container; offline, the manifest's pod template), runs every registered check,
and stamps what checks never decide themselves: severity (playbook default,
``policy.severity`` override), the spec ``file:line``, the remediation hint
with the real object names filled in, and suppression (``policy.ignore``,
the ``skewaudit.io/ignore`` annotation).
"""

from __future__ import annotations

import datetime as _dt
import difflib
import fnmatch
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

import msgspec

from skewaudit import __version__
from skewaudit.checks import all_checks
from skewaudit.checks._base import Ctx, Draft, Instance, worker_defers
from skewaudit.gcpause import gc_paused
from skewaudit.model.finding import (
    FAIL_ON,
    FAIL_ON_RANK,
    LEVEL_RANK,
    PROBLEM_STATUSES,
    CheckInfo,
    Evidence,
    Gate,
    Location,
    Report,
    Result,
    Status,
    Summary,
    TargetRef,
)
from skewaudit.model.observed import ContainerObs, Snapshot, WorkloadObs
from skewaudit.playbook import load_playbook

CATEGORY_ORDER = {c: i for i, c in enumerate(("collection", "model", "runtime", "hardware", "serving", "orchestration"))}
IGNORE_ANNOTATION = "skewaudit.io/ignore"


@dataclass(frozen=True)
class Options:
    inline_ignores: bool = True            # honour skewaudit.io/ignore annotations on workloads
    today: _dt.date | None = None
    show_matches: bool = True              # keep match results (JUnit passes, JSON); renderers may hide them


class WorkloadIndex:
    """Workloads indexed by name, by (namespace, name) and by label pair."""

    def __init__(self, workloads: list[WorkloadObs]):
        self.workloads = workloads
        self.by_name: dict[str, list[int]] = defaultdict(list)
        self.by_label: dict[tuple[str, str], set[int]] = defaultdict(set)
        # Once, not per spec: a 1,000-spec fleet would scan every workload 1,000 times.
        self.local_only = bool(workloads) and all(w.kind == "Process" for w in workloads)
        for i, w in enumerate(workloads):
            self.by_name[w.name].append(i)
            for k, v in {**w.template.labels, **w.labels}.items():
                self.by_label[(k, v)].add(i)

    def find(self, target: Any, fallback_name: str) -> list[WorkloadObs]:
        # Local mode (--local, --endpoint): the one process or server pointed at is what every
        # spec describes; its host name has nothing to do with the spec's cluster target.
        if self.local_only:
            return list(self.workloads)
        name = getattr(target, "name", None) if target else None
        selector = dict(getattr(target, "selector", None) or {}) if target else {}
        ns = getattr(target, "namespace", None) if target else None
        kind = getattr(target, "kind", None) if target else None
        if name:
            cands = [self.workloads[i] for i in self.by_name.get(name, [])]
        elif selector:
            sets = [self.by_label.get(kv, set()) for kv in selector.items()]
            ids = set.intersection(*sets) if sets else set()
            cands = [self.workloads[i] for i in sorted(ids)]
        else:
            cands = [self.workloads[i] for i in self.by_name.get(fallback_name, [])]
        out = []
        for w in cands:
            if kind and w.kind not in (kind, "Process"):
                continue
            # Rendered manifests often carry no namespace: they match any.
            if ns and w.namespace and w.namespace != ns:
                continue
            out.append(w)
        return out

    def near(self, name: str) -> list[str]:
        return difflib.get_close_matches(name, list(self.by_name), n=3, cutoff=0.5)


def _pick_container(containers: list[ContainerObs], name: str | None) -> ContainerObs | None:
    if name:
        return next((c for c in containers if c.name == name), None)
    return next((c for c in containers if c.engine is not None), containers[0] if containers else None)


def build_instances(w: WorkloadObs, snap: Snapshot, container: str | None,
                    _encoded: dict[int, bytes] | None = None) -> list[Instance]:
    """The running copies of the serving container, grouped where their facts are identical.

    ``_encoded`` caches the JSON of shared fact objects by identity across the
    workloads of one run; every object it names must stay alive meanwhile."""
    if w.pods:
        groups: dict[tuple, Instance] = {}
        members: dict[tuple, list[str]] = defaultdict(list)
        encoded = {} if _encoded is None else _encoded

        def enc(o: Any) -> bytes:
            # Collectors share one ContainerObs among pods running the same spec and one
            # NodeObs per node: each distinct object is encoded once, not once per pod.
            b = encoded.get(id(o))
            if b is None:
                b = encoded[id(o)] = msgspec.json.encode(o)
            return b

        leaders = _group_leaders(w, container)
        n_groups = w.replicas.value if w.replicas is not None and isinstance(w.replicas.value, int) else None
        for pod in w.pods:
            c = _pick_container(pod.containers, container)
            leader = leaders.get(pod.group) if pod.worker else None
            if worker_defers(c, leader):
                c = _with_engine(c, leader, encoded)
            node = snap.nodes.get(pod.node) if pod.node else None
            # Pods with the same container config, node labels and device facts behave alike.
            # Each part's JSON is self-delimiting, so equal parts <=> equal whole.
            key = (enc(c), enc(node.labels) if node else b"null", enc(node.allocatable) if node else b"null",
                   enc(pod.gpu), pod.current, enc(leader) if leader is not None else b"", _runtime_key(pod), pod.role)
            if key not in groups:
                groups[key] = Instance(label=pod.name, container=c, pod=pod, node=node, current=pod.current,
                                       leader=leader, role=pod.role)
            members[key].append(_member(pod, n_groups))
        return [Instance(label=i.label, container=i.container, pod=i.pod, node=i.node, current=i.current,
                         members=tuple(members[k]), leader=i.leader, role=i.role) for k, i in groups.items()]
    c = _pick_container(w.template.containers, container)
    if w.worker_template is not None:
        # Multi-host offline: the leader's and the workers' templates are both instances.
        wc = _pick_container(w.worker_template.containers, container)
        if worker_defers(wc, c):
            wc = _with_engine(wc, c, {})
        return [Instance(label="leader template", container=c, members=("leader template",)),
                Instance(label="worker template", container=wc, members=("worker template",), leader=c)]
    return [Instance(label="pod template", container=c, members=("pod template",))]


def _with_engine(c: Any, leader: Any, memo: dict) -> Any:
    """A multi-host worker's container with its leader's engine facts (shared per pair)."""
    key = ("lead", id(c), id(leader))
    if key not in memo:
        memo[key] = msgspec.structs.replace(c, engine=leader.engine)
    return memo[key]


def _group_leaders(w: WorkloadObs, container: str | None) -> dict[int | None, ContainerObs]:
    """Multi-host groups: group index -> its leader's serving container."""
    out: dict[int | None, ContainerObs] = {}
    for pod in w.pods:
        if pod.worker == 0:
            c = _pick_container(pod.containers, container)
            if c is not None:
                out[pod.group] = c
    return out


def _member(pod: Any, n_groups: int | None) -> str:
    """A pod's name as evidence shows it; multi-host pods say their group and role."""
    if pod.group is None:
        return pod.name
    of = f" of {n_groups}" if n_groups else ""
    role = "leader" if pod.worker == 0 else f"worker {pod.worker}"
    return f"{pod.name} (group {pod.group + 1}{of}, {role})"


def _runtime_key(pod: Any) -> tuple:
    """Pods whose engines report the same values group together; the symptom block and
    the per-pod provenance of runtime facts do not split a group."""
    rt = pod.runtime
    if rt is None:
        return ()
    return (rt.status, rt.reason, tuple(sorted((k, repr(f.value)) for k, f in rt.fields.items())))


_VAR = re.compile(r"\{(namespace|name|kind|kind_lower|pod|container|expected|observed|flag|field|env|image|ctx|selector|autoscaler|route|port)\}")


def serving_port(c: ContainerObs | None) -> str:
    """The port the serving container's engine listens on, for hints (SGLang serves 30000, not 8000):
    the engine's port (argv, env or its documented default), else the first containerPort."""
    if c is not None and c.engine is not None:
        f = c.engine.fields.get("port")
        if f is not None and f.value is not None:
            return str(f.value)
    if c is not None and c.ports:
        return str(c.ports[0].container_port)
    return "<port>"


def fill_template(text: str, values: dict[str, str]) -> str:
    """Fill the playbook's {name}-style variables; unknown braces (jsonpath) stay as written."""
    return _VAR.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _ignored(spec: Any, check_id: str, field: str, target_label: str, pods: Iterable[str], today: _dt.date,
             annotations: dict[str, str] | None) -> tuple[str | None, str | None]:
    """(suppression reason, expiry note) for this result."""
    policy = getattr(spec.spec, "policy", None)
    expired_note = None
    for ig in (getattr(policy, "ignore", None) or []):
        if ig.check and not fnmatch.fnmatchcase(check_id, ig.check):
            continue
        if ig.field and not (field == ig.field or field.startswith(ig.field + ".") or field.startswith(ig.field + "[")):
            continue
        if ig.target and not (fnmatch.fnmatchcase(target_label, ig.target) or
                              any(fnmatch.fnmatchcase(p, ig.target) for p in pods)):
            continue
        if ig.expires and ig.expires < today:
            expired_note = f"ignore expired on {ig.expires} ({ig.reason}); reported again"
            continue
        return f"ignored by spec policy: {ig.reason}", None
    if annotations:
        for part in re.split(r"[,;\n]", annotations.get(IGNORE_ANNOTATION, "")):
            cid, _, reason = part.strip().partition("=")
            if cid and fnmatch.fnmatchcase(check_id, cid.strip()):
                return f"ignored by annotation {IGNORE_ANNOTATION}: {reason.strip() or '(no reason given)'}", None
    return None, expired_note


def _context_flag(snap: Snapshot) -> str:
    return f" --context {snap.context}" if snap.context else ""


_MISSING_CHECKS = ("collection.target-not-found", "collection.kind-unsupported")


@gc_paused()
def run(specs: list[Any], snapshot: Snapshot, options: Options = Options()) -> Report:
    """Audit every loaded spec against one snapshot (the cyclic GC waits: see skewaudit.gcpause)."""
    checks = all_checks()
    book = load_playbook()
    today = options.today or _dt.date.today()
    index = WorkloadIndex(snapshot.workloads)
    encoded: dict[int, bytes] = {}   # build_instances' cache; the snapshot keeps its objects alive
    shared: dict = {}                # Ctx._shared: per-run facts keyed by snapshot object identity
    results: list[Result] = []
    seen_workloads: set[str] = set()
    pods_seen: set[str] = set()

    for loaded in specs:
        spec = loaded.spec
        target = spec.target_request() if hasattr(spec, "target_request") else None
        spec_name = spec.metadata.name
        overrides = dict(getattr(getattr(spec.spec, "policy", None), "severity", None) or {})
        matched = index.find(target, spec_name)
        active = None
        if not matched:
            want = (target.name if target and target.name else None) or spec_name
            desc = []
            if target and target.kind:
                desc.append(target.kind)
            where = f" in namespace {target.namespace}" if target and target.namespace else ""
            sel = f" with labels {target.selector}" if target and target.selector and not target.name else ""
            near = index.near(want)
            msg = f"{' '.join(desc) or 'workload'} {want if not sel else ''}{sel} not found{where}".replace("  ", " ")
            if near:
                msg += f"; near names: {', '.join(near)}"
            # The collector saw the whole source (all names), so its message is the better one; a
            # name found under a kind skewaudit cannot read is said so (exit 3 semantics, see decide_gate).
            issue = next((i for i in snapshot.issues if i.kind in ("not-found", "unsupported")
                          and i.area == "workload" and i.scope.endswith(f"/{want}")), None)
            check_id = "collection.kind-unsupported" if issue is not None and issue.kind == "unsupported" \
                else "collection.target-not-found"
            msg = issue.message if issue is not None else msg
            found_kind = issue.scope.split("/")[0] if check_id == "collection.kind-unsupported" else None
            placeholder = WorkloadObs(kind=found_kind or (target.kind if target and target.kind else "Workload"),
                                      name=want, namespace=(target.namespace or "") if target else "")
            ctx = Ctx(spec=spec, workload=placeholder, instances=[], snapshot=snapshot, missing=msg, _shared=shared)
            results.extend(_stamp(loaded, ctx, check_id, checks[check_id](ctx), book, overrides, options, today))
            continue
        for w in matched:
            seen_workloads.add(w.object or f"{w.kind}/{w.namespace}/{w.name}")
            container = target.container if target else None
            instances = build_instances(w, snapshot, container, encoded)
            for p in w.pods:
                pods_seen.add(f"{p.namespace}/{p.name}")
            ctx = Ctx(spec=spec, workload=w, instances=instances, snapshot=snapshot, container_name=container,
                      _shared=shared)
            ref = _target_ref(ctx)   # once per pair, not once per check (~57 checks)
            if active is None:   # once per spec, not once per workload
                active = [(cid, fn) for cid, fn in checks.items()
                          if cid not in _MISSING_CHECKS and overrides.get(cid) != "off"]
            for check_id, fn in active:
                results.extend(_stamp(loaded, ctx, check_id, fn(ctx), book, overrides, options, today, ref))

    labels: dict[int, str] = {}   # one label per TargetRef (shared by a pair's results), not per result

    def order(r: Result) -> tuple:
        label = labels.get(id(r.target))
        if label is None:
            label = labels[id(r.target)] = r.target.label()
        return r.spec, label, CATEGORY_ORDER.get(r.category, 9), r.check, r.field

    results.sort(key=order)
    return Report(
        source=snapshot.source, summary=summarize(results, len(specs), len(seen_workloads), len(pods_seen)),
        skewaudit_version=__version__,
        generated_at=_dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        context=snapshot.context, specs=sorted({s.spec.metadata.name for s in specs}),
        results=results if options.show_matches else [r for r in results if r.status != Status.MATCH],
        checks={cid: info for cid, info in book.items() if cid in checks and not info.baseline_only}, issues=list(snapshot.issues),
    )


def _target_ref(ctx: Ctx) -> TargetRef:
    w = ctx.workload
    return TargetRef(kind=w.kind, name=w.name, namespace=w.namespace,
                     container=next((i.container.name for i in ctx.instances if i.container), None),
                     context=ctx.snapshot.context)


# Built once, not per result: a fleet audit stamps ~28,000 results.
_SUPPRESSIBLE = frozenset((*PROBLEM_STATUSES, Status.UNVERIFIABLE))
_SHOWN_AS_PROBLEM = frozenset((*PROBLEM_STATUSES, Status.UNVERIFIABLE, Status.SUPPRESSED))


def _stamp(loaded: Any, ctx: Ctx, check_id: str, drafts: Iterable[Draft], book: dict[str, CheckInfo],
           overrides: dict[str, str], options: Options, today: _dt.date,
           target: TargetRef | None = None) -> list[Result]:
    """Results of one check for one (spec, workload) pair. ``target``: the pair's TargetRef when the
    caller built it once for all its checks (frozen, so shared safely by their results)."""
    info = book[check_id]
    w = ctx.workload
    if target is None:
        target = _target_ref(ctx)
    out: list[Result] = []
    override = overrides.get(check_id) if overrides else None
    for d in drafts:
        level = override or d.level or info.level
        if level == "off":
            continue
        status, reason, message = d.status, d.reason, d.message
        if status in _SUPPRESSIBLE:
            pods = [p for e in d.observed for p in e.pods] or [p for i in ctx.instances for p in i.pods]
            why, expired = _ignored(ctx.spec, check_id, d.field, target.label(), pods, today,
                                    w.annotations if options.inline_ignores else None)
            if why:
                status, reason = Status.SUPPRESSED, why
            elif expired:
                message = f"{message} [{expired}]"
        problem = status in _SHOWN_AS_PROBLEM
        # Hint variables are only read for problems: most results of a healthy fleet are matches.
        values = _hint_values(ctx, d, info, target) if problem else {}
        loc = loaded.location(d.field)
        out.append(Result(
            check=check_id, category=info.category, status=status, level=level, spec=ctx.spec.metadata.name,
            field=d.field, target=target, message=message, expected=d.expected, observed=list(d.observed),
            location=loc if loc else Location(file=loaded.file),
            scope=d.scope, reason=reason,
            hint=fill_template(info.remediation, values) if problem else None,
            next_steps=list(info.next_steps) if problem else [],
            commands=[fill_template(c, values) for c in info.commands] if problem else [],
        ))
    return out


def _hint_values(ctx: Ctx, d: Draft, info: CheckInfo, target: TargetRef) -> dict[str, str]:
    """The playbook template variables for one problem result, real names filled in."""
    w = ctx.workload
    first_pod = next((p.split(" ")[0] for e in d.observed if e.value is not None for p in e.pods
                      if p != "pod template"), None) or next((i.pod.name for i in ctx.instances if i.pod), None)
    values = {
        "namespace": w.namespace or "default", "name": w.name, "kind": w.kind, "kind_lower": w.kind.lower(),
        "pod": first_pod or f"<pod of {w.kind.lower()}/{w.name}>", "container": target.container or "<container>",
        "expected": _show(d.expected), "observed": ", ".join(_show(e.value) for e in d.observed) or "?",
        "field": d.field, "ctx": _context_flag(ctx.snapshot),
        "selector": ",".join(f"{k}={v}" for k, v in sorted((w.selector or w.template.labels).items())) or "<selector>",
    }
    values.update({k: str(v) for k, v in d.vars.items()})
    values.setdefault("flag", info.flag or "the engine flag")
    values.setdefault("env", "<VAR>")
    values.setdefault("image", "<image>")
    values.setdefault("autoscaler", f"the HPA targeting {w.kind}/{w.name}")
    values.setdefault("route", "the route in front of its Service")
    values.setdefault("port", serving_port(next((i.container for i in ctx.instances if i.container), None)))
    return values


def _show(v: Any) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, list):
        return "[" + ", ".join(map(str, v)) + "]"
    return str(v)


def summarize(results: list[Result], n_specs: int, n_workloads: int, n_pods: int) -> Summary:
    counts: dict[str, int] = defaultdict(int)
    levels: dict[str, int] = defaultdict(int)
    for r in results:
        counts[r.status] += 1
        if r.status in PROBLEM_STATUSES:
            levels[r.level] += 1
    return Summary(drift=counts[Status.DRIFT], unverifiable=counts[Status.UNVERIFIABLE], unpinned=counts[Status.UNPINNED],
                   match=counts[Status.MATCH], suppressed=counts[Status.SUPPRESSED],
                   not_applicable=counts[Status.NOT_APPLICABLE], errors=levels["error"], warnings=levels["warning"],
                   infos=levels["info"], specs=n_specs, workloads=n_workloads, pods=n_pods)


def _policy_gates(specs: Iterable[Any]) -> tuple[list[str], list[str]]:
    """Names of the specs whose ``spec.policy.failOn`` turns on the unpinned / unverifiable gate."""
    unpinned, unverifiable = set(), set()
    for loaded in specs:
        spec = getattr(loaded, "spec", loaded)
        fo = getattr(getattr(spec.spec, "policy", None), "fail_on", None)
        if fo is not None and fo.unpinned:
            unpinned.add(spec.metadata.name)
        if fo is not None and fo.unverifiable:
            unverifiable.add(spec.metadata.name)
    return sorted(unpinned), sorted(unverifiable)


def decide_gate(report: Report | None, fail_on: str = "drift", *, fail_on_unpinned: bool = False,
                fail_on_unverifiable: bool = False, specs: Iterable[Any] = ()) -> Gate:
    """The CI gate: drift of any level fails by default; unpinned/unverifiable only when switched on.

    ``fail_on`` narrows drift to a level (``error`` …) or turns the gate off
    (``never``: report only). The switches apply to every spec; a spec's own
    ``policy.failOn`` applies to its results. Suppressed results never gate.
    """
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {FAIL_ON}, not {fail_on!r}")
    pol_unpinned, pol_unverifiable = _policy_gates(specs)
    base = Gate(threshold=fail_on, fail_on_unpinned=fail_on_unpinned, fail_on_unverifiable=fail_on_unverifiable,
                policy_unpinned=pol_unpinned, policy_unverifiable=pol_unverifiable)
    results = report.results if report is not None else []
    threshold = FAIL_ON_RANK.get(fail_on, 0)
    unpinned_specs, unverifiable_specs = set(pol_unpinned), set(pol_unverifiable)
    failing: dict[str, int] = defaultdict(int)
    not_gating = 0
    for r in results:
        if r.status == Status.DRIFT:
            if fail_on != "never" and LEVEL_RANK.get(r.level, 0) >= threshold:
                failing["drift"] += 1
            else:
                not_gating += 1
        elif fail_on == "never":
            continue
        elif r.status == Status.UNPINNED and (fail_on_unpinned or r.spec in unpinned_specs):
            failing["unpinned"] += 1
        elif r.status == Status.UNVERIFIABLE and (fail_on_unverifiable or r.spec in unverifiable_specs):
            failing["unverifiable"] += 1
    n = sum(failing.values())
    # A target that exists as a kind this version cannot read is not audited at all: like an
    # unavailable environment, exit 3 (unless drift already fails the run with 1).
    # So is a kube context of a several-cluster run that could not be read at all.
    unreadable = [r for r in results if r.check == "collection.kind-unsupported" and r.status == Status.UNVERIFIABLE]
    unreachable = sorted({r.target.context or "?" for r in results
                          if r.check == "collection.context-unreachable" and r.status == Status.UNVERIFIABLE})
    if (unreadable or unreachable) and not failing.get("drift") and fail_on != "never":
        why = []
        if unreadable:
            names = ", ".join(sorted({f"{r.target.kind}/{r.target.name}" for r in unreadable}))
            why.append(f"{names}: a kind this version of skewaudit does not read")
            failing = {**failing, "unsupported": len(unreadable)}
        if unreachable:
            why.append(f"context {', '.join(unreachable)}: could not be read")
            failing = {**failing, "unreachable": len(unreachable)}
        return msgspec.structs.replace(base, result="fail", exit_code=3, failing=dict(failing), not_gating=not_gating,
                                       reason="; ".join(why) + " (exit 3)")
    if n:
        parts = []
        if failing["drift"]:
            parts.append(f"{failing['drift']} drifted" + (f" at or above {fail_on}" if threshold else ""))
        for status, flag, pol in (("unpinned", fail_on_unpinned, pol_unpinned),
                                  ("unverifiable", fail_on_unverifiable, pol_unverifiable)):
            if failing[status]:
                why = f"--fail-on-{status}" if flag else f"policy.failOn.{status} in {', '.join(pol)}"
                parts.append(f"{failing[status]} {status} ({why})")
        if unreachable:   # drift exits 1, but the unread contexts are named, never passed over
            parts.append(f"context {', '.join(unreachable)}: could not be read")
        reason = "; ".join(parts)
    elif fail_on == "never":
        reason = "--fail-on never: report only"
    elif not_gating:
        reason = f"{not_gating} drifted below --fail-on {fail_on}"
    else:
        reason = "no drift" + ("" if fail_on == "drift" else f" at or above {fail_on}")
    return msgspec.structs.replace(base, result="fail" if n else "pass", exit_code=1 if n else 0, reason=reason,
                                   failing={k: v for k, v in failing.items() if v}, not_gating=not_gating)


def apply_gate(report: Report, fail_on: str = "drift", *, fail_on_unpinned: bool = False,
               fail_on_unverifiable: bool = False, specs: Iterable[Any] = ()) -> Report:
    """The report with its ``gate`` block: renderers print what the exit code will be."""
    return msgspec.structs.replace(report, gate=decide_gate(
        report, fail_on, fail_on_unpinned=fail_on_unpinned, fail_on_unverifiable=fail_on_unverifiable, specs=specs))


def exit_code(report: Report | None, fail_on: str = "drift", fail_on_unverifiable: bool = False,
              fail_on_unpinned: bool = False) -> int:
    """0 when nothing fails the gate, 1 otherwise; the report's own ``gate`` block when it has one."""
    if report is not None and report.gate is not None:
        return report.gate.exit_code
    return decide_gate(report, fail_on, fail_on_unpinned=fail_on_unpinned,
                       fail_on_unverifiable=fail_on_unverifiable).exit_code


__all__ = ["Options", "run", "exit_code", "apply_gate", "decide_gate", "build_instances", "Evidence"]
