"""A loopback Kubernetes API server for tests and benchmarks.

The ``kubernetes`` client, ``kubectl`` and skewaudit's own collector talk real
HTTP to :class:`FakeKube`: real REST paths, real-shaped list and ``Status``
bodies, label/field selectors, ``limit``/``continue`` pagination, bearer-token
auth, and injectable failures (403 deny, 429/5xx, 410 expired continue). Nothing
is monkeypatched, so a client that works here speaks the real protocol.

Speed matters because the fleet benchmark serves 10,000 pods of ~18 KB from
here: every object is encoded to JSON bytes once, when it is added, and a list
page is ``b",".join`` of stored bytes, never a re-encode. Objects are kept in
etcd key order (``namespace/name``), so a namespace is a contiguous slice and a
continue token is just the last key served.

Standard library only (plus pyyaml for :meth:`FakeKube.load_yaml`).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import datetime as _dt
import json
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from json.decoder import scanstring
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import parse_qsl, unquote, urlsplit

__all__ = ["FakeKube", "parse_label_selector"]

DEFAULT_USER = "system:serviceaccount:ci:skewaudit"
VERSION_INFO = {
    "major": "1", "minor": "31", "gitVersion": "v1.31.4",
    "gitCommit": "a78aa47129b8539636eb86a9d00e31b2720fe06b", "gitTreeState": "clean",
    "buildDate": "2024-12-10T11:37:04Z", "goVersion": "go1.22.9", "compiler": "gc",
    "platform": "linux/amd64",
}
# Endpoints a real cluster serves to anyone (the system:public-info-viewer role).
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/livez", "/readyz"})
EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token "
    "in this response to retrieve the remainder of the results. Continuing with the "
    "provided token results in an inconsistent list - objects that were created, "
    "modified, or deleted between the time the first chunk was returned and now may "
    "show up in the list."
)
# (reason, default message) per injectable status code, as the apiserver words them.
STATUS_REASONS = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "Unauthorized"),
    403: ("Forbidden", "forbidden"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the object has been modified; please apply your changes to the latest version and try again"),
    410: ("Expired", EXPIRED_MESSAGE),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected failure"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: ("Timeout", "the server was unable to return a response in the time allotted, "
                     "but may still be processing the request"),
}


# --------------------------------------------------------------------------- resources

class Resource:
    """One served resource type (a row of API discovery)."""

    __slots__ = ("group", "version", "plural", "kind", "namespaced", "custom", "short")

    def __init__(self, group: str, version: str, plural: str, kind: str,
                 namespaced: bool = True, custom: bool = False, short: tuple[str, ...] = ()):
        self.group, self.version, self.plural, self.kind = group, version, plural, kind
        self.namespaced, self.custom, self.short = namespaced, custom, short

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods`` or ``deployments.apps``: how the apiserver names it in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


def _builtin_resources() -> list[Resource]:
    r = Resource
    kserve = "serving.kserve.io"
    return [
        r("", "v1", "pods", "Pod", short=("po",)),
        r("", "v1", "nodes", "Node", namespaced=False, short=("no",)),
        r("", "v1", "services", "Service", short=("svc",)),
        r("", "v1", "configmaps", "ConfigMap", short=("cm",)),
        r("", "v1", "namespaces", "Namespace", namespaced=False, short=("ns",)),
        r("apps", "v1", "deployments", "Deployment", short=("deploy",)),
        r("apps", "v1", "statefulsets", "StatefulSet", short=("sts",)),
        r("apps", "v1", "replicasets", "ReplicaSet", short=("rs",)),
        r("batch", "v1", "jobs", "Job"),
        r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", short=("hpa",)),
        # Custom resources: unlike built-in lists, their list items carry kind/apiVersion.
        r(kserve, "v1beta1", "inferenceservices", "InferenceService", custom=True, short=("isvc",)),
        r(kserve, "v1alpha1", "servingruntimes", "ServingRuntime", custom=True),
        r(kserve, "v1alpha1", "clusterservingruntimes", "ClusterServingRuntime",
          namespaced=False, custom=True),
    ]


def _guess_plural(kind: str) -> str:
    low = kind.lower()
    if low.endswith("y") and low[-2:-1] not in "aeiou":
        return low[:-1] + "ies"
    return low + ("es" if low.endswith(("s", "x", "ch", "sh")) else "s")


# --------------------------------------------------------------------------- selectors

_LABEL_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")
_LABEL_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")
_SELECTOR_TOKEN = re.compile(r"\s*(==|!=|=|\(|\)|,|!|<|>|[^\s=!(),<>]+)")


class SelectorError(ValueError):
    """A selector the apiserver would reject with 400 BadRequest."""


def _check_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if not _LABEL_NAME.match(name) or (prefix and (len(prefix) > 253 or not _LABEL_PREFIX.match(prefix))):
        raise SelectorError(f'unable to parse requirement: invalid label key "{key}": name part must '
                            "consist of alphanumeric characters, '-', '_' or '.'")
    return key


def _check_value(value: str) -> str:
    if not _LABEL_VALUE.match(value):
        raise SelectorError(f'unable to parse requirement: invalid label value: "{value}": a valid '
                            "label must be an empty string or consist of alphanumeric characters, "
                            "'-', '_' or '.', and must start and end with an alphanumeric character")
    return value


def parse_label_selector(text: str) -> list[tuple[str, str, Any]]:
    """Parse a ``labelSelector`` string into ``(key, op, values)`` requirements.

    The grammar of k8s.io/apimachinery ``labels.Parse``: ``k=v``, ``k==v``,
    ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``, ``k>1``, ``k<1``,
    requirements joined by commas (AND). Raises :class:`SelectorError`.
    """
    toks, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _SELECTOR_TOKEN.match(text, pos)
        if not m:
            break
        toks.append(m.group(1))
        pos = m.end()
    reqs: list[tuple[str, str, Any]] = []
    i, n = 0, len(toks)

    def peek(k: int = 0) -> str | None:
        return toks[i + k] if i + k < n else None

    while i < n:
        if toks[i] == "!":
            reqs.append((_check_key(toks[i + 1] if i + 1 < n else ""), "!", None))
            i += 2
        else:
            key = _check_key(toks[i])
            i += 1
            op = peek()
            if op is None or op == ",":
                reqs.append((key, "exists", None))
            elif op in ("=", "==", "!="):
                nxt = peek(1)
                value = "" if nxt in (None, ",") else nxt
                i += 1 if nxt in (None, ",") else 2
                reqs.append((key, "!=" if op == "!=" else "=", _check_value(value)))
            elif op in ("in", "notin"):
                if peek(1) != "(":
                    raise SelectorError(f"unable to parse requirement: found '{peek(1)}', expected: '('")
                i += 2
                values: set[str] = set()
                while peek() not in (")", None):
                    if peek() != ",":
                        values.add(_check_value(toks[i]))
                    i += 1
                if peek() is None:
                    raise SelectorError("unable to parse requirement: found '', expected: ')'")
                if not values:
                    raise SelectorError("unable to parse requirement: for 'in', 'notin' "
                                        "operators, values set can't be empty")
                i += 1
                reqs.append((key, op, values))
            elif op in ("<", ">"):
                try:
                    bound = int(peek(1) or "")
                except ValueError:
                    raise SelectorError("unable to parse requirement: for 'Gt', 'Lt' operators, "
                                        "the value must be an integer") from None
                i += 2
                reqs.append((key, op, bound))
            else:
                raise SelectorError(f"unable to parse requirement: found '{op}', expected: "
                                    "in, notin, =, ==, !=, gt, lt")
        if i < n:
            if toks[i] != ",":
                raise SelectorError(f"found '{toks[i]}', expected: ',' or 'end of string'")
            i += 1
    return reqs


def _labels_match(reqs: list[tuple[str, str, Any]], labels: dict[str, str]) -> bool:
    for key, op, arg in reqs:
        present = key in labels
        value = labels.get(key)
        if op == "=":
            ok = present and value == arg
        elif op == "!=":
            ok = not present or value != arg
        elif op == "in":
            ok = present and value in arg
        elif op == "notin":
            ok = not present or value not in arg
        elif op == "exists":
            ok = present
        elif op == "!":
            ok = not present
        else:  # numeric < / >
            try:
                ok = present and (int(value) < arg if op == "<" else int(value) > arg)
            except ValueError:
                ok = False
        if not ok:
            return False
    return True


# Field selectors each resource supports beyond metadata.name / metadata.namespace.
FIELD_LABELS = {
    "pods": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
             "spec.serviceAccountName", "status.phase", "status.podIP"},
    "nodes": {"spec.unschedulable"},
    "namespaces": {"status.phase"},
    "replicasets": {"status.replicas"},
    "jobs": {"status.successful"},
}
_ALL_FIELD_LABELS = frozenset().union(*FIELD_LABELS.values())
# Core kinds that are cluster-scoped, for kinds added without a built-in Resource row.
CLUSTER_KINDS = frozenset({"Node", "Namespace", "PersistentVolume", "StorageClass", "PriorityClass",
                           "RuntimeClass", "CustomResourceDefinition", "APIService", "IngressClass",
                           "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})


def parse_field_selector(text: str, res: Resource) -> list[tuple[str, bool, str]]:
    """``fieldSelector`` → ``(field, equal, value)``; unsupported fields → SelectorError."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        m = re.match(r"^([^=!]+?)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        field, op, value = m.groups()
        if field not in ("metadata.name", "metadata.namespace") and field not in FIELD_LABELS.get(res.plural, ()):
            raise SelectorError(f'field label not supported: {field}')
        out.append((field, op != "!=", value))
    return out


