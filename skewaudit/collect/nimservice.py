"""NVIDIA NIM operator: a ``NIMService`` (``apps.nvidia.com/v1alpha1``) as one serving workload.

The operator renders one Deployment named like the NIMService, whose container
``<name>-ctr`` runs ``spec.image.repository:tag`` with ``spec.command``/``args``,
``spec.resources``, and an env of its own merged under ``spec.env`` (``spec.env`` wins):
``NIM_CACHE_PATH=/model-store``, ``NGC_API_KEY`` from the ``authSecret`` Secret (never
read), ``NIM_SERVER_PORT`` from ``spec.expose.service.port`` (default 8000), and
``NIM_MODEL_PROFILE`` from ``spec.storage.nimCache.profile`` when one is named. That
container is rebuilt here and read by the NIM engine parser
(:mod:`skewaudit.runtimes.nim`: ``NIM_*`` env, the profile's tags, the model a
model-specific image names), each fact pointing at the NIMService field that wrote it.
Replicas are ``spec.replicas`` (default 1) unless ``spec.scale.enabled``, when the
operator's HPA bounds are ``spec.scale.hpa`` (live, the generated HPA itself is read).
Pods carry ``app.kubernetes.io/name: <name>`` and are joined by it.

Field names and defaults follow NVIDIA/k8s-nim-operator ``api/apps/v1alpha1``
(``nimservice_types.go``, ``common_types.go``) and its NIMService controller.
"""

from __future__ import annotations

from typing import Any

import msgspec

from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import EnvItem, template_obs
from skewaudit.collect.kinds import ExtKind
from skewaudit.collect.synth import Argv, engine_container, fact
from skewaudit.model.observed import Fact, WorkloadObs

KIND = "NIMService"
POD_LABEL = "app.kubernetes.io/name"
DEFAULT_PORT = 8000


class NIMImage(k._K):
    repository: str = ""
    tag: str = ""


class NIMCacheVol(k._K):
    name: str = ""
    profile: str = ""


class NIMStorage(k._K):
    nim_cache: NIMCacheVol = msgspec.field(default_factory=NIMCacheVol)


class NIMExposeService(k._K):
    port: int | None = None


class NIMExpose(k._K):
    service: NIMExposeService = msgspec.field(default_factory=NIMExposeService)


class NIMHPA(k._K):
    min_replicas: int | None = None
    max_replicas: int | None = None
    metrics: list[k.MetricSpec] = []


class NIMScale(k._K):
    enabled: bool | None = None
    hpa: NIMHPA = msgspec.field(default_factory=NIMHPA)


class NIMServiceSpec(k._K):
    image: NIMImage = msgspec.field(default_factory=NIMImage)
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[k.EnvVar] = []
    auth_secret: str = ""
    storage: NIMStorage = msgspec.field(default_factory=NIMStorage)
    labels: dict[str, str] = {}
    node_selector: dict[str, str] = {}
    tolerations: list[dict[str, Any]] = []
    resources: k.ResourceRequirements | None = None
    expose: NIMExpose = msgspec.field(default_factory=NIMExpose)
    scale: NIMScale = msgspec.field(default_factory=NIMScale)
    replicas: int | None = None


class NIMService(k._K):
    metadata: k.ObjectMeta = msgspec.field(default_factory=k.ObjectMeta)
    spec: NIMServiceSpec = msgspec.field(default_factory=NIMServiceSpec)


class NIMServiceList(k._K):
    metadata: k.ListMeta = msgspec.field(default_factory=k.ListMeta)
    items: list[NIMService] = []


def _container(o: NIMService) -> k.Container:
    s = o.spec
    image = f"{s.image.repository}:{s.image.tag}" if s.image.tag else s.image.repository
    return k.Container(name=f"{o.metadata.name}-ctr", image=image, command=s.command, args=s.args, env=s.env,
                       resources=s.resources)


def pod_specs(o: NIMService) -> list[tuple[str, k.PodSpec]]:
    # The container shares spec.resources: canonicalising its quantities canonicalises the object's.
    return [("spec", k.PodSpec(containers=[_container(o)], node_selector=o.spec.node_selector,
                               tolerations=o.spec.tolerations))]


