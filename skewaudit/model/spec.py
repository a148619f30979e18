"""The ModelSpec: how a model is *intended* to be served (pydantic v2, frozen).

It reads the public ``piqc.ai/v1alpha1`` ModelSpec format (schema v0.1/v0.2)
unchanged and extends it as ``skewaudit.io/v1alpha1``, in the same camelCase
style, with what a drift audit needs: engine flags, the image, the GPU/CUDA stack, orchestration, where the
workload runs (``target``) and the audit policy. Fields marked *extension* in
their description are not part of the piqc format.

YAML keys are camelCase (``maxModelLen``); Python attributes are snake_case
(``max_model_len``). Fields that accept a constraint (a range, a tolerance, a
set) store the value exactly as written, so ``model_dump(by_alias=True)``
round-trips and the JSON Schema stays simple; the value is compiled once here
only to reject bad syntax, and the differ compiles it again to compare.

Types are strict where YAML already types the value (an integer field refuses
``true`` and ``"4"``) but numbers are accepted for text fields, because YAML
turns an unquoted ``version: 1.0`` into a float the user meant as text.
"""

from __future__ import annotations

import datetime
import functools
from typing import TYPE_CHECKING, Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, Strict, StringConstraints, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from skewaudit import constraints
from skewaudit.model.spec_data import DataSpec
from skewaudit.model.spec_eval import Validation

if TYPE_CHECKING:
    from skewaudit.collect.request import Target as TargetRequest

# The public format, read unchanged, and skewaudit's superset of it: a spec that uses any field marked
# *extension* says so with the skewaudit apiVersion (the public schema refuses unknown keys).
PIQC_API = "piqc.ai/v1alpha1"
SKEWAUDIT_API = "skewaudit.io/v1alpha1"
API_VERSIONS = (PIQC_API, SKEWAUDIT_API)
PIN_NAMES = ("image-tag", "image-digest", "model-revision", "tokenizer-revision", "dtype", "engine-version")
ENGINE_NAMES = ("vllm", "tgi", "sglang", "kserve-hf", "triton", "tensorrt-llm", "nim", "llama-cpp", "other")

# piqc's free-text ``framework`` names that identify an engine we know, used
# when ``runtime.engine.name`` is not given.
_FRAMEWORK_ENGINES = {
    "vllm": "vllm", "tgi": "tgi", "text-generation-inference": "tgi", "sglang": "sglang",
    "triton": "triton", "tensorrt-llm": "tensorrt-llm", "trt-llm": "tensorrt-llm", "kserve-hf": "kserve-hf",
    "nim": "nim", "llama.cpp": "llama-cpp", "llama-cpp": "llama-cpp", "llamacpp": "llama-cpp",
}


