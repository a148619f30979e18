"""Synthetic fleet for the benchmark: a cluster of serving workloads and the ModelSpecs that describe them.

``generate(out, pods=N, specs=M)`` writes

* ``out/cluster/<kind>.jsonl``: one compact JSON object per line, in the form the
  apiserver puts list items in (Pods, Deployments, ReplicaSets, Nodes,
  HorizontalPodAutoscalers, Services, ConfigMaps), ready for
  ``FakeKube.add_raw_json``;
* ``out/specs/*.yaml``: ``M`` ModelSpecs, one per audited Deployment;
* ``out/meta.json``: counts and sizes.

Objects are shaped like a real cluster's, because a decoder's cost is set by
what it has to skip: pods of 10-20 KB with labels, annotations (a CNI
network-status blob among them), ownerReferences, managedFields mirroring the
spec, 1-3 containers with long argument lists and 20-40 env vars, GPU
resources, node affinity, tolerations, per-pod volume mounts, and container
statuses with image digests.

The fleet has ``max(pods // 10, specs)`` Deployments spread over namespaces,
each running one engine (vLLM, TGI or SGLang) on one GPU class; the first
``specs`` of them have a ModelSpec. About a quarter of those are drifted on
purpose (max length, image, dtype, HPA bounds) and a few are mid-rollout with
pods of two ReplicaSets. Output is deterministic for a given seed.

Run alone: ``python benchmarks/gen.py OUT --pods 1000 --specs 100``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

ENGINE_IMAGES = {
    "vllm": ("vllm/vllm-openai", "v0.10.0", "0.10.0", "v0.9.2"),
    "tgi": ("ghcr.io/huggingface/text-generation-inference", "3.3.4", "3.*", "2.4.1"),
    "sglang": ("lmsysorg/sglang", "v0.5.2-cu126", ">=0.4.6,<0.6", "v0.4.3-cu124"),
}
ENGINE_PORT = {"vllm": 8000, "tgi": 80, "sglang": 30000}

# (short name, model id, family, GPU class, tensor parallel, max length)
MODELS = [
    ("llama-3-1-8b", "meta-llama/Llama-3.1-8B-Instruct", "llama-3.1", "l4", 1, 8192),
    ("llama-3-1-70b", "meta-llama/Llama-3.1-70B-Instruct", "llama-3.1", "a100-80gb", 4, 8192),
    ("qwen2-5-7b", "Qwen/Qwen2.5-7B-Instruct", "qwen2.5", "l4", 1, 16384),
    ("qwen2-5-32b", "Qwen/Qwen2.5-32B-Instruct", "qwen2.5", "a100-80gb", 2, 32768),
    ("mistral-7b", "mistralai/Mistral-7B-Instruct-v0.3", "mistral", "h100-80gb", 1, 32768),
    ("mixtral-8x7b", "mistralai/Mixtral-8x7B-Instruct-v0.1", "mixtral", "h100-80gb", 4, 32768),
    ("gemma-2-9b", "google/gemma-2-9b-it", "gemma-2", "a10g", 1, 8192),
    ("phi-3-mini", "microsoft/Phi-3-mini-4k-instruct", "phi-3", "a10g", 1, 4096),
]
# GPU class -> (GFD product label, memory MiB, GKE accelerator, compute capability)
GPUS = {
    "l4": ("NVIDIA-L4", 23034, "nvidia-l4", (8, 9)),
    "a10g": ("NVIDIA-A10G", 23028, "nvidia-a10g", (8, 6)),
    "a100-80gb": ("NVIDIA-A100-SXM4-80GB", 81920, "nvidia-a100-80gb", (8, 0)),
    "h100-80gb": ("NVIDIA-H100-80GB-HBM3", 81559, "nvidia-h100-80gb", (9, 0)),
}
HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"
GROUP_LABEL = "bench.skewaudit.io/group"


def _hex(rng: random.Random, n: int = 64) -> str:
    return "%0*x" % (n, rng.getrandbits(4 * n))


def _hash(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(HASH_CHARS) for _ in range(n))


def _uid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _ts(rng: random.Random, day: int = 0) -> str:
    return f"2025-06-{1 + (day % 28):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z"


def fields_v1(obj: object) -> object:
    """A managedFields ``fieldsV1`` tree mirroring ``obj``, as server-side apply writes it."""
    if isinstance(obj, dict):
        out: dict = {".": {}} if obj else {}
        for key, value in obj.items():
            out[f"f:{key}"] = fields_v1(value)
        return out
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        out = {".": {}}
        for item in obj:
            k = next((f for f in ("name", "containerPort", "key", "mountPath") if f in item), None)
            out["k:" + json.dumps({k: item[k]} if k else {"i": 0}, separators=(",", ":"))] = fields_v1(item)
        return out
    return {}


@dataclass
class Workload:
    """One Deployment of the fleet and the intent its ModelSpec declares."""

    index: int
    name: str
    namespace: str
    engine: str
    model: tuple
    replicas: int
    sidecars: int
    n_env: int
    drift: str          # "" | max-len | image | dtype | hpa
    rollout: bool
    configmap: bool
    digest: str
    old_digest: str
    revision: str
    group: str = ""     # workloads of one group run the same profile: one selector spec audits them all


# --------------------------------------------------------------------------- containers


def _env(rng: random.Random, w: Workload, n: int) -> list[dict]:
    """``n`` env vars as a platform's charts set them: long literals, fieldRefs, a secret."""
    short = w.model[0]
    pool = [
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}},
        {"name": "HF_HOME", "value": "/models/cache/huggingface"},
        {"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "1"},
        {"name": "HF_HUB_OFFLINE", "value": "0"},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}},
        {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}},
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
        {"name": "NCCL_DEBUG", "value": "WARN"},
        {"name": "NCCL_IB_DISABLE", "value": "0"},
        {"name": "NCCL_SOCKET_IFNAME", "value": "eth0"},
        {"name": "NCCL_P2P_LEVEL", "value": "NVL"},
        {"name": "NCCL_CROSS_NIC", "value": "0"},
        {"name": "NCCL_NET_GDR_LEVEL", "value": "PHB"},
        {"name": "CUDA_DEVICE_MAX_CONNECTIONS", "value": "1"},
        {"name": "CUDA_MODULE_LOADING", "value": "LAZY"},
        {"name": "PYTORCH_CUDA_ALLOC_CONF", "value": "expandable_segments:True,max_split_size_mb:512"},
        {"name": "TOKENIZERS_PARALLELISM", "value": "false"},
        {"name": "OMP_NUM_THREADS", "value": "8"},
        {"name": "PYTHONUNBUFFERED", "value": "1"},
        {"name": "TZ", "value": "UTC"},
        {"name": "LOG_FORMAT", "value": "json"},
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability.svc.cluster.local:4317"},
        {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "grpc"},
        {"name": "OTEL_SERVICE_NAME", "value": w.name},
        {"name": "OTEL_RESOURCE_ATTRIBUTES", "value": (
            f"service.namespace={w.namespace},deployment.environment=production,k8s.cluster.name=gpu-prod-use1,"
            f"cloud.region=us-east-1,team=ml-platform,model.family={w.model[2]},model.name={short},"
            f"cost.center=cc-{4100 + w.index % 37},owner=ml-serving-oncall@example.com")},
        {"name": "DD_ENV", "value": "production"},
        {"name": "DD_SERVICE", "value": w.name},
        {"name": "DD_VERSION", "value": f"{short}-2025.06.{w.index % 28 + 1}"},
        {"name": "DD_AGENT_HOST", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.hostIP"}}},
        {"name": "DD_TAGS", "value": f"team:ml-platform tier:prod model:{short} engine:{w.engine} "
                                     f"region:us-east-1 cluster:gpu-prod-use1 owner:ml-serving"},
        {"name": "FEATURE_FLAGS", "value": ",".join(f"ff-{rng.choice(['stream', 'cache', 'batch', 'trace', 'guard'])}"
                                                    f"-{rng.randrange(1000):03d}" for _ in range(6))},
        {"name": "CONFIG_CHECKSUM", "value": "sha256:" + _hex(rng)},
        {"name": "MODEL_CACHE_DIR", "value": f"/models/cache/{w.model[1]}"},
        {"name": "METRICS_PORT", "value": "9090"},
        {"name": "SHUTDOWN_GRACE_SECONDS", "value": "120"},
        {"name": "REQUEST_TIMEOUT_SECONDS", "value": "600"},
        {"name": "GRPC_ENABLE_FORK_SUPPORT", "value": "false"},
        {"name": "MALLOC_ARENA_MAX", "value": "4"},
        {"name": "PROMETHEUS_MULTIPROC_DIR", "value": "/tmp/prometheus_multiproc"},
        {"name": "SERVICE_ACCOUNT_AUDIENCE", "value": "https://sts.amazonaws.com"},
        {"name": "AWS_REGION", "value": "us-east-1"},
        {"name": "AWS_ROLE_ARN", "value": f"arn:aws:iam::123456789012:role/ml-serving-{w.namespace}-model-reader"},
        {"name": "AWS_WEB_IDENTITY_TOKEN_FILE", "value": "/var/run/secrets/eks.amazonaws.com/serviceaccount/token"},
    ]
    return pool[:n]