# --------------------------------------------------------------------------- storage

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def _top_level_metadata(text: str) -> tuple[dict, bool]:
    """The top-level ``metadata`` of one JSON object, and whether ``kind`` came first.

    Walks the top-level keys and decodes only the values it passes. Objects as
    the apiserver writes them (kind, apiVersion, metadata, spec, status) cost
    a parse of ``metadata`` alone, not of the 10-20 KB of spec/status.
    """
    idx = _WS.match(text, 0).end()
    if text[idx:idx + 1] != "{":
        raise ValueError("object JSON must start with '{'")
    idx += 1
    seen_kind = False
    while True:
        idx = _WS.match(text, idx).end()
        ch = text[idx:idx + 1]
        if ch == "}":
            return {}, seen_kind
        if ch != '"':
            raise ValueError(f"bad object JSON at offset {idx}")
        key, idx = scanstring(text, idx + 1)
        idx = _WS.match(text, idx).end()
        if text[idx:idx + 1] != ":":
            raise ValueError(f"bad object JSON at offset {idx}")
        idx = _WS.match(text, idx + 1).end()
        value, idx = _DECODER.raw_decode(text, idx)
        if key == "metadata":
            return (value if isinstance(value, dict) else {}), seen_kind
        seen_kind = seen_kind or key == "kind"
        idx = _WS.match(text, idx).end()
        if text[idx:idx + 1] == ",":
            idx += 1