class _Model(BaseModel):
    """Base for every ModelSpec section: immutable, no unknown keys, camelCase in YAML."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        coerce_numbers_to_str=True,
    )


# --- scalar types -----------------------------------------------------------

# Integers stop at the int32 maximum (Kubernetes replica counts, probe seconds, GPU counts are int32): a
# 30-digit count is a typo, and Python would otherwise carry it into every comparison. Numbers are finite.
MAX_INT = constraints.LIMITS["int"]
NonNegInt = Annotated[int, Strict(), Field(ge=0, le=MAX_INT)]
PosInt = Annotated[int, Strict(), Field(ge=1, le=MAX_INT)]
Port = Annotated[int, Strict(), Field(ge=1, le=65535)]
NonNegFloat = Annotated[float, Strict(), Field(ge=0, le=constraints.LIMITS["float"], allow_inf_nan=False)]
Bool = Annotated[bool, Strict()]
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

_KIND_WORDS = {
    "int": "an integer, a range such as '>=8' or a list of integers",
    "tokens": "a token length (8192, '32K' = 32768, '32k' = 32000), a range such as '>=8192' or a list",
    "float": "a number, a tolerance such as '0.90 ± 0.02' or a range such as '>=0.85'",
    "version": "a version such as '0.10.0', a constraint such as '>=550' or '12.4.*', or a list of versions",
    "str": "a string or a list of strings (any one of them)",
    "quantity": "a Kubernetes quantity such as '500m', 4, '80Gi' or '80G'",
}


def _constraint(kind: str, scalars: tuple[type, ...], *, lists: bool = True) -> PlainValidator:
    """A validator that accepts an exact value or a constraint of ``kind`` and stores it unchanged."""

    def ok_scalar(v: Any) -> bool:
        return isinstance(v, scalars) and not isinstance(v, bool)

    def check(v: Any) -> Any:
        if v is None:  # written as an empty value: same as absent, like every other optional field
            return None
        if not (ok_scalar(v) or (lists and isinstance(v, list) and all(ok_scalar(x) for x in v))):
            raise PydanticCustomError("constraint_type", "expected {what}", {"what": _KIND_WORDS[kind]})
        reason = _syntax_error(kind, tuple(v) if isinstance(v, list) else v)
        if reason:
            raise PydanticCustomError("constraint", "{reason}", {"reason": reason})
        return v

    union = _union(scalars)
    json_type = union | list[union] if lists else union
    return PlainValidator(check, json_schema_input_type=Optional[json_type])


@functools.lru_cache(maxsize=4096)
def _syntax_error(kind: str, raw: Any) -> str | None:
    # Cached: a fleet's specs repeat the same few values ("0.90 ± 0.02", 8192).
    try:
        constraints.compile(list(raw) if isinstance(raw, tuple) else raw, kind)
    except ValueError as e:
        return str(e)
    return None


def _union(types: tuple[type, ...]) -> Any:
    u: Any = types[0]
    for t in types[1:]:
        u = u | t
    return u


TokenLength = Annotated[Any, _constraint("tokens", (int, str))]
IntRange = Annotated[Any, _constraint("int", (int, str))]
FloatTol = Annotated[Any, _constraint("float", (float, int, str))]
VersionSpec = Annotated[Any, _constraint("version", (str, int, float))]
OneOrSet = Annotated[Any, _constraint("str", (str,))]
Quantity = Annotated[Any, _constraint("quantity", (str, int, float), lists=False)]


def _scalar_of(types: tuple[type, ...], what: str) -> PlainValidator:
    """A plain union of scalars with one clear message instead of one error per member."""

    def check(v: Any) -> Any:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, types):
            raise PydanticCustomError("scalar_type", "expected {what}", {"what": what})
        return v

    return PlainValidator(check, json_schema_input_type=Optional[_union(types)])


PortOrName = Annotated[Any, _scalar_of((int, str), "a port number or a named container port")]
TargetValue = Annotated[Any, _scalar_of((int, float, str), "a number or a string such as '80%' or '500m'")]

Ext = "(skewaudit extension) "


# --- metadata ---------------------------------------------------------------

class Metadata(_Model):
    """Who this spec is: its name and free-form labels (piqc)."""

    name: NonEmptyStr = Field(description="Unique name of this ModelSpec; also the default workload name to audit.")
    version: Optional[str] = Field(None, description="Version of this spec (free text, e.g. '2025-01').")
    description: Optional[str] = Field(None, description="Human-readable description.")
    labels: Optional[dict[str, str]] = Field(None, description="Arbitrary key/value labels.")
    annotations: Optional[dict[str, str]] = Field(None, description="Arbitrary key/value annotations.")


# --- identity ---------------------------------------------------------------

class Artifacts(_Model):
    """Where the weights and tokenizer come from (piqc)."""

    model_uri: Optional[str] = Field(None, description="URI or path of the model weights (hf://, s3://, pvc://, …).")
    tokenizer_uri: Optional[str] = Field(None, description="URI or path of the tokenizer.")


class Tokenizer(_Model):
    """The tokenizer the engine must load, when it differs from the model's own."""

    id: Optional[str] = Field(None, description="Tokenizer repository id or path (engine flag --tokenizer).")
    revision: Optional[str] = Field(
        None, description="Pinned tokenizer revision: a commit hash, tag or branch (engine flag --tokenizer-revision).")


class ModelIdentity(_Model):
    """Which model is served (piqc fields plus pinning extensions)."""

    id: str = Field(description="Model id as the engine loads it, e.g. 'meta-llama/Llama-3.1-70B-Instruct'.")
    family: str = Field(description="Model family, e.g. 'llama-3.1'.")
    task: str = Field(description="Primary task, e.g. 'chat', 'completion', 'embedding'.")
    framework: str = Field(
        description="Serving framework, e.g. 'vllm', 'tgi'. Used as the engine name when runtime.engine.name is absent.")
    precision: Optional[str] = Field(
        None, description="Numeric precision of the served weights: fp16, bf16, fp32, fp8, int8, int4, or a "
        "quantization method such as awq.")
    artifacts: Optional[Artifacts] = Field(None, description="Where weights and tokenizer come from.")
    revision: Optional[str] = Field(
        None, description=Ext + "Pinned model revision: a commit hash (best), tag or branch (engine flag --revision).")
    served_model_name: Optional[str] = Field(
        None, description=Ext + "Name clients use in API requests (engine flag --served-model-name).")
    tokenizer: Optional[Tokenizer] = Field(None, description=Ext + "Tokenizer id and revision, when pinned separately.")


