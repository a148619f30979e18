"""The check contract: what a check sees (``Ctx``), what it yields (``Draft``),
and the shared comparison that most checks are built from.

A check is a plain function ``fn(ctx) -> Iterable[Draft]`` registered with
``@check("category.kebab-name")``. It never decides severity, location, hint
or suppression: the engine (``skewaudit.audit``) stamps those from the
playbook and the spec's policy, so ``--fail-on`` and overrides stay uniform.

``compare`` handles what every field comparison needs: compiling the intended
constraint, normalizing both sides, evaluating each running instance (pod ×
container, or the manifest template offline), grouping replicas that agree,
and turning "could not read it" into *unverifiable*, never into a match.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from skewaudit import constraints
from skewaudit.model.finding import Evidence, Status
from skewaudit.model.observed import ContainerObs, Fact, NodeObs, PodObs, Prov, Snapshot, WorkloadObs


@dataclass(frozen=True)
class Instance:
    """One running copy of the serving container: a pod's container, the
    manifest template's container (offline), or the local process."""

    label: str                       # pod name, "template" or the local host
    container: ContainerObs | None
    pod: PodObs | None = None
    node: NodeObs | None = None
    current: bool = True             # False: pod of an older ReplicaSet mid-rollout
    # Pods whose facts are identical to this one's (same container config, same
    # node labels, same device facts): evaluated once, counted for each.
    members: tuple[str, ...] = ()
    # Multi-host worker: the serving container of its group's leader, whose argv
    # carries the engine settings for the whole group (vLLM + Ray head); when the
    # worker itself runs no engine, ``container.engine`` is already the leader's.
    leader: ContainerObs | None = None
    role: str | None = None          # "canary" / "stable" while an Argo Rollouts canary runs

    @functools.cached_property
    def pods(self) -> list[str]:
        # Cached (the instance is frozen): ~40 checks ask each instance for it, several times
        # each. Callers only read it or extend their own lists with it.
        names = self.members or (self.label,)
        if self.role:
            return [f"{n} ({self.role})" for n in names]
        return [n if self.current else f"{n} (old revision)" for n in names]


@dataclass
class Ctx:
    """Everything one check may read for one (spec, workload) pair."""

    spec: Any                        # skewaudit.model.spec.ModelSpec
    workload: WorkloadObs
    instances: list[Instance]
    snapshot: Snapshot
    container_name: str | None = None
    missing: str | None = None       # set when the target workload was not found: why
    _cache: dict = field(default_factory=dict)
    # Shared by every Ctx of one audit run: facts derived from snapshot objects (a node's
    # GPU labels), keyed by object identity; the snapshot keeps those objects alive.
    _shared: dict = field(default_factory=dict)

    def want(self, path: str) -> Any:
        """The spec value at a dotted YAML path (``spec.runtime.engine.maxModelLen``), or None."""
        return spec_value(self.spec, path)

    def issue(self, area: str) -> str | None:
        """The message of a collection issue that makes ``area`` unverifiable here, if any.

        An issue applies when it names this workload, its namespace, or no
        namespaced scope at all (a cluster-wide source such as nodes)."""
        w = self.workload
        for i in self.snapshot.issues:
            if i.area != area:
                continue
            if not i.scope or "/" not in i.scope or i.scope == w.object or (w.namespace and w.namespace in i.scope):
                return i.message
        return None

    @property
    def engine(self) -> str | None:
        for inst in self.instances:
            if inst.container is not None and inst.container.engine is not None:
                return inst.container.engine.engine
        return None


@dataclass
class Draft:
    """What a check yields; the engine turns it into a ``Result``."""

    field: str
    status: str
    message: str
    expected: Any = None
    observed: list[Evidence] = field(default_factory=list)
    reason: str | None = None
    scope: str | None = None
    level: str | None = None         # overrides the check's default level (e.g. unpinned severities)
    vars: dict[str, Any] = field(default_factory=dict)   # extra hint-template variables (flag names…)


@dataclass(frozen=True)
class Obs:
    """One instance's observed value, or why it could not be read."""

    value: Any = None
    prov: Prov | None = None
    note: str | None = None
    unverifiable: str | None = None

    @staticmethod
    def of(f: Fact | None, why_missing: str) -> "Obs":
        if f is None:
            return Obs(unverifiable=why_missing)
        if f.value is None:
            return Obs(prov=f.prov, unverifiable=f.note or why_missing)
        return Obs(value=f.value, prov=f.prov, note=f.note)


CheckFn = Callable[[Ctx], Iterable[Draft]]
REGISTRY: dict[str, CheckFn] = {}
_ID = re.compile(r"^(model|runtime|hardware|serving|orchestration|collection)\.[a-z0-9]+(-[a-z0-9]+)*$")


