"""Ray Serve on KubeRay: a ``RayService`` (``ray.io/v1``) as one serving workload.

A RayService carries its Serve applications as a YAML *string*, ``spec.serveConfigV2``,
and a RayCluster spec (``rayClusterConfig``: a head group and worker groups, each a pod
template). Ray Serve LLM applications (``import_path: ray.serve.llm:build_openai_app``)
list ``args.llm_configs``; each runs vLLM with ``model_loading_config`` (``model_id``
is the served name, ``model_source`` what vLLM loads) and ``engine_kwargs`` (vLLM's own
engine arguments: ``tensor_parallel_size``, ``max_model_len``, ``dtype``,
``quantization``…). Those are read here as the vLLM argv they amount to
(:mod:`skewaudit.collect.synth`), each fact pointing into the string
(``spec.serveConfigV2:applications[0].args.llm_configs[0].engine_kwargs.max_model_len``).
``deployment_config`` gives Serve's replica bounds (``autoscaling_config.min_replicas``/
``max_replicas``) and the admission limit (``max_ongoing_requests``).

The serveConfigV2 string is untrusted input like a manifest: a size limit, the alias
bomb / depth guards of :mod:`skewaudit.yamlsafe`, and errors located inside the string
(line and column), reported as a ``malformed`` collection issue of the RayService (the
engine facts are then unverifiable; the run goes on, as for any malformed object).

The audited pod template is the worker group that requests accelerators (Serve LLM
replicas run there; the head usually has ``num-gpus: "0"``), else the first worker
group, else the head. Its pods are those KubeRay labels ``ray.io/cluster`` with the
RayCluster the RayService runs (``status.activeServiceStatus.rayClusterName``; the pending
cluster's pods, during an upgrade, are not current) and ``ray.io/node-type``/``ray.io/group``
of that group; their Ray container runs ``ray start``, so it carries the Serve engine facts. Field names follow
ray-project/kuberay ``ray-operator/apis/ray/v1/rayservice_types.go`` and
``raycluster_types.go`` (v1.3).
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import container_obs, plain_source, requests_gpu, template_obs
from skewaudit.collect.kinds import ExtKind
from skewaudit.collect.synth import Argv, engine_container, fact, flag_tokens
from skewaudit.errors import InputError
from skewaudit.model.observed import CollectionIssue, Fact, SourceKind, WorkloadObs

KIND = "RayService"
CLUSTER_LABEL, NODE_TYPE, GROUP = "ray.io/cluster", "ray.io/node-type", "ray.io/group"
SERVE = "spec.serveConfigV2"
MAX_SERVE_CONFIG = 1 << 20   # characters: a Serve config is a few KB; refuse a blob before parsing it


class HeadGroupSpec(k._K):
    ray_start_params: dict[str, Any] = {}
    template: k.PodTemplateSpec = msgspec.field(default_factory=k.PodTemplateSpec)


class WorkerGroupSpec(k._K):
    group_name: str = ""
    replicas: int | None = None
    min_replicas: int | None = None
    max_replicas: int | None = None
    num_of_hosts: int | None = None
    ray_start_params: dict[str, Any] = {}
    template: k.PodTemplateSpec = msgspec.field(default_factory=k.PodTemplateSpec)


class RayClusterSpec(k._K):
    ray_version: str = ""
    head_group_spec: HeadGroupSpec = msgspec.field(default_factory=HeadGroupSpec)
    worker_group_specs: list[WorkerGroupSpec] = []


class RayServiceSpec(k._K):
    serve_config_v2: str = ""
    ray_cluster_config: RayClusterSpec = msgspec.field(default_factory=RayClusterSpec)


class RayServiceStatus(k._K):
    ray_cluster_name: str = ""


class RayServiceStatuses(k._K):
    active_service_status: RayServiceStatus = msgspec.field(default_factory=RayServiceStatus)
    pending_service_status: RayServiceStatus = msgspec.field(default_factory=RayServiceStatus)


class RayService(k._K):
    metadata: k.ObjectMeta = msgspec.field(default_factory=k.ObjectMeta)
    spec: RayServiceSpec = msgspec.field(default_factory=RayServiceSpec)
    status: RayServiceStatuses | None = None


class RayServiceList(k._K):
    metadata: k.ListMeta = msgspec.field(default_factory=k.ListMeta)
    items: list[RayService] = []


_CLUSTER = "spec.rayClusterConfig"


def _groups(o: RayService) -> list[tuple[str, Any]]:
    rc = o.spec.ray_cluster_config
    return [(f"{_CLUSTER}.workerGroupSpecs[{i}]", g) for i, g in enumerate(rc.worker_group_specs)] + \
        [(f"{_CLUSTER}.headGroupSpec", rc.head_group_spec)]


def _serving_group(o: RayService) -> tuple[str, Any]:
    groups = _groups(o)
    return next(((p, g) for p, g in groups if any(requests_gpu(c) for c in g.template.spec.containers)), groups[0])


def pod_specs(o: RayService) -> list[tuple[str, k.PodSpec]]:
    return [(f"{p}.template.spec", g.template.spec) for p, g in _groups(o)]


def template_labels(o: RayService) -> dict[str, str]:
    return _serving_group(o)[1].template.metadata.labels


def clusters(o: RayService) -> list[str]:
    """The RayClusters the RayService runs (active, then pending during an upgrade): its pods' ``ray.io/cluster``."""
    st = o.status or RayServiceStatuses()
    return [n for n in (st.active_service_status.ray_cluster_name, st.pending_service_status.ray_cluster_name) if n]


