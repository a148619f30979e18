"""The raw-parse floor: fetch the pages a fleet audit reads and decode only the fields it needs.

Nothing else: one keep-alive ``http.client`` connection, the same paged list
calls ``skewaudit diff -A`` makes for Deployment targets (Deployments,
HorizontalPodAutoscalers, Services, Pods, ReplicaSets, Nodes, ConfigMaps;
``limit=500`` + ``continue``), and each page decoded by ``msgspec`` straight
into typed structs that declare only the fields skewaudit reads, the fastest
way to turn these bytes into Python objects (typed partial decoding:
everything undeclared is skipped in C). No join, no checks, no report. What
the benchmark compares skewaudit's whole process against.

The structs are this script's own, so the floor cannot grow when skewaudit's
do. Prints ``<kind> <count>`` per resource.

``python benchmarks/floor.py --server http://127.0.0.1:PORT``
(or ``--kubeconfig FILE``: the current context's server).
"""

from __future__ import annotations

import argparse
import http.client
import sys
from typing import Any, Union
from urllib.parse import urlencode, urlsplit

import msgspec

Quantity = Union[str, int, float]
IntOrStr = Union[int, str]


class S(msgspec.Struct, rename="camel", gc=False):
    """Base: API field names; undeclared fields are skipped."""


class Owner(S):
    kind: str = ""
    name: str = ""
    controller: bool = False


class Meta(S):
    name: str = ""
    namespace: str = ""
    labels: dict[str, str] = {}
    owner_references: list[Owner] = []


class WMeta(Meta):
    annotations: dict[str, str] = {}


class ListMeta(S):
    continue_: str = msgspec.field(default="", name="continue")


class KeyRef(S):
    name: str = ""
    key: str = ""
    optional: Union[bool, None] = None


class FieldRef(S):
    field_path: str = ""


class ResRef(S):
    resource: str = ""


class EnvSrc(S):
    config_map_key_ref: Union[KeyRef, None] = None
    secret_key_ref: Union[KeyRef, None] = None
    field_ref: Union[FieldRef, None] = None
    resource_field_ref: Union[ResRef, None] = None


class Env(S):
    name: str = ""
    value: Union[str, None] = None
    value_from: Union[EnvSrc, None] = None


class NameRef(S):
    name: str = ""
    optional: Union[bool, None] = None


class EnvFrom(S):
    prefix: str = ""
    config_map_ref: Union[NameRef, None] = None
    secret_ref: Union[NameRef, None] = None


class Resources(S):
    limits: dict[str, Quantity] = {}
    requests: dict[str, Quantity] = {}


class CPort(S):
    container_port: int = 0
    name: Union[str, None] = None
    protocol: str = "TCP"


class Action(S):
    path: Union[str, None] = None
    port: Union[IntOrStr, None] = None


class Probe(S):
    http_get: Union[Action, None] = None
    tcp_socket: Union[Action, None] = None
    period_seconds: Union[int, None] = None
    timeout_seconds: Union[int, None] = None
    initial_delay_seconds: Union[int, None] = None
    failure_threshold: Union[int, None] = None


class Container(S):
    name: str = ""
    image: str = ""
    command: Union[list[str], None] = None
    args: Union[list[str], None] = None
    env: list[Env] = []
    env_from: list[EnvFrom] = []
    resources: Union[Resources, None] = None
    ports: list[CPort] = []
    readiness_probe: Union[Probe, None] = None
    liveness_probe: Union[Probe, None] = None
    startup_probe: Union[Probe, None] = None


class Req(S):
    key: str = ""
    operator: str = ""
    values: list[str] = []


class Term(S):
    match_expressions: list[Req] = []


class NodeSel(S):
    node_selector_terms: list[Term] = []


class NodeAff(S):
    required_during_scheduling_ignored_during_execution: Union[NodeSel, None] = None


class Affinity(S):
    node_affinity: Union[NodeAff, None] = None


class PodSpec(S):
    containers: list[Container] = []
    init_containers: list[Container] = []
    node_selector: dict[str, str] = {}
    affinity: Union[Affinity, None] = None
    tolerations: list[dict[str, Any]] = []
    runtime_class_name: Union[str, None] = None
    service_account_name: Union[str, None] = None
    node_name: Union[str, None] = None


class CStatus(S):
    name: str = ""
    image_id: str = msgspec.field(default="", name="imageID")
    ready: Union[bool, None] = None
    restart_count: Union[int, None] = None


class PodStatus(S):
    phase: Union[str, None] = None
    container_statuses: list[CStatus] = []


class Pod(S):
    metadata: Meta = msgspec.field(default_factory=Meta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)
    status: Union[PodStatus, None] = None


class Selector(S):
    match_labels: dict[str, str] = {}
    match_expressions: list[Req] = []


class TemplateMeta(S):
    labels: dict[str, str] = {}


