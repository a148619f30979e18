"""KServe: an InferenceService resolved into the predictor pod KServe would run.

Owns runtime selection (:func:`pick_runtime`: ``model.runtime`` by name,
else auto-select by ``modelFormat`` among ``autoSelect`` runtimes,
namespaced before cluster-scoped, higher priority first), the merge of the
runtime's ``kserve-container`` with the InferenceService's ``model``
container (:func:`_isvc_source`: args appended, env merged with the isvc
winning, ``runtimeVersion`` as the image tag, ``{{.Name}}`` substituted, field
paths pointing at whichever object wrote each part), and the predictor's
template and extra facts (:func:`_isvc_template`). Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec

from skewaudit import redact
from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import (
    ContainerSource, EnvItem, _obj, container_obs, split_image, template_obs,
)
from skewaudit.model.observed import CollectionIssue, ContainerObs, Fact, PodTemplateObs, Prov, SourceKind

if TYPE_CHECKING:   # build imports this module; the Inventory is only a parameter type here
    from skewaudit.collect.build import Inventory

ISVC_LABEL = "serving.kserve.io/inferenceservice"
KSERVE_CONTAINER = "kserve-container"
KSERVE_MODEL_DIR = "/mnt/models"


def _isvc_pod_labels(name: str) -> dict[str, str]:
    # The labels KServe puts on predictor pods (used to match Services).
    return {ISVC_LABEL: name, "component": "predictor", "app": f"isvc.{name}-predictor"}


def pick_runtime(isvc: k.InferenceService, runtimes_: list[k.ServingRuntime]
                 ) -> tuple[k.ServingRuntime | None, str]:
    """The runtime KServe would use: ``model.runtime`` by name (namespace first,
    then cluster), else auto-select by ``modelFormat`` among runtimes with
    ``autoSelect`` (namespaced before cluster-scoped, higher priority first).
    Returns (runtime, how) or (None, why not)."""
    m, ns = isvc.spec.predictor.model, isvc.metadata.namespace
    assert m is not None
    nsr = [r for r in runtimes_ if r.kind == "ServingRuntime" and r.metadata.namespace in (ns, "")]
    csr = [r for r in runtimes_ if r.kind == "ClusterServingRuntime"]
    if m.runtime:
        for r in nsr + csr:
            if r.metadata.name == m.runtime:
                return r, "named by spec.predictor.model.runtime"
        return None, f"runtime {m.runtime!r} (spec.predictor.model.runtime) is not a ServingRuntime in " \
                     f"{ns or 'the namespace'} nor a ClusterServingRuntime"
    fmt = m.model_format
    if fmt is None or not fmt.name:
        return None, "neither spec.predictor.model.runtime nor modelFormat.name is set"

    def prio(r: k.ServingRuntime) -> int | None:
        if r.spec.disabled:
            return None
        for f in r.spec.supported_model_formats:
            if f.name.lower() == fmt.name.lower() and f.auto_select and \
                    (not fmt.version or not f.version or f.version.split(".")[0] == fmt.version.split(".")[0]):
                return f.priority or 0
        return None

    for group in (nsr, csr):
        ok = sorted(((p, r.metadata.name, r) for r in group if (p := prio(r)) is not None),
                    key=lambda x: (-x[0], x[1]))
        if ok:
            return ok[0][2], f"auto-selected for modelFormat {fmt.name}"
    return None, f"no ServingRuntime or ClusterServingRuntime supports modelFormat {fmt.name!r} with autoSelect"


_TEMPLATE_VAR = re.compile(r"\{\{\s*\.(Name|Namespace)\s*\}\}")


def _isvc_source(isvc: k.InferenceService, rt: k.ServingRuntime | None, obj: str) -> ContainerSource:
    """The predictor container as KServe builds it: the runtime's
    ``kserve-container`` + the InferenceService's ``model`` container (args
    appended, env merged with the isvc winning, isvc resources/image win,
    ``runtimeVersion`` as the image tag, ``{{.Name}}`` substituted)."""
    md, m = isvc.metadata, isvc.spec.predictor.model
    assert m is not None
    subst_vals = {"Name": md.name, "Namespace": md.namespace}

    def sub(s: str) -> str:
        return _TEMPLATE_VAR.sub(lambda mm: subst_vals[mm.group(1)], s)

    rcs = rt.spec.containers if rt is not None else []
    ri = next((i for i, c in enumerate(rcs) if c.name == KSERVE_CONTAINER), 0)
    rc = rcs[ri] if rcs else k.Container()
    rt_obj = _obj(rt.kind, rt.metadata.namespace if rt.kind == "ServingRuntime" else "", rt.metadata.name) \
        if rt is not None else ""
    rt_path = f"{rt_obj}:spec.containers[{ri}]"
    path = "spec.predictor.model"

    rt_args = [sub(a) for a in rc.args or []]
    is_args = [sub(a) for a in m.args or []]
    args = rt_args + is_args if (rc.args is not None or m.args is not None) else None
    cmd_from_isvc = m.command is not None
    command = [sub(a) for a in (m.command if cmd_from_isvc else rc.command) or []] or None
    image = m.image or rc.image
    if not m.image and m.runtime_version and rc.image:
        image = split_image(rc.image).repository + ":" + m.runtime_version
    rres, mres = rc.resources or k.ResourceRequirements(), m.resources or k.ResourceRequirements()
    resources = k.ResourceRequirements(limits={**rres.limits, **mres.limits},
                                       requests={**rres.requests, **mres.requests})
    merged = k.Container(name=KSERVE_CONTAINER, image=image, command=command, args=args, resources=resources,
                         ports=m.ports or rc.ports, readiness_probe=m.readiness_probe or rc.readiness_probe,
                         liveness_probe=m.liveness_probe or rc.liveness_probe,
                         startup_probe=m.startup_probe or rc.startup_probe)

    def subst_env(e: k.EnvVar) -> k.EnvVar:
        return k.EnvVar(name=e.name, value=sub(e.value), value_from=e.value_from) if e.value else e

    env: list[EnvItem] = [EnvItem(ef, obj, f"{rt_path}.envFrom[{i}]") for i, ef in enumerate(rc.env_from)]
    env += [EnvItem(ef, obj, f"{path}.envFrom[{i}]") for i, ef in enumerate(m.env_from)]
    env += [EnvItem(subst_env(e), obj, f"{rt_path}.env[{e.name}]") for e in rc.env]
    env += [EnvItem(subst_env(e), obj, f"{path}.env[{e.name}]") for e in m.env]
    n_rt = len(rt_args)

    def arg_path(p: str) -> str:
        mm = re.match(re.escape(path) + r"\.(args|command)\[(\d+)\](.*)$", p)
        if not mm:
            return p
        part, j, rest = mm.group(1), int(mm.group(2)), mm.group(3)
        if part == "command":
            return p if cmd_from_isvc else f"{rt_path}.command[{j}]{rest}"
        return f"{rt_path}.args[{j}]{rest}" if j < n_rt else f"{path}.args[{j - n_rt}]{rest}"

    return ContainerSource(merged, obj, path, env, arg_path=arg_path)


def _with_model_note(c: ContainerObs, uri: str) -> ContainerObs:
    e = c.engine
    f = e.fields.get("model") if e is not None else None
    if e is None or f is None or not str(f.value or "").startswith(KSERVE_MODEL_DIR):
        return c
    note = f"storageUri {uri} is downloaded to {KSERVE_MODEL_DIR} by the storage-initializer"
    fields = dict(e.fields)
    fields["model"] = msgspec.structs.replace(f, note=f"{f.note}; {note}" if f.note else note)
    return msgspec.structs.replace(c, engine=msgspec.structs.replace(e, fields=fields))


def _isvc_template(isvc: k.InferenceService, inv: Inventory, obj: str, issues: list[CollectionIssue]
                   ) -> tuple[PodTemplateObs, dict[str, Fact]]:
    """The predictor's template and facts; in Serverless mode, what Knative enforces (knative.apply)."""
    from skewaudit.collect import knative

    template, extra = _predictor(isvc, inv, obj, issues)
    knative.apply(isvc, extra, inv.crds.get(knative.KIND, []), obj)
    return template, extra