def _pods(j: Any, o: RayService, ns: str, group: Any, template: Any) -> list[Any]:
    """The serving group's pods, each Ray container carrying the Serve engine facts (Ray starts vLLM inside it:
    the pod's own argv is ``ray start``)."""
    active = clusters(o)[:1]
    want = ("worker", group.group_name) if isinstance(group, WorkerGroupSpec) else ("head", None)
    engine = next((c for c in template.containers if c.engine is not None), None)
    out = []
    for cluster in clusters(o):
        for r in j.inv.pods.labelled(KIND, ns, cluster):
            tags = r.tags or {}
            if (tags.get(NODE_TYPE), tags.get(GROUP) if want[1] is not None else None) != want:
                continue
            p = j.pod_obs(r, cluster in active)
            if engine is not None:
                p = msgspec.structs.replace(p, containers=[msgspec.structs.replace(c, engine=engine.engine)
                                                           if c.name == engine.name else c for c in p.containers])
            out.append(p)
    return out


def serve_config(text: str, obj: str) -> Any:
    """The parsed serveConfigV2, guarded like a manifest; ``InputError`` located in the string."""
    from skewaudit.collect.manifests import _load

    if len(text) > MAX_SERVE_CONFIG:
        raise InputError(f"{obj} {SERVE}: {len(text)} characters, over the {MAX_SERVE_CONFIG} limit; not parsed")
    return _load(f"{obj} {SERVE}", text, 0)


