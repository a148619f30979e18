"""The partial Kubernetes schema skewaudit reads, as msgspec structs.

Only the fields the collector uses are declared; msgspec skips everything else
while decoding, which is what keeps a 10,000-pod list page cheap (no
``managedFields``, no volumes, no conditions). The same structs serve both
sources: live pages are decoded from raw JSON bytes with
``msgspec.json.decode(data, type=PodList)``, offline documents are converted
from YAML dicts with ``msgspec.convert(doc, Deployment, strict=False)``.

Field names follow the API (``rename="camel"``); the few names camel-casing
gets wrong (``imageID``, ``continue``) are spelled out. Resource quantities and
IntOrString fields accept the int forms YAML produces (``nvidia.com/gpu: 1``).
Structs are ``gc=False``: decoded trees never form cycles, and skipping the
cycle collector matters when a fleet run holds thousands of them.
"""

from __future__ import annotations

from typing import Any

import msgspec

Quantity = str | int | float
IntOrString = int | str


class _K(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """Base: API field names, unknown fields ignored."""


# --- metadata ---------------------------------------------------------------


class OwnerReference(_K):
    kind: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    controller: bool = False


class ObjectMeta(_K):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    owner_references: list[OwnerReference] = []


class ListMeta(_K):
    continue_: str = msgspec.field(default="", name="continue")
    resource_version: str = ""
    remaining_item_count: int | None = None


class LabelSelectorRequirement(_K):
    key: str = ""
    operator: str = ""
    values: list[str] = []


class LabelSelector(_K):
    match_labels: dict[str, str] = {}
    match_expressions: list[LabelSelectorRequirement] = []


# --- containers -------------------------------------------------------------


class KeyRef(_K):
    """configMapKeyRef / secretKeyRef."""

    name: str = ""
    key: str = ""
    optional: bool | None = None


class FieldRef(_K):
    field_path: str = ""


class ResourceFieldRef(_K):
    resource: str = ""
    container_name: str = ""


class EnvVarSource(_K):
    config_map_key_ref: KeyRef | None = None
    secret_key_ref: KeyRef | None = None
    field_ref: FieldRef | None = None
    resource_field_ref: ResourceFieldRef | None = None


class EnvVar(_K):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


class NameRef(_K):
    """configMapRef / secretRef inside envFrom."""

    name: str = ""
    optional: bool | None = None


class EnvFromSource(_K):
    prefix: str = ""
    config_map_ref: NameRef | None = None
    secret_ref: NameRef | None = None


class ResourceClaimRef(_K):
    """``resources.claims[]``: a Dynamic Resource Allocation claim the container uses."""

    name: str = ""
    request: str | None = None


class ResourceRequirements(_K):
    limits: dict[str, Quantity] = {}
    requests: dict[str, Quantity] = {}
    claims: list[ResourceClaimRef] = []


class ContainerPort(_K):
    container_port: int = 0
    name: str | None = None
    protocol: str = "TCP"


class HTTPGetAction(_K):
    path: str | None = None
    port: IntOrString | None = None


class PortAction(_K):
    """tcpSocket / grpc."""

    port: IntOrString | None = None


class ExecAction(_K):
    command: list[str] = []


class Probe(_K):
    http_get: HTTPGetAction | None = None
    tcp_socket: PortAction | None = None
    grpc: PortAction | None = None
    exec: ExecAction | None = None
    initial_delay_seconds: int | None = None
    period_seconds: int | None = None
    timeout_seconds: int | None = None
    failure_threshold: int | None = None


class KeyToPath(_K):
    key: str = ""
    path: str = ""


class ConfigMapVolumeSource(_K):
    """``volumes[].configMap``: which keys appear as files (all, or ``items`` remapped)."""

    name: str = ""
    items: list[KeyToPath] = []
    optional: bool | None = None


class MountSource(_K):
    kind: str = ""                                  # configMap | secret
    config_map: ConfigMapVolumeSource | None = None


class VolumeMount(_K):
    name: str = ""
    mount_path: str = ""
    sub_path: str | None = None
    # Not an API field: the pod's volume this mount names, folded in when the pod spec is
    # read (skewaudit.collect.mounts.attach), so a container spec says which ConfigMap
    # each file comes from and identical containers still share one decoded spec.
    source: MountSource | None = msgspec.field(default=None, name="x-skewaudit-source")


class Volume(_K):
    """``volumes[]``: ConfigMap sources are read; a Secret's is only named."""

    name: str = ""
    config_map: ConfigMapVolumeSource | None = None
    secret: dict[str, Any] | None = None


class Container(_K):
    name: str = ""
    image: str = ""
    command: list[str] | None = None
    args: list[str] | None = None
    env: list[EnvVar] = []
    env_from: list[EnvFromSource] = []
    resources: ResourceRequirements | None = None
    ports: list[ContainerPort] = []
    readiness_probe: Probe | None = None
    liveness_probe: Probe | None = None
    startup_probe: Probe | None = None
    volume_mounts: list[VolumeMount] = []


# --- pod spec ---------------------------------------------------------------


class NodeSelectorRequirement(_K):
    key: str = ""
    operator: str = ""
    values: list[str] = []


class NodeSelectorTerm(_K):
    match_expressions: list[NodeSelectorRequirement] = []


class NodeSelector(_K):
    node_selector_terms: list[NodeSelectorTerm] = []


class NodeAffinity(_K):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None


class Affinity(_K):
    node_affinity: NodeAffinity | None = None


class PodResourceClaim(_K):
    """``spec.resourceClaims[]`` (DRA): a claim by name, or one made per pod from a template."""

    name: str = ""
    resource_claim_name: str | None = None
    resource_claim_template_name: str | None = None


class PodSpec(_K):
    containers: list[Container] = []
    volumes: list[Volume] = []
    resource_claims: list[PodResourceClaim] = []
    init_containers: list[Container] = []
    node_selector: dict[str, str] = {}
    affinity: Affinity | None = None
    tolerations: list[dict[str, Any]] = []
    runtime_class_name: str | None = None
    service_account_name: str | None = None
    node_name: str | None = None


class PodTemplateSpec(_K):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)


