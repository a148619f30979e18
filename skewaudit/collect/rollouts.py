"""Argo Rollouts ``Rollout``: a Deployment-like workload with canary and blue-green steps.

A Rollout (``argoproj.io/v1alpha1``) carries a pod template (or a ``workloadRef`` to a
Deployment whose template it uses) and stamps out one ReplicaSet per revision, named
``<rollout>-<hash>``, whose pods carry ``rollouts-pod-template-hash``. While a canary
runs, ``status.stableRS`` is the stable revision's hash and ``status.currentPodHash`` the
canary's: those pods are reported with the role ``stable`` / ``canary`` (the canary is
the current revision), so a canary that runs another config shows as replica skew
naming the Rollout and its weight, not as a generic mismatch. The canary weight comes
from ``status.canary.weights`` (traffic routing) or the last ``setWeight`` step reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from skewaudit.collect import crdkit
from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import _obj, template_obs
from skewaudit.collect.kinds import ExtKind
from skewaudit.model.observed import CollectionIssue, Fact, Prov, SourceKind, WorkloadObs

if TYPE_CHECKING:
    from skewaudit.collect.build import Candidate, Inventory

KIND = "Rollout"
HASH_LABEL = "rollouts-pod-template-hash"


class CanaryStep(k._K):
    set_weight: int | None = None


class CanaryStrategy(k._K):
    steps: list[CanaryStep] = []
    canary_service: str | None = None
    stable_service: str | None = None
    traffic_routing: dict[str, Any] | None = None


class BlueGreenStrategy(k._K):
    active_service: str | None = None
    preview_service: str | None = None


class Strategy(k._K):
    canary: CanaryStrategy | None = None
    blue_green: BlueGreenStrategy | None = None


class WorkloadRef(k._K):
    api_version: str = ""
    kind: str = ""
    name: str = ""


class RolloutSpec(k._K):
    replicas: int | None = None
    selector: k.LabelSelector | None = None
    template: k.PodTemplateSpec | None = None
    workload_ref: WorkloadRef | None = None
    strategy: Strategy = msgspec.field(default_factory=Strategy)


class Weight(k._K):
    weight: int | None = None
    pod_template_hash: str = ""


class Weights(k._K):
    canary: Weight | None = None
    stable: Weight | None = None


class CanaryStatus(k._K):
    weights: Weights | None = None
    stable_rs: str = msgspec.field(default="", name="stableRS")


class RolloutStatus(k._K):
    current_pod_hash: str = ""
    stable_rs: str = msgspec.field(default="", name="stableRS")
    current_step_index: int | None = None
    canary: CanaryStatus | None = None
    replicas: int | None = None
    updated_replicas: int | None = None


Rollout, RolloutList = crdkit.resource("Rollout", RolloutSpec, RolloutStatus, module=__name__)


def pod_specs(o: Rollout) -> list[tuple[str, k.PodSpec]]:
    """The Rollout's own pod template (none with a ``workloadRef``: the Deployment has it)."""
    return [("spec.template.spec", o.spec.template.spec)] if o.spec.template is not None else []


def template_labels(o: Rollout) -> dict[str, str]:
    if o.spec.template is not None:
        return o.spec.template.metadata.labels
    return dict(o.spec.selector.match_labels) if o.spec.selector else {}


def pod_owner(md: k.ObjectMeta, ctrl: tuple[str, str] | None) -> str | None:
    """The Rollout a pod belongs to: its ReplicaSet's name minus ``-<rollouts-pod-template-hash>``."""
    h = md.labels.get(HASH_LABEL)
    if ctrl is None or ctrl[0] != "ReplicaSet" or not h or not ctrl[1].endswith("-" + h):
        return None
    return ctrl[1][:-len(h) - 1]


def _template(ro: Rollout, inv: Inventory, obj: str, issues: list[CollectionIssue]
              ) -> tuple[k.PodTemplateSpec, str, str]:
    """(pod template, its PodSpec path, the object that writes it): the Rollout's own, or its workloadRef's."""
    if ro.spec.template is not None:
        return ro.spec.template, "spec.template.spec", obj
    ref = ro.spec.workload_ref
    if ref is not None and ref.kind == "Deployment":
        ns = ro.metadata.namespace
        d = next((d for d in inv.deployments if d.metadata.name == ref.name and d.metadata.namespace in (ns, "")), None)
        if d is not None:
            return d.spec.template, "spec.template.spec", _obj("Deployment", ns, ref.name)
        issues.append(CollectionIssue(scope=obj, kind="not-found", area="workload", message=(
            f"spec.workloadRef names Deployment {ref.name}, which is not in the input: the pod template is unknown")))
    else:
        issues.append(CollectionIssue(scope=obj, kind="unsupported", area="workload",
                                      message="neither spec.template nor a Deployment workloadRef"))
    return k.PodTemplateSpec(), "spec.template.spec", obj


