"""KServe ``LLMInferenceService`` (``serving.kserve.io/v1alpha1``, llm-d based) as one serving workload.

The controller renders a Deployment ``<name>-kserve`` (decode, or the only workload) and,
with ``spec.prefill``, ``<name>-kserve-prefill``: their container ``main`` is
``spec.template``'s merged over the cluster's ``kserve-config-llm-template``
(``vllm serve /mnt/models --served-model-name <spec.model.name or metadata.name>
--port 8000``), the model downloaded from ``spec.model.uri`` to ``/mnt/models`` by the
storage initializer, and ``spec.parallelism`` (``tensor``, ``pipeline``, ``data``,
``dataLocal``, ``expert``) rendered into vLLM's parallelism flags. That container is
rebuilt here (:mod:`skewaudit.collect.synth`): a flag written in ``spec.template`` wins;
the template's own tokens are ``default`` facts; ``spec.parallelism`` and ``spec.model``
facts point at those fields. ``spec.replicas`` (or ``spec.scaling`` min/max) are the
decode workload's; ``spec.prefill`` and ``spec.router`` are reported as extra facts.
Pods carry ``app.kubernetes.io/name: <name>`` and ``app.kubernetes.io/component:
llminferenceservice-workload`` (``…-prefill`` for prefill, ``…-router-scheduler`` for
the EPP): the decode pods are the workload's.

Field names follow kserve/kserve ``pkg/apis/serving/v1alpha1/llm_inference_service_types.go``;
the default container is ``config/llmisvcconfig/config-llm-template.yaml``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit import redact
from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import container_obs, plain_source, template_obs
from skewaudit.collect.kinds import ExtKind
from skewaudit.collect.synth import Argv, engine_container, fact
from skewaudit.model.observed import CollectionIssue, Fact, SourceKind, WorkloadObs

KIND = "LLMInferenceService"
POD_LABEL = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
DECODE = "llminferenceservice-workload"
MAIN = "main"
TEMPLATE = "kserve-config-llm-template:spec.template.containers[0]"
MODEL_DIR = "/mnt/models"


class LLMModel(k._K):
    uri: str = ""
    name: str | None = None


class Parallelism(k._K):
    tensor: int | None = None
    pipeline: int | None = None
    data: int | None = None
    data_local: int | None = None
    expert: bool | None = None


class Scaling(k._K):
    min_replicas: int | None = None
    max_replicas: int | None = None


class Workload(k._K):
    replicas: int | None = None
    scaling: Scaling | None = None
    parallelism: Parallelism | None = None
    template: k.PodSpec | None = None
    worker: k.PodSpec | None = None


class LLMInferenceServiceSpec(Workload):
    model: LLMModel = msgspec.field(default_factory=LLMModel)
    prefill: Workload | None = None
    router: dict[str, Any] | None = None
    base_refs: list[k.NameRef] = []
    runtime: str | None = None


class LLMInferenceService(k._K):
    metadata: k.ObjectMeta = msgspec.field(default_factory=k.ObjectMeta)
    spec: LLMInferenceServiceSpec = msgspec.field(default_factory=LLMInferenceServiceSpec)


class LLMInferenceServiceList(k._K):
    metadata: k.ListMeta = msgspec.field(default_factory=k.ListMeta)
    items: list[LLMInferenceService] = []


# A template-less object still runs vLLM: judged "serving" by this stand-in container.
_DEFAULT_SPEC = k.PodSpec(containers=[k.Container(name=MAIN, command=["vllm", "serve", MODEL_DIR])])


def pod_specs(o: LLMInferenceService) -> list[tuple[str, k.PodSpec]]:
    out = [("spec.template", o.spec.template)] if o.spec.template is not None else []
    if o.spec.prefill is not None and o.spec.prefill.template is not None:
        out.append(("spec.prefill.template", o.spec.prefill.template))
    return out or [("spec.template", _DEFAULT_SPEC)]


def template_labels(o: LLMInferenceService) -> dict[str, str]:
    return {POD_LABEL: o.metadata.name, COMPONENT: DECODE, "app.kubernetes.io/part-of": "llminferenceservice"}


_PARALLEL = (("tensor", "--tensor-parallel-size"), ("pipeline", "--pipeline-parallel-size"),
             ("data", "--data-parallel-size"), ("data_local", "--data-parallel-size-local"))


def _argv(o: LLMInferenceService, c: k.Container, base: str, w: Workload, wpath: str) -> Argv:
    """The main container's argv as the controller renders it (empty: the container's own command runs)."""
    a = Argv()
    if c.command is not None:
        return a   # spec.template overrides the command: what it says runs, parsed as written
    a.add(f"{TEMPLATE}.command", "vllm", "serve", MODEL_DIR, source=SourceKind.DEFAULT)
    if c.args is not None:
        for i, t in enumerate(c.args):
            a.add(f"{base}.args[{i}]", t, source=SourceKind.ARG)
    else:
        name = o.spec.model.name
        a.add("spec.model.name" if name else "metadata.name", "--served-model-name", name or o.metadata.name,
              source=SourceKind.WORKLOAD if name else SourceKind.DEFAULT)
        a.add(f"{TEMPLATE}.args", "--port", "8000", source=SourceKind.DEFAULT)
    p = w.parallelism or Parallelism()
    for attr, flag in _PARALLEL:
        v = getattr(p, attr)
        if v is not None and not a.has(flag):
            a.add(f"{wpath}parallelism.{'dataLocal' if attr == 'data_local' else attr}", flag, str(v))
    if p.expert and not a.has("--enable-expert-parallel"):
        a.add(f"{wpath}parallelism.expert", "--enable-expert-parallel")
    return a


def _template(o: LLMInferenceService, w: Workload, wpath: str, j: Any, ns: str, obj: str) -> Any:
    spec = w.template or k.PodSpec()
    base = f"{wpath}template"
    containers = list(spec.containers)
    mi = next((i for i, c in enumerate(containers) if c.name == MAIN), None)
    if mi is None:
        containers.insert(0, k.Container(name=MAIN))
        mi = 0
    out = []
    for i, c in enumerate(containers):
        path = f"{base}.containers[{i}]"
        if i == mi:
            out.append(engine_container(c, _argv(o, c, path, w, wpath), obj, path, ns,
                                        j.inv.configmaps, note="the vLLM command KServe renders from the "
                                        "LLMInferenceService over kserve-config-llm-template"))
        else:
            out.append(container_obs(plain_source(c, obj, path), ns, j.inv.configmaps))
    return template_obs(spec, template_labels(o), obj, base, ns, j.inv.configmaps, containers=out)


def build(j: Any, c: Any, common: dict[str, Any]) -> WorkloadObs:
    """The LLMInferenceService as one workload: the decode container rebuilt, its pods by label."""
    o: LLMInferenceService = c.obj
    inv, ns, name, obj = j.inv, c.ns, c.name, common["object"]
    template = _template(o, o.spec, "spec.", j, ns, obj)
    recs = [r for r in inv.pods.labelled(KIND, ns, name) if (r.tags or {}).get(COMPONENT, DECODE) == DECODE]
    pods = [j.pod_obs(r, True) for r in recs]
    hpa = j.autoscaler(ns, "Deployment", f"{name}-kserve")
    extra: dict[str, Fact] = {}
    if o.spec.model.uri:
        extra["storageUri"] = fact(obj, redact.value("storageUri", o.spec.model.uri), "spec.model.uri",
                                   note=f"downloaded to {MODEL_DIR} by the storage-initializer")
    sc = o.spec.scaling
    if sc is not None and hpa is None:
        extra["minReplicas"] = fact(obj, sc.min_replicas, "spec.scaling.minReplicas", default=1,
                                    why_default="KServe default")
        if sc.max_replicas is not None:
            extra["maxReplicas"] = fact(obj, sc.max_replicas, "spec.scaling.maxReplicas")
    pre = o.spec.prefill
    if pre is not None:
        extra["prefillReplicas"] = fact(obj, pre.replicas, "spec.prefill.replicas", default=1,
                                        why_default="Kubernetes default")
        tp = (pre.parallelism or Parallelism()).tensor
        if tp is not None:
            extra["prefillTensorParallel"] = fact(obj, tp, "spec.prefill.parallelism.tensor")
    if o.spec.router is not None:
        extra["router"] = fact(obj, ", ".join(sorted(str(key) for key in o.spec.router)) or "(empty)", "spec.router")
    if o.spec.worker is not None:
        extra["multiNode"] = fact(obj, True, "spec.worker", note="multi-node: KServe renders a LeaderWorkerSet; "
                                  "the worker pods' facts are not joined")
    refs = [f"LLMInferenceServiceConfig {r.name} (spec.baseRefs)" for r in o.spec.base_refs if r.name]
    refs += [f"ServingRuntime {o.spec.runtime} (spec.runtime)"] if o.spec.runtime else []
    if refs:
        j.issues.append(CollectionIssue(scope=obj, kind="not-collected", area="llminferenceserviceconfig", message=(
            f"{', '.join(refs)} is not read: what it sets (image, args, env) is not in these facts, which "
            "assume kserve-config-llm-template")))
    replicas = fact(obj, o.spec.replicas, "spec.replicas", default=1, why_default="Kubernetes default")
    return WorkloadObs(**common, template=template, replicas=replicas, pods=pods, hpa=hpa,
                       selector={POD_LABEL: name, COMPONENT: DECODE}, services=j.services(ns, template_labels(o)),
                       extra=extra)


KINDS = (ExtKind(KIND, "serving.kserve.io", "v1alpha1", "llminferenceservices", LLMInferenceService,
                 LLMInferenceServiceList, role="workload", aliases=("llmisvc", "llminferenceservice"),
                 pod_specs=pod_specs, template_labels=template_labels, build=build, pod_label=POD_LABEL,
                 extra_pod_labels=(COMPONENT,)),)