class Identity(_Model):
    """What is served (piqc)."""

    model: ModelIdentity = Field(description="The model.")


# --- runtime ----------------------------------------------------------------

class Accelerator(_Model):
    """The accelerators one replica uses (piqc)."""

    vendor: str = Field(description="Accelerator vendor, e.g. 'nvidia'.")
    type: str = Field(description="Accelerator class, e.g. 'a100-80gb', 'h100', 'l4', 't4'.")
    count: NonNegInt = Field(description="Accelerators per replica (0 for CPU serving).")


class Batch(_Model):
    """Batching and sequence limits (piqc)."""

    max_batch_size: IntRange = Field(
        None, description="Maximum batch size: an integer, a range such as '>=64', or a list of allowed values.")
    max_sequence_length_tokens: TokenLength = Field(
        None, description="Maximum sequence length in tokens. Integer, or text with a unit: '32K' or '32Ki' = "
        "32768 (binary), '32k' = 32000 (decimal, vLLM's convention); ranges such as '>=8192' allowed.")


class Resources(_Model):
    """Host resources per replica (piqc; compared with the container's requests)."""

    cpu_cores: Optional[NonNegFloat] = Field(None, description="CPU cores per replica.")
    memory_gb: Optional[NonNegFloat] = Field(None, description="Memory per replica in GB (10^9 bytes).")
    ephemeral_storage_gb: Optional[NonNegFloat] = Field(None, description="Ephemeral storage per replica in GB.")


class Environment(_Model):
    """Environment the serving process needs (piqc)."""

    variables: Optional[dict[str, str]] = Field(
        None, description="Environment variables that must be set to these values. Put no secrets here.")


class Engine(_Model):
    """The inference engine and the flags it must run with (extension)."""

    name: Optional[Literal["vllm", "tgi", "sglang", "kserve-hf", "triton", "tensorrt-llm", "nim", "llama-cpp",
                           "other"]] = Field(
        None, description="Inference engine.")
    version: VersionSpec = Field(None, description="Engine version: exact ('0.10.0'), a constraint ('>=0.9,<0.11', "
                                 "'0.10.*') or a list of allowed versions.")
    image: Optional[Annotated[str, StringConstraints(pattern=r"^\S+$")]] = Field(
        None, description="Container image reference with a tag and/or '@sha256:<digest>', e.g. "
        "'vllm/vllm-openai:v0.10.0@sha256:…'.")
    image_digest: Optional[Annotated[str, StringConstraints(pattern=r"^sha256:[0-9a-f]{64}$")]] = Field(
        None, description="Expected image digest, 'sha256:<64 hex>' (compared with the running imageID).")
    dtype: OneOrSet = Field(None, description="Engine --dtype as the engine spells it (vLLM: auto, half, float16, "
                            "bfloat16, float, float32; TGI: float16, bfloat16), or a list of allowed values.")
    quantization: OneOrSet = Field(None, description="Quantization method (engine --quantization/--quantize), e.g. "
                                   "awq, gptq, fp8; 'none' means the model must run unquantized; a list allows any.")
    kv_cache_dtype: OneOrSet = Field(None, description="KV-cache dtype (engine --kv-cache-dtype), e.g. auto, fp8.")
    max_model_len: TokenLength = Field(
        None, description="Maximum context length in tokens (vLLM --max-model-len, SGLang --context-length, TGI "
        "--max-total-tokens). '32K' = 32768, '32k' = 32000; ranges such as '>=8192' allowed.")
    max_num_seqs: IntRange = Field(
        None, description="Maximum concurrently running sequences (vLLM --max-num-seqs, SGLang --max-running-requests).")
    max_num_batched_tokens: TokenLength = Field(
        None, description="Maximum tokens per scheduler step (vLLM --max-num-batched-tokens, TensorRT-LLM "
        "--max_num_tokens). TGI has no equivalent (--max-batch-prefill-tokens caps one prefill batch, "
        "--max-batch-total-tokens the KV-cache budget): unverifiable there.")
    tensor_parallel_size: Optional[PosInt] = Field(None, description="Tensor-parallel degree (vLLM "
                                                   "--tensor-parallel-size, TGI --num-shard, SGLang --tp-size).")
    pipeline_parallel_size: Optional[PosInt] = Field(None, description="Pipeline-parallel degree.")
    gpu_memory_utilization: FloatTol = Field(
        None, description="Fraction of GPU memory the engine may use (vLLM --gpu-memory-utilization, SGLang "
        "--mem-fraction-static), in (0, 1]; tolerance such as '0.90 ± 0.02' allowed.")
    enable_prefix_caching: Optional[Bool] = Field(None, description="Whether automatic prefix caching must be on.")
    gpu_layers: Optional[int] = Field(None, description="Model layers offloaded to the GPU (llama.cpp -ngl; a "
                                      "negative value means all).")
    args: Optional[list[str]] = Field(
        None, description="Extra flags that must be present in the engine command line, e.g. '--enforce-eager', "
        "'--swap-space=4'.")
    env: Optional[dict[str, str]] = Field(None, description="Engine environment variables that must be set to these "
                                          "values. Put no secrets here.")

    @model_validator(mode="after")
    def _fraction_in_range(self) -> "Engine":
        raw = self.gpu_memory_utilization
        if raw is not None:
            c = constraints.compile(raw, "float")
            if c.is_exact and not 0 < c.exact <= 1:
                raise PydanticCustomError("fraction", "gpuMemoryUtilization must be in (0, 1], got {v}", {"v": raw})
        return self


