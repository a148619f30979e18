"""The shared join (collect.build, .containers, .kserve): Kubernetes semantics, KServe, selection, sharing."""

from __future__ import annotations

import msgspec
import pytest

from skewaudit.collect import build as b
from skewaudit.collect import containers as ct
from skewaudit.collect import k8s_types as k
from skewaudit.collect import kserve
from skewaudit.collect.quantities import canonical_quantities
from skewaudit.collect.request import Target


def conv(doc: dict, typ: type):
    return msgspec.convert(doc, typ, strict=False)


def container(**kw) -> k.Container:
    return conv({"name": "c", "image": "vllm/vllm-openai:v0.10.0", **kw}, k.Container)


def obs(c: k.Container, cms: ct.ConfigMaps | None = None, ns: str = "ml"):
    return ct.container_obs(ct.plain_source(c, "Deployment/ml/x", "spec.template.spec.containers[0]"), ns,
                            cms or ct.ConfigMaps())


@pytest.mark.parametrize("ref, repo, tag, digest", [
    ("vllm/vllm-openai", "vllm/vllm-openai", None, None),
    ("vllm/vllm-openai:v0.10.0", "vllm/vllm-openai", "v0.10.0", None),
    ("registry.local:5000/team/vllm:v1@sha256:abc", "registry.local:5000/team/vllm", "v1", "sha256:abc"),
    ("registry.local:5000/team/vllm", "registry.local:5000/team/vllm", None, None),
    ("vllm/vllm-openai@sha256:def", "vllm/vllm-openai", None, "sha256:def"),
])
def test_split_image(ref: str, repo: str, tag: str | None, digest: str | None) -> None:
    img = ct.split_image(ref)
    assert (img.ref, img.repository, img.tag, img.digest) == (ref, repo, tag, digest)


@pytest.mark.parametrize("image_id, want", [
    ("docker-pullable://vllm/vllm-openai@sha256:aa", "sha256:aa"),
    ("docker.io/vllm/vllm-openai@sha256:bb", "sha256:bb"),
    ("sha256:cc", "sha256:cc"),
    ("", None),
    ("docker://somethingwithoutdigest", None),
])
def test_resolved_digest(image_id: str, want: str | None) -> None:
    assert ct.resolved_digest(image_id) == want


def test_env_follows_kubelet_semantics() -> None:
    cms = ct.ConfigMaps()
    cms.add(conv({"metadata": {"name": "cfg", "namespace": "ml"}, "data": {"DTYPE": "half", "PORT": "9000"}},
                 k.ConfigMap))
    c = container(
        envFrom=[{"configMapRef": {"name": "cfg"}, "prefix": "VLLM_"}, {"secretRef": {"name": "creds"}}],
        env=[{"name": "BASE", "value": "/models"},
             {"name": "MODEL", "value": "$(BASE)/llama-$(LATER)"},     # LATER is defined after: stays literal
             {"name": "ESCAPED", "value": "$$(BASE)"},
             {"name": "LATER", "value": "x"},
             {"name": "VLLM_PORT", "value": "8000"},                   # env wins over envFrom
             {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
             {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
             {"name": "HF_TOKEN", "value": "hf_abcdefghijklmnop123"},
             {"name": "URL", "value": "https://$(HF_TOKEN)@hub"}],
        args=["--model", "$(MODEL)", "--port", "$(VLLM_PORT)", "--dtype", "$(VLLM_DTYPE)"])
    c_obs = obs(c, cms)
    env = {e.name: e for e in c_obs.env}
    assert env["MODEL"].value == "/models/llama-$(LATER)"
    assert env["ESCAPED"].value == "$(BASE)"
    assert env["VLLM_DTYPE"].value == "half" and env["VLLM_DTYPE"].source == "configmap"
    assert env["VLLM_DTYPE"].ref == "configmap cfg/DTYPE"
    assert env["VLLM_DTYPE"].path == "spec.template.spec.containers[0].envFrom[0]"
    assert env["VLLM_PORT"].value == "8000" and env["VLLM_PORT"].source == "literal"
    assert (env["POD_IP"].source, env["POD_IP"].value, env["POD_IP"].ref) == ("field", None, "field status.podIP")
    assert (env["TOKEN"].source, env["TOKEN"].value, env["TOKEN"].ref) == ("secret", None, "secret hf/token")
    assert (env["*"].source, env["*"].ref) == ("secret", "secret creds (all keys)")
    assert env["HF_TOKEN"].value.startswith("<redacted:")
    assert "hf_abcdefghijklmnop123" not in msgspec.json.encode(c_obs).decode()
    f = c_obs.engine.fields
    assert f["dtype"].value == "half" and f["port"].value == 8000
    assert list(env)[-1] == "URL"   # order shows precedence: envFrom first, then env


def test_missing_configmap_once_and_optional_is_silent() -> None:
    cms = ct.ConfigMaps()
    c = container(env=[{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "a"}}},
                       {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "gone", "key": "b"}}},
                       {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "opt", "key": "c", "optional": True}}}])
    env = {e.name: e for e in obs(c, cms).env}
    assert env["A"].source == env["C"].source == "unresolved"
    assert [(i.scope, i.kind) for i in cms.issues] == [("ConfigMap/ml/gone", "not-found")]