def _engine_container(rng: random.Random, w: Workload, *, image_tag: str, digest: str, dtype: str) -> dict:
    short, model_id, _family, gpu, tp, max_len = w.model
    repo, tag, _version, _old = ENGINE_IMAGES[w.engine]
    port = ENGINE_PORT[w.engine]
    if w.drift == "max-len":
        max_len = max_len * 2
    served = f"{short}-instruct"
    engine_env = []
    if w.engine == "vllm":
        command = ["vllm", "serve"]
        args = [model_id, f"--revision={w.revision}", f"--served-model-name={served}", f"--dtype={dtype}",
                f"--max-model-len={max_len}", "--max-num-seqs=256", f"--tensor-parallel-size={tp}",
                "--gpu-memory-utilization=0.90", "--enable-prefix-caching", f"--port={port}",
                "--disable-log-requests", "--download-dir=/models/cache/huggingface",
                "--max-num-batched-tokens=16384", "--swap-space=16", "--uvicorn-log-level=warning",
                "--override-generation-config={\"temperature\":0.7,\"top_p\":0.95,\"repetition_penalty\":1.05}",
                "--chat-template=/etc/templates/chat-template.jinja", "--otlp-traces-endpoint="
                "http://otel-collector.observability.svc.cluster.local:4317", "--collect-detailed-traces=model,worker"]
        engine_env = [{"name": "VLLM_LOGGING_LEVEL", "value": "INFO"},
                      {"name": "VLLM_WORKER_MULTIPROC_METHOD", "value": "spawn"},
                      {"name": "VLLM_ATTENTION_BACKEND", "value": "FLASH_ATTN"}]
    elif w.engine == "tgi":
        command, args = None, ["--json-output", "--otlp-endpoint",
                               "http://otel-collector.observability.svc.cluster.local:4317",
                               "--otlp-service-name", w.name, "--max-waiting-tokens", "20"]
        engine_env = [{"name": "MODEL_ID", "value": model_id}, {"name": "REVISION", "value": w.revision},
                      {"name": "DTYPE", "value": dtype}, {"name": "NUM_SHARD", "value": str(tp)},
                      {"name": "MAX_TOTAL_TOKENS", "value": str(max_len)},
                      {"name": "MAX_INPUT_TOKENS", "value": str(max_len // 2)},
                      {"name": "MAX_BATCH_PREFILL_TOKENS", "value": str(max_len)},
                      {"name": "PORT", "value": str(port)}]
    else:
        command = ["python3", "-m", "sglang.launch_server"]
        args = ["--model-path", model_id, "--revision", w.revision, "--served-model-name", served,
                "--dtype", dtype, "--context-length", str(max_len), "--tp-size", str(tp),
                "--mem-fraction-static", "0.85", "--max-running-requests", "256", "--host", "0.0.0.0",
                "--port", str(port), "--log-level", "warning", "--enable-metrics", "--chunked-prefill-size", "8192",
                "--schedule-policy", "lpm", "--download-dir", "/models/cache/huggingface"]
    gpus = str(tp)
    c: dict = {"name": w.engine, "image": f"{repo}:{image_tag}@{digest}"}
    if command is not None:
        c["command"] = command
    c["args"] = args
    c["ports"] = [{"name": "http", "containerPort": port, "protocol": "TCP"},
                  {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}]
    if w.configmap:
        c["envFrom"] = [{"configMapRef": {"name": "serving-defaults"}}]
    c["env"] = engine_env + _env(rng, w, w.n_env - len(engine_env))
    c["resources"] = {"limits": {"cpu": "16", "memory": "128Gi", "nvidia.com/gpu": gpus},
                      "requests": {"cpu": "8", "memory": "96Gi", "nvidia.com/gpu": gpus}}
    c["volumeMounts"] = [{"name": "model-cache", "mountPath": "/models/cache"},
                         {"name": "dshm", "mountPath": "/dev/shm"},
                         {"name": "chat-templates", "mountPath": "/etc/templates", "readOnly": True}]
    probe = {"httpGet": {"path": "/health", "port": "http", "scheme": "HTTP"}, "timeoutSeconds": 5,
             "successThreshold": 1}
    c["livenessProbe"] = {**probe, "initialDelaySeconds": 120, "periodSeconds": 30, "failureThreshold": 5}
    c["readinessProbe"] = {**probe, "periodSeconds": 10, "failureThreshold": 3}
    c["startupProbe"] = {**probe, "periodSeconds": 10, "failureThreshold": 180}
    c["terminationMessagePath"] = "/dev/termination-log"
    c["terminationMessagePolicy"] = "FallbackToLogsOnError"
    c["imagePullPolicy"] = "IfNotPresent"
    c["securityContext"] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                            "runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
    return c


def _sidecars(w: Workload) -> list[dict]:
    exporter = {
        "name": "metrics-exporter", "image": "ghcr.io/example/gpu-metrics-exporter:1.8.2@sha256:" + "4e" * 32,
        "args": ["--listen=:9400", "--collectors=/etc/exporter/counters.csv", "--kubernetes=true",
                 "--kubernetes-gpu-id-type=device-name", "--web-systemd-socket=false", "--log-level=info",
                 f"--namespace-label={w.namespace}", "--pod-label-prefix=app.kubernetes.io"],
        "ports": [{"name": "gpu-metrics", "containerPort": 9400, "protocol": "TCP"}],
        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}},
                {"name": "EXPORTER_KUBERNETES", "value": "true"}, {"name": "TZ", "value": "UTC"},
                {"name": "EXPORTER_INTERVAL_MS", "value": "15000"}],
        "resources": {"limits": {"cpu": "200m", "memory": "256Mi"}, "requests": {"cpu": "50m", "memory": "128Mi"}},
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    shipper = {
        "name": "log-shipper", "image": "cr.fluentbit.io/fluent/fluent-bit:3.2.4@sha256:" + "a7" * 32,
        "args": ["--config=/fluent-bit/etc/fluent-bit.yaml", "--enable-hot-reload",
                 "--http-server", "--http-listen=0.0.0.0", "--http-port=2020"],
        "env": [{"name": "CLUSTER_NAME", "value": "gpu-prod-use1"},
                {"name": "LOG_DESTINATION", "value": "https://logs.example.com:8088/services/collector/event"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "resources": {"limits": {"cpu": "100m", "memory": "128Mi"}, "requests": {"cpu": "20m", "memory": "64Mi"}},
        "volumeMounts": [{"name": "fluent-bit-config", "mountPath": "/fluent-bit/etc"}],
        "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
    }
    return [exporter, shipper][:w.sidecars]


def _pod_spec(rng: random.Random, w: Workload, *, image_tag: str, digest: str, dtype: str) -> dict:
    gpu = w.model[3]
    product = GPUS[gpu][0]
    containers = [_engine_container(rng, w, image_tag=image_tag, digest=digest, dtype=dtype), *_sidecars(w)]
    return {
        "volumes": [{"name": "model-cache", "persistentVolumeClaim": {"claimName": f"model-cache-{w.model[0]}"}},
                    {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}},
                    {"name": "chat-templates", "configMap": {"name": "chat-templates", "defaultMode": 420}},
                    {"name": "fluent-bit-config", "configMap": {"name": "fluent-bit-config", "defaultMode": 420}}],
        "containers": containers,
        "restartPolicy": "Always", "terminationGracePeriodSeconds": 180, "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"nvidia.com/gpu.product": product},
        "serviceAccountName": "model-server", "serviceAccount": "model-server",
        "securityContext": {"fsGroup": 1000, "runAsNonRoot": True},
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": "In", "values": [product]},
                                      {"key": "karpenter.sh/capacity-type", "operator": "In",
                                       "values": ["on-demand"]}]}]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"app": w.name}},
                                                    "topologyKey": "kubernetes.io/hostname"}}]}},
        "schedulerName": "default-scheduler",
        "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
                        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300},
                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                         "tolerationSeconds": 300}],
        "priorityClassName": "ml-serving-high", "priority": 100000, "enableServiceLinks": False,
        "preemptionPolicy": "PreemptLowerPriority",
    }