class GpuStack(_Model):
    """GPU hardware and driver stack the replica must land on (extension)."""

    gpu_class: Optional[str] = Field(None, alias="class", description="GPU class, e.g. 'a100-80gb', 'h100', 'l4'.")
    count: Optional[NonNegInt] = Field(None, description="GPUs per replica (defaults to runtime.accelerator.count).")
    min_memory_gb: Optional[NonNegFloat] = Field(
        None, description="Minimum memory per GPU in GB (compared with a tolerance: devices report 2-6% less).")
    driver_version: VersionSpec = Field(None, description="NVIDIA driver version: exact or a constraint, e.g. '>=550'.")
    cuda_version: VersionSpec = Field(
        None, description="CUDA version the driver supports: exact or a constraint, e.g. '>=12.4', '12.4.*'.")
    mig_profile: Optional[str] = Field(None, description="MIG profile each replica must get, e.g. '1g.10gb'.")


class MultiHost(_Model):
    """One replica spread over several nodes (LeaderWorkerSet groups, SGLang --nnodes) (extension)."""

    nodes_per_replica: PosInt = Field(description="Nodes (pods) per replica: the LeaderWorkerSet's "
                                      "leaderWorkerTemplate.size, SGLang --nnodes.")
    gpus_per_node: Optional[PosInt] = Field(
        None, description="Accelerators each node (pod) of a replica requests (default: runtime.accelerator.count "
        "/ nodesPerReplica). tensor × pipeline parallel = gpusPerNode × nodesPerReplica.")


class Runtime(_Model):
    """What one replica runs on and with (piqc fields plus engine and GPU-stack extensions)."""

    accelerator: Accelerator = Field(description="Accelerators per replica.")
    batch: Optional[Batch] = Field(None, description="Batching and sequence limits.")
    resources: Optional[Resources] = Field(None, description="Host resources per replica.")
    environment: Optional[Environment] = Field(None, description="Required environment variables.")
    engine: Optional[Engine] = Field(None, description=Ext + "Inference engine, image and flags.")
    gpu: Optional[GpuStack] = Field(None, description=Ext + "GPU class, memory, driver, CUDA and MIG requirements.")
    multi_host: Optional[MultiHost] = Field(None, description=Ext + "Multi-node replicas: nodes per replica and "
                                            "accelerators per node.")


# --- operations -------------------------------------------------------------

class ProbeSpec(_Model):
    """An HTTP health probe (piqc path/timeout plus Kubernetes probe settings)."""

    path: Optional[str] = Field(None, description="HTTP path, e.g. '/health'.")
    timeout_seconds: Optional[NonNegInt] = Field(None, description="Probe timeout in seconds.")
    port: PortOrName = Field(None, description=Ext + "Probe port: a number or a named container port.")
    period_seconds: Optional[NonNegInt] = Field(None, description=Ext + "Seconds between probes.")
    initial_delay_seconds: Optional[NonNegInt] = Field(None, description=Ext + "Seconds before the first probe.")
    failure_threshold: Optional[NonNegInt] = Field(None, description=Ext + "Failures before the probe fails.")


