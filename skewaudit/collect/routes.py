"""Routes in front of a model server: Gateway API ``HTTPRoute``, Ingress-NGINX ``Ingress``,
Istio ``VirtualService``; their timeouts, retries and body limits, attributed to the Service
they route to.

An LLM request can stream for minutes: the proxy in front of the engine often cuts it
first. Each route that sends traffic to a Service becomes a
:class:`~skewaudit.model.observed.RouteObs` on that Service, with facts in the serving
spec's terms (seconds, attempts, bytes) and the exact field they were read from:

* ``HTTPRoute`` (``gateway.networking.k8s.io``): per rule with a ``backendRef`` to the
  Service, ``timeouts.request`` (-> ``timeoutSeconds``) and ``timeouts.backendRequest``
  (-> ``backendTimeoutSeconds``); Gateway API durations (``10s``, ``1m30s``, ``500ms``);
  ``0s`` disables the timeout. Unset: implementation-specific, so unverifiable.
* ``Ingress`` served by ingress-nginx (``ingressClassName: nginx``, or the old
  ``kubernetes.io/ingress.class`` annotation): ``nginx.ingress.kubernetes.io/
  proxy-read-timeout`` (seconds, unitless; default 60) and ``proxy-body-size`` (nginx
  sizes: ``8m`` = 8 MiB, ``0`` = unlimited; default ``1m``). Another controller's Ingress
  says nothing skewaudit can read: no facts.
* ``VirtualService`` (``networking.istio.io``): per ``http`` route whose destination host
  is the Service (``svc``, ``svc.ns``, ``svc.ns.svc.cluster.local``), ``timeout`` (unset:
  Istio's default, no timeout, reported as 0) and ``retries.attempts`` (unset: Istio's
  default 2).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from skewaudit.collect import crdkit
from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import _obj
from skewaudit.collect.kinds import ExtKind
from skewaudit.model.observed import Fact, Prov, RouteObs, SourceKind

NGINX = "nginx.ingress.kubernetes.io/"
NGINX_READ_TIMEOUT_DEFAULT = 60
NGINX_BODY_SIZE_DEFAULT = "1m"
ISTIO_RETRIES_DEFAULT = 2


# --- Gateway API -----------------------------------------------------------------------


class BackendRef(k._K):
    name: str = ""
    namespace: str | None = None
    kind: str | None = None
    group: str | None = None
    port: int | None = None


class HTTPRouteTimeouts(k._K):
    request: str | None = None
    backend_request: str | None = None


class HTTPRouteRule(k._K):
    backend_refs: list[BackendRef] = []
    timeouts: HTTPRouteTimeouts | None = None


class HTTPRouteSpec(k._K):
    rules: list[HTTPRouteRule] = []


HTTPRoute, HTTPRouteList = crdkit.resource("HTTPRoute", HTTPRouteSpec, module=__name__)


# --- Ingress ---------------------------------------------------------------------------


class IngressServiceBackend(k._K):
    name: str = ""


class IngressBackend(k._K):
    service: IngressServiceBackend | None = None


class HTTPIngressPath(k._K):
    path: str | None = None
    backend: IngressBackend = msgspec.field(default_factory=IngressBackend)


class HTTPIngressRuleValue(k._K):
    paths: list[HTTPIngressPath] = []


class IngressRule(k._K):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressSpec(k._K):
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    rules: list[IngressRule] = []


Ingress, IngressList = crdkit.resource("Ingress", IngressSpec, module=__name__)


# --- Istio -----------------------------------------------------------------------------


class Destination(k._K):
    host: str = ""


class RouteDestination(k._K):
    destination: Destination = msgspec.field(default_factory=Destination)
    weight: int | None = None


class HTTPRetry(k._K):
    attempts: int | None = None
    per_try_timeout: str | None = None
    retry_on: str | None = None


class HTTPRouteIstio(k._K):
    name: str | None = None
    route: list[RouteDestination] = []
    timeout: str | None = None
    retries: HTTPRetry | None = None


class VirtualServiceSpec(k._K):
    hosts: list[str] = []
    http: list[HTTPRouteIstio] = []


VirtualService, VirtualServiceList = crdkit.resource("VirtualService", VirtualServiceSpec, module=__name__)


KINDS = (
    ExtKind("HTTPRoute", "gateway.networking.k8s.io", "v1", "httproutes", HTTPRoute, HTTPRouteList, area="routes"),
    ExtKind("Ingress", "networking.k8s.io", "v1", "ingresses", Ingress, IngressList, area="routes"),
    ExtKind("VirtualService", "networking.istio.io", "v1beta1", "virtualservices", VirtualService,
            VirtualServiceList, area="routes"),
)
ROUTE_KINDS = tuple(e.kind for e in KINDS)


# --- units -------------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)")
_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


def duration_seconds(text: str) -> float | None:
    """A Gateway API / Istio (protobuf) duration in seconds: ``10s``, ``1m30s``, ``500ms``, ``1.5s``."""
    text = text.strip()
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _SECONDS[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and pos else None


def _num(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


_NGINX_SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")


def nginx_size_bytes(text: str) -> int | None:
    """An nginx size (``client_max_body_size``): ``1m`` = 1 MiB, ``512k``, ``0`` = unlimited, plain bytes."""
    m = _NGINX_SIZE.match(text.strip())
    if not m:
        return None
    return int(m.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}[m.group(2).lower()]


# --- facts --------------------------------------------------------------------------------


def _fact(value: Any, obj: str, path: str, source: str = SourceKind.ROUTE, raw: str | None = None,
          note: str | None = None) -> Fact:
    return Fact(value, Prov(source=source, object=obj, path=path), raw=raw, note=note)


def _http_route(r: HTTPRoute) -> list[tuple[str, str, RouteObs]]:
    md = r.metadata
    obj = _obj("HTTPRoute", md.namespace, md.name)
    out = []
    for i, rule in enumerate(r.spec.rules):
        for ref in rule.backend_refs:
            if (ref.kind or "Service") != "Service" or (ref.group or "") != "":
                continue
            settings: dict[str, Fact] = {}
            t = rule.timeouts or HTTPRouteTimeouts()
            for key, raw, path in (("timeoutSeconds", t.request, "request"),
                                   ("backendTimeoutSeconds", t.backend_request, "backendRequest")):
                where = f"spec.rules[{i}].timeouts.{path}"
                if raw is None:
                    settings[key] = _fact(None, obj, where, SourceKind.DEFAULT,
                                          note="not set: the Gateway implementation's default applies")
                    continue
                secs = duration_seconds(raw)
                note = "0s disables the timeout" if secs == 0 else None
                settings[key] = _fact(_num(secs) if secs is not None else None, obj, where, raw=raw,
                                      note=note if secs is not None else f"not a Gateway API duration: {raw!r}")
            out.append((ref.namespace or md.namespace, ref.name,
                        RouteObs(kind="HTTPRoute", name=md.name, namespace=md.namespace, rule=i, settings=settings)))
    return out


def _is_nginx(ing: Ingress) -> bool:
    cls = ing.spec.ingress_class_name or ing.metadata.annotations.get("kubernetes.io/ingress.class")
    return cls == "nginx" or (cls is None and any(a.startswith(NGINX) for a in ing.metadata.annotations))


def _ingress(ing: Ingress) -> list[tuple[str, str, RouteObs]]:
    md = ing.metadata
    if not _is_nginx(ing):
        return []
    obj = _obj("Ingress", md.namespace, md.name)
    ann = md.annotations
    settings: dict[str, Fact] = {}
    key = NGINX + "proxy-read-timeout"
    where = f"metadata.annotations[{key}]"
    if key in ann:
        raw = ann[key].strip()
        ok = raw.isdigit()
        settings["timeoutSeconds"] = _fact(int(raw) if ok else None, obj, where, raw=None if ok else raw,
                                           note=None if ok else "ingress-nginx wants plain seconds here")
    else:
        settings["timeoutSeconds"] = _fact(NGINX_READ_TIMEOUT_DEFAULT, obj, where, SourceKind.DEFAULT,
                                           note="annotation absent: ingress-nginx's proxy-read-timeout default "
                                                "(unless its ConfigMap changes it)")
    key = NGINX + "proxy-body-size"
    where = f"metadata.annotations[{key}]"
    raw = ann.get(key)
    size = nginx_size_bytes(raw if raw is not None else NGINX_BODY_SIZE_DEFAULT)
    settings["maxRequestBodyBytes"] = _fact(
        size, obj, where, SourceKind.DEFAULT if raw is None else SourceKind.ROUTE, raw=raw or NGINX_BODY_SIZE_DEFAULT,
        note=("annotation absent: ingress-nginx's default 1m" if raw is None else None) if size != 0
        else "0: no limit")
    services: list[str] = []
    if ing.spec.default_backend is not None and ing.spec.default_backend.service is not None:
        services.append(ing.spec.default_backend.service.name)
    for rule in ing.spec.rules:
        for p in (rule.http.paths if rule.http is not None else []):
            if p.backend.service is not None:
                services.append(p.backend.service.name)
    return [(md.namespace, name, RouteObs(kind="Ingress", name=md.name, namespace=md.namespace, settings=settings))
            for name in dict.fromkeys(services)]


def _host_service(host: str, ns: str) -> tuple[str, str] | None:
    """(namespace, Service name) an Istio destination host names, when it is an in-cluster Service."""
    parts = host.split(".")
    if len(parts) == 1:
        return ns, parts[0]
    if len(parts) == 2 or (len(parts) >= 3 and parts[2] == "svc"):
        return parts[1], parts[0]
    return None


def _virtual_service(vs: VirtualService) -> list[tuple[str, str, RouteObs]]:
    md = vs.metadata
    obj = _obj("VirtualService", md.namespace, md.name)
    out = []
    for i, h in enumerate(vs.spec.http):
        settings: dict[str, Fact] = {}
        if h.timeout is not None:
            secs = duration_seconds(h.timeout)
            settings["timeoutSeconds"] = _fact(_num(secs) if secs is not None else None, obj,
                                               f"spec.http[{i}].timeout", raw=h.timeout)
        else:
            settings["timeoutSeconds"] = _fact(0, obj, f"spec.http[{i}].timeout", SourceKind.DEFAULT,
                                               note="not set: Istio's default is no timeout (0 = disabled)")
        if h.retries is not None and h.retries.attempts is not None:
            settings["retries"] = _fact(h.retries.attempts, obj, f"spec.http[{i}].retries.attempts")
        else:
            settings["retries"] = _fact(ISTIO_RETRIES_DEFAULT, obj, f"spec.http[{i}].retries", SourceKind.DEFAULT,
                                        note="not set: Istio retries twice by default")
        for d in h.route:
            svc = _host_service(d.destination.host, md.namespace)
            if svc is not None:
                out.append((*svc, RouteObs(kind="VirtualService", name=md.name, namespace=md.namespace, rule=i,
                                           settings=settings)))
    return out


def routes_by_service(crds: dict[str, list[Any]]) -> dict[tuple[str, str], list[RouteObs]]:
    """(namespace, Service name) -> the routes that send traffic to it, in input order."""
    readers = (("HTTPRoute", _http_route), ("Ingress", _ingress), ("VirtualService", _virtual_service))
    return crdkit.index(((fn, o) for kind, fn in readers for o in crds.get(kind, ())),
                        lambda pair: (((ns, svc), route) for ns, svc, route in pair[0](pair[1])))
