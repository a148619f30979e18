"""Observed facts: what is actually running, each value with its provenance.

Collectors (Kubernetes live or offline, NVML, the local process) produce these
structs; checks and renderers only read them. They are ``msgspec`` structs, not
pydantic models, because a fleet audit builds hundreds of thousands of them and
snapshots are encoded and decoded as JSON: msgspec does both an order of
magnitude faster and keeps memory small (figures in ``benchmarks/``).

Conventions every collector follows:

* A value that could not be collected is absent (``None``) and a
  ``CollectionIssue`` says why; it is never filled with a guess.
* ``Prov.object`` names a Kubernetes object as ``Kind/namespace/name`` (or
  ``Kind/name`` for cluster-scoped objects), the local process as
  ``process/PID`` or ``process/cmdline``, NVML as ``nvml``.
* ``Prov.path`` is the field path inside that object, in kubectl's style:
  ``spec.template.spec.containers[0].args[3]``, ``env[HF_TOKEN]``,
  ``metadata.labels[nvidia.com/gpu.product]``.
* Secret values never reach these structs: collectors pass env and argv
  through :mod:`skewaudit.redact` first.
"""

from __future__ import annotations

from typing import Any

import msgspec

SNAPSHOT_SCHEMA = "skewaudit.io/snapshot/v1"


class SourceKind:
    """Kinds of source a value can come from (``Prov.source``)."""

    ARG = "arg"                    # a command-line flag or positional argument
    ENV = "env"                    # a literal container or process env var
    CONFIGMAP = "configmap"        # env resolved from a ConfigMap
    SECRET = "secret"              # from a Secret: the value is never read
    POD_SPEC = "pod-spec"          # a field of the pod template / pod spec
    POD_STATUS = "pod-status"      # e.g. containerStatuses[].imageID
    WORKLOAD = "workload-spec"     # Deployment/StatefulSet/InferenceService spec
    NODE_LABEL = "node-label"
    NODE_STATUS = "node-status"    # allocatable / capacity
    HPA = "hpa"
    ROUTE = "route"                # an HTTPRoute / Ingress / VirtualService in front of a Service
    SERVICE = "service"
    DEFAULT = "default"            # the engine's documented default (flag absent)
    NVML = "nvml"
    EXEC = "exec"                  # nvidia-smi run in the pod through pods/exec
    PROCESS = "process"            # /proc/PID or --cmdline in local mode
    DERIVED = "derived"            # computed from other facts (e.g. tp*pp)
    RUNTIME = "runtime"            # what the engine reports on its own HTTP endpoints (--probe)
    CLAIM = "resource-claim"       # a DRA ResourceClaimTemplate's device requests
    UNKNOWN = "unknown"


class Prov(msgspec.Struct, frozen=True, omit_defaults=True):
    """Where one observed value came from."""

    source: str
    object: str = ""
    path: str = ""
    container: str = ""

    def where(self) -> str:
        """Human form: ``Pod/ml/llama-0 spec.containers[0].args[3] (arg)``."""
        parts = [p for p in (self.object, self.path) if p]
        return f"{' '.join(parts)} ({self.source})" if parts else self.source


class Fact(msgspec.Struct, frozen=True, omit_defaults=True):
    """One observed value with provenance.

    ``value`` is typed (int for lengths and counts, float for fractions, bool
    for switches, str otherwise) but not alias-normalized: ``"half"`` stays
    ``"half"`` so the user sees what was written; the differ normalizes.
    ``raw`` keeps the spelling when parsing changed it (``"32k"`` -> 32000).
    ``value is None`` with ``source == "default"`` means the engine derives
    the value at run time (from the checkpoint or the GPU): unverifiable.
    """

    value: Any
    prov: Prov
    raw: str | None = None
    note: str | None = None