class Serving(_Model):
    """How clients reach the model (piqc plus streaming)."""

    protocol: Optional[Literal["http", "grpc"]] = Field(None, description="Wire protocol.")
    port: Optional[Port] = Field(None, description="Container port the engine listens on.")
    readiness_probe: Optional[ProbeSpec] = Field(None, description="Readiness probe.")
    liveness_probe: Optional[ProbeSpec] = Field(None, description="Liveness probe.")
    max_concurrency: IntRange = Field(None, description="Maximum concurrent requests per replica.")
    timeout_seconds: Optional[NonNegFloat] = Field(None, description="Request timeout in seconds (KServe timeout, "
                                                   "HTTPRoute timeouts.request, ingress-nginx proxy-read-timeout, "
                                                   "Istio VirtualService timeout; 0 = no timeout).")
    retries: Optional[NonNegInt] = Field(None, description=Ext + "Retry attempts of the mesh in front of the "
                                         "workload (Istio VirtualService retries.attempts; Istio's default is 2).")
    max_request_body_size: Quantity = Field(
        None, description=Ext + "Largest request body the ingress must accept, as a quantity ('8Mi'); compared "
        "with ingress-nginx proxy-body-size (nginx '8m' = 8Mi; default 1m).")
    streaming: Optional[Bool] = Field(None, description=Ext + "Whether streaming responses must be enabled.")


class WarmPool(_Model):
    """Pre-warmed replicas (piqc)."""

    size: Optional[NonNegInt] = Field(None, description="Number of warm replicas.")
    strategy: Optional[str] = Field(None, description="Warm-pool strategy (free text).")


class Scaling(_Model):
    """Replica counts and autoscaling (piqc plus HPA extensions)."""

    min_replicas: Optional[NonNegInt] = Field(None, description="Minimum replicas (HPA minReplicas).")
    max_replicas: Optional[NonNegInt] = Field(None, description="Maximum replicas (HPA maxReplicas).")
    strategy: Optional[Literal["reactive", "predictive", "manual"]] = Field(None, description="Scaling strategy.")
    target_latency_ms_p95: Optional[NonNegFloat] = Field(None, description="Target p95 latency in milliseconds.")
    target_rps: Optional[NonNegFloat] = Field(None, description="Target requests per second per replica.")
    warm_pool: Optional[WarmPool] = Field(None, description="Pre-warmed replicas.")
    replicas: Optional[NonNegInt] = Field(None, description=Ext + "Fixed replica count when there is no autoscaler.")
    metric: Optional[str] = Field(
        None, description=Ext + "HPA metric: 'cpu', 'memory', or a custom/external metric name such as "
        "'vllm:num_requests_waiting'.")
    target_value: TargetValue = Field(
        None, description=Ext + "HPA target for the metric, e.g. 10, '80%' (utilization) or '500m'.")


class Metrics(_Model):
    """Metrics endpoint expectations (piqc)."""

    enabled: Optional[Bool] = Field(None, description="Whether metrics must be exposed.")
    provider: Optional[str] = Field(None, description="Metrics system, e.g. 'prometheus'.")
    port: Optional[Port] = Field(None, description="Metrics port.")


class Logging(_Model):
    """Logging expectations (piqc)."""

    level: Optional[str] = Field(None, description="Log level, e.g. 'info'.")


class Tracing(_Model):
    """Tracing expectations (piqc)."""

    enabled: Optional[Bool] = Field(None, description="Whether tracing must be on.")


class Observability(_Model):
    """Metrics, logs and traces that must exist (piqc)."""

    metrics: Optional[Metrics] = Field(None, description="Metrics.")
    logging: Optional[Logging] = Field(None, description="Logging.")
    tracing: Optional[Tracing] = Field(None, description="Tracing.")


class Toleration(_Model):
    """A Kubernetes toleration the pods must carry."""

    key: Optional[str] = Field(None, description="Taint key, e.g. 'nvidia.com/gpu'.")
    operator: Optional[Literal["Exists", "Equal"]] = Field(None, description="Exists or Equal (Kubernetes default).")
    value: Optional[str] = Field(None, description="Taint value (with operator Equal).")
    effect: Optional[Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]] = Field(
        None, description="Taint effect; omit to tolerate every effect.")