def _predictor(isvc: k.InferenceService, inv: Inventory, obj: str, issues: list[CollectionIssue]
               ) -> tuple[PodTemplateObs, dict[str, Fact]]:
    md, pred = isvc.metadata, isvc.spec.predictor
    ns, cms = md.namespace, inv.configmaps
    extra: dict[str, Fact] = {}

    def fact(key: str, value: Any, path: str, source: str = SourceKind.WORKLOAD, note: str | None = None) -> None:
        extra[key] = Fact(value=value, prov=Prov(source=source, object=obj, path=path), note=note)

    for key, val in (("containerConcurrency", pred.container_concurrency), ("timeout", pred.timeout),
                     ("minReplicas", pred.min_replicas), ("maxReplicas", pred.max_replicas),
                     ("scaleMetric", pred.scale_metric), ("scaleTarget", pred.scale_target)):
        if val is not None:
            fact(key, val, f"spec.predictor.{key}")
    if "minReplicas" not in extra:
        fact("minReplicas", 1, "spec.predictor.minReplicas", SourceKind.DEFAULT, "KServe default")
    mode = md.annotations.get("serving.kserve.io/deploymentMode")
    if mode is not None:
        fact("deploymentMode", mode, "metadata.annotations[serving.kserve.io/deploymentMode]")
    else:
        fact("deploymentMode", None, "metadata.annotations[serving.kserve.io/deploymentMode]", SourceKind.DEFAULT,
             "not set: the cluster's inferenceservice-config decides (Standard in current KServe, "
             "Serverless in older releases)")
    spec = k.PodSpec(node_selector=pred.node_selector, affinity=pred.affinity, tolerations=pred.tolerations,
                     runtime_class_name=pred.runtime_class_name, service_account_name=pred.service_account_name)
    m = pred.model
    if m is None:
        if not pred.containers:
            issues.append(CollectionIssue(scope=obj, kind="unsupported", area="engine",
                                          message="spec.predictor has neither model nor containers; "
                                                  "this predictor form is not supported"))
        spec.containers = pred.containers
        return template_obs(spec, _isvc_pod_labels(md.name), obj, "spec.predictor", ns, cms), extra
    rt, how = (None, "")
    if inv.unavailable.get("servingruntimes") and not m.image:
        issues.append(CollectionIssue(scope=obj, kind="not-collected", area="engine", message=(
            f"ServingRuntimes were not read ({inv.unavailable['servingruntimes']}); the predictor container "
            "is built from the InferenceService alone")))
    else:
        rt, how = pick_runtime(isvc, inv.runtimes)
        if rt is None:
            issues.append(CollectionIssue(scope=obj, kind="not-found", area="engine", message=how))
    if rt is not None:
        rt_obj = _obj(rt.kind, rt.metadata.namespace if rt.kind == "ServingRuntime" else "", rt.metadata.name)
        explicit = bool(m.runtime)
        extra["runtime"] = Fact(value=rt.metadata.name, note=how, prov=Prov(
            source=SourceKind.WORKLOAD if explicit else SourceKind.DERIVED, object=obj if explicit else rt_obj,
            path="spec.predictor.model.runtime" if explicit else "spec.supportedModelFormats"))
        if not spec.node_selector:
            spec.node_selector = rt.spec.node_selector
        if not spec.tolerations:
            spec.tolerations = rt.spec.tolerations
    if m.model_format is not None:
        fact("modelFormat", m.model_format.name + (f":{m.model_format.version}" if m.model_format.version else ""),
             "spec.predictor.model.modelFormat")
    c = container_obs(_isvc_source(isvc, rt, obj), ns, cms)
    if m.image or rt is None:
        extra["image"] = Fact(value=c.image.ref or None, prov=Prov(source=SourceKind.WORKLOAD, object=obj,
                                                                   path="spec.predictor.model.image"))
    else:
        ri = next((i for i, x in enumerate(rt.spec.containers) if x.name == KSERVE_CONTAINER), 0)
        extra["image"] = Fact(value=c.image.ref, prov=Prov(
            source=SourceKind.WORKLOAD, path=f"spec.containers[{ri}].image",
            object=_obj(rt.kind, rt.metadata.namespace if rt.kind == "ServingRuntime" else "", rt.metadata.name)),
            note=f"tag from spec.predictor.model.runtimeVersion ({m.runtime_version})" if m.runtime_version else None)
    if m.storage_uri:
        uri = redact.value("storageUri", m.storage_uri)   # https://user:pass@… keeps only the host
        fact("storageUri", uri, "spec.predictor.model.storageUri",
             note=f"downloaded to {KSERVE_MODEL_DIR} by the storage-initializer")
        c = _with_model_note(c, uri)
    return template_obs(spec, _isvc_pod_labels(md.name), obj, "spec.predictor", ns, cms, containers=[c]), extra