class CollectionIssue(msgspec.Struct, frozen=True, omit_defaults=True):
    """A fact area that could not be collected, and why.

    ``kind``: ``forbidden`` | ``not-found`` | ``unreachable`` | ``unsupported``
    | ``malformed`` | ``not-collected`` | ``disagreement``.
    ``area``: which facts it makes unverifiable: ``hardware``, ``hpa``,
    ``services``, ``configmaps``, ``engine``, ``pods``, ``gpu`` …
    """

    scope: str
    kind: str
    message: str
    area: str = ""


# --- containers -------------------------------------------------------------


class ImageRef(msgspec.Struct, frozen=True, omit_defaults=True):
    """A container image as written, split, plus the digest it resolved to."""

    ref: str
    repository: str = ""
    tag: str | None = None
    digest: str | None = None            # "sha256:…" when written with @
    resolved_digest: str | None = None   # from status.containerStatuses[].imageID


class EnvVar(msgspec.Struct, frozen=True, omit_defaults=True):
    """One effective env var of a container or process.

    ``source``: ``literal`` | ``configmap`` | ``secret`` | ``field`` |
    ``resource`` | ``unresolved`` | ``process``. ``value`` is None for
    secrets and anything not resolvable offline; ``ref`` says where it points
    (``secret hf-token/token``, ``configmap llama-cfg/DTYPE``). Values that
    look secret are already replaced by a redaction marker.
    """

    name: str
    value: str | None
    source: str = "literal"
    ref: str | None = None
    path: str = ""


class Port(msgspec.Struct, frozen=True, omit_defaults=True):
    container_port: int
    name: str | None = None
    protocol: str = "TCP"


class Probe(msgspec.Struct, frozen=True, omit_defaults=True):
    """An HTTP/TCP/exec probe; ``port`` may be a named port (str)."""

    kind: str                      # readiness | liveness | startup
    handler: str                   # httpGet | tcpSocket | exec | grpc
    path: str | None = None
    port: int | str | None = None
    timeout_seconds: int | None = None
    period_seconds: int | None = None
    initial_delay_seconds: int | None = None
    failure_threshold: int | None = None


class EngineFacts(msgspec.Struct, frozen=True, omit_defaults=True):
    """What an engine parser read from argv and env.

    ``fields`` maps the canonical names in ``ENGINE_FIELDS`` to facts. Flags
    the parser does not know are kept verbatim in ``unknown_args``; nothing is
    dropped. ``notes`` carries facts worth their own line, e.g. a positional
    model that vLLM's api_server entrypoint silently ignores.
    """

    engine: str                      # vllm | tgi | sglang | kserve-hf | triton | unknown
    detected_by: str                 # the signal: "argv: vllm serve", "image: vllm/vllm-openai"
    confidence: str = "high"         # high | medium | low
    entrypoint: str | None = None    # "vllm serve", "api_server", "text-generation-launcher", …
    fields: dict[str, Fact] = {}
    unknown_args: list[str] = []
    notes: list[str] = []
    config_file: str | None = None


# Canonical engine field names shared by every parser and check. Numbers are
# ints (token counts already parsed with the engine's own suffix rules).
ENGINE_FIELDS: dict[str, str] = {
    "model": "model id or path the engine loads",
    "revision": "model revision (branch, tag or commit)",
    "tokenizer": "tokenizer id or path",
    "tokenizer_revision": "tokenizer revision",
    "served_model_name": "name clients use (first one when several)",
    "dtype": "weights/activation dtype as the engine spells it",
    "quantization": "quantization method as the engine spells it",
    "kv_cache_dtype": "KV-cache dtype",
    "max_model_len": "max context length in tokens (vLLM --max-model-len, TGI --max-total-tokens, SGLang --context-length)",
    "max_input_tokens": "max prompt tokens (TGI)",
    "max_num_seqs": "max sequences running at once (vLLM --max-num-seqs, TGI --max-batch-size, SGLang --max-running-requests)",
    "max_num_batched_tokens": "max tokens per scheduler step",
    "max_concurrent_requests": "admission limit (TGI --max-concurrent-requests)",
    "tensor_parallel_size": "tensor parallel degree (vLLM -tp, TGI --num-shard, SGLang --tp-size)",
    "pipeline_parallel_size": "pipeline parallel degree",
    "data_parallel_size": "data parallel degree",
    "data_parallel_size_local": "data parallel ranks in this pod (vLLM --data-parallel-size-local)",
    "gpu_memory_utilization": "fraction of GPU memory the engine may use (vLLM --gpu-memory-utilization, SGLang --mem-fraction-static, TGI --cuda-memory-fraction)",
    "enable_prefix_caching": "prefix caching on/off (SGLang: not --disable-radix-cache)",
    "port": "HTTP port the engine listens on",
    "host": "bind address",
    "trust_remote_code": "whether remote model code is trusted",
    "enforce_eager": "CUDA graphs disabled",
    "gpu_layers": "model layers offloaded to the GPU (llama.cpp -ngl; negative: all)",
}