class Orchestration(_Model):
    """Kubernetes scheduling and resources of the serving container (extension)."""

    requests: Optional[dict[str, Quantity]] = Field(
        None, description="Container resource requests as Kubernetes quantities: cpu '500m' = 0.5 cores; memory "
        "'80Gi' = 80×2^30 bytes, '80G' = 80×10^9 bytes (7% less); 'nvidia.com/gpu': whole numbers.")
    limits: Optional[dict[str, Quantity]] = Field(None, description="Container resource limits (same units).")
    node_selector: Optional[dict[str, str]] = Field(
        None, description="Node labels the pods must select, e.g. 'nvidia.com/gpu.product: NVIDIA-A100-SXM4-80GB'.")
    node_affinity: Optional[dict[str, list[str]]] = Field(
        None, description="Required node-affinity terms: label key -> allowed values (operator In).")
    tolerations: Optional[list[Toleration]] = Field(None, description="Tolerations the pods must carry.")
    node_pool: Optional[str] = Field(None, description="Node pool name (informational, not checked).")


class Operations(_Model):
    """How the model is operated (piqc plus orchestration)."""

    serving: Optional[Serving] = Field(None, description="Serving interface.")
    scaling: Optional[Scaling] = Field(None, description="Replicas and autoscaling.")
    observability: Optional[Observability] = Field(None, description="Metrics, logging, tracing.")
    orchestration: Optional[Orchestration] = Field(None, description=Ext + "Kubernetes resources and scheduling.")


# --- pipeline and governance (piqc, read unchanged, not checked) ------------

class Step(_Model):
    """One pre- or post-processing step (piqc)."""

    name: str = Field(description="Step name.")
    type: str = Field(description="Step type.")
    enabled: Optional[Bool] = Field(None, description="Whether the step runs.")


class Stage(_Model):
    """An ordered list of processing steps (piqc)."""

    steps: Optional[list[Step]] = Field(None, description="Steps in order.")


class DependencyInterface(_Model):
    """The contract with a dependency (piqc)."""

    input_type: Optional[str] = Field(None, description="Input type.")
    output_type: Optional[str] = Field(None, description="Output type.")
    max_latency_ms: Optional[NonNegFloat] = Field(None, description="Latency budget in milliseconds.")


class Dependency(_Model):
    """Another model this one relies on, e.g. a guardrail (piqc)."""

    id: str = Field(description="Dependency id.")
    role: Literal["input", "guardrail", "reranker", "postprocess", "custom"] = Field(description="Role.")
    spec_ref: Optional[str] = Field(None, description="Path or URI of the dependency's ModelSpec.")
    required: Optional[Bool] = Field(None, description="Whether the dependency is required (piqc default: true).")
    interface: Optional[DependencyInterface] = Field(None, description="Interface contract.")


class Pipeline(_Model):
    """Processing around the model (piqc; read, not checked)."""

    preprocess: Optional[Stage] = Field(None, description="Pre-processing steps.")
    postprocess: Optional[Stage] = Field(None, description="Post-processing steps.")
    dependencies: Optional[list[Dependency]] = Field(None, description="Models this one depends on.")


class Pii(_Model):
    """PII handling (piqc)."""

    allowed: Optional[Bool] = Field(None, description="Whether PII may be processed.")
    policy: Optional[str] = Field(None, description="PII policy reference.")


class Retention(_Model):
    """Retention periods (piqc)."""

    logs_days: Optional[NonNegInt] = Field(None, description="Days logs are kept.")
    artifacts_days: Optional[NonNegInt] = Field(None, description="Days artifacts are kept.")


class ChangeGovernance(_Model):
    """Change control (piqc)."""

    change_approval: Optional[str] = Field(None, description="Who approves changes.")
    owner: Optional[str] = Field(None, description="Owning team or person.")


class Compliance(_Model):
    """Compliance rules (piqc)."""

    pii: Optional[Pii] = Field(None, description="PII handling.")
    retention: Optional[Retention] = Field(None, description="Retention.")
    governance: Optional[ChangeGovernance] = Field(None, description="Change control.")


class PricingHints(_Model):
    """Where the model is expected to run, for cost (piqc)."""

    cloud_provider: Optional[str] = Field(None, description="Cloud provider.")
    instance_type: Optional[str] = Field(None, description="Instance type.")
    spot_allowed: Optional[Bool] = Field(None, description="Whether spot instances are allowed.")