def test_secret_flags_redacted_in_command_args_and_argv() -> None:
    c = container(command=["/bin/sh", "-c"],
                  args=["exec vllm serve m --api-key sk-abcdefghijklmnopqrstuv --hf-token=hf_zyxwvutsrqponm123"])
    text = msgspec.json.encode(obs(c)).decode()
    assert "sk-abcdefghijklmnopqrstuv" not in text and "hf_zyxwvutsrqponm123" not in text
    c2 = container(args=["--model", "m", "--api-key=plainvalue"])
    o = obs(c2)
    assert o.args[2].startswith("--api-key=<redacted:") and "plainvalue" not in msgspec.json.encode(o).decode()


def test_node_affinity_and_selectors() -> None:
    aff = conv({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["a100", "h100"]},
                              {"key": "spot", "operator": "DoesNotExist"}]},
        {"matchExpressions": [{"key": "gpu", "operator": "In", "values": ["h100", "l4"]}]}]}}}, k.Affinity)
    assert ct.node_affinity(aff) == {"gpu": ["a100", "h100", "l4"], "spot": ["DoesNotExist"]}
    sel = conv({"matchLabels": {"app": "x"}, "matchExpressions": [
        {"key": "tier", "operator": "In", "values": ["a", "b"]}, {"key": "canary", "operator": "DoesNotExist"}]},
        k.LabelSelector)
    assert b.selector_str(sel) == "app=x,tier in (a,b),!canary"   # the API's labelSelector syntax