def check(check_id: str) -> Callable[[CheckFn], CheckFn]:
    """Register ``fn`` under a stable ``category.kebab-name`` ID."""
    if not _ID.match(check_id):
        raise ValueError(f"malformed check id {check_id!r}")

    def deco(fn: CheckFn) -> CheckFn:
        if check_id in REGISTRY:
            raise ValueError(f"duplicate check id {check_id!r}")
        REGISTRY[check_id] = fn
        fn.check_id = check_id  # type: ignore[attr-defined]
        return fn

    return deco


# --- spec access ------------------------------------------------------------

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def _attr(seg: str) -> str:
    return "gpu_class" if seg == "class" else _CAMEL.sub("_", seg).lower()


# Dotted path -> ((YAML key, attribute name), ...). A fleet audit asks for the same
# few dozen paths once per check per spec (~60,000 times for 1,000 specs).
_SEGMENTS: dict[str, tuple[tuple[str, str], ...]] = {}


def spec_value(spec: Any, path: str) -> Any:
    """Walk a dotted camelCase YAML path over the pydantic ModelSpec."""
    segs = _SEGMENTS.get(path)
    if segs is None:
        segs = _SEGMENTS[path] = tuple((seg, _attr(seg)) for seg in path.split("."))
    cur = spec
    for seg, attr in segs:
        if cur is None:
            return None
        if isinstance(cur, dict):
            cur = cur.get(seg)
        else:
            cur = getattr(cur, attr, None)
    return cur


def first_declared(ctx: Ctx, *paths: str) -> tuple[str, Any] | None:
    """The first of ``paths`` the spec declares, as (path, value)."""
    for p in paths:
        v = ctx.want(p)
        if v is not None:
            return p, v
    return None


# --- observation helpers ----------------------------------------------------


def worker_defers(c: ContainerObs | None, lead: ContainerObs | None) -> bool:
    """A multi-host worker whose own argv does not run the engine (a Ray worker): its
    engine settings are its leader's. Workers that run the engine themselves (SGLang
    ``--node-rank``) keep their own."""
    if c is None or lead is None or lead.engine is None:
        return False
    return c.engine is None or not c.engine.detected_by.startswith("argv")


def runtime_fact(inst: Instance, name: str) -> Fact | None:
    """What the engine itself reported for ``name`` on this pod (``--probe``), if it did."""
    rt = inst.pod.runtime if inst.pod is not None else None
    if rt is None or rt.status == "unavailable":
        return None
    f = rt.fields.get(name)
    return f if f is not None and f.value is not None else None


def engine_obs(inst: Instance, name: str, what: str) -> Obs:
    """Observed engine field ``name`` (canonical, see ENGINE_FIELDS) for one instance.

    What the engine reports at run time (``--probe``) takes precedence over
    argv, env and documented defaults: it is the value in force."""
    rt = runtime_fact(inst, name)
    if rt is not None:
        return Obs(value=rt.value, prov=rt.prov, note=rt.note)
    c = inst.container
    if c is None:
        return Obs(unverifiable="no serving container found in the workload")
    if c.engine is None:
        why = c.argv_note or f"no serving engine recognised in container {c.name}"
        return Obs(unverifiable=why)
    return Obs.of(c.engine.fields.get(name), f"{c.engine.engine} has no setting for {what}")


def _fmt_scope(n_bad: int, n_total: int, unit: str) -> str | None:
    if n_total <= 1:
        return None
    return f"{n_bad} of {n_total} {unit}"


def _same(v: Any) -> Any:
    return v


# An intended value written as a constraint (``>=550``, ``12.4.*``, ``0.9 ± 0.02``) is compiled as
# written, not normalized first.
_RANGED = frozenset(("version", "int", "tokens", "float"))
_CONSTRAINT_CHARS = frozenset("<>=!*±,")


