"""KEDA ``ScaledObject``: the usual LLM autoscaler, read as the workload's autoscaler.

A ScaledObject (``keda.sh/v1alpha1``) names its workload in ``spec.scaleTargetRef``
(kind ``Deployment`` when omitted) and scales it on ``spec.triggers``; KEDA then
creates and owns an HPA named ``keda-hpa-<name>`` whose metrics are opaque
(``s0-prometheus``). skewaudit reads the ScaledObject itself: the bounds are
``minReplicaCount`` (KEDA default 0) and ``maxReplicaCount`` (default 100), the
metrics are the triggers, with the Prometheus metric name taken from the query
(``vllm:num_requests_waiting{model="llama3"}`` -> ``vllm:num_requests_waiting``).
The generated HPA is attributed to its ScaledObject and never reported twice
(:func:`generated_by`).

Trigger metadata can hold connection strings and credentials: only the fields that
say what is measured (query, threshold, value, metric name) are ever copied.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from skewaudit.collect import crdkit
from skewaudit.collect import k8s_types as k
from skewaudit.collect.kinds import ExtKind
from skewaudit.model.observed import AutoscaleTarget, HpaObs

KIND = "ScaledObject"
GROUP = "keda.sh"
MIN_DEFAULT, MAX_DEFAULT = 0, 100
HPA_PREFIX = "keda-hpa-"


class Trigger(k._K):
    type: str = ""
    name: str = ""
    metric_type: str | None = None
    metadata: dict[str, Any] = {}


class ScaleTarget(k._K):
    kind: str = ""
    name: str = ""
    api_version: str = ""


class ScaledObjectSpec(k._K):
    scale_target_ref: ScaleTarget = msgspec.field(default_factory=ScaleTarget)
    min_replica_count: int | None = None
    max_replica_count: int | None = None
    idle_replica_count: int | None = None
    triggers: list[Trigger] = []


ScaledObject, ScaledObjectList = crdkit.resource("ScaledObject", ScaledObjectSpec, module=__name__)


KINDS = (ExtKind(KIND, GROUP, "v1alpha1", "scaledobjects", ScaledObject, ScaledObjectList, role="around",
                 area="hpa", aliases=("so",)),)

# PromQL words that are not metric names.
_PROMQL_WORDS = frozenset(
    "sum avg min max count rate irate increase delta deriv by without on ignoring group_left group_right "
    "histogram_quantile topk bottomk quantile avg_over_time max_over_time min_over_time sum_over_time offset "
    "bool and or unless clamp_min clamp_max abs ceil floor round vector scalar label_replace time".split())
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def promql_metric(query: str) -> str | None:
    """The first metric name a PromQL query reads (skipping functions, keywords,
    label matchers and ``by (...)`` groupings)."""
    depth_labels = 0
    i = 0
    while i < len(query):
        ch = query[i]
        if ch == "{":
            depth_labels += 1
        elif ch == "}":
            depth_labels = max(0, depth_labels - 1)
        elif ch in "\"'":
            end = query.find(ch, i + 1)
            i = len(query) if end < 0 else end + 1
            continue
        elif depth_labels == 0:
            m = _IDENT.match(query, i)
            if m and (i == 0 or not (query[i - 1].isalnum() or query[i - 1] in "_:.")):
                word, j = m.group(0), m.end()
                rest = query[j:].lstrip()
                grouping = re.search(r"\b(by|without|on|ignoring|group_left|group_right)\s*\($", query[:i])
                if word.lower() not in _PROMQL_WORDS and not rest.startswith("(") and not grouping:
                    return word
                i = j
                continue
        i += 1
    return None


def _s(v: Any) -> str:
    return str(v).strip() if v is not None else ""


def trigger_metric(t: Trigger) -> str:
    """One trigger as an autoscaler metric string (``HpaObs.metrics`` style)."""
    md = t.metadata
    kind = t.type.strip().lower()
    if kind in ("cpu", "memory"):
        mtype = t.metric_type or _s(md.get("type")) or "Utilization"
        return f"Resource/{kind} {mtype}={_s(md.get('value'))}"
    mtype = t.metric_type or "AverageValue"
    if kind == "prometheus":
        query = _s(md.get("query"))
        name = promql_metric(query) or _s(md.get("metricName")) or "?"
        shown = f"prometheus/{name} {mtype}={_s(md.get('threshold'))}"
        return shown + (f" (query: {query})" if query and query != name else "")
    target = _s(md.get("threshold") or md.get("targetValue") or md.get("value") or md.get("lagThreshold"))
    name = _s(md.get("metricName"))
    return f"{kind}/{name}" + (f" {mtype}={target}" if target else "")


def scale_target(t: Trigger, i: int) -> AutoscaleTarget:
    """One trigger's metric and target value, naming the metadata field that holds it."""
    md = t.metadata
    kind = t.type.strip().lower()
    if kind in ("cpu", "memory"):
        return AutoscaleTarget(kind, t.metric_type or _s(md.get("type")) or "Utilization", _s(md.get("value")) or None,
                           f"spec.triggers[{i}].metadata.value")
    key = next((k for k in ("threshold", "targetValue", "value", "lagThreshold") if md.get(k) is not None), "threshold")
    query = _s(md.get("query")) or None
    name = (promql_metric(query) if query else None) or _s(md.get("metricName")) or kind
    return AutoscaleTarget(name, t.metric_type or "AverageValue", _s(md.get(key)) or None,
                       f"spec.triggers[{i}].metadata.{key}", activation=_s(md.get("activationThreshold")) or None,
                       query=query)