class ContainerStatus(_K):
    name: str = ""
    image: str = ""
    image_id: str = msgspec.field(default="", name="imageID")
    ready: bool | None = None
    restart_count: int | None = None


class PodStatus(_K):
    phase: str | None = None
    container_statuses: list[ContainerStatus] = []


class Pod(_K):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)
    status: PodStatus | None = None


# --- workloads --------------------------------------------------------------


class WorkloadSpec(_K):
    """Deployment / StatefulSet / ReplicaSet / Job spec: the fields skewaudit reads."""

    replicas: int | None = None
    parallelism: int | None = None
    selector: LabelSelector | None = None
    template: PodTemplateSpec = msgspec.field(default_factory=PodTemplateSpec)


class WorkloadStatus(_K):
    replicas: int | None = None
    ready_replicas: int | None = None
    updated_replicas: int | None = None
    current_revision: str | None = None
    update_revision: str | None = None


class Deployment(_K):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: WorkloadSpec = msgspec.field(default_factory=WorkloadSpec)
    status: WorkloadStatus | None = None


class StatefulSet(Deployment):
    pass


class ReplicaSet(Deployment):
    pass


class Job(Deployment):
    pass


class ReplicasSpec(_K):
    replicas: int | None = None
    selector: LabelSelector | None = None


class ReplicaSetMeta(_K):
    """A ReplicaSet without its pod template: enough to join pods to their
    Deployment and tell the current revision. Live runs decode ReplicaSets
    this way and decode the full template only for standalone ones."""

    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: ReplicasSpec = msgspec.field(default_factory=ReplicasSpec)
    status: WorkloadStatus | None = None


# --- cluster context --------------------------------------------------------


class NodeStatus(_K):
    allocatable: dict[str, Quantity] = {}
    capacity: dict[str, Quantity] = {}


class Node(_K):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    status: NodeStatus | None = None


class ScaleTargetRef(_K):
    kind: str = ""
    name: str = ""
    api_version: str = ""


class MetricTarget(_K):
    type: str = ""
    average_utilization: int | None = None
    average_value: Quantity | None = None
    value: Quantity | None = None


class MetricIdentifier(_K):
    name: str = ""


class ResourceMetricSource(_K):
    name: str = ""
    container: str = ""
    target: MetricTarget | None = None


class CustomMetricSource(_K):
    """pods / object / external metric sources."""

    metric: MetricIdentifier | None = None
    target: MetricTarget | None = None