class ContainerObs(msgspec.Struct, frozen=True, omit_defaults=True):
    """Effective configuration of one container.

    ``argv`` is ``command + args`` after Kubernetes ``$(VAR)`` expansion and
    shell splitting of ``sh -c`` strings; it is None when ``command`` is
    absent and the image ENTRYPOINT decides (``argv_note`` says so and names
    the image). ``command``/``args`` are kept as written (redacted).
    ``path`` is the field path of this container inside its object
    (``spec.template.spec.containers[0]``).
    """

    name: str
    image: ImageRef
    path: str = ""
    command: list[str] | None = None
    args: list[str] | None = None
    argv: list[str] | None = None
    argv_note: str | None = None
    env: list[EnvVar] = []
    requests: dict[str, str] = {}
    limits: dict[str, str] = {}
    claims: list[str] = []             # DRA resource claims the container uses (resources.claims[].name)
    claim_requests: dict[str, str] = {}   # claim -> the one request of it the container uses (claims[].request)
    ports: list[Port] = []
    probes: list[Probe] = []
    engine: EngineFacts | None = None
    ready: bool | None = None
    restart_count: int | None = None


# --- GPUs -------------------------------------------------------------------


class MigDevice(msgspec.Struct, frozen=True, omit_defaults=True):
    index: int
    profile: str | None = None        # "1g.10gb"
    uuid: str | None = None
    memory_mib: int | None = None


class GpuDevice(msgspec.Struct, frozen=True, omit_defaults=True):
    """One GPU as NVML (or nvidia-smi through exec) reports it."""

    index: int
    name: str
    uuid: str | None = None
    memory_total_bytes: int | None = None
    compute_capability: str | None = None   # "8.0"
    mig_mode: bool | None = None            # None: not supported on this GPU
    mig_devices: list[MigDevice] = []
    pci_bus_id: str | None = None
    persistence_mode: bool | None = None
    ecc_mode: bool | None = None
    power_limit_w: float | None = None
    nvlink_active: int | None = None        # active NVLink links, None if unsupported


class GpuReport(msgspec.Struct, frozen=True, omit_defaults=True):
    """Device facts from one source. ``status`` is ``ok`` or ``unavailable``
    (then ``reason`` is the one-line why and every GPU fact is unverifiable)."""

    source: str                       # nvml | exec
    object: str                       # "local" or "Pod/ns/name"
    status: str = "ok"
    reason: str | None = None
    driver_version: str | None = None       # "550.107.02"
    cuda_driver_version: str | None = None  # "12.4" (NVML 12040)
    nvml_version: str | None = None
    devices: list[GpuDevice] = []
    visible_devices: str | None = None      # CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES applied


# --- what the engine itself reports (--probe) --------------------------------