class Template(S):
    metadata: TemplateMeta = msgspec.field(default_factory=TemplateMeta)
    spec: PodSpec = msgspec.field(default_factory=PodSpec)


class WStatus(S):
    replicas: Union[int, None] = None


class DeploySpec(S):
    replicas: Union[int, None] = None
    selector: Union[Selector, None] = None
    template: Template = msgspec.field(default_factory=Template)


class Deployment(S):
    metadata: WMeta = msgspec.field(default_factory=WMeta)
    spec: DeploySpec = msgspec.field(default_factory=DeploySpec)
    status: Union[WStatus, None] = None


class RSSpec(S):
    replicas: Union[int, None] = None


class ReplicaSet(S):
    metadata: WMeta = msgspec.field(default_factory=WMeta)
    spec: RSSpec = msgspec.field(default_factory=RSSpec)
    status: Union[WStatus, None] = None


class NodeStatus(S):
    allocatable: dict[str, Quantity] = {}
    capacity: dict[str, Quantity] = {}


class Node(S):
    metadata: Meta = msgspec.field(default_factory=Meta)
    status: Union[NodeStatus, None] = None


class Target(S):
    type: str = ""
    average_utilization: Union[int, None] = None
    average_value: Union[Quantity, None] = None
    value: Union[Quantity, None] = None


class MetricId(S):
    name: str = ""


class MetricSrc(S):
    name: str = ""
    metric: Union[MetricId, None] = None
    target: Union[Target, None] = None


class Metric(S):
    type: str = ""
    resource: Union[MetricSrc, None] = None
    pods: Union[MetricSrc, None] = None
    external: Union[MetricSrc, None] = None


class ScaleRef(S):
    kind: str = ""
    name: str = ""


class HPASpec(S):
    scale_target_ref: ScaleRef = msgspec.field(default_factory=ScaleRef)
    min_replicas: Union[int, None] = None
    max_replicas: Union[int, None] = None
    metrics: list[Metric] = []


class HPA(S):
    metadata: Meta = msgspec.field(default_factory=Meta)
    spec: HPASpec = msgspec.field(default_factory=HPASpec)


class SPort(S):
    port: int = 0
    target_port: Union[IntOrStr, None] = None
    name: Union[str, None] = None


class SvcSpec(S):
    type: str = "ClusterIP"
    selector: dict[str, str] = {}
    ports: list[SPort] = []


class Service(S):
    metadata: WMeta = msgspec.field(default_factory=WMeta)
    spec: SvcSpec = msgspec.field(default_factory=SvcSpec)


class ConfigMap(S):
    metadata: Meta = msgspec.field(default_factory=Meta)
    data: dict[str, str] = {}


def _list_of(item: type) -> type:
    return msgspec.defstruct(f"{item.__name__}List", [("metadata", ListMeta, msgspec.field(default_factory=ListMeta)),
                                                      ("items", list[item], [])], rename="camel", gc=False)


# What `skewaudit diff -A` lists for Deployment targets, in its order.
LISTS = [
    ("deployments", "/apis/apps/v1/deployments", Deployment),
    ("horizontalpodautoscalers", "/apis/autoscaling/v2/horizontalpodautoscalers", HPA),
    ("services", "/api/v1/services", Service),
    ("pods", "/api/v1/pods", Pod),
    ("replicasets", "/apis/apps/v1/replicasets", ReplicaSet),
    ("nodes", "/api/v1/nodes", Node),
    ("configmaps", "/api/v1/configmaps", ConfigMap),
]


def fetch_all(server: str, page: int = 500) -> dict[str, int]:
    parts = urlsplit(server)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=60)
    counts: dict[str, int] = {}
    for name, path, item in LISTS:
        decoder = msgspec.json.Decoder(_list_of(item))
        token, n = "", 0
        while True:
            q = {"limit": str(page), **({"continue": token} if token else {})}
            conn.request("GET", f"{path}?{urlencode(q)}", headers={"Accept": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise SystemExit(f"floor: GET {path}: {resp.status} {data[:200]!r}")
            lst = decoder.decode(data)
            n += len(lst.items)
            token = lst.metadata.continue_
            if not token:
                break
        counts[name] = n
    conn.close()
    return counts


def _server_from_kubeconfig(path: str) -> str:
    import yaml

    with open(path, encoding="utf-8") as fh:
        cfg = yaml.safe_load(fh)
    ctx = next(c["context"] for c in cfg["contexts"] if c["name"] == cfg["current-context"])
    return next(c["cluster"]["server"] for c in cfg["clusters"] if c["name"] == ctx["cluster"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--server", help="API server URL (http only)")
    g.add_argument("--kubeconfig", help="read the server URL of the current context from this kubeconfig")
    a = ap.parse_args(argv)
    server = a.server or _server_from_kubeconfig(a.kubeconfig)
    for name, n in fetch_all(server).items():
        sys.stdout.write(f"{name} {n}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