def target_of(so: ScaledObject) -> tuple[str, str]:
    ref = so.spec.scale_target_ref
    return ref.kind or "Deployment", ref.name


def by_target(scaled: list[ScaledObject]) -> dict[tuple[str, str, str], ScaledObject]:
    """(namespace, kind, name) of the workload -> the ScaledObject that scales it (the last one read)."""
    found = crdkit.index(scaled, lambda so: [((so.metadata.namespace, *target_of(so)), so)])
    return {key: objs[-1] for key, objs in found.items()}


def hpa_obs(so: ScaledObject, status: k.HPAStatus | None = None) -> HpaObs:
    """The ScaledObject as the workload's autoscaler; ``status`` from its generated HPA, when read."""
    spec = so.spec
    defaulted = [a for a, v in (("minReplicas", spec.min_replica_count), ("maxReplicas", spec.max_replica_count))
                 if v is None]
    kind, name = target_of(so)
    st = status or k.HPAStatus()
    return HpaObs(name=so.metadata.name, namespace=so.metadata.namespace, kind=KIND,
                  min_replicas=MIN_DEFAULT if spec.min_replica_count is None else spec.min_replica_count,
                  max_replicas=MAX_DEFAULT if spec.max_replica_count is None else spec.max_replica_count,
                  metrics=[trigger_metric(t) for t in spec.triggers], target=f"{kind}/{name}",
                  targets=[scale_target(t, i) for i, t in enumerate(spec.triggers)],
                  current_replicas=st.current_replicas, desired_replicas=st.desired_replicas, defaulted=defaulted)


def generated_by(h: k.HorizontalPodAutoscaler) -> str | None:
    """The ScaledObject that owns this HPA (KEDA's ``keda-hpa-<name>``), if any."""
    owner = next((o for o in h.metadata.owner_references if o.kind == KIND), None)
    if owner is not None:
        return owner.name
    name = h.metadata.name
    if name.startswith(HPA_PREFIX) and h.metadata.labels.get("scaledobject.keda.sh/name"):
        return h.metadata.labels["scaledobject.keda.sh/name"]
    return None


# Where each autoscaler field is written in a ScaledObject (for provenance).
PATHS = {"minReplicas": "spec.minReplicaCount", "maxReplicas": "spec.maxReplicaCount", "metrics": "spec.triggers"}