# Canonical names of the facts an engine reports about itself. Where a name is
# also an ENGINE_FIELDS name, the runtime fact takes precedence over the one
# read from argv/env/defaults for that pod.
RUNTIME_FIELDS: dict[str, str] = {
    "engine_version": "the engine's own version string (vLLM /version, TGI /info version, ...)",
    "model": "model id or path the engine loaded",
    "model_sha": "commit of the loaded model (TGI /info model_sha)",
    "served_model_name": "name clients use (the id in /v1/models)",
    "max_model_len": "effective max context length (after the engine's clamp)",
    "max_input_tokens": "effective max prompt tokens",
    "max_concurrent_requests": "admission limit",
    "max_num_seqs": "max running sequences",
    "max_batch_total_tokens": "token budget of one batch (TGI before 3.0)",
    "kv_cache_dtype": "KV-cache dtype",
    "gpu_memory_utilization": "GPU memory fraction",
    "enable_prefix_caching": "prefix caching on/off",
    "block_size": "KV-cache block size in tokens",
    "num_gpu_blocks": "KV-cache blocks the engine allocated",
    "dtype": "weights dtype",
    "tensor_parallel_size": "tensor parallel degree",
    "quantization": "quantization method",
    "weight_version": "SGLang weight_version",
}


class Symptoms(msgspec.Struct, frozen=True, omit_defaults=True):
    """How the engine is doing, from one scrape of its ``/metrics``.

    Latency percentiles come from the engine's cumulative histograms (so they
    cover the whole life of the process, interpolated inside a bucket as
    Prometheus' ``histogram_quantile`` does); rates are averages since the
    process started (``process_start_time_seconds``). ``kv_cache_usage`` is a
    fraction (0-1)."""

    ttft_p50_s: float | None = None
    ttft_p95_s: float | None = None
    tpot_p50_s: float | None = None
    tpot_p95_s: float | None = None
    queue_length: float | None = None
    running: float | None = None
    kv_cache_usage: float | None = None
    preemptions: float | None = None
    prompt_tokens_per_s: float | None = None
    generation_tokens_per_s: float | None = None
    uptime_s: float | None = None


class TokenHistogram(msgspec.Struct, frozen=True, omit_defaults=True):
    """A serving engine's histogram of request lengths in tokens (vLLM's
    ``vllm:request_prompt_tokens``), summed over its label sets (model, engine
    rank): cumulative counts at each finite bucket bound (``le``), and the total
    (the ``+Inf`` bucket), which JSON cannot hold as a bound."""

    metric: str
    bounds: list[float] = []
    cumulative: list[float] = []
    count: float = 0.0
    sum: float | None = None