class Cost(_Model):
    """Cost targets (piqc)."""

    target_cost_per_1k_tokens_usd: Optional[NonNegFloat] = Field(
        None, alias="targetCostPer1kTokensUsd", description="Target cost per 1,000 tokens in USD.")
    pricing_hints: Optional[PricingHints] = Field(None, description="Pricing hints.")


class Governance(_Model):
    """Compliance and cost (piqc; read, not checked)."""

    compliance: Optional[Compliance] = Field(None, description="Compliance rules.")
    cost: Optional[Cost] = Field(None, description="Cost targets.")


# --- target and policy (extensions) -----------------------------------------

class Target(_Model):
    """Where the workload runs (extension). Unset fields do not filter; without a name or selector the workload
    named like metadata.name is audited."""

    context: Optional[str] = Field(None, description="Kubeconfig context (default: the current context).")
    namespace: Optional[str] = Field(None, description="Namespace (default: the context's namespace).")
    kind: Optional[Literal["Deployment", "StatefulSet", "ReplicaSet", "Pod", "Job", "InferenceService",
                           "LeaderWorkerSet", "Rollout", "RayService", "NIMService",
                           "LLMInferenceService"]] = Field(None, description="Workload kind.")
    name: Optional[str] = Field(None, description="Workload name (default: metadata.name).")
    selector: Optional[dict[str, str]] = Field(
        None, description="Label selector matching the workload or its pod template labels.")
    container: Optional[str] = Field(None, description="Serving container name (default: detected from the engine).")


class Ignore(_Model):
    """One accepted, documented deviation. Matching results are reported as suppressed, with the reason."""

    check: Optional[str] = Field(None, description="Check id to ignore, e.g. 'runtime.dtype'.")
    field: Optional[str] = Field(
        None, description="Dotted YAML path of the spec field to ignore, e.g. 'spec.runtime.engine.maxNumSeqs'.")
    target: Optional[str] = Field(
        None, description="Only for these targets: a glob over 'namespace/workload' or a pod name.")
    reason: NonEmptyStr = Field(description="Why this deviation is accepted (required; shown in reports).")
    expires: Optional[datetime.date] = Field(None, description="Date (YYYY-MM-DD) after which the ignore no longer "
                                             "applies.")

    @model_validator(mode="after")
    def _check_or_field(self) -> "Ignore":
        if not self.check and not self.field:
            raise PydanticCustomError("ignore_scope", "an ignore needs 'check' or 'field' (or both)")
        return self


class FailOn(_Model):
    """Which non-drift outcomes of this spec fail the CI gate (extension).

    Drift always fails the default gate; unpinned and unverifiable results only
    when asked, here or with ``--fail-on-unpinned`` / ``--fail-on-unverifiable``."""

    unpinned: Bool = Field(False, description="Exit 1 when this spec has an unpinned result (':latest', no "
                           "revision…), as --fail-on-unpinned does.")
    unverifiable: Bool = Field(False, description="Exit 1 when a value this spec declares could not be verified, "
                               "as --fail-on-unverifiable does.")


class Policy(_Model):
    """How findings for this spec are graded (extension)."""

    severity: Optional[dict[str, Literal["error", "warning", "info", "off"]]] = Field(
        None, description="Per-check severity override: check id (or a glob such as 'runtime.*') -> error | "
        "warning | info | off.")
    ignore: Optional[list[Ignore]] = Field(None, description="Accepted deviations, each with a reason.")
    pin: list[Literal["image-tag", "image-digest", "model-revision", "tokenizer-revision", "dtype",
                      "engine-version"]] = Field(
        default_factory=lambda: list(PIN_NAMES),
        description="What must be pinned (reported 'unpinned' otherwise): image-tag (not 'latest' or absent), "
        "image-digest, model-revision, tokenizer-revision, dtype (not 'auto'), engine-version. Default: all.")
    fail_on: Optional[FailOn] = Field(
        None, description="Gate switches for this spec's results: {unpinned: true, unverifiable: true} make those "
        "outcomes exit 1 (drift always does, unless --fail-on narrows it).")

    @field_validator("severity", mode="before")
    @classmethod
    def _unquoted_off(cls, v: Any) -> Any:
        # YAML 1.1 reads an unquoted `off` as false; that is what the user meant.
        if isinstance(v, dict):
            return {k: "off" if x is False else x for k, x in v.items()}
        return v


# --- spec and document -------------------------------------------------------

