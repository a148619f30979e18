"""The serverless (Knative) mode of a KServe InferenceService: its scaling and serving facts.

In Serverless mode KServe runs the predictor as a Knative ``Service``
(``serving.knative.dev/v1``) named ``<isvc>-predictor`` (``-predictor-default`` before
KServe 0.9) and labelled ``serving.kserve.io/inferenceservice: <isvc>``. What Knative
enforces is on its revision template: the Knative Pod Autoscaler annotations
``autoscaling.knative.dev/min-scale``, ``max-scale``, ``metric`` and ``target`` (also
the older ``minScale``/``maxScale`` spellings), ``spec.template.spec.containerConcurrency``
(the hard admission limit per replica) and ``timeoutSeconds`` (the request timeout).

:func:`apply` maps them onto the InferenceService's facts that the checks read
(``minReplicas``, ``maxReplicas``, ``scaleMetric``, ``scaleTarget``,
``containerConcurrency``, ``timeout``): the generated Knative Service, when it is in the
input, is what runs and wins; else the same annotations written on the InferenceService
(KServe copies them to the revision) fill what ``spec.predictor`` leaves unset.
The Knative Service is an "around" kind of :mod:`skewaudit.collect.kinds`: listed live as
an optional tier (a cluster without Knative answers 404, quietly). Revisions are not
read: the Service's template is the revision Knative creates next and, once ready, runs.
Field names follow knative.dev/serving ``pkg/apis/serving/v1`` and the autoscaling
annotation keys of ``pkg/apis/autoscaling/register.go``.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import _obj
from skewaudit.collect.kinds import ExtKind
from skewaudit.model.observed import Fact, Prov, SourceKind

KIND = "KnativeService"
ISVC_LABEL = "serving.kserve.io/inferenceservice"
AUTOSCALING = "autoscaling.knative.dev/"
# fact key -> the annotation names Knative reads for it (current spelling first)
ANNOTATIONS = {"minReplicas": ("min-scale", "minScale"), "maxReplicas": ("max-scale", "maxScale"),
               "scaleMetric": ("metric",), "scaleTarget": ("target",)}


class RevisionSpec(k._K):
    container_concurrency: int | None = None
    timeout_seconds: int | None = None


class RevisionTemplate(k._K):
    metadata: k.ObjectMeta = msgspec.field(default_factory=k.ObjectMeta)
    spec: RevisionSpec = msgspec.field(default_factory=RevisionSpec)


class KnativeServiceSpec(k._K):
    template: RevisionTemplate = msgspec.field(default_factory=RevisionTemplate)


class KnativeService(k._K):
    metadata: k.ObjectMeta = msgspec.field(default_factory=k.ObjectMeta)
    spec: KnativeServiceSpec = msgspec.field(default_factory=KnativeServiceSpec)


class KnativeServiceList(k._K):
    metadata: k.ListMeta = msgspec.field(default_factory=k.ListMeta)
    items: list[KnativeService] = []


def _number(v: str) -> Any:
    """An annotation's number as Knative parses it; anything else stays the string written."""
    s = v.strip()
    if re.fullmatch(r"-?\d{1,18}", s):
        return int(s)
    if re.fullmatch(r"-?\d{1,18}\.\d{1,18}", s):
        return float(s)
    return v


def _annotation_facts(ann: dict[str, str], obj: str, base: str) -> dict[str, Fact]:
    out = {}
    for key, names in ANNOTATIONS.items():
        name = next((n for n in names if AUTOSCALING + n in ann), None)
        if name is not None:
            raw = ann[AUTOSCALING + name]
            out[key] = Fact(value=raw if key == "scaleMetric" else _number(raw), raw=raw,
                            prov=Prov(source=SourceKind.WORKLOAD, object=obj, path=f"{base}[{AUTOSCALING}{name}]"))
    return out


def generated_for(isvc: Any, ksvcs: list[KnativeService]) -> KnativeService | None:
    """The Knative Service KServe generated for ``isvc`` (by label, else by name)."""
    md = isvc.metadata
    names = (f"{md.name}-predictor", f"{md.name}-predictor-default")
    same_ns = [s for s in ksvcs if s.metadata.namespace in (md.namespace, "")]
    return next((s for s in same_ns if s.metadata.labels.get(ISVC_LABEL) == md.name
                 and s.metadata.name in names), None) or next((s for s in same_ns if s.metadata.name in names), None)


def apply(isvc: Any, extra: dict[str, Fact], ksvcs: list[KnativeService], obj: str) -> None:
    """Fill ``extra`` (the InferenceService's facts) with what Knative enforces."""
    from_isvc = _annotation_facts(isvc.metadata.annotations, obj, "metadata.annotations")
    for key, f in from_isvc.items():
        extra.setdefault(key, f)   # spec.predictor.minReplicas & co. win over the annotations
    ksvc = generated_for(isvc, ksvcs)
    if ksvc is None:
        return
    kobj = _obj(KIND, ksvc.metadata.namespace, ksvc.metadata.name)
    tmpl = ksvc.spec.template
    extra.update(_annotation_facts(tmpl.metadata.annotations, kobj, "spec.template.metadata.annotations"))
    for key, val, path in (("containerConcurrency", tmpl.spec.container_concurrency,
                            "spec.template.spec.containerConcurrency"),
                           ("timeout", tmpl.spec.timeout_seconds, "spec.template.spec.timeoutSeconds")):
        if val is not None:
            extra[key] = Fact(value=val, prov=Prov(source=SourceKind.WORKLOAD, object=kobj, path=path))
    extra["deploymentMode"] = Fact(value="Serverless", prov=Prov(source=SourceKind.DERIVED, object=kobj),
                                   note="KServe generated this Knative Service for the predictor")


# Its own issue area: Knative denied (403) says nothing about the HPAs of other workloads in the namespace.
KINDS = (ExtKind(KIND, "serving.knative.dev", "v1", "services", KnativeService, KnativeServiceList,
                 api_kind="Service", area="knative"),)