class Entry:
    """One stored object: its etcd-style key, index fields and JSON bytes (list form)."""

    __slots__ = ("key", "ns", "name", "labels", "raw", "typed", "_fields")

    def __init__(self, ns: str, name: str, labels: dict, raw: bytes, typed: bool | None):
        self.key = f"{ns}/{name}" if ns else name
        self.ns, self.name, self.labels, self.raw = ns, name, labels or {}, raw
        self.typed = typed          # whether raw carries kind/apiVersion (None: unknown yet)
        self._fields: dict[str, str] | None = None

    def field(self, path: str) -> str:
        """A field-selector value; the full object is parsed once, only if asked."""
        if self._fields is None:
            doc = json.loads(self.raw)
            self.typed = "kind" in doc
            fields = {}
            for sel in _ALL_FIELD_LABELS:
                cur: Any = doc
                for part in sel.split("."):
                    cur = cur.get(part) if isinstance(cur, dict) else None
                fields[sel] = "" if cur is None else (str(cur).lower() if isinstance(cur, bool) else str(cur))
            self._fields = fields
        if path == "metadata.name":
            return self.name
        if path == "metadata.namespace":
            return self.ns
        return self._fields.get(path, "")


class Store:
    """All objects of one resource, kept sorted by key for slicing and continue."""

    def __init__(self, res: Resource):
        self.res = res
        self.by_key: dict[str, Entry] = {}
        self._sorted: tuple[list[str], list[Entry], list[bytes]] | None = None

    def put(self, entry: Entry) -> None:
        self.by_key[entry.key] = entry
        self._sorted = None

    def view(self) -> tuple[list[str], list[Entry], list[bytes]]:
        """Sorted (keys, entries, raws); rebuilt after a change (caller holds the lock)."""
        if self._sorted is None:
            keys = sorted(self.by_key)
            entries = [self.by_key[k] for k in keys]
            self._sorted = (keys, entries, [e.raw for e in entries])
        return self._sorted


def _json_default(o: Any) -> str:
    # pyyaml turns unquoted timestamps (creationTimestamp: 2024-01-01T00:00:00Z) into datetimes.
    if isinstance(o, _dt.datetime):
        if o.tzinfo is not None:
            o = o.astimezone(_dt.timezone.utc).replace(tzinfo=None)
        return o.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(o, _dt.date):
        return o.isoformat()
    raise TypeError(f"cannot encode {type(o).__name__} as JSON")


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_json_default).encode()


def _encode_continue(rv: int, key: str) -> str:
    # Same shape as the apiserver's token: base64url of {"v","rv","start": key + NUL}.
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": key + "\x00"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(data.get("start"), str):
            raise ValueError
        return int(data["rv"]), data["start"].rstrip("\x00")
    except (ValueError, TypeError, KeyError, binascii.Error, AttributeError):
        raise SelectorError(f"continue key is not valid: {token!r}") from None


# --------------------------------------------------------------------------- HTTP

class _Reply(Exception):
    """Raised inside request handling to answer with a status code and body."""

    def __init__(self, code: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()):
        self.code, self.body, self.headers = code, body, headers


def status_body(code: int, message: str | None = None, details: dict | None = None,
                list_meta: dict | None = None) -> bytes:
    """A ``Status`` failure body shaped as the apiserver writes it."""
    reason, default = STATUS_REASONS.get(code, ("", "injected failure"))
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": list_meta or {},
                            "status": "Failure", "message": message or default}
    if reason:
        body["reason"] = reason
    if details is not None:
        body["details"] = details
    body["code"] = code
    return _dumps(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128   # the default backlog of 5 stalls parallel list calls on SYN retries

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout and fault tests) makes the handler's write fail; socketserver
        # would print that traceback to stderr, where it lands in whichever test is capturing then.
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive: clients reuse one connection per pool
    server_version = "FakeKube/1.0"
    timeout = 60                        # a stuck client must not pin a thread forever

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without NODELAY the last body segment
        # can wait ~40 ms for the client's delayed ACK on every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.kube._track(self.connection, True)

    def finish(self) -> None:
        self.server.kube._track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # tests read FakeKube.requests instead of stderr noise

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)         # keep the connection in sync for the next request
        elif self.headers.get("Transfer-Encoding"):
            self.close_connection = True    # a chunked body we do not parse
        fault = self.server.kube._take_fault(self.command, self.path)
        if fault is not None:
            _serve_fault(self, fault)
            return
        try:
            code, body, headers = self.server.kube._respond(
                self.command, self.path, self.headers.get("Authorization"))
        except Exception as exc:  # a server bug must surface as a 500, not a hung client
            code, body, headers = 500, status_body(500, f"Internal error occurred: {exc!r}"), ()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":   # a HEAD answer has no body, or the stream desyncs
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