def _labels(w: Workload) -> dict:
    return {"app": w.name, "app.kubernetes.io/name": w.model[0], "app.kubernetes.io/instance": w.name,
            "app.kubernetes.io/component": "model-server", "app.kubernetes.io/part-of": "inference-platform",
            "app.kubernetes.io/managed-by": "Helm", "app.kubernetes.io/version": ENGINE_IMAGES[w.engine][1],
            "helm.sh/chart": "model-server-2.14.1", "team": "ml-platform", "engine": w.engine,
            "cost-center": f"cc-{4100 + w.index % 37}", GROUP_LABEL: w.group}


# --------------------------------------------------------------------------- the fleet


def _workloads(rng: random.Random, n_deploy: int, n_pods: int, n_specs: int) -> list[Workload]:
    namespaces = max(1, min(20, n_deploy // 25))
    base, extra = divmod(n_pods, n_deploy)
    out = []
    engines = ["vllm"] * 7 + ["tgi"] * 2 + ["sglang"]
    for i in range(n_deploy):
        model = MODELS[i % len(MODELS)]
        engine = engines[(i * 7) % len(engines)]
        if engine == "tgi" and model[5] > 16384:
            engine = "vllm"
        targeted = i < n_specs
        drift = ""
        if targeted:
            drift = {3: "max-len", 7: "image"}.get(i % 10, "")
            if not drift and i % 25 == 11:
                drift = "dtype"
            if not drift and i % 20 == 9:
                drift = "hpa"
        replicas = base + (1 if i < extra else 0)
        out.append(Workload(
            index=i, name=f"{model[0]}-{engine}-{i:04d}", namespace=f"serving-{i % namespaces:02d}", engine=engine,
            model=model, replicas=replicas, sidecars=i % 3, n_env=20 + (i * 7) % (21 - 8 * (i % 3)), drift=drift,
            rollout=targeted and i % 50 == 5 and replicas >= 2, configmap=i % 4 == 1,
            digest="sha256:" + hashlib.sha256(f"{engine}-{ENGINE_IMAGES[engine][1]}".encode()).hexdigest(),
            old_digest="sha256:" + hashlib.sha256(f"{engine}-{ENGINE_IMAGES[engine][3]}".encode()).hexdigest(),
            revision=hashlib.sha1(model[1].encode()).hexdigest(),
            # Model and engine repeat every 40 workloads (and so do namespace and drift kind):
            # groups of up to 10 such twins are what one selector spec can audit together.
            group=f"g{i % 40:02d}-{i // 400}"))
    return out


def _nodes(rng: random.Random, n_pods: int) -> dict[str, list[dict]]:
    """GPU nodes per class, with GFD/Karpenter labels, allocatable GPUs and a long image list."""
    per_class: dict[str, list[dict]] = {}
    n_per = max(2, n_pods // 8 // len(GPUS))
    for gpu, (product, mem, gke, (cmaj, cmin)) in GPUS.items():
        nodes = []
        for j in range(n_per):
            name = f"ip-10-{40 + list(GPUS).index(gpu)}-{j // 250}-{j % 250}.ec2.internal"
            zone = f"us-east-1{'abc'[j % 3]}"
            labels = {
                "kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux", "beta.kubernetes.io/arch": "amd64",
                "node.kubernetes.io/instance-type": {"l4": "g6.12xlarge", "a10g": "g5.12xlarge",
                                                     "a100-80gb": "p4de.24xlarge", "h100-80gb": "p5.48xlarge"}[gpu],
                "topology.kubernetes.io/region": "us-east-1", "topology.kubernetes.io/zone": zone,
                "karpenter.sh/capacity-type": "on-demand", "karpenter.sh/nodepool": f"gpu-{gpu}",
                "karpenter.k8s.aws/instance-gpu-name": gpu.split("-")[0], "karpenter.k8s.aws/instance-gpu-count": "8",
                "karpenter.k8s.aws/instance-gpu-manufacturer": "nvidia",
                "karpenter.k8s.aws/instance-gpu-memory": str(mem),
                "nvidia.com/gpu.product": product, "nvidia.com/gpu.count": "8", "nvidia.com/gpu.memory": str(mem),
                "nvidia.com/gpu.family": {8: "ampere", 9: "hopper"}.get(cmaj, "ampere") if cmin != 9 else "ada-lovelace",
                "nvidia.com/gpu.compute.major": str(cmaj), "nvidia.com/gpu.compute.minor": str(cmin),
                "nvidia.com/cuda.driver.major": "550", "nvidia.com/cuda.driver.minor": "127",
                "nvidia.com/cuda.driver.rev": "05", "nvidia.com/cuda.driver-version.full": "550.127.05",
                "nvidia.com/cuda.runtime.major": "12", "nvidia.com/cuda.runtime.minor": "4",
                "nvidia.com/cuda.runtime-version.full": "12.4", "nvidia.com/mig.capable": str(gpu.startswith(("a100", "h100"))).lower(),
                "nvidia.com/gpu.present": "true", "nvidia.com/gpu.deploy.driver": "true",
                "nvidia.com/gpu.deploy.device-plugin": "true", "nvidia.com/gpu.deploy.dcgm-exporter": "true",
                "feature.node.kubernetes.io/pci-10de.present": "true",
                "feature.node.kubernetes.io/kernel-version.full": "6.1.119-129.201.amzn2023.x86_64",
            }
            alloc = {"cpu": "47810m", "ephemeral-storage": "95491281146", "hugepages-1Gi": "0", "hugepages-2Mi": "0",
                     "memory": "192432520Ki", "nvidia.com/gpu": "8", "pods": "234"}
            node = {
                "metadata": {"name": name, "uid": _uid(rng), "resourceVersion": str(rng.randrange(10**6, 10**7)),
                             "creationTimestamp": _ts(rng, j), "labels": labels,
                             "annotations": {"alpha.kubernetes.io/provided-node-ip": f"10.{40}.{j // 250}.{j % 250}",
                                             "karpenter.sh/nodepool-hash": str(rng.getrandbits(60)),
                                             "node.alpha.kubernetes.io/ttl": "0",
                                             "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": {"providerID": f"aws:///{zone}/i-0{_hex(rng, 16)}",
                         "taints": [{"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}]},
                "status": {
                    "capacity": {**alloc, "cpu": "48", "memory": "195651976Ki"}, "allocatable": alloc,
                    "conditions": [{"type": t, "status": "False" if t != "Ready" else "True",
                                    "lastHeartbeatTime": _ts(rng, 27), "lastTransitionTime": _ts(rng, j),
                                    "reason": f"Kubelet{t}", "message": f"kubelet reports {t}"}
                                   for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")],
                    "addresses": [{"type": "InternalIP", "address": f"10.40.{j // 250}.{j % 250}"},
                                  {"type": "Hostname", "address": name}, {"type": "InternalDNS", "address": name}],
                    "nodeInfo": {"machineID": _hex(rng, 32), "systemUUID": _uid(rng), "bootID": _uid(rng),
                                 "kernelVersion": "6.1.119-129.201.amzn2023.x86_64", "osImage": "Amazon Linux 2023",
                                 "containerRuntimeVersion": "containerd://1.7.23", "kubeletVersion": "v1.31.4-eks",
                                 "kubeProxyVersion": "v1.31.4-eks", "operatingSystem": "linux",
                                 "architecture": "amd64"},
                    "images": [{"names": [f"{repo}@sha256:{_hex(rng)}", f"{repo}:{tag}"],
                                "sizeBytes": rng.randrange(10**9, 2 * 10**10)}
                               for repo, tag, _v, _o in ENGINE_IMAGES.values()],
                },
            }
            nodes.append(node)
        per_class[gpu] = nodes
    return per_class


def _managed(rng: random.Random, spec_part: dict, meta_part: dict, status: dict | None, manager: str) -> list:
    out = [{"manager": manager, "operation": "Update", "apiVersion": "v1", "time": _ts(rng, 3),
            "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": fields_v1(meta_part), "f:spec": fields_v1(spec_part)}}]
    if status is not None:
        out.append({"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": _ts(rng, 4),
                    "fieldsType": "FieldsV1", "fieldsV1": {"f:status": fields_v1(status)}, "subresource": "status"})
    return out


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def generate(out: str | Path, *, pods: int, specs: int, deployments: int | None = None, seed: int = 7) -> dict:
    """Write the cluster and the specs under ``out``; returns the counts (also in ``meta.json``)."""
    rng = random.Random(seed)
    out = Path(out)
    (out / "cluster").mkdir(parents=True, exist_ok=True)
    spec_dir, grouped_dir = out / "specs", out / "specs-grouped"
    for d in (spec_dir, grouped_dir):
        d.mkdir(parents=True, exist_ok=True)
        for old in d.glob("*.yaml"):
            old.unlink()
    groups_written: set[str] = set()
    n_deploy = deployments or max(pods // 10, specs, 1)
    if specs > n_deploy or pods < n_deploy:
        raise SystemExit(f"gen: need pods >= deployments >= specs (pods={pods}, deployments={n_deploy}, specs={specs})")
    fleet = _workloads(rng, n_deploy, pods, specs)
    nodes = _nodes(rng, pods)
    files = {k: open(out / "cluster" / f"{k}.jsonl", "wb") for k in
             ("Pod", "Deployment", "ReplicaSet", "Node", "HorizontalPodAutoscaler", "Service", "ConfigMap")}
    sizes = {k: 0 for k in files}
    counts = {k: 0 for k in files}

    def put(kind: str, obj: dict) -> None:
        data = _dumps(obj)
        files[kind].write(data + b"\n")
        sizes[kind] += len(data)
        counts[kind] += 1

    for gpu_nodes in nodes.values():
        for n in gpu_nodes:
            put("Node", n)
    namespaces = sorted({w.namespace for w in fleet})
    for ns in namespaces:
        put("ConfigMap", {"metadata": {"name": "serving-defaults", "namespace": ns, "uid": _uid(rng),
                                       "resourceVersion": "4242", "creationTimestamp": _ts(rng)},
                          "data": {"LOG_LEVEL": "info", "METRICS_ENABLED": "true", "TRACE_SAMPLE_RATE": "0.01"}})
    node_rr = {gpu: 0 for gpu in GPUS}
    for w in fleet:
        labels = _labels(w)
        repo, tag, _version, old_tag = ENGINE_IMAGES[w.engine]
        dtype = "bfloat16"
        if w.drift == "dtype":
            dtype = "float16"
        image_tag, digest = (old_tag, w.old_digest) if w.drift == "image" else (tag, w.digest)
        spec = _pod_spec(rng, w, image_tag=image_tag, digest=digest, dtype=dtype)
        templates = [(_hash(rng, 10), spec, digest, w.replicas)]
        if w.rollout:
            old_spec = _pod_spec(random.Random(w.index), w, image_tag=old_tag, digest=w.old_digest, dtype=dtype)
            old_n = w.replicas // 2
            templates = [(_hash(rng, 10), old_spec, w.old_digest, old_n), (templates[0][0], spec, digest,
                                                                           w.replicas - old_n)]
        d_uid = _uid(rng)
        d_meta = {"name": w.name, "namespace": w.namespace, "uid": d_uid, "resourceVersion": str(rng.randrange(10**7)),
                  "generation": 4 + len(templates), "creationTimestamp": _ts(rng, 1), "labels": labels,
                  "annotations": {"deployment.kubernetes.io/revision": str(len(templates) + 2),
                                  "meta.helm.sh/release-name": w.name, "meta.helm.sh/release-namespace": w.namespace}}
        d_spec = {"replicas": w.replicas, "selector": {"matchLabels": {"app": w.name}},
                  "template": {"metadata": {"labels": labels, "annotations": {
                      "prometheus.io/scrape": "true", "prometheus.io/port": "9090", "prometheus.io/path": "/metrics",
                      "checksum/config": _hex(rng)}}, "spec": spec},
                  "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1}},
                  "revisionHistoryLimit": 10, "progressDeadlineSeconds": 1800}
        if w.index % 2 == 0:
            # kubectl apply leaves the whole object in an annotation: realistic weight skewaudit must drop.
            d_meta["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = json.dumps(
                {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": w.name, "namespace": w.namespace,
                                                                             "labels": labels}, "spec": d_spec})
        d_status = {"observedGeneration": 4 + len(templates), "replicas": w.replicas, "updatedReplicas": templates[-1][3],
                    "readyReplicas": w.replicas, "availableReplicas": w.replicas,
                    "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": _ts(rng, 5),
                                    "lastTransitionTime": _ts(rng, 5), "reason": "MinimumReplicasAvailable",
                                    "message": "Deployment has minimum availability."},
                                   {"type": "Progressing", "status": "True", "lastUpdateTime": _ts(rng, 6),
                                    "lastTransitionTime": _ts(rng, 2), "reason": "NewReplicaSetAvailable",
                                    "message": f'ReplicaSet "{w.name}-{templates[-1][0]}" has successfully progressed.'}]}
        put("Deployment", {"metadata": {**d_meta, "managedFields": _managed(rng, d_spec, d_meta, None, "helm")},
                           "spec": d_spec, "status": d_status})
        for rev, (h, pspec, dig, n) in enumerate(templates, start=1):
            rs_name = f"{w.name}-{h}"
            rs_uid = _uid(rng)
            rs_labels = {**labels, "pod-template-hash": h}
            rs_meta = {"name": rs_name, "namespace": w.namespace, "uid": rs_uid, "resourceVersion": str(rng.randrange(10**7)),
                       "generation": 2, "creationTimestamp": _ts(rng, rev), "labels": rs_labels,
                       "annotations": {"deployment.kubernetes.io/desired-replicas": str(w.replicas),
                                       "deployment.kubernetes.io/max-replicas": str(w.replicas + 1),
                                       "deployment.kubernetes.io/revision": str(rev + 2)},
                       "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name,
                                            "uid": d_uid, "controller": True, "blockOwnerDeletion": True}]}
            rs_spec = {"replicas": n, "selector": {"matchLabels": {"app": w.name, "pod-template-hash": h}},
                       "template": {"metadata": {"labels": rs_labels}, "spec": pspec}}
            put("ReplicaSet", {"metadata": {**rs_meta, "managedFields": _managed(rng, rs_spec, rs_meta, None,
                                                                                  "kube-controller-manager")},
                               "spec": rs_spec, "status": {"replicas": n, "fullyLabeledReplicas": n, "readyReplicas": n,
                                                           "availableReplicas": n, "observedGeneration": 2}})
            p_annotations = {"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                             "prometheus.io/path": "/metrics", "checksum/config": _hex(rng),
                             "kubectl.kubernetes.io/default-container": w.engine,
                             "cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
            managed = None
            gpu = w.model[3]
            for _ in range(n):
                suffix = _hash(rng, 5)
                pod_name = f"{rs_name}-{suffix}"
                pool = nodes[gpu]
                node = pool[node_rr[gpu] % len(pool)]
                node_rr[gpu] += 1
                node_name = node["metadata"]["name"]
                ip = f"10.{rng.randrange(64, 127)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                api_vol = f"kube-api-access-{_hash(rng, 5)}"
                containers = []
                for c in pspec["containers"]:
                    c = dict(c)
                    c["volumeMounts"] = [*c.get("volumeMounts", ()), {
                        "name": api_vol, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]
                    containers.append(c)
                p_spec = {**pspec, "containers": containers, "nodeName": node_name,
                          "volumes": [*pspec["volumes"], {"name": api_vol, "projected": {"defaultMode": 420, "sources": [
                              {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                              {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                              {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
                                  "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}]}
                restarts = 1 if rng.random() < 0.03 else 0
                statuses = []
                for c in containers:
                    main = c["name"] == w.engine
                    image = c["image"].split("@")[0]
                    st = {"name": c["name"], "state": {"running": {"startedAt": _ts(rng, 9)}},
                          "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": _ts(rng, 8),
                                                       "finishedAt": _ts(rng, 9),
                                                       "containerID": "containerd://" + _hex(rng)}}
                          if main and restarts else {},
                          "ready": True, "restartCount": restarts if main else 0, "image": image,
                          "imageID": f"{image.rsplit(':', 1)[0]}@{dig if main else c['image'].split('@')[1]}",
                          "containerID": "containerd://" + _hex(rng), "started": True}
                    statuses.append(st)
                status = {
                    "phase": "Running",
                    "conditions": [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": _ts(rng, 9)}
                                   for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady",
                                             "PodScheduled")],
                    "hostIP": node["status"]["addresses"][0]["address"],
                    "hostIPs": [{"ip": node["status"]["addresses"][0]["address"]}],
                    "podIP": ip, "podIPs": [{"ip": ip}], "startTime": _ts(rng, 9),
                    "containerStatuses": statuses, "qosClass": "Burstable",
                }
                meta = {"name": pod_name, "generateName": f"{rs_name}-", "namespace": w.namespace, "uid": _uid(rng),
                        "resourceVersion": str(rng.randrange(10**7, 10**8)), "creationTimestamp": _ts(rng, 9),
                        "labels": rs_labels,
                        "annotations": {**p_annotations, "k8s.v1.cni.cncf.io/network-status": json.dumps(
                            [{"name": "aws-cni", "interface": "eth0", "ips": [ip], "mac": "02:%02x:%02x:%02x:%02x:%02x"
                              % tuple(rng.randrange(256) for _ in range(5)), "default": True, "dns": {}}], indent=4)},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name,
                                             "uid": rs_uid, "controller": True, "blockOwnerDeletion": True}]}
                if managed is None:
                    managed = _managed(rng, pspec, {k: meta[k] for k in ("generateName", "labels", "annotations",
                                                                          "ownerReferences")}, status,
                                       "kube-controller-manager")
                put("Pod", {"metadata": {**meta, "managedFields": managed}, "spec": p_spec, "status": status})
        gpus = w.model[4]
        min_r = max(1, w.replicas)
        max_r = min_r * 2 + (3 if w.drift == "hpa" else 0)
        metric = ({"type": "Pods", "pods": {"metric": {"name": "vllm:num_requests_waiting"},
                                            "target": {"type": "AverageValue", "averageValue": "10"}}}
                  if w.engine == "vllm" else
                  {"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization",
                                                                              "averageUtilization": 80}}})
        put("HorizontalPodAutoscaler", {
            "metadata": {"name": w.name, "namespace": w.namespace, "uid": _uid(rng), "labels": labels,
                         "resourceVersion": str(rng.randrange(10**7)), "creationTimestamp": _ts(rng, 1)},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": w.name},
                     "minReplicas": min_r, "maxReplicas": max_r, "metrics": [metric],
                     "behavior": {"scaleDown": {"stabilizationWindowSeconds": 600,
                                                "policies": [{"type": "Pods", "value": 1, "periodSeconds": 300}]}}},
            "status": {"currentReplicas": w.replicas, "desiredReplicas": w.replicas,
                       "currentMetrics": [metric | {"current": {"averageValue": "3"}}],
                       "conditions": [{"type": "AbleToScale", "status": "True", "lastTransitionTime": _ts(rng, 2),
                                       "reason": "ReadyForNewScale", "message": "recommended size matches current size"}]}})
        port = ENGINE_PORT[w.engine]
        put("Service", {"metadata": {"name": w.name, "namespace": w.namespace, "uid": _uid(rng), "labels": labels,
                                     "resourceVersion": str(rng.randrange(10**7)), "creationTimestamp": _ts(rng, 1)},
                        "spec": {"type": "ClusterIP", "selector": {"app": w.name},
                                 "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
                                           {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}],
                                 "clusterIP": f"172.20.{w.index // 250}.{w.index % 250 + 1}",
                                 "clusterIPs": [f"172.20.{w.index // 250}.{w.index % 250 + 1}"],
                                 "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                                 "sessionAffinity": "None", "internalTrafficPolicy": "Cluster"},
                        "status": {"loadBalancer": {}}})
        if w.index < specs:
            (spec_dir / f"{w.index:04d}-{w.name}.yaml").write_text(_spec_yaml(w, gpus, min_r, port), encoding="utf-8")
            if w.group not in groups_written:
                groups_written.add(w.group)
                (grouped_dir / f"{w.group}.yaml").write_text(_spec_yaml(w, gpus, min_r, port, grouped=True),
                                                             encoding="utf-8")
    for f in files.values():
        f.close()
    meta = {"pods": counts["Pod"], "specs": specs, "deployments": n_deploy, "nodes": counts["Node"],
            "namespaces": len(namespaces), "counts": counts, "bytes": sizes,
            "pod_kb_avg": round(sizes["Pod"] / max(1, counts["Pod"]) / 1024, 1),
            "drifted": sum(1 for w in fleet if w.index < specs and (w.drift or w.rollout)),
            "grouped_specs": len(groups_written), "seed": seed}
    (out / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return meta


def _spec_yaml(w: Workload, gpus: int, replicas: int, port: int, grouped: bool = False) -> str:
    """The ModelSpec of one workload: the intent, whatever the cluster runs now.
    ``grouped``: the spec of ``w``'s whole group, targeted by label selector instead of by name."""
    short, model_id, family, gpu, tp, max_len = w.model
    repo, tag, version, _old = ENGINE_IMAGES[w.engine]
    product = GPUS[gpu][0]
    metric = "vllm:num_requests_waiting\n      targetValue: 10" if w.engine == "vllm" else 'cpu\n      targetValue: "80%"'
    vllm_only = ("      maxNumSeqs: 256\n      gpuMemoryUtilization: \"0.90 ± 0.02\"\n      enablePrefixCaching: true\n"
                 "      args:\n        - --disable-log-requests\n") if w.engine == "vllm" else ""
    served = f"      servedModelName: {short}-instruct\n" if w.engine != "tgi" else ""
    return f"""\
# Generated by benchmarks/gen.py (fleet benchmark): {f"workload group {w.group}" if grouped else f"workload {w.index}"} of the synthetic cluster.
apiVersion: skewaudit.io/v1alpha1
kind: ModelSpec
metadata:
  name: {f"group-{w.group}" if grouped else w.name}
  labels:
    team: ml-platform
spec:
  identity:
    model:
      id: {model_id}
      family: {family}
      task: chat
      framework: {w.engine}
      precision: bf16
      revision: {w.revision}
{served}  runtime:
    accelerator:
      vendor: nvidia
      type: {gpu}
      count: {gpus}
    engine:
      name: {w.engine}
      version: "{version}"
      image: {repo}:{tag}@{w.digest}
      dtype: bfloat16
      maxModelLen: {max_len}
      tensorParallelSize: {tp}
{vllm_only}    gpu:
      class: {gpu}
      count: {gpus}
      driverVersion: ">=550"
  operations:
    serving:
      protocol: http
      port: {port}
      readinessProbe:
        path: /health
    scaling:
      minReplicas: {replicas}
      maxReplicas: {replicas * 2}
      metric: {metric}
    orchestration:
      requests:
        nvidia.com/gpu: "{gpus}"
      limits:
        nvidia.com/gpu: "{gpus}"
      nodeSelector:
        nvidia.com/gpu.product: {product}
      tolerations:
        - key: nvidia.com/gpu
          operator: Exists
          effect: NoSchedule
  target:
    namespace: {w.namespace}
    kind: Deployment
{f"    selector:{chr(10)}      {GROUP_LABEL}: {w.group}" if grouped else f"    name: {w.name}"}
    container: {w.engine}
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="directory to write cluster/, specs/ and meta.json into")
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--specs", type=int, default=100)
    ap.add_argument("--deployments", type=int, default=None, help="default: max(pods // 10, specs)")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args(argv)
    meta = generate(a.out, pods=a.pods, specs=a.specs, deployments=a.deployments, seed=a.seed)
    json.dump(meta, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