def _llm_config(doc: Any) -> tuple[dict | None, str, str]:
    """(the first Ray Serve LLM config, its path inside serveConfigV2, why none)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("applications"), list):
        return None, "", "has no applications list"
    for i, app in enumerate(doc["applications"]):
        args = app.get("args") if isinstance(app, dict) else None
        cfgs = args.get("llm_configs") if isinstance(args, dict) else None
        if not isinstance(cfgs, list) or not cfgs:
            continue
        where = f"{SERVE}:applications[{i}].args.llm_configs[0]"
        if not isinstance(cfgs[0], dict):
            return None, where, f"names its LLM config by file ({str(cfgs[0])[:80]!r}), which is inside the image"
        return cfgs[0], where, ""
    return None, "", ("has no Ray Serve LLM application (args.llm_configs): the engine settings live in the "
                      "application's code")


def _argv(cfg: dict, where: str) -> Argv:
    a = Argv()
    mlc = cfg.get("model_loading_config") if isinstance(cfg.get("model_loading_config"), dict) else {}
    a.add(where, "vllm", "serve")
    source, model_id = mlc.get("model_source"), mlc.get("model_id")
    if isinstance(source, str) and source:
        a.add(f"{where}.model_loading_config.model_source", source)
    elif isinstance(model_id, str) and model_id:
        a.add(f"{where}.model_loading_config.model_id", model_id)
    if isinstance(model_id, str) and model_id:
        a.add(f"{where}.model_loading_config.model_id", "--served-model-name", model_id)
    kwargs = cfg.get("engine_kwargs") if isinstance(cfg.get("engine_kwargs"), dict) else {}
    for key, v in kwargs.items():
        if isinstance(key, str):
            a.add(f"{where}.engine_kwargs.{key}", *flag_tokens(key, v))
    return a


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)   # YAML `true` is no replica count


def _serve_extra(cfg: dict, where: str, obj: str) -> dict[str, Fact]:
    out: dict[str, Fact] = {}
    dc = cfg.get("deployment_config") if isinstance(cfg.get("deployment_config"), dict) else {}
    auto = dc.get("autoscaling_config") if isinstance(dc.get("autoscaling_config"), dict) else {}
    base = f"{where}.deployment_config"
    for key, attr in (("minReplicas", "min_replicas"), ("maxReplicas", "max_replicas")):
        if _count(auto.get(attr)):
            out[key] = fact(obj, auto[attr], f"{base}.autoscaling_config.{attr}", note="Ray Serve autoscaling")
    if _count(dc.get("num_replicas")):
        out["serveReplicas"] = fact(obj, dc["num_replicas"], f"{base}.num_replicas")
    if _count(dc.get("max_ongoing_requests")):
        out["containerConcurrency"] = fact(obj, dc["max_ongoing_requests"], f"{base}.max_ongoing_requests",
                                           note="Ray Serve admission limit per replica")
    if isinstance(cfg.get("accelerator_type"), str):
        out["acceleratorType"] = fact(obj, cfg["accelerator_type"], f"{where}.accelerator_type")
    return out


def build(j: Any, c: Any, common: dict[str, Any]) -> WorkloadObs:
    """The RayService as one workload: the serving group's template with the Serve LLM engine facts."""
    o: RayService = c.obj
    inv, ns, obj = j.inv, c.ns, common["object"]
    gpath, group = _serving_group(o)
    spec, base = group.template.spec, f"{gpath}.template.spec"
    cfg, where, why = None, "", "is empty"
    if o.spec.serve_config_v2:
        try:
            cfg, where, why = _llm_config(serve_config(o.spec.serve_config_v2, obj))
        except InputError as e:
            j.issues.append(CollectionIssue(scope=obj, kind="malformed", area="engine",
                                            message=f"{e}; the engine settings are unverifiable"))
            why = ""
    if cfg is None and why:
        j.issues.append(CollectionIssue(scope=obj, kind="unsupported", area="engine",
                                        message=f"{SERVE} {why}; the engine settings are unverifiable"))
    ci = next((i for i, x in enumerate(spec.containers) if requests_gpu(x)), 0)
    argv = _argv(cfg, where) if cfg is not None else Argv()
    containers = [engine_container(x, argv, obj, f"{base}.containers[{i}]", ns, inv.configmaps,
                                   note="Ray Serve LLM runs vLLM with the serveConfigV2 engine_kwargs")
                  if i == ci else container_obs(plain_source(x, obj, f"{base}.containers[{i}]"), ns, inv.configmaps)
                  for i, x in enumerate(spec.containers)]
    template = template_obs(spec, group.template.metadata.labels, obj, base, ns, inv.configmaps, containers=containers)
    rc = o.spec.ray_cluster_config
    extra = _serve_extra(cfg, where, obj) if cfg is not None else {}
    if rc.ray_version:
        extra["rayVersion"] = fact(obj, rc.ray_version, f"{_CLUSTER}.rayVersion")
    head_gpus = rc.head_group_spec.ray_start_params.get("num-gpus")
    if head_gpus is not None:
        extra["headGpus"] = fact(obj, str(head_gpus), f"{_CLUSTER}.headGroupSpec.rayStartParams[num-gpus]")
    if isinstance(group, WorkerGroupSpec):
        replicas = fact(obj, group.replicas if group.replicas is not None else group.min_replicas,
                        f"{gpath}.replicas", default=1, why_default="KubeRay starts minReplicas, default 1")
        if group.num_of_hosts is not None:
            extra["numOfHosts"] = fact(obj, group.num_of_hosts, f"{gpath}.numOfHosts")
    else:
        replicas = Fact(value=1, prov=fact(obj, None, gpath).prov, note="a Ray cluster has one head")
    return WorkloadObs(**common, template=template, replicas=replicas, pods=_pods(j, o, ns, group, template),
                       services=j.services(ns, group.template.metadata.labels), extra=extra)


KINDS = (ExtKind(KIND, "ray.io", "v1", "rayservices", RayService, RayServiceList, role="workload",
                 aliases=("rayservice",), pod_specs=pod_specs, template_labels=template_labels, build=build,
                 pod_label=CLUSTER_LABEL, pod_label_values=clusters, extra_pod_labels=(NODE_TYPE, GROUP)),)