def template_labels(o: NIMService) -> dict[str, str]:
    return {**o.spec.labels, "app": o.metadata.name, POD_LABEL: o.metadata.name}


def _env(o: NIMService, obj: str) -> list[EnvItem]:
    """The operator's env under spec.env (spec.env wins: later items override earlier ones)."""
    s = o.spec
    port = s.expose.service.port if s.expose.service.port is not None else DEFAULT_PORT
    out = [EnvItem(k.EnvVar(name="NIM_CACHE_PATH", value="/model-store"), obj, "(NIM operator) env[NIM_CACHE_PATH]"),
           EnvItem(k.EnvVar(name="NIM_SERVER_PORT", value=str(port)), obj, "spec.expose.service.port")]
    if s.auth_secret:
        out.append(EnvItem(k.EnvVar(name="NGC_API_KEY", value_from=k.EnvVarSource(
            secret_key_ref=k.KeyRef(name=s.auth_secret, key="NGC_API_KEY"))), obj, "spec.authSecret"))
    if s.storage.nim_cache.profile:
        out.append(EnvItem(k.EnvVar(name="NIM_MODEL_PROFILE", value=s.storage.nim_cache.profile), obj,
                           "spec.storage.nimCache.profile"))
    out += [EnvItem(e, obj, f"spec.env[{e.name}]") for e in s.env]
    return out


def _metric_name(m: k.MetricSpec) -> str:
    src = {"Pods": m.pods, "Object": m.object, "External": m.external}.get(m.type)
    if src is not None and src.metric is not None:
        return src.metric.name
    r = m.resource or m.container_resource
    return r.name if r is not None else m.type


def build(j: Any, c: Any, common: dict[str, Any]) -> WorkloadObs:
    """The NIMService as one workload: the operator's container rebuilt, replicas or HPA bounds, pods by label."""
    o: NIMService = c.obj
    inv, ns, name, obj = j.inv, c.ns, c.name, common["object"]
    (path, spec), = pod_specs(o)
    ctr = engine_container(_container(o), Argv(), obj, "spec", ns, inv.configmaps, env=_env(o, obj),
                           image_path="spec.image.repository",
                           note="the container the NIM operator renders from the NIMService")
    labels = template_labels(o)
    template = template_obs(spec, labels, obj, path, ns, inv.configmaps, containers=[ctr])
    pods = [j.pod_obs(r, True) for r in inv.pods.labelled(KIND, ns, name)]
    hpa = j.autoscaler(ns, "Deployment", name)
    extra: dict[str, Fact] = {}
    scaled = bool(o.spec.scale.enabled)
    if scaled and hpa is None:
        h, base = o.spec.scale.hpa, "spec.scale.hpa"
        extra["minReplicas"] = fact(obj, h.min_replicas, f"{base}.minReplicas", default=1,
                                    why_default="HPA default")
        if h.max_replicas is not None:
            extra["maxReplicas"] = fact(obj, h.max_replicas, f"{base}.maxReplicas")
        if h.metrics:
            extra["scaleMetric"] = fact(obj, ", ".join(_metric_name(m) for m in h.metrics), f"{base}.metrics")
    if o.spec.storage.nim_cache.name:
        extra["nimCache"] = fact(obj, o.spec.storage.nim_cache.name, "spec.storage.nimCache.name")
    replicas = fact(obj, None if scaled else o.spec.replicas, "spec.replicas", default=1,
                    why_default="NIM operator default" if not scaled else "spec.scale.enabled: the HPA decides")
    return WorkloadObs(**common, selector={"app": name}, template=template, replicas=replicas, pods=pods, hpa=hpa,
                       services=j.services(ns, labels), extra=extra)


KINDS = (ExtKind(KIND, "apps.nvidia.com", "v1alpha1", "nimservices", NIMService, NIMServiceList, role="workload",
                 aliases=("nimservice",), pod_specs=pod_specs, template_labels=template_labels, build=build,
                 pod_label=POD_LABEL),)
