"""Dynamic Resource Allocation: how many devices, of which class, a pod's claims ask for.

A pod names its claims in ``spec.resourceClaims``; a claim made per pod from a
``ResourceClaimTemplate`` (``resource.k8s.io``) says what it wants in
``spec.spec.devices.requests[]``. The request's shape moved between API versions:

* ``v1beta1``: ``deviceClassName``, ``allocationMode``, ``count`` on the request itself;
* ``v1beta2`` and ``v1`` (GA in Kubernetes 1.34): the same three under ``exactly``, or a
  prioritized list ``firstAvailable`` (the scheduler picks one sub-request).

``allocationMode`` defaults to ``ExactCount`` and ``count`` then defaults to 1 (the API's
own defaulting, core resource.k8s.io types). ``All`` (every matching device in a pool) and
``firstAvailable`` leave the count to the scheduler: unverifiable, with the reason, never a
guess. A claim written as a standalone ``ResourceClaim`` is not read (its allocation is
status, not intent): unverifiable too.

Offline the templates come from the manifests; live, one optional list call per namespace
(``resourceclaimtemplates``, served version ``v1``): a cluster without DRA answers 404,
quietly; a 403 is a ``forbidden`` issue in area ``resourceclaims``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit.collect import crdkit
from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import _obj
from skewaudit.collect.kinds import ExtKind
from skewaudit.model.observed import ClaimDevices, ClaimRequest, CollectionIssue, PodTemplateObs, WorkloadObs

KIND = "ResourceClaimTemplate"
AREA = "resourceclaims"


class ExactDeviceRequest(k._K):
    device_class_name: str | None = None
    allocation_mode: str | None = None
    count: int | None = None


class DeviceRequest(k._K):
    name: str = ""
    # v1beta1: on the request
    device_class_name: str | None = None
    allocation_mode: str | None = None
    count: int | None = None
    # v1beta2 / v1
    exactly: ExactDeviceRequest | None = None
    first_available: list[Any] | None = None


class DeviceClaim(k._K):
    requests: list[DeviceRequest] = []


class ClaimSpec(k._K):
    devices: DeviceClaim = msgspec.field(default_factory=DeviceClaim)


class TemplateSpec(k._K):
    spec: ClaimSpec = msgspec.field(default_factory=ClaimSpec)


ResourceClaimTemplate, ResourceClaimTemplateList = crdkit.resource("ResourceClaimTemplate", TemplateSpec,
                                                                  module=__name__)


KINDS = (ExtKind(KIND, "resource.k8s.io", "v1", "resourceclaimtemplates", ResourceClaimTemplate,
                 ResourceClaimTemplateList, role="around", area=AREA),)


def devices(t: ResourceClaimTemplate) -> ClaimDevices:
    """The devices one template asks for, summed over its requests, and per class when the requests
    name several (a GPU and a NIC request in one claim: the check counts the intended vendor's)."""
    obj = _obj(KIND, t.metadata.namespace, t.metadata.name)
    reqs = t.spec.spec.devices.requests
    if not reqs:
        return ClaimDevices(obj, reason=f"{obj} has no device requests")
    total, notes, path = 0, [], ""
    by_class: dict[str, int] = {}
    by_name: dict[str, ClaimRequest] = {}
    for i, r in enumerate(reqs):
        base = f"spec.spec.devices.requests[{i}]"
        if r.first_available:
            return ClaimDevices(obj, path=f"{base}.firstAvailable", reason=(
                f"{obj} request {r.name or i} is a prioritized list (firstAvailable): the scheduler picks one of "
                f"{len(r.first_available)} alternatives, so the device count is not fixed"))
        ex = r.exactly
        if ex is not None:
            base += ".exactly"
        cls = ex.device_class_name if ex is not None else r.device_class_name
        mode = (ex.allocation_mode if ex is not None else r.allocation_mode) or "ExactCount"
        count = ex.count if ex is not None else r.count
        if mode == "All":
            return ClaimDevices(obj, device_class=cls, path=f"{base}.allocationMode", reason=(
                f"{obj} request {r.name or i} has allocationMode All: every matching {cls or 'device'} on the node, "
                "a count only the node decides"))
        if mode != "ExactCount":
            return ClaimDevices(obj, device_class=cls, path=f"{base}.allocationMode",
                                reason=f"{obj} request {r.name or i}: allocationMode {mode!r} is not one "
                                       "skewaudit knows")
        if count is None:
            count = 1
            notes.append(f"request {r.name or i}: count not set, 1 (the ExactCount default)")
        total += count
        by_class[cls or ""] = by_class.get(cls or "", 0) + count
        path = path or f"{base}.count"
        if r.name:
            by_name[r.name] = ClaimRequest(count, cls, f"{base}.count")
    named = sorted(c for c in by_class if c)
    return ClaimDevices(obj, count=total, device_class=named[0] if len(named) == 1 else ", ".join(named) or None,
                        path=path, by_class=by_class if len(by_class) > 1 else {}, requests=by_name,
                        note="; ".join(notes) or None)


def _claims(t: PodTemplateObs, ns: str, templates: dict[tuple[str, str], ResourceClaimTemplate],
            why_missing: str) -> dict[str, ClaimDevices]:
    out: dict[str, ClaimDevices] = {}
    for claim, ref in t.resource_claims.items():
        kind, _, name = ref.partition("/")
        obj = _obj(kind, ns, name)
        if kind != KIND:
            out[claim] = ClaimDevices(obj, reason=f"claim {claim} is the shared {obj}: what it allocates is its "
                                                  "status, not read by skewaudit")
            continue
        found = templates.get((ns, name)) or templates.get(("", name))
        out[claim] = devices(found) if found is not None else ClaimDevices(obj, reason=f"{obj} {why_missing}")
    return out


def with_claims(workloads: list[WorkloadObs], crds: dict[str, list[Any]], issues: list[CollectionIssue]
                ) -> list[WorkloadObs]:
    """Each workload whose pod template uses DRA claims, with what its templates ask for."""
    if not any(w.template.resource_claims for w in workloads):
        return workloads
    templates = {(t.metadata.namespace, t.metadata.name): t for t in crds.get(KIND, ())}
    denied = next((i.message for i in issues if i.area == AREA), None)
    why = (f"was not read: {denied}" if denied else
           "was not found (not in the manifests, or the cluster serves no resource.k8s.io/v1)")
    out = []
    for w in workloads:
        if w.template.resource_claims:
            t = msgspec.structs.replace(w.template, claim_devices=_claims(w.template, w.namespace, templates, why))
            w = msgspec.structs.replace(w, template=t)
        out.append(w)
    return out