# --------------------------------------------------------------------------- fault modes (transport)
# How a broken or hostile server answers: a test arms one with FakeKube.fault().
# Kept in one block so other fault families (e.g. malformed objects) can sit beside it.

FAULT_MODES = ("hang", "drip", "huge", "body", "html", "status")
AUTH_PROXY_HTML = (b"<!DOCTYPE html>\n<html><head><title>Sign in - Corporate SSO</title></head>\n"
                   b"<body><form method=\"post\" action=\"/oauth2/start\"><p>Your session expired.</p>"
                   b"<button>Sign in</button></form></body></html>\n")


def _serve_fault(handler: "_Handler", fault: dict) -> None:
    """Answer one request the broken way ``fault`` describes (see :meth:`FakeKube.fault`)."""
    kube: FakeKube = handler.server.kube
    mode = fault["mode"]
    handler.close_connection = True
    try:
        if mode == "hang":      # accept, read the request, never answer
            kube._stopping.wait(fault.get("hold", 120.0))
            return
        if mode == "huge":      # a valid list head, then `size` bytes of one endless string
            size = fault.get("size", 2**30)
            head = b'{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[{"x":"'
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            if fault.get("declare_length", True):
                handler.send_header("Content-Length", str(size))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(head)
            block, sent = b"a" * (1 << 20), len(head)
            while sent < size and not kube._stopping.is_set():
                n = min(len(block), size - sent)
                handler.wfile.write(block[:n])
                sent += n
            return
        if mode == "html":
            code, ctype, body = fault.get("status", 200), "text/html; charset=utf-8", AUTH_PROXY_HTML
        elif mode == "status":  # a real-shaped Status with the caller's (hostile) message
            code, ctype = fault.get("status", 500), "application/json"
            body = status_body(code, fault.get("message"), details={})
        else:                   # body / drip: the caller's bytes
            code, ctype, body = fault.get("status", 200), fault.get("content_type", "application/json"), \
                fault.get("body", b"")
        handler.send_response(code)
        handler.send_header("Content-Type", ctype)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if mode == "drip":      # declared length, bytes trickled one at a time
            for i in range(len(body)):
                if kube._stopping.wait(fault.get("interval", 0.2)):
                    return
                handler.wfile.write(body[i:i + 1])
                handler.wfile.flush()
        else:
            handler.wfile.write(body)
    except OSError:
        pass   # the client hung up on us: that is what a bounded client does


# --------------------------------------------------------------------------- pod proxy (runtime probes)
# GET /api/v1/namespaces/NS/pods/NAME[:PORT]/proxy/PATH, as the API server's pod proxy
# answers it: RBAC is "get" on the "pods/proxy" subresource (deny("get", "pods/proxy")),
# a missing pod is a 404 Status, a pod with nothing listening is a 503 Status, and
# anything else is the engine's own answer (status and body) passed through. The
# caller's Authorization header is never forwarded to the engine, as the real proxy
# does not. Backends are registered per pod with FakeKube.route_pod(ns, name, url).

_PROXY_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/pods/([^/:]+)(?::(\d+))?/proxy(/.*)?$")


class _PodProxy:
    """FakeKube's pod-proxy part (a mixin, so this block stays apart from the rest)."""

    def route_pod(self, namespace: str, name: str, url: str | None) -> None:
        """Send proxied GETs for pod ``namespace/name`` to ``url`` (None: nothing listens)."""
        with self._lock:
            self._pod_backends = {**getattr(self, "_pod_backends", {}), (namespace, name): url}

    def _proxy(self, raw_path: str) -> tuple[int, bytes, tuple]:
        import urllib.error
        import urllib.request

        parts = urlsplit(raw_path)
        m = _PROXY_PATH.match(unquote(parts.path))
        ns, name, port, rest = m.group(1), m.group(2), m.group(3) or "80", m.group(4) or "/"
        for d_verb, d_plural, _, d_ns in self._denied:
            if d_verb in ("get", "*") and d_plural == "pods/proxy" and (d_ns is None or d_ns == ns):
                message = (f'pods "{name}" is forbidden: User "{self.user}" cannot get resource "pods/proxy" '
                           f'in API group "" in the namespace "{ns}"')
                raise _Reply(403, status_body(403, message, {"name": name, "kind": "pods"}))
        with self._lock:
            known = f"{ns}/{name}" in self._stores[("", "v1", "pods")].by_key
            backend = getattr(self, "_pod_backends", {}).get((ns, name))
        if not known:
            raise _Reply(404, status_body(404, f'pods "{name}" not found', {"name": name, "kind": "pods"}))
        if backend is None:
            raise _Reply(503, status_body(503, f"error trying to reach service: dial tcp 10.0.0.1:{port}: "
                                               "connect: connection refused"))
        url = backend.rstrip("/") + rest + (f"?{parts.query}" if parts.query else "")
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(urllib.request.Request(url, method="GET"), timeout=60) as resp:
                return resp.status, resp.read(), ()
        except urllib.error.HTTPError as e:
            return e.code, e.read(), ()
        except OSError as e:
            raise _Reply(503, status_body(503, f"error trying to reach service: {e}")) from None