def compare(
    ctx: Ctx,
    field_path: str,
    expected: Any,
    kind: str,
    observe: Callable[[Instance], Obs],
    *,
    normalize: Callable[[Any], Any] | None = None,
    what: str,
    vars: dict[str, Any] | None = None,
    as_written: bool = False,
) -> Draft:
    """Compare one intended value with every instance's observed value.

    ``kind`` is a :mod:`skewaudit.constraints` kind. ``normalize`` maps both
    sides to canonical form (dtype aliases…) before matching; the evidence
    keeps what was actually written. ``as_written``: messages quote the
    intended value as the spec writes it (a model id keeps its case), not
    its normalized form.
    """
    norm = normalize or _same
    raw_expected = expected
    if isinstance(expected, (list, tuple)):
        expected = [norm(v) for v in expected]
    elif not (isinstance(expected, str) and kind in _RANGED and not _CONSTRAINT_CHARS.isdisjoint(expected)):
        expected = norm(expected)
    try:
        cons = constraints.compile(expected, kind)
    except ValueError as e:
        return Draft(field_path, Status.UNVERIFIABLE, f"{what}: intended value {raw_expected!r} is not usable: {e}",
                     expected=raw_expected, reason=str(e))
    label = raw_expected if as_written and isinstance(raw_expected, str) else cons

    groups: dict[tuple, dict[str, Any]] = {}
    unverifiable: list[tuple[Instance, Obs]] = []
    for inst in ctx.instances:
        ob = observe(inst)
        if ob.unverifiable is not None:
            unverifiable.append((inst, ob))
            continue
        value = norm(ob.value)
        ok = cons.matches(value)
        key = (ok, repr(value))
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"ok": ok, "value": ob.value, "prov": ob.prov, "note": ob.note, "pods": []}
        g["pods"].extend(inst.pods)

    bad = sum(len(g["pods"]) for g in groups.values() if not g["ok"])
    # an Argo Rollouts canary (or its stable side) alone differs: replica skew naming the Rollout
    skew = _canary_skew(ctx, [p for g in groups.values() if not g["ok"] for p in g["pods"]]) if bad else ""
    evidence = [Evidence(value=g["value"], prov=g["prov"], pods=g["pods"], count=len(g["pods"]),
                         note="; ".join(n for n in (g["note"], skew[2:-1] if skew and not g["ok"] else None) if n)
                         or None)
                for g in sorted(groups.values(), key=lambda g: (g["ok"], -len(g["pods"])))]
    # Instances whose value could not be read are counted with their reason, never dropped:
    # "3 of 4 pods" must not hide a fourth pod nobody could verify.
    unv_groups: dict[tuple, dict[str, Any]] = {}
    for inst, o in unverifiable:
        g = unv_groups.setdefault((o.unverifiable, o.prov), {"prov": o.prov, "why": o.unverifiable, "pods": []})
        g["pods"].extend(inst.pods)
    unv_evidence = [Evidence(value=None, prov=g["prov"], pods=g["pods"], count=len(g["pods"]), unverifiable=g["why"])
                    for g in sorted(unv_groups.values(), key=lambda g: -len(g["pods"]))]
    n_unv = sum(len(i.pods) for i, _ in unverifiable)
    total = sum(len(i.pods) for i in ctx.instances)
    unit = "pods" if any(i.pod is not None for i in ctx.instances) else "containers"
    extra = dict(vars or {})
    if bad:
        shown = ", ".join(_short(e.value) for e in evidence if e.value is not None)
        scope = _fmt_scope(bad, total, unit)
        if scope and n_unv:
            scope += f" ({n_unv} unverifiable)"
        return Draft(field_path, Status.DRIFT, f"{what}: intended {label}, running {shown}{skew}",
                     expected=raw_expected, observed=evidence + unv_evidence,
                     scope=f"{scope}{skew}" if scope else scope, vars=extra)
    if unverifiable:
        reason = unverifiable[0][1].unverifiable
        return Draft(field_path, Status.UNVERIFIABLE, f"{what}: cannot verify intended {label}: {reason}",
                     expected=raw_expected, observed=evidence + unv_evidence, reason=reason,
                     scope=_fmt_scope(n_unv, total, unit), vars=extra)
    if not groups:
        return Draft(field_path, Status.UNVERIFIABLE, f"{what}: nothing running to compare with",
                     expected=raw_expected, reason="no running instance collected")
    return Draft(field_path, Status.MATCH, f"{what}: {label}", expected=raw_expected, observed=evidence, vars=extra)


def _canary_skew(ctx: Ctx, bad_pods: list[str]) -> str:
    """`` (the canary of Rollout/ns/name, weight 20%)`` when exactly the canary (or the stable) pods differ."""
    roles = {"canary" if p.endswith(" (canary)") else "stable" if p.endswith(" (stable)") else None
             for p in bad_pods}
    if len(roles) != 1 or None in roles:
        return ""
    w = ctx.workload
    weight = w.extra.get("canaryWeight")
    at = f", canary weight {weight.value}%" if weight is not None and weight.value is not None else ""
    return f" (the {roles.pop()} pods of {w.object or w.kind + '/' + w.name}{at})"


def _short(v: Any) -> str:
    s = str(v)
    return s if len(s) <= 60 else s[:57] + "..."


def engine_field_check(paths: tuple[str, ...], field: str, kind: str, what: str, doc: str, *,
                       flag: str | None = None, normalize: Callable[[Any], Any] | None = None,
                       adjust: Callable[[Obs], Obs] | None = None) -> CheckFn:
    """A check comparing the first declared spec field of ``paths`` with engine field ``field``.

    Most checks are exactly this; ``adjust`` turns an engine default into what it
    means (an absent revision floats, an absent KV-cache dtype is ``auto``)."""
    def run(ctx: Ctx):
        found = first_declared(ctx, *paths)
        if found is None:
            return

        def observe(inst: Instance) -> Obs:
            ob = engine_obs(inst, field, what)
            return adjust(ob) if adjust else ob

        yield compare(ctx, found[0], found[1], kind, observe, normalize=normalize, what=what,
                      vars={"flag": flag} if flag else None)
    run.__doc__ = doc
    return run
