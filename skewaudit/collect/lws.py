"""LeaderWorkerSet (``leaderworkerset.x-k8s.io/v1``): multi-host serving groups.

A LeaderWorkerSet runs ``spec.replicas`` groups of ``leaderWorkerTemplate.size``
pods: one leader (``leaderTemplate``, or the worker template when absent) and
``size - 1`` workers. The LWS controller makes a StatefulSet of leaders named
like the LWS and, per group, a StatefulSet of workers; every pod carries the
labels ``leaderworkerset.sigs.k8s.io/name``, ``/group-index`` and
``/worker-index`` (0 is the leader), which is how pods are joined here, never
through those generated StatefulSets. The engine's argv is usually on the
leader (vLLM with a Ray head; SGLang with ``--nnodes/--node-rank`` on every
pod); the group's facts (size, startup policy) are ``extra`` facts.

Field names and defaults follow the LWS v1 API (sigs.k8s.io/lws
``api/leaderworkerset/v1``): ``size`` defaults to 1, ``startupPolicy`` to
``LeaderCreated``, ``replicas`` to 1. An HPA targets the LWS through its scale
subresource (``scaleTargetRef.kind: LeaderWorkerSet``) and scales groups.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit.collect import crdkit
from skewaudit.collect import k8s_types as k
from skewaudit.collect.kinds import ExtKind
from skewaudit.model.observed import Fact, Prov, SourceKind, WorkloadObs

GROUP = "leaderworkerset.x-k8s.io"
LABEL_NAME = "leaderworkerset.sigs.k8s.io/name"
LABEL_GROUP = "leaderworkerset.sigs.k8s.io/group-index"
LABEL_WORKER = "leaderworkerset.sigs.k8s.io/worker-index"
LEADER_PATH = "spec.leaderWorkerTemplate.leaderTemplate"
WORKER_PATH = "spec.leaderWorkerTemplate.workerTemplate"


class LeaderWorkerTemplate(k._K):
    size: int | None = None
    restart_policy: str | None = None
    leader_template: k.PodTemplateSpec | None = None
    worker_template: k.PodTemplateSpec = msgspec.field(default_factory=k.PodTemplateSpec)


class LeaderWorkerSetSpec(k._K):
    replicas: int | None = None
    startup_policy: str | None = None
    leader_worker_template: LeaderWorkerTemplate = msgspec.field(default_factory=LeaderWorkerTemplate)


class LeaderWorkerSetStatus(k._K):
    replicas: int | None = None
    ready_replicas: int | None = None
    updated_replicas: int | None = None


LeaderWorkerSet, LeaderWorkerSetList = crdkit.resource("LeaderWorkerSet", LeaderWorkerSetSpec, LeaderWorkerSetStatus,
                                                      module=__name__)


def _leader(o: LeaderWorkerSet) -> tuple[str, k.PodTemplateSpec]:
    t = o.spec.leader_worker_template
    if t.leader_template is not None:
        return LEADER_PATH, t.leader_template
    return WORKER_PATH, t.worker_template


def pod_specs(o: LeaderWorkerSet) -> list[tuple[str, k.PodSpec]]:
    path, leader = _leader(o)
    out = [(f"{path}.spec", leader.spec)]
    if path == LEADER_PATH:
        out.append((f"{WORKER_PATH}.spec", o.spec.leader_worker_template.worker_template.spec))
    return out


def template_labels(o: LeaderWorkerSet) -> dict[str, str]:
    # The controller adds the name label to every pod of the set.
    return {**_leader(o)[1].metadata.labels, LABEL_NAME: o.metadata.name}


def _fact(obj: str, value: Any, path: str, default: Any, note: str | None = None) -> Fact:
    if value is None:
        return Fact(value=default, prov=Prov(source=SourceKind.DEFAULT, object=obj, path=path),
                    note=f"{path} absent: {default} (LeaderWorkerSet default)")
    return Fact(value=value, prov=Prov(source=SourceKind.WORKLOAD, object=obj, path=path), note=note)


def _index(labels: dict[str, str], key: str) -> int | None:
    try:
        return int(labels[key])
    except (KeyError, ValueError):
        return None


def build(j: Any, c: Any, common: dict[str, Any]) -> WorkloadObs:
    """The LWS as one workload: leader template, worker template, group facts, pods by label."""
    from skewaudit.collect import build as b
    from skewaudit.collect.containers import template_obs

    o: LeaderWorkerSet = c.obj
    inv, ns, name, obj = j.inv, c.ns, c.name, common["object"]
    lpath, leader = _leader(o)
    tlabels = template_labels(o)
    template = template_obs(leader.spec, tlabels, obj, f"{lpath}.spec", ns, inv.configmaps)
    worker_t = o.spec.leader_worker_template.worker_template
    workers = template_obs(worker_t.spec, {**worker_t.metadata.labels, LABEL_NAME: name}, obj,
                           f"{WORKER_PATH}.spec", ns, inv.configmaps) if lpath == LEADER_PATH else template
    recs = inv.pods.labelled("LeaderWorkerSet", ns, name)
    # Pods running exactly a template's containers reuse its parsed facts.
    j.seed(ns, leader.spec, template, obj, f"{lpath}.spec",
           [r for r in recs if (r.tags or {}).get(LABEL_WORKER, "0") == "0"])
    if lpath == LEADER_PATH:
        j.seed(ns, worker_t.spec, workers, obj, f"{WORKER_PATH}.spec",
               [r for r in recs if (r.tags or {}).get(LABEL_WORKER, "0") != "0"])
    pods = []
    for r in recs:
        p = j.pod_obs(r, True)
        tags = r.tags or {}
        pods.append(msgspec.structs.replace(p, group=_index(tags, LABEL_GROUP), worker=_index(tags, LABEL_WORKER)))
    hpa = j.autoscaler(ns, "LeaderWorkerSet", name)
    lwt = o.spec.leader_worker_template
    extra = {
        "size": _fact(obj, lwt.size, "spec.leaderWorkerTemplate.size", 1),
        "startupPolicy": _fact(obj, o.spec.startup_policy, "spec.startupPolicy", "LeaderCreated"),
    }
    if lwt.restart_policy is not None:
        extra["restartPolicy"] = _fact(obj, lwt.restart_policy, "spec.leaderWorkerTemplate.restartPolicy", None)
    return WorkloadObs(**common, selector={LABEL_NAME: name}, template=template,
                       worker_template=workers if lpath == LEADER_PATH else None,
                       replicas=b._replicas(obj, o.spec.replicas, "spec.replicas", hpa), pods=pods,
                       hpa=hpa, services=j.services(ns, tlabels), extra=extra)


KINDS = (ExtKind(
    kind="LeaderWorkerSet", group=GROUP, version="v1", plural="leaderworkersets", struct=LeaderWorkerSet,
    list_struct=LeaderWorkerSetList, role="workload", aliases=("lws",), pod_specs=pod_specs,
    template_labels=template_labels, build=build, pod_label=LABEL_NAME, extra_pod_labels=(LABEL_GROUP, LABEL_WORKER)),)