class Spec(_Model):
    """The intended state."""

    identity: Identity = Field(description="What is served.")
    runtime: Runtime = Field(description="What each replica runs on and with.")
    operations: Optional[Operations] = Field(None, description="Serving, scaling, observability, orchestration.")
    pipeline: Optional[Pipeline] = Field(None, description="Processing around the model (piqc; not checked).")
    governance: Optional[Governance] = Field(None, description="Compliance and cost (piqc; not checked).")
    target: Optional[Target] = Field(None, description=Ext + "Where the workload runs.")
    policy: Optional[Policy] = Field(None, description=Ext + "Severity overrides, ignores and pinning rules.")
    validation: Optional[Validation] = Field(None, description=Ext + "What the validation run used: chat template "
                                             "and sampling (init --from-eval writes it).")
    data: Optional[DataSpec] = Field(None, description=Ext + "Training/validation data baseline and drift thresholds "
                                     "(diff --data).")


class ModelSpec(_Model):
    """A ModelSpec document: the intended serving configuration of one model.

    Reads piqc.ai/v1alpha1 documents unchanged; skewaudit.io/v1alpha1 is a superset
    of it: the same shape plus the fields marked *extension*.
    """

    api_version: Literal["piqc.ai/v1alpha1", "skewaudit.io/v1alpha1"] = Field(
        description="Schema version: 'skewaudit.io/v1alpha1' (the public format plus skewaudit extensions) or "
        "'piqc.ai/v1alpha1' (the public ModelSpec format only, no extension fields).")
    kind: Literal["ModelSpec"] = Field(description="Always 'ModelSpec'.")
    metadata: Metadata = Field(description="Name, version, labels.")
    spec: Spec = Field(description="The intended state.")

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def engine_name(self) -> str | None:
        """``runtime.engine.name``, else the piqc ``framework`` when it names a known engine."""
        engine = self.spec.runtime.engine
        if engine is not None and engine.name:
            return engine.name
        return _FRAMEWORK_ENGINES.get(self.spec.identity.model.framework.strip().lower())

    @property
    def gpu_count(self) -> int:
        """GPUs per replica: ``runtime.gpu.count`` if given, else ``runtime.accelerator.count``."""
        gpu = self.spec.runtime.gpu
        return gpu.count if gpu is not None and gpu.count is not None else self.spec.runtime.accelerator.count

    @property
    def nodes_per_replica(self) -> int:
        """Nodes (pods) one replica spans: ``runtime.multiHost.nodesPerReplica``, else 1."""
        mh = self.spec.runtime.multi_host
        return mh.nodes_per_replica if mh is not None else 1

    @property
    def gpus_per_node(self) -> int:
        """Accelerators each pod of a replica requests (``multiHost.gpusPerNode``, else the per-replica
        count divided by the nodes)."""
        mh = self.spec.runtime.multi_host
        if mh is not None and mh.gpus_per_node is not None:
            return mh.gpus_per_node
        return self.gpu_count // self.nodes_per_replica

    @property
    def pins(self) -> frozenset[str]:
        """What must be pinned: ``policy.pin``, or everything when there is no policy."""
        policy = self.spec.policy
        return frozenset(policy.pin if policy is not None else PIN_NAMES)

    def target_request(self) -> "TargetRequest":
        """The collector's Target for this spec. Without a target section the name is None: the differ then
        looks for a workload named like ``metadata.name``."""
        from skewaudit.collect.request import Target as TargetRequest

        t = self.spec.target
        if t is None:
            return TargetRequest(fallback_name=self.metadata.name)
        return TargetRequest(namespace=t.namespace, kind=t.kind, name=t.name, selector=dict(t.selector or {}),
                             container=t.container, context=t.context,
                             fallback_name=self.metadata.name if not t.name and not t.selector else None)


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a ModelSpec document, keyed by YAML (camelCase) names."""
    from pydantic.json_schema import GenerateJsonSchema

    class _Gen(GenerateJsonSchema):
        # Property titles would only repeat the key ("Maxmodellen"); descriptions carry the meaning.
        def field_title_should_be_set(self, schema: Any) -> bool:
            return False

    body = ModelSpec.model_json_schema(by_alias=True, schema_generator=_Gen)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **_drop_null_defaults(body)}


def _drop_null_defaults(node: Any) -> Any:
    # "default": null on every optional field is noise: absent already means "not declared".
    if isinstance(node, dict):
        return {k: _drop_null_defaults(v) for k, v in node.items() if not (k == "default" and v is None)}
    if isinstance(node, list):
        return [_drop_null_defaults(v) for v in node]
    return node