# --------------------------------------------------------------------------- FakeKube

class FakeKube(_PodProxy):
    """An in-process Kubernetes API server on 127.0.0.1 serving the objects given to it.

    ``url`` is set by :meth:`start`; ``requests`` logs every request as
    ``(method, path, query)`` with ``query`` a ``{name: value}`` dict, including
    refused ones, so tests can assert what a client asked for (and that it never
    wrote). Objects may be added while the server runs.
    """

    def __init__(self, objects: Iterable[dict] = (), *, token: str | None = "test-token",
                 user: str = DEFAULT_USER, tls: tuple[str, str] | None = None):
        # token=None turns authentication off. kubectl (client-go) never sends a bearer
        # token over plain http (kubernetes/kubectl#744), so the benchmark's kubectl
        # run needs this; the Python client and skewaudit do send it.
        self.token = token
        self.tls = tls                       # (certfile, keyfile): serve https
        self.user = user                     # named in 403 messages, as RBAC would
        self.version_info = dict(VERSION_INFO)
        self.url = ""
        self.requests: list[tuple[str, str, dict]] = []
        self._lock = threading.Lock()
        self._rv = 1000
        self._resources: dict[tuple[str, str, str], Resource] = {}   # (group, version, plural)
        self._by_kind: dict[tuple[str, str], Resource] = {}         # (apiVersion, kind)
        self._stores: dict[tuple[str, str, str], Store] = {}
        for res in _builtin_resources():
            self._register(res)
        self._denied: list[tuple[str, str, str, str | None]] = []    # verb, plural, group|"*", ns
        self._failures: list[list[Any]] = []                         # [regex, status, times, retry]
        self._expire_after: int | None = None
        self._pages_since_armed = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._faults: list[dict] = []
        self._stopping = threading.Event()
        self.add(*objects)

    # ---------------------------------------------------------------- loading

    def _register(self, res: Resource) -> None:
        gvp = (res.group, res.version, res.plural)
        self._resources[gvp] = res
        self._by_kind[(res.api_version, res.kind)] = res
        self._stores[gvp] = Store(res)

    def _resource_for(self, api_version: str, kind: str) -> Resource:
        res = self._by_kind.get((api_version, kind))
        if res is None:
            # Any other kind is served too, under a guessed plural (as a CRD would be).
            group, _, version = api_version.rpartition("/")
            namespaced = kind not in CLUSTER_KINDS and not kind.startswith("Cluster")
            res = Resource(group, version, _guess_plural(kind), kind,
                           namespaced=namespaced, custom=bool(group) and "." in group)
            self._register(res)
        return res

    def install_crd(self, api_version: str, kind: str) -> None:
        """Serve a custom resource with no objects yet (its CRD installed): its list path
        answers an empty list instead of 404."""
        with self._lock:
            self._resource_for(api_version, kind)

    def add(self, *objs: dict) -> None:
        """Add (or replace, by namespace/name) objects of any kind, routed by apiVersion/kind."""
        for obj in objs:
            if not isinstance(obj, dict) or not obj.get("apiVersion") or not obj.get("kind"):
                raise ValueError(f"not a Kubernetes object (apiVersion and kind required): {obj!r:.120}")
            kind = obj["kind"]
            if kind.endswith("List") and isinstance(obj.get("items"), list):
                item_kind, api = kind[:-4], obj["apiVersion"]
                self.add(*({"apiVersion": api, "kind": item_kind, **it} for it in obj["items"]))
                continue
            meta = dict(obj.get("metadata") or {})
            if not meta.get("name"):
                raise ValueError(f"{kind} without metadata.name: {obj!r:.120}")
            with self._lock:
                res = self._resource_for(obj["apiVersion"], kind)
                self._rv += 1
                if res.namespaced:
                    meta.setdefault("namespace", "default")
                else:
                    meta.pop("namespace", None)
                key = f"{res.qualified}/{meta.get('namespace', '')}/{meta['name']}"
                meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL, key)))
                meta.setdefault("resourceVersion", str(self._rv))
                meta.setdefault("creationTimestamp", "2024-01-01T00:00:00Z")
                # Built-in list items omit kind/apiVersion, exactly as the apiserver writes them.
                head = {"apiVersion": obj["apiVersion"], "kind": kind} if res.custom else {}
                doc = {**head, "metadata": meta,
                       **{k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}}
                self._put(res, Entry(meta.get("namespace", ""), meta["name"], meta.get("labels") or {},
                                     _dumps(doc), res.custom))

    def load_yaml(self, *paths: str | Path) -> None:
        """Add every object of multi-document YAML files (``kind: List`` included)."""
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        for path in paths:
            with open(path, encoding="utf-8") as fh:
                for doc in yaml.load_all(fh, Loader=loader):
                    if doc is not None:
                        self.add(doc)

    def add_raw_json(self, kind: str, namespace: str | None, items_json: list[bytes]) -> None:
        """Add pre-serialized objects of ``kind`` (e.g. ``"Pod"``), served byte for byte.

        Only each object's top-level ``metadata`` is decoded (name, namespace,
        labels), so loading 10,000 pods of 18 KB stays cheap. ``namespace`` is
        used when an item has none, and must agree with the item's when both are set.
        """
        with self._lock:
            matches = [r for (api, k), r in self._by_kind.items() if k == kind]
        if len(matches) != 1:
            raise ValueError(f"add_raw_json: unknown or ambiguous kind {kind!r}")
        res = matches[0]
        entries = []
        for raw in items_json:
            meta, typed = _top_level_metadata(raw.decode("utf-8"))
            if not meta.get("name"):
                raise ValueError(f"add_raw_json: {kind} item without metadata.name: {raw[:120]!r}")
            ns = meta.get("namespace") or namespace or ("default" if res.namespaced else "")
            if namespace and ns != namespace:
                raise ValueError(f"add_raw_json: {kind} {meta['name']} is in namespace {ns!r}, "
                                 f"not {namespace!r}")
            entries.append(Entry(ns if res.namespaced else "", meta["name"], meta.get("labels") or {},
                                 bytes(raw), True if typed else None))
        with self._lock:
            self._rv += 1
            for entry in entries:
                self._put(res, entry)

    def _put(self, res: Resource, entry: Entry) -> None:
        """Store an entry (caller holds the lock) and make its namespace exist."""
        self._stores[(res.group, res.version, res.plural)].put(entry)
        ns_store = self._stores[("", "v1", "namespaces")]
        if entry.ns and entry.ns not in ns_store.by_key:
            # A real cluster has a Namespace for every namespace that holds objects.
            uid = str(uuid.uuid5(uuid.NAMESPACE_URL, "ns/" + entry.ns))
            ns_doc = {"metadata": {"name": entry.ns, "uid": uid,
                                   "resourceVersion": str(self._rv),
                                   "creationTimestamp": "2024-01-01T00:00:00Z",
                                   "labels": {"kubernetes.io/metadata.name": entry.ns}},
                      "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
            ns_store.put(Entry("", entry.ns, ns_doc["metadata"]["labels"], _dumps(ns_doc), False))

    # ---------------------------------------------------------------- fault injection

    def deny(self, verb: str, resource: str, namespace: str | None = None) -> None:
        """Answer ``verb`` (get/list/``*``) on ``resource`` with 403 Forbidden.

        ``resource`` is a plural, optionally group-qualified (``deployments.apps``).
        With a namespace, only that namespace is denied, plus all-namespaces
        requests (an RBAC grant that leaves out one namespace cannot be cluster-wide).
        """
        plural, _, group = resource.partition(".")
        with self._lock:
            self._denied.append((verb, plural, group if group else "*", namespace))

    def fail(self, path_regex: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """Answer the next ``times`` requests whose path matches ``path_regex`` with
        ``status`` and its real ``Status`` body (429 → TooManyRequests, 500 →
        InternalError, 503, 410 Expired, ...). ``retry_after`` sets the
        ``Retry-After`` header and ``details.retryAfterSeconds``; None sends neither.
        Note the kubernetes client's default urllib3 Retry(3) itself sleeps and
        retries a 429/503 that carries Retry-After."""
        with self._lock:
            self._failures.append([re.compile(path_regex), status, times, retry_after])

    def expire_continue(self, after_pages: int = 1) -> None:
        """After ``after_pages`` more list pages, the next request carrying a
        ``continue`` token gets 410 Expired (once), as after etcd compaction."""
        with self._lock:
            self._expire_after, self._pages_since_armed = after_pages, 0

    def fault(self, path_regex: str, mode: str, *, times: int | None = None, **opts: Any) -> None:
        """Answer requests whose path matches ``path_regex`` the broken way ``mode`` says
        (``times``: that many requests, None: all of them). Modes and their options:

        - ``hang``: read the request and never answer (``hold`` seconds at most);
        - ``drip``: a ``200`` with ``Content-Length`` of ``body``, then one byte of it
          every ``interval`` seconds;
        - ``huge``: a ``200`` list body of ``size`` bytes (default 1 GiB), with a
          ``Content-Length`` unless ``declare_length=False`` (then it ends at close);
        - ``body``: ``status`` with the raw ``body`` bytes as ``content_type``;
        - ``html``: an auth proxy's sign-in page (text/html) with ``status`` (200);
        - ``status``: a real-shaped ``Status`` of code ``status`` carrying ``message``.
        """
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {mode!r}; one of {', '.join(FAULT_MODES)}")
        with self._lock:
            self._faults.append({"regex": re.compile(path_regex), "mode": mode, "times": times, **opts})

    def _take_fault(self, method: str, raw_path: str) -> dict | None:
        path = unquote(urlsplit(raw_path).path).rstrip("/") or "/"
        with self._lock:
            fault = next((f for f in self._faults if f["times"] != 0 and f["regex"].search(path)), None)
            if fault is None:
                return None
            if fault["times"] is not None:
                fault["times"] -= 1
            self.requests.append((method, path, dict(parse_qsl(urlsplit(raw_path).query))))
        return fault

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> "FakeKube":
        if self._server is None:
            server = _Server(("127.0.0.1", 0), _Handler)
            server.kube = self  # type: ignore[attr-defined]
            scheme = "http"
            if self.tls:
                import ssl

                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*self.tls)
                server.socket = ctx.wrap_socket(server.socket, server_side=True)
                scheme = "https"
            self._server = server
            self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
            self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                            name="FakeKube", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()   # wakes handlers held by a hang/drip fault
        server.shutdown()
        server.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:   # idle keep-alive connections would otherwise outlive the server
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> "FakeKube":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, opened: bool) -> None:
        with self._lock:
            (self._conns.add if opened else self._conns.discard)(conn)

    def write_kubeconfig(self, path: str | Path, *, context: str = "loopback", namespace: str = "default",
                         token: str | None = None, extra_contexts: dict[str, str] | None = None) -> Path:
        """Write a real kubeconfig (cluster, bearer-token user, contexts) pointing here.

        ``token=None`` writes the server's token; any other string is written as
        is (a wrong one gets 401), and ``""`` writes a user without credentials.
        ``extra_contexts`` maps more context names to either a server URL
        (``http://127.0.0.1:1`` for an unreachable cluster; namespace ``namespace``)
        or a namespace on this server.
        """
        import yaml

        clusters = [{"name": context, "cluster": {"server": self.url}}]
        contexts = [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}]
        for name, value in (extra_contexts or {}).items():
            if "://" in value:
                clusters.append({"name": name, "cluster": {"server": value}})
                contexts.append({"name": name, "context": {"cluster": name, "user": context,
                                                           "namespace": namespace}})
            else:
                contexts.append({"name": name, "context": {"cluster": context, "user": context,
                                                           "namespace": value}})
        token = self.token if token is None else token
        config = {"apiVersion": "v1", "kind": "Config", "preferences": {}, "clusters": clusters,
                  "users": [{"name": context, "user": {"token": token} if token else {}}],
                  "contexts": contexts, "current-context": context}
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return out

    # ---------------------------------------------------------------- request handling

    def _respond(self, method: str, raw_path: str, auth: str | None) -> tuple[int, bytes, tuple]:
        parts = urlsplit(raw_path)
        path = unquote(parts.path).rstrip("/") or "/"
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        with self._lock:
            self.requests.append((method, path, query))
        try:
            given = auth[7:] if auth and auth.startswith("Bearer ") else None
            if self.token is not None and (auth or path not in PUBLIC_PATHS) and given != self.token:
                raise _Reply(401, status_body(401))
            self._inject_failure(path)
            if method != "GET":
                raise _Reply(405, status_body(405, details={}))
            if _PROXY_PATH.match(path):
                return self._proxy(raw_path)   # pod proxy: see the block at the end of this class
            return 200, self._route(path, query), ()
        except _Reply as reply:
            return reply.code, reply.body, reply.headers

    def _inject_failure(self, path: str) -> None:
        with self._lock:
            rule = next((r for r in self._failures if r[2] > 0 and r[0].search(path)), None)
            if rule is None:
                return
            rule[2] -= 1
        status, retry_after = rule[1], rule[3]
        details = {"retryAfterSeconds": retry_after} if retry_after is not None else None
        headers = (("Retry-After", str(retry_after)),) if retry_after is not None else ()
        raise _Reply(status, status_body(status, details=details), headers)

    def _route(self, path: str, query: dict) -> bytes:
        segs = path.strip("/").split("/") if path != "/" else []
        if path == "/version":
            return _dumps(self.version_info)
        if path in ("/healthz", "/livez", "/readyz"):
            return b"ok"
        if segs[:1] == ["api"] and len(segs) >= 2 and segs[1] == "v1":
            group, version, rest = "", "v1", segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 3:
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            return self._discovery(segs)
        if not rest:
            return self._resource_list(group, version)
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        with self._lock:
            res = self._resources.get((group, version, rest[0]))
        if res is None or len(rest) > 2 or (namespace is not None and not res.namespaced):
            raise _Reply(404, status_body(404, details={}))
        name = rest[1] if len(rest) == 2 else None
        if name is not None and res.namespaced and namespace is None:
            raise _Reply(404, status_body(404, details={}))   # /api/v1/pods/NAME is not a path
        if query.get("watch") in ("1", "true"):
            raise _Reply(400, status_body(400, "watch is not supported by this test server"))
        self._authorize("get" if name else "list", res, namespace, name)
        store = self._stores[(group, version, res.plural)]
        if name is not None:
            return self._get(res, store, namespace or "", name)
        return self._list(res, store, namespace, query)

    def _authorize(self, verb: str, res: Resource, namespace: str | None, name: str | None) -> None:
        for d_verb, d_plural, d_group, d_ns in self._denied:
            if (d_verb in (verb, "*") and d_plural == res.plural and d_group in ("*", res.group)
                    and (d_ns is None or namespace is None or d_ns == namespace)):
                where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
                subject = f'{res.qualified} "{name}"' if name else res.qualified
                message = (f'{subject} is forbidden: User "{self.user}" cannot {verb} resource '
                           f'"{res.plural}" in API group "{res.group}" {where}')
                details = {**({"name": name} if name else {}), **({"group": res.group} if res.group else {}),
                           "kind": res.plural}
                raise _Reply(403, status_body(403, message, details))

    def _get(self, res: Resource, store: Store, namespace: str, name: str) -> bytes:
        entry = store.by_key.get(f"{namespace}/{name}" if res.namespaced else name)
        if entry is None:
            details = {"name": name, **({"group": res.group} if res.group else {}), "kind": res.plural}
            raise _Reply(404, status_body(404, f'{res.qualified} "{name}" not found', details))
        if entry.typed is None:
            entry.field("metadata.name")   # parses once and learns whether kind is present
        if entry.typed:
            return entry.raw
        # A single GET carries kind/apiVersion even though list items do not.
        head = f'{{"kind":"{res.kind}","apiVersion":"{res.api_version}"'.encode()
        rest = entry.raw.lstrip()[1:].lstrip()
        return head + (rest if rest[:1] == b"}" else b"," + rest)

    def _list(self, res: Resource, store: Store, namespace: str | None, query: dict) -> bytes:
        try:
            labels = parse_label_selector(query.get("labelSelector", ""))
            fields = parse_field_selector(query.get("fieldSelector", ""), res)
            limit = int(query.get("limit") or 0)
            token = query.get("continue")
            rv, start = _decode_continue(token) if token else (0, "")
        except ValueError as exc:
            raise _Reply(400, status_body(400, str(exc), details={})) from None
        with self._lock:
            keys, entries, raws = store.view()
            current_rv = self._rv
            if token and self._expire_after is not None and self._pages_since_armed >= self._expire_after:
                self._expire_after = None
                fresh = {"continue": _encode_continue(-1, start)}
                raise _Reply(410, status_body(410, EXPIRED_MESSAGE, list_meta=fresh))
            if self._expire_after is not None:
                self._pages_since_armed += 1
        rv = current_rv if not token or rv < 0 else rv
        if namespace is not None and res.namespaced:
            lo, hi = bisect.bisect_left(keys, namespace + "/"), bisect.bisect_left(keys, namespace + "0")
        else:
            lo, hi = 0, len(keys)
        if token:
            lo = max(lo, bisect.bisect_right(keys, start))
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if not labels and not fields:
            # The fast path a fleet listing takes: one slice, one join, nothing decoded.
            end = min(hi, lo + limit) if limit > 0 else hi
            chunk = raws[lo:end]
            if end < hi:
                meta["continue"] = _encode_continue(rv, keys[end - 1])
                meta["remainingItemCount"] = hi - end
        else:
            chunk, last, i = [], -1, lo
            while i < hi:
                e = entries[i]
                if _labels_match(labels, e.labels) and all((e.field(f) == v) == eq for f, eq, v in fields):
                    if limit > 0 and len(chunk) == limit:
                        # More matches exist; with selectors the apiserver gives no count.
                        meta["continue"] = _encode_continue(rv, keys[last])
                        break
                    chunk.append(e.raw)
                    last = i
                i += 1
        head = _dumps({"kind": f"{res.kind}List", "apiVersion": res.api_version, "metadata": meta})
        return b"".join((head[:-1], b',"items":[', b",".join(chunk), b"]}"))

    def _discovery(self, segs: list[str]) -> bytes:
        if segs == ["api"]:
            host = self.url.split("://", 1)[-1]
            return _dumps({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs":
                           [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
        groups: dict[str, list[str]] = {}
        with self._lock:
            resources = list(self._resources.values())
        for res in resources:
            if res.group:
                groups.setdefault(res.group, []).append(res.version)
        if segs == ["apis"]:
            return _dumps({"kind": "APIGroupList", "apiVersion": "v1",
                           "groups": [self._group_doc(g, v) for g, v in sorted(groups.items())]})
        if len(segs) == 2 and segs[0] == "apis" and segs[1] in groups:
            return _dumps({"kind": "APIGroup", "apiVersion": "v1", **self._group_doc(segs[1], groups[segs[1]])})
        raise _Reply(404, status_body(404, details={}))

    @staticmethod
    def _group_doc(group: str, versions: list[str]) -> dict:
        vs = [{"groupVersion": f"{group}/{v}", "version": v} for v in sorted(set(versions), reverse=True)]
        return {"name": group, "versions": vs, "preferredVersion": vs[0]}

    def _resource_list(self, group: str, version: str) -> bytes:
        with self._lock:
            served = [r for r in self._resources.values() if (r.group, r.version) == (group, version)]
        if not served:
            raise _Reply(404, status_body(404, details={}))
        gv = f"{group}/{version}" if group else version
        return _dumps({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
            {"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced, "kind": r.kind,
             "verbs": ["get", "list"], **({"shortNames": list(r.short)} if r.short else {})}
            for r in sorted(served, key=lambda r: r.plural)]})