def test_pods_share_container_facts() -> None:
    inv = b.Inventory()
    dep = conv({"metadata": {"name": "web", "namespace": "ml"},
                "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.10.0",
                                             "command": ["vllm", "serve", "org/m", "--dtype", "half"],
                                             "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}, k.Deployment)
    canonical_quantities(dep.spec.template.spec)
    inv.deployments.append(dep)
    for i in range(50):
        inv.pods.add(conv({"metadata": {"name": f"web-abc-{i:02d}", "namespace": "ml",
                                        "labels": {"app": "web", "pod-template-hash": "abc"},
                                        "ownerReferences": [{"kind": "ReplicaSet", "name": "web-abc", "controller": True}]},
                           "spec": {"nodeName": "n1", "containers": [msgspec.to_builtins(dep.spec.template.spec.containers[0])]},
                           "status": {"phase": "Running", "containerStatuses": [
                               {"name": "vllm", "imageID": "x@sha256:1", "ready": True, "restartCount": i % 2}]}},
                          k.Pod))
    inv.pods_listed = True
    assert len(inv.pods.specs) == 1                      # one decoded spec for 50 pods
    sel, issues = b.select(inv, [Target(namespace="ml")])
    (w,), nodes, _ = b.build(inv, sel)
    assert len(w.pods) == 50 and all(p.current for p in w.pods) and w.current_revision == "abc"
    distinct = {id(p.containers[0]) for p in w.pods}
    assert len(distinct) == 2                            # shared per (spec, status): restarts 0 and 1
    dtype = w.pods[7].containers[0].engine.fields["dtype"]
    assert dtype.value == "half"
    assert (dtype.prov.object, dtype.prov.path) == ("Pod/ml/web-abc-00", "spec.containers[0].command[4]")
    assert w.template.containers[0].engine.fields["dtype"].prov.path == "spec.template.spec.containers[0].command[4]"
    assert w.pods[1].containers[0].restart_count == 1 and w.pods[1].containers[0].image.resolved_digest == "sha256:1"


def test_open_target_selects_serving_workloads_only() -> None:
    inv = b.Inventory()

    def dep(name: str, c: dict, owner: str | None = None) -> k.Deployment:
        md = {"name": name, "namespace": "ml"}
        if owner:
            md["ownerReferences"] = [{"kind": "InferenceService", "name": owner, "controller": True}]
        return conv({"metadata": md, "spec": {"template": {"spec": {"containers": [c]}}}}, k.Deployment)

    inv.deployments += [
        dep("redis", {"name": "redis", "image": "redis:7"}),
        dep("trainer", {"name": "t", "image": "pytorch/pytorch", "resources": {"limits": {"nvidia.com/gpu": "8"}}}),
        dep("tgi", {"name": "t", "image": "ghcr.io/huggingface/text-generation-inference:2.4.1"}),
        dep("sh", {"name": "s", "image": "python:3.11", "command": ["sh", "-c", "exec vllm serve m"]}),
        dep("q-predictor", {"name": "kserve-container", "image": "kserve/huggingfaceserver:v0.14.0"}, owner="q"),
    ]
    inv.isvcs.append(conv({"metadata": {"name": "q", "namespace": "ml"}, "spec": {"predictor": {"model": {
        "modelFormat": {"name": "huggingface"}}}}}, k.InferenceService))
    sel, issues = b.select(inv, [Target(namespace="ml")])
    assert [c.name for c in sel] == ["sh", "tgi", "trainer", "q"]
    sel, issues = b.select(inv, [Target(namespace="ml", name="redis")])   # named: always taken
    assert [c.name for c in sel] == ["redis"]
    sel, issues = b.select(inv, [Target(kind="CronJob", name="x"), Target(selector={"app": "nope"})])
    assert sel == [] and [(i.kind, i.area) for i in issues] == [("unsupported", "workload"), ("not-found", "workload")]
    assert "no Workload in any namespace has labels app=nope" in issues[1].message


def runtime(name: str, kind: str = "ClusterServingRuntime", ns: str = "", fmt: str = "huggingface",
            auto: bool = True, prio: int | None = None, disabled: bool = False, **c) -> k.ServingRuntime:
    rt = conv({"metadata": {"name": name, "namespace": ns}, "spec": {
        "disabled": disabled, "supportedModelFormats": [{"name": fmt, "autoSelect": auto, "priority": prio}],
        "containers": [{"name": "kserve-container", "image": f"img/{name}:v1", **c}]}}, k.ServingRuntime)
    rt.kind = kind
    return rt


def isvc(**model) -> k.InferenceService:
    return conv({"metadata": {"name": "q", "namespace": "ml"},
                 "spec": {"predictor": {"model": {"modelFormat": {"name": "huggingface"}, **model}}}},
                k.InferenceService)


def test_kserve_runtime_selection() -> None:
    rts = [runtime("low", prio=1), runtime("high", prio=2), runtime("off", prio=9, disabled=True),
           runtime("other", fmt="sklearn", prio=9), runtime("manual", auto=False, prio=9)]
    assert kserve.pick_runtime(isvc(), rts)[0].metadata.name == "high"
    ns_rt = runtime("ns-one", kind="ServingRuntime", ns="ml", prio=0)
    assert kserve.pick_runtime(isvc(), rts + [ns_rt])[0].metadata.name == "ns-one"     # namespaced first
    assert kserve.pick_runtime(isvc(runtime="manual"), rts)[0].metadata.name == "manual"  # named: no autoSelect needed
    rt, why = kserve.pick_runtime(isvc(runtime="nope"), rts)
    assert rt is None and "'nope'" in why
    rt, why = kserve.pick_runtime(isvc(modelFormat={"name": "onnx"}), rts)
    assert rt is None and "modelFormat 'onnx'" in why


def test_kserve_container_merge() -> None:
    rt = runtime("vllm", prio=1, command=["python", "-m", "vllm.entrypoints.openai.api_server"],
                 args=["--port=8080", "--served-model-name={{.Name}}", "--model=/mnt/models"],
                 env=[{"name": "HF_HOME", "value": "/tmp"}, {"name": "MODE", "value": "runtime"}],
                 resources={"limits": {"cpu": "1", "memory": "2Gi"}})
    inv = b.Inventory(runtimes=[rt])
    inv.isvcs.append(isvc(runtimeVersion="v2", storageUri="s3://bucket/m", args=["--dtype=half"],
                          env=[{"name": "MODE", "value": "isvc"}], resources={"limits": {"nvidia.com/gpu": "2"}}))
    sel, _ = b.select(inv, [Target()])
    (w,), _, issues = b.build(inv, sel)
    c = w.template.containers[0]
    assert c.image.ref == "img/vllm:v2"                                     # runtimeVersion is the tag
    assert c.argv[-4:] == ["--port=8080", "--served-model-name=q", "--model=/mnt/models", "--dtype=half"]
    assert {e.name: e.value for e in c.env} == {"HF_HOME": "/tmp", "MODE": "isvc"}
    assert c.limits == {"cpu": "1", "memory": "2Gi", "nvidia.com/gpu": "2"}
    f = c.engine.fields
    assert f["served_model_name"].prov.path == "ClusterServingRuntime/vllm:spec.containers[0].args[1]"
    assert f["dtype"].prov.path == "spec.predictor.model.args[0]"
    assert f["model"].value == "/mnt/models" and "storageUri s3://bucket/m" in f["model"].note
    assert w.extra["runtime"].note == "auto-selected for modelFormat huggingface"
    assert w.extra["deploymentMode"].value is None and w.extra["deploymentMode"].prov.source == "default"


def test_hpa_metrics_are_normalized() -> None:
    h = conv({"metadata": {"name": "h", "namespace": "ml"}, "spec": {
        "scaleTargetRef": {"kind": "Deployment", "name": "x"}, "maxReplicas": 4, "metrics": [
            {"type": "Pods", "pods": {"metric": {"name": "vllm:num_requests_waiting"},
                                      "target": {"type": "AverageValue", "averageValue": "10"}}},
            {"type": "External", "external": {"metric": {"name": "queue"}, "target": {"type": "Value", "value": 5}}},
            {"type": "ContainerResource", "containerResource": {"name": "memory", "container": "vllm",
                                                                "target": {"type": "Utilization", "averageUtilization": 90}}}]}},
             k.HorizontalPodAutoscaler)
    o = b.hpa_obs(h)
    assert o.metrics == ["Pods/vllm:num_requests_waiting AverageValue=10", "External/queue Value=5",
                         "ContainerResource/memory/vllm Utilization=90"]
    assert (o.min_replicas, o.max_replicas, o.target) == (1, 4, "Deployment/x")
    empty = conv({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "x"}}},
                 k.HorizontalPodAutoscaler)
    assert b.hpa_obs(empty).metrics == ["Resource/cpu Utilization=80"]   # autoscaling/v2 default