def canary_weight(ro: Rollout, obj: str) -> Fact | None:
    """The share of traffic the canary gets now, with where it was read."""
    st, canary = ro.status or RolloutStatus(), ro.spec.strategy.canary
    w = st.canary.weights.canary if st.canary and st.canary.weights and st.canary.weights.canary else None
    if w is not None and w.weight is not None:
        return Fact(w.weight, Prov(source=SourceKind.WORKLOAD, object=obj, path="status.canary.weights.canary.weight"))
    if canary is None or st.current_step_index is None:
        return None
    idx = st.current_step_index
    if idx >= len(canary.steps):
        return Fact(100, Prov(source=SourceKind.DERIVED, object=obj, path="status.currentStepIndex"),
                    note="every canary step done")
    reached = [(i, s.set_weight) for i, s in enumerate(canary.steps[:idx + 1]) if s.set_weight is not None]
    if not reached:
        return Fact(0, Prov(source=SourceKind.DERIVED, object=obj, path="status.currentStepIndex"),
                    note="no setWeight step reached yet")
    i, weight = reached[-1]
    note = None if canary.traffic_routing else "no trafficRouting: the weight is approximated by replica counts"
    return Fact(weight, Prov(source=SourceKind.WORKLOAD, object=obj, path=f"spec.strategy.canary.steps[{i}].setWeight"),
                note=note)


def workload(j: Any, c: Candidate, common: dict[str, Any]) -> WorkloadObs:
    from skewaudit.collect.build import _replicas

    ro: Rollout = c.obj
    inv, ns, name, obj = j.inv, c.ns, c.name, common["object"]
    tmpl, base, tobj = _template(ro, inv, obj, j.issues)
    template = template_obs(tmpl.spec, tmpl.metadata.labels, tobj, base, ns, inv.configmaps)
    hpa = j.autoscaler(ns, KIND, name)
    recs = inv.pods.owned(ns, f"{KIND}>", name)
    j.seed(ns, tmpl.spec, template, tobj, base, recs)
    st = ro.status or RolloutStatus()
    stable = st.stable_rs or (st.canary.stable_rs if st.canary else "")
    current = st.current_pod_hash
    in_canary = bool(stable and current and stable != current)
    pods = []
    for rec in recs:
        role, cur = None, True
        if in_canary:
            role = "canary" if rec.revision == current else "stable" if rec.revision == stable else None
            cur = rec.revision == current
        elif current:
            cur = rec.revision == current
        p = j.pod_obs(rec, cur)
        pods.append(msgspec.structs.replace(p, role=role) if role else p)
    extra: dict[str, Fact] = {}
    strategy = "canary" if ro.spec.strategy.canary else "blueGreen" if ro.spec.strategy.blue_green else None
    if strategy:
        extra["strategy"] = Fact(strategy, Prov(source=SourceKind.WORKLOAD, object=obj, path=f"spec.strategy.{strategy}"))
    if in_canary:
        extra["stableRevision"] = Fact(stable, Prov(source=SourceKind.WORKLOAD, object=obj, path="status.stableRS"))
        weight = canary_weight(ro, obj)
        if weight is not None:
            extra["canaryWeight"] = weight
    sel = ro.spec.selector.match_labels if ro.spec.selector else {}
    return WorkloadObs(**common, selector=dict(sel), replicas=_replicas(obj, ro.spec.replicas, "spec.replicas", hpa),
                       template=template, pods=pods, current_revision=current or None,
                       old_revisions=sorted({p.revision for p in recs if p.revision and p.revision != current})
                       if current else [], hpa=hpa, services=j.services(ns, tmpl.metadata.labels), extra=extra)


KINDS = (ExtKind(KIND, "argoproj.io", "v1alpha1", "rollouts", Rollout, RolloutList, role="workload",
                 aliases=("ro",), pod_specs=pod_specs, template_labels=template_labels, build=workload,
                 pod_owner=pod_owner),)