class RuntimeReport(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one engine reported about itself on its HTTP endpoints.

    ``status``: ``ok`` (every endpoint answered), ``partial`` (some did) or
    ``unavailable`` (none did: ``reason`` says why and every runtime fact is
    unverifiable). ``endpoints`` maps each path asked to what came back
    (``ok`` or the one-line reason). ``fields`` uses the names in
    ``RUNTIME_FIELDS``; each Fact's provenance is ``runtime`` with the request
    as the path (``GET /v1/models``)."""

    engine: str
    object: str                      # "Pod/ns/name" or the endpoint URL
    status: str = "ok"
    reason: str | None = None
    via: str = ""                    # "pod proxy :8000", "http://127.0.0.1:8000"
    endpoints: dict[str, str] = {}
    fields: dict[str, Fact] = {}
    symptoms: Symptoms | None = None
    prompt_tokens: TokenHistogram | None = None   # served prompt lengths (data.prompt-length)


# --- pods, nodes, workloads -------------------------------------------------


class PodObs(msgspec.Struct, frozen=True, omit_defaults=True):
    """One running pod (or, in local mode, the local process as a pseudo-pod).

    ``current`` is False for pods of an older ReplicaSet during a rollout;
    ``revision`` is the pod-template-hash or controller-revision-hash.
    ``role`` is set while an Argo Rollouts canary runs: ``canary`` (the
    current revision) or ``stable``.
    """

    name: str
    namespace: str = ""
    node: str | None = None
    phase: str | None = None
    owner: str | None = None           # "ReplicaSet/llama-7d9f8c"
    revision: str | None = None
    current: bool = True
    containers: list[ContainerObs] = []
    gpu: GpuReport | None = None       # NVML (local) or exec facts for this pod
    # multi-host groups (LeaderWorkerSet): group index and worker index (0 = the leader)
    group: int | None = None
    worker: int | None = None
    runtime: RuntimeReport | None = None   # what the engine reports about itself (--probe)
    role: str | None = None


class NodeObs(msgspec.Struct, frozen=True, omit_defaults=True):
    """A node's GPU-relevant labels and extended resources.

    Only labels under ``nvidia.com/``, ``cloud.google.com/gke-``,
    ``karpenter.k8s.aws/``, ``node.kubernetes.io/instance-type``,
    ``topology.kubernetes.io/`` and ``feature.node.kubernetes.io/pci-10de``
    are kept; the rest is noise for this tool.
    """

    name: str
    labels: dict[str, str] = {}
    allocatable: dict[str, str] = {}   # nvidia.com/gpu, nvidia.com/mig-*, cpu, memory
    capacity: dict[str, str] = {}


class AutoscaleTarget(msgspec.Struct, frozen=True, omit_defaults=True):
    """One metric an autoscaler scales on and its target, where it is written: an HPA's
    ``spec.metrics[i]…target.averageValue`` or a KEDA trigger's ``metadata.threshold``."""

    metric: str                        # "vllm:num_requests_waiting", "cpu"
    type: str = ""                     # AverageValue | Value | Utilization
    value: str | None = None           # the target as written ("5", "80"); None when absent
    path: str = ""
    activation: str | None = None      # KEDA activationThreshold (scale from zero above it)
    query: str | None = None           # KEDA Prometheus query


class HpaObs(msgspec.Struct, frozen=True, omit_defaults=True):
    """An autoscaling/v2 HPA (or KServe/KEDA equivalent) targeting the workload.

    ``metrics`` are normalized strings: ``Resource/cpu Utilization=80``,
    ``Pods/vllm:num_requests_waiting AverageValue=10``,
    ``External/prometheus… Value=5``; a KEDA ScaledObject's triggers read
    ``prometheus/vllm:num_requests_waiting AverageValue=5 (query: …)``.
    ``kind`` is the object that holds the settings (``ScaledObject`` for
    KEDA, whose generated HPA is not reported separately); ``defaulted``
    names the bounds (``minReplicas``, ``maxReplicas``) the object leaves to
    its controller's default.
    """

    name: str
    namespace: str = ""
    kind: str = "HorizontalPodAutoscaler"
    defaulted: list[str] = []
    generated_by: str = ""           # "ScaledObject/name" when KEDA owns this HPA
    min_replicas: int | None = None
    max_replicas: int | None = None
    metrics: list[str] = []
    targets: list[AutoscaleTarget] = []  # the metrics again, structured: target values and their fields
    target: str = ""                 # "Deployment/llama"
    current_replicas: int | None = None
    desired_replicas: int | None = None


class ServicePort(msgspec.Struct, frozen=True, omit_defaults=True):
    port: int
    target_port: int | str | None = None
    name: str | None = None
    protocol: str = "TCP"


class RouteObs(msgspec.Struct, frozen=True, omit_defaults=True):
    """A route that sends traffic to a Service: an HTTPRoute rule, an ingress-nginx
    Ingress or an Istio VirtualService ``http`` route (``rule`` is its index).

    ``settings`` are in the serving spec's terms: ``timeoutSeconds``,
    ``backendTimeoutSeconds``, ``retries`` (attempts), ``maxRequestBodyBytes``;
    a value None with source ``default`` means the implementation decides.
    """

    kind: str
    name: str
    namespace: str = ""
    rule: int | None = None
    settings: dict[str, Fact] = {}


class ServiceObs(msgspec.Struct, frozen=True, omit_defaults=True):
    name: str
    namespace: str = ""
    type: str = "ClusterIP"
    ports: list[ServicePort] = []
    selector: dict[str, str] = {}
    annotations: dict[str, str] = {}  # timeout-related ingress/gateway annotations
    routes: list[RouteObs] = []       # HTTPRoutes, Ingresses, VirtualServices that route to it


class ClaimRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    """One request of a DRA claim: its device count and class, and where the count is written."""

    count: int
    device_class: str | None = None
    path: str = ""


class ClaimDevices(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one DRA claim of a pod asks for, read from its ResourceClaimTemplate: the device
    count and class, or ``count`` None and the reason it cannot be told (allocationMode All,
    a prioritized list, the template not read)."""

    template: str                      # "ResourceClaimTemplate/ns/name"
    count: int | None = None
    device_class: str | None = None    # deviceClassName ("gpu.nvidia.com")
    path: str = ""                     # spec.spec.devices.requests[0].exactly.count
    by_class: dict[str, int] = {}      # devices per class when the requests name several (GPUs and NICs)
    requests: dict[str, ClaimRequest] = {}   # by request name: a container may use one request of a claim
    note: str | None = None            # e.g. "count not set: 1 (ExactCount default)"
    reason: str | None = None


class PodTemplateObs(msgspec.Struct, frozen=True, omit_defaults=True):
    """The intended pod shape a controller stamps out (or a bare pod's spec)."""

    labels: dict[str, str] = {}
    containers: list[ContainerObs] = []
    init_containers: list[ContainerObs] = []
    node_selector: dict[str, str] = {}
    # required node affinity flattened: label key -> allowed values (In) ;
    # operators other than In are kept as "Op:v1,v2" strings.
    node_affinity: dict[str, list[str]] = {}
    tolerations: list[dict[str, Any]] = []
    runtime_class: str | None = None
    service_account: str | None = None
    # DRA (spec.resourceClaims): claim name -> "ResourceClaimTemplate/NAME" or "ResourceClaim/NAME"
    resource_claims: dict[str, str] = {}
    claim_devices: dict[str, ClaimDevices] = {}   # claim name -> its template's devices (DRA)


class WorkloadObs(msgspec.Struct, frozen=True, omit_defaults=True):
    """A serving workload and everything collected around it.

    ``kind`` is Deployment, StatefulSet, ReplicaSet, Pod, Job,
    InferenceService, or ``Process`` for local mode. ``object`` is the
    provenance name (``Deployment/ml/llama``). ``extra`` holds
    kind-specific facts (KServe ``containerConcurrency``, ``timeout``,
    ``scaleMetric``, ``scaleTarget``, deployment mode) as Facts.
    """

    kind: str
    name: str
    namespace: str = ""
    object: str = ""
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    selector: dict[str, str] = {}
    replicas: Fact | None = None
    template: PodTemplateObs = PodTemplateObs()
    # multi-host (LeaderWorkerSet): the workers' template when it differs from the leader's
    worker_template: PodTemplateObs | None = None
    pods: list[PodObs] = []
    pods_collected: bool = False      # False offline: no running pods were read
    current_revision: str | None = None
    old_revisions: list[str] = []     # ReplicaSets still running pods mid-rollout
    hpa: HpaObs | None = None
    services: list[ServiceObs] = []
    extra: dict[str, Fact] = {}


class Snapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one collection produced; also the on-disk snapshot format.

    Top-level keys are always written (``schema`` above all), unlike the
    nested structs, which omit defaults to keep snapshots small."""

    schema: str = SNAPSHOT_SCHEMA
    source: str                        # live | manifest | local | snapshot
    collected_at: str = ""             # ISO 8601 UTC
    skewaudit_version: str = ""
    context: str | None = None         # kube context, when live
    inputs: list[str] = []             # files read, or the API server URL
    workloads: list[WorkloadObs] = []
    nodes: dict[str, NodeObs] = {}
    issues: list[CollectionIssue] = []