def test_node_obs_keeps_gpu_labels_only() -> None:
    n = conv({"metadata": {"name": "n", "labels": {"nvidia.com/gpu.product": "NVIDIA-L4", "kubernetes.io/os": "linux",
                                                   "cloud.google.com/gke-accelerator": "nvidia-l4"}},
              "status": {"allocatable": {"nvidia.com/gpu": 2, "cpu": "8"}}}, k.Node)
    o = b.node_obs(n)
    assert o.labels == {"nvidia.com/gpu.product": "NVIDIA-L4", "cloud.google.com/gke-accelerator": "nvidia-l4"}
    assert o.allocatable == {"nvidia.com/gpu": "2", "cpu": "8"}


def _template_inputs():
    """Deployments in two namespaces whose templates repeat the same containers: one reads a
    ConfigMap env var and a ConfigMap config file, one carries its own object's name in an env
    value, one references a key its ConfigMap lacks (an issue on every build)."""
    maps = [({"name": "cfg", "namespace": ns}, {"DTYPE": dtype, "config.yaml": f"max-model-len: {n}\n"})
            for ns, dtype, n in (("ml", "half", 4096), ("other", "float16", 8192))]
    serving = {"name": "vllm", "image": "vllm/vllm-openai:v0.10.0",
               "args": ["--model", "org/m", "--dtype", "$(DTYPE)", "--config", "/etc/vllm/config.yaml"],
               "env": [{"name": "DTYPE", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "DTYPE"}}},
                       {"name": "OWNER", "value": "Deployment/ml/a"}],
               "volumeMounts": [{"name": "conf", "mountPath": "/etc/vllm"}],
               "resources": {"limits": {"nvidia.com/gpu": 1}}}
    sidecar = {"name": "proxy", "image": "envoy:1",
               "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "NOPE"}}}]}
    init = {"name": "fetch", "image": "busybox", "command": ["sh", "-c", "true"]}
    objs = []
    for name, ns in (("a", "ml"), ("b", "ml"), ("c", "other"), ("d", "ml"), ("e", "other")):
        d = conv({"metadata": {"name": name, "namespace": ns}, "spec": {"template": {"spec": {
            "containers": [serving, sidecar], "initContainers": [init],
            "volumes": [{"name": "conf", "configMap": {"name": "cfg"}}]}}}}, k.Deployment)
        canonical_quantities(d.spec.template.spec)
        objs.append((f"Deployment/{ns}/{name}", ns, d.spec.template.spec))
    return maps, objs


def test_template_containers_are_shared_only_where_building_them_again_gives_the_same_facts() -> None:
    maps, objs = _template_inputs()

    def fresh_maps() -> ct.ConfigMaps:
        cms = ct.ConfigMaps()
        for md, data in maps:
            cms.add(conv({"metadata": md, "data": data}, k.ConfigMap))
        return cms

    shared_cms, alone_cms = fresh_maps(), fresh_maps()
    base = "spec.template.spec"
    for obj, ns, spec in objs:
        shared = ct.template_obs(spec, {}, obj, base, ns, shared_cms)
        alone = [ct.container_obs(ct.plain_source(c, obj, f"{base}.{where}[{i}]"), ns, alone_cms)
                 for where, cs in (("containers", spec.containers), ("initContainers", spec.init_containers))
                 for i, c in enumerate(cs)]
        # what a report would show of this object: identical to building each container on its own
        assert [msgspec.json.encode(c) for c in (*shared.containers, *shared.init_containers)] == \
            [msgspec.json.encode(c) for c in alone]
    assert shared_cms.issues == alone_cms.issues and len(shared_cms.issues) == 5   # the missing key, per object
    # shared where provable: serving per namespace (not for `a`, whose name its env carries) and the init
    # container per namespace; the sidecar never (its build raises an issue naming the object)
    assert sorted((key[1], key[2]) for key in shared_cms.facts) == [
        ("ml", f"{base}.containers[0]"), ("ml", f"{base}.initContainers[0]"),
        ("other", f"{base}.containers[0]"), ("other", f"{base}.initContainers[0]")]
    d = ct.template_obs(objs[3][2], {}, "Deployment/ml/d", base, "ml", shared_cms).containers[0].engine.fields
    assert (d["dtype"].value, d["dtype"].prov.object) == ("half", "Deployment/ml/d")
    assert d["max_model_len"].value == 4096 and d["max_model_len"].prov.object == "ConfigMap/ml/cfg"