class MetricSpec(_K):
    type: str = ""
    resource: ResourceMetricSource | None = None
    container_resource: ResourceMetricSource | None = None
    pods: CustomMetricSource | None = None
    object: CustomMetricSource | None = None
    external: CustomMetricSource | None = None


class HPASpec(_K):
    scale_target_ref: ScaleTargetRef = msgspec.field(default_factory=ScaleTargetRef)
    min_replicas: int | None = None
    max_replicas: int | None = None
    metrics: list[MetricSpec] = []


class HPAStatus(_K):
    current_replicas: int | None = None
    desired_replicas: int | None = None


class HorizontalPodAutoscaler(_K):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: HPASpec = msgspec.field(default_factory=HPASpec)
    status: HPAStatus | None = None


class ServicePort(_K):
    port: int = 0
    target_port: IntOrString | None = None
    name: str | None = None
    protocol: str = "TCP"


class ServiceSpec(_K):
    type: str = "ClusterIP"
    selector: dict[str, str] = {}
    ports: list[ServicePort] = []


class Service(_K):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: ServiceSpec = msgspec.field(default_factory=ServiceSpec)


class ConfigMap(_K):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    data: dict[str, str] = {}


# --- KServe -----------------------------------------------------------------


class ModelFormat(_K):
    name: str = ""
    version: str | None = None


class PredictorModel(Container):
    """``spec.predictor.model``: a corev1 Container plus the model fields."""

    model_format: ModelFormat | None = None
    runtime: str | None = None
    runtime_version: str | None = None
    storage_uri: str | None = None
    protocol_version: str | None = None


class PredictorSpec(_K):
    model: PredictorModel | None = None
    containers: list[Container] = []
    min_replicas: int | None = None
    max_replicas: int | None = None
    scale_target: int | None = None
    scale_metric: str | None = None
    container_concurrency: int | None = None
    timeout: int | None = None
    node_selector: dict[str, str] = {}
    affinity: Affinity | None = None
    tolerations: list[dict[str, Any]] = []
    runtime_class_name: str | None = None
    service_account_name: str | None = None


class InferenceServiceSpec(_K):
    predictor: PredictorSpec = msgspec.field(default_factory=PredictorSpec)


class InferenceService(_K):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: InferenceServiceSpec = msgspec.field(default_factory=InferenceServiceSpec)


class SupportedModelFormat(_K):
    name: str = ""
    version: str | None = None
    auto_select: bool | None = None
    priority: int | None = None


class ServingRuntimeSpec(_K):
    supported_model_formats: list[SupportedModelFormat] = []
    containers: list[Container] = []
    disabled: bool | None = None
    node_selector: dict[str, str] = {}
    tolerations: list[dict[str, Any]] = []


class ServingRuntime(_K):
    """ServingRuntime (namespaced) or ClusterServingRuntime (``cluster=True``)."""

    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: ServingRuntimeSpec = msgspec.field(default_factory=ServingRuntimeSpec)
    kind: str = "ServingRuntime"


# --- lists ------------------------------------------------------------------


class PodList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[Pod] = []


class DeploymentList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[Deployment] = []


class StatefulSetList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[StatefulSet] = []


class ReplicaSetList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[ReplicaSet] = []


class ReplicaSetMetaList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[ReplicaSetMeta] = []


class JobList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[Job] = []


class NodeList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[Node] = []


class HorizontalPodAutoscalerList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[HorizontalPodAutoscaler] = []


class ServiceList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[Service] = []


class ConfigMapList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[ConfigMap] = []


class InferenceServiceList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[InferenceService] = []


class ServingRuntimeList(_K):
    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[ServingRuntime] = []


# kind -> struct, for offline documents (``kind:`` of each YAML document).
KINDS: dict[str, type] = {
    "Pod": Pod,
    "Deployment": Deployment,
    "StatefulSet": StatefulSet,
    "ReplicaSet": ReplicaSet,
    "Job": Job,
    "Node": Node,
    "HorizontalPodAutoscaler": HorizontalPodAutoscaler,
    "Service": Service,
    "ConfigMap": ConfigMap,
    "InferenceService": InferenceService,
    "ServingRuntime": ServingRuntime,
    "ClusterServingRuntime": ServingRuntime,
}
