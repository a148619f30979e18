"""The HTTP layer of live collection: client setup, GET with retries, paging, error mapping.

Owns everything between :mod:`skewaudit.collect.kube` and the API server:
loading the kubeconfig / in-cluster config into a ``kubernetes`` client
Configuration (:func:`connect`, errors as one-line ``InputError`` /
``EnvironmentUnavailable``), the GET-only :class:`Api` that returns raw bytes
(connection failures mapped to ``EnvironmentUnavailable``, 429/5xx retried up
to ``MAX_RETRIES`` times within ``RETRY_BUDGET_S``, Retry-After honoured),
paged lists (:func:`pages`: ``limit`` + ``continue``, one restart on a 410),
and what an HTTP error means for the run (:func:`failure`: raise, or a
``CollectionIssue`` to record). ``kubernetes`` is imported only inside
functions, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator
from urllib.parse import quote

import msgspec

from skewaudit import deadline, redact
from skewaudit.collect.kubeexec import resolve_exec_user
from skewaudit.collect.request import SourceRequest
from skewaudit.errors import EnvironmentUnavailable, InputError
from skewaudit.limits import CHUNK, human, max_input_bytes
from skewaudit.limits import ENV as LIMIT_ENV
from skewaudit.model.observed import CollectionIssue

PAGE = 500
MAX_RETRIES = 3
RETRY_BUDGET_S = 10.0
RBAC_HINT = "see specs/rbac.yaml"


@dataclass(frozen=True)
class Res:
    """One API resource: where it is listed and how its pages decode."""

    kind: str
    plural: str
    prefix: str          # "/api/v1" or "/apis/<group>/<version>"
    list_type: type
    namespaced: bool = True
    area: str = "workload"
    crd: bool = False    # a custom resource: a cluster without its CRD answers 404

    def path(self, ns: str | None, name: str | None = None) -> str:
        p = f"{self.prefix}/namespaces/{quote(ns)}/{self.plural}" if ns and self.namespaced \
            else f"{self.prefix}/{self.plural}"
        return f"{p}/{quote(name)}" if name else p


class HttpError(Exception):
    """A non-2xx answer after retries: status code and the Status message."""

    def __init__(self, status: int, message: str, retries: int = 0):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.retries = status, message, retries


def _status_message(body: bytes) -> str:
    """The Status message of an error answer, as one line of at most 300 characters
    (it goes into a one-line error; a hostile server's newlines must not forge more)."""
    try:
        doc = msgspec.json.decode(body[:65536])
        text = str(doc.get("message") or doc.get("reason") or "") if isinstance(doc, dict) else ""
    except msgspec.DecodeError:
        text = body[:300].decode("utf-8", "replace")
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:299] + "…"


# --- configuration -------------------------------------------------------------


def _lean_client() -> None:
    """Make ``kubernetes`` importable without running its package ``__init__`` first.

    That ``__init__`` imports every subpackage (``dynamic``, which pulls in kubernetes_validate
    and jsonschema, ``watch``, ``stream``, ``leaderelection``, ``informer``): 55-60 % of the
    client's import time, the largest import of a live run (issue 17), for modules skewaudit
    never uses. Here the package is registered as a module of its own spec whose ``__init__``
    runs the moment anything asks it for an attribute it lacks (PEP 562): ``kubernetes.watch``,
    ``kubernetes.__version__``, ``from kubernetes import stream``. So any other code sees the
    package exactly as usual; only the dotted imports of this module skip the rest."""
    import importlib.util
    import sys

    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return   # not a regular package: the normal import says what is wrong
    pkg = importlib.util.module_from_spec(spec)
    lock = threading.Lock()

    def complete(name: str) -> Any:
        with lock:
            if pkg.__dict__.pop("__getattr__", None) is not None:
                spec.loader.exec_module(pkg)   # type: ignore[union-attr]
        if name in pkg.__dict__:
            return pkg.__dict__[name]
        raise AttributeError(f"module 'kubernetes' has no attribute {name!r}")

    pkg.__getattr__ = complete   # type: ignore[attr-defined]
    sys.modules["kubernetes"] = pkg


@dataclass
class Conn:
    cfg: Any
    context: str | None
    namespace: str
    host: str          # for messages and snapshot inputs (credentials redacted)


def _kubeconfig_paths(req: SourceRequest) -> tuple[str, str]:
    if req.kubeconfig:
        return req.kubeconfig, "--kubeconfig/KUBECONFIG"
    if os.environ.get("KUBECONFIG"):
        return os.environ["KUBECONFIG"], "KUBECONFIG"
    return "~/.kube/config", "the default location"


def connect(req: SourceRequest) -> Conn:
    """Load the kubeconfig (or in-cluster config) into a client Configuration."""
    _lean_client()
    from kubernetes.client.configuration import Configuration
    from kubernetes.config import kube_config
    from kubernetes.config.config_exception import ConfigException

    cfg = Configuration()
    paths, origin = _kubeconfig_paths(req)
    existing = [p for p in paths.split(os.pathsep) if p and os.path.exists(os.path.expanduser(p))]
    if not existing:
        if os.environ.get("KUBERNETES_SERVICE_HOST") and not req.kubeconfig:
            return _in_cluster(cfg)
        raise EnvironmentUnavailable(
            f"no kubeconfig: looked in {paths} ({origin}), and not running inside a cluster "
            "(KUBERNETES_SERVICE_HOST is unset); pass --kubeconfig or --manifest")
    files = os.pathsep.join(existing)
    for path in existing:
        _check_kubeconfig(os.path.expanduser(path))
    try:
        contexts, active = kube_config.list_kube_config_contexts(files)
        names = [c["name"] for c in contexts or []]
        ctx = req.context or (active or {}).get("name")
        if req.context and req.context not in names:
            raise InputError(f"unknown context {req.context!r} in {files}; available: {', '.join(names) or 'none'}")
        if not ctx:
            raise InputError(f"{files} has no current-context; pass --context (available: {', '.join(names)})")
        with deadline.waiting(f"loading kubeconfig {files}"):
            # Loaded through the library's own merger and loader, but an exec credential
            # plugin is run here, bounded, and its failure ends the run (see kubeexec).
            merged = kube_config.KubeConfigMerger(files)
            if merged.config is None:
                raise ConfigException("Invalid kube-config file. No configuration found.")
            resolve_exec_user(merged.config, ctx, req.timeout)
            kube_config.KubeConfigLoader(config_dict=merged.config, active_context=ctx,
                                         config_base_path=None).load_and_set(cfg)
    except ConfigException as e:
        first = str(e).splitlines()[0]
        if first.startswith(("exec:", "cmd-path:")) or "credential" in first.lower():
            # an exec/auth plugin failed: the environment, not the file, is the problem
            raise EnvironmentUnavailable(f"kubeconfig {files}: getting credentials failed: {first}") from None
        raise InputError(f"kubeconfig {files}: {first}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:   # unreadable / not a kubeconfig
        raise InputError(f"kubeconfig {files}: cannot read it ({type(e).__name__}: {e})") from None
    ns = next(((c.get("context") or {}).get("namespace") for c in contexts
               if isinstance(c, dict) and isinstance(c.get("context") or {}, dict) and c.get("name") == ctx),
              None)
    ns = ns if isinstance(ns, str) and ns else "default"
    _tune(cfg, req)
    host = redact.scrub(cfg.host)   # host as shown: no userinfo
    if not cfg.verify_ssl and str(cfg.host).startswith("https:"):
        _insecure_once(host, ctx)
    return Conn(cfg, ctx, ns, host)


def _check_kubeconfig(path: str) -> None:
    """One clear line for a kubeconfig that is not one (binary, not YAML, not a mapping) before the
    ``kubernetes`` loader sees it: its own errors for these are tracebacks, not messages."""
    import yaml

    from skewaudit import yamlsafe

    try:
        with open(path, "rb") as f:
            data = f.read(_KUBECONFIG_MAX + 1)
    except OSError as e:
        raise InputError(f"kubeconfig {path}: cannot read it: {e.strerror}") from None
    if len(data) > _KUBECONFIG_MAX:
        raise InputError(f"kubeconfig {path}: larger than {_KUBECONFIG_MAX // 2**20} MiB; not a kubeconfig")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"kubeconfig {path}: not a kubeconfig (binary data, not UTF-8 text at byte {e.start})") \
            from None
    if "\x00" in text:
        raise InputError(f"kubeconfig {path}: not a kubeconfig (binary data: a NUL byte)")
    try:
        yamlsafe.check(text)
        doc = yaml.load(text, Loader=yaml.CSafeLoader)
    except yamlsafe.Refused as e:
        raise InputError(f"kubeconfig {path}:{e.line}:{e.col}: {e.text}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        raise InputError(f"kubeconfig {path}{at}: not valid YAML: {e.problem or e.context}") from None
    except (yaml.YAMLError, ValueError) as e:
        raise InputError(f"kubeconfig {path}: not valid YAML: {str(e).splitlines()[0]}") from None
    if doc is not None and not isinstance(doc, dict):
        raise InputError(f"kubeconfig {path}: not a kubeconfig (a YAML {type(doc).__name__}, expected a mapping "
                         "with clusters, contexts and users)")


_KUBECONFIG_MAX = 16 * 2**20


def _in_cluster(cfg: Any) -> Conn:
    from kubernetes.config import incluster_config
    from kubernetes.config.config_exception import ConfigException

    try:
        incluster_config.load_incluster_config(client_configuration=cfg)
    except ConfigException as e:
        raise EnvironmentUnavailable(f"in-cluster configuration failed: {e}") from None
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
            ns = f.read().strip() or "default"
    except OSError:
        ns = "default"
    return Conn(cfg, None, ns, redact.scrub(cfg.host))


def _insecure_once(host: str, ctx: str) -> None:
    """One line of skewaudit's own instead of urllib3's InsecureRequestWarning on every request."""
    import sys
    import warnings

    import urllib3

    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    sys.stderr.write(f"warning: TLS certificate verification is off for {host} (insecure-skip-tls-verify in "
                     f"context {ctx}): the API server's identity is not checked\n")


def _tune(cfg: Any, req: SourceRequest) -> None:
    from urllib3.util.retry import Retry

    # No urllib3 retries: a connect failure fails fast (one --timeout, not four),
    # and 429/5xx come back to Api.get, which retries them with a bounded budget
    # (urllib3 would otherwise sleep on Retry-After itself, unbounded).
    # One read retry only: a pooled keep-alive connection the server already closed fails at once
    # with RemoteDisconnected; GETs are idempotent, and the caller's own wait stays --timeout.
    cfg.retries = Retry(total=1, connect=0, read=1, status=0, other=0, redirect=0, respect_retry_after_header=False,
                        raise_on_status=False)
    cfg.connection_pool_maxsize = max(4, req.workers)


# --- HTTP ----------------------------------------------------------------------


class Api:
    """GET-only access through the kubernetes REST client, raw bytes out.

    Every request is bounded three ways: ``timeout`` for the connection and for
    the whole answer (headers and body: a server that trickles bytes is cut off
    like one that sends none), the run's ``--deadline``, and the byte limit
    (``--max-input-bytes``) on the body, which is read in chunks and refused past
    it, never read whole first. The request runs on a daemon thread the caller
    waits for, so no socket state (a stalled TLS handshake, trickled headers) can
    hold the run past its bounds; an abandoned request ends with the process."""

    def __init__(self, conn: Conn, timeout: float):
        from kubernetes.client.api_client import ApiClient

        self.conn = conn
        self.client = ApiClient(conn.cfg)
        self.timeout = timeout
        self.max_bytes = max_input_bytes()
        self.sleep: Callable[[float], None] = time.sleep
        self.stopped = threading.Event()   # set when the run fails: queued requests give up at once

    def close(self) -> None:
        self.stopped.set()
        self.client.close()

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> bytes:
        what = describe(path)
        with deadline.waiting(what):
            waited = 0.0
            for attempt in range(MAX_RETRIES + 1):
                status, headers, data = self._request(path, query, what)
                if 200 <= status < 300:
                    return data
                if (status == 429 or status >= 500) and attempt < MAX_RETRIES and waited < RETRY_BUDGET_S:
                    delay = _retry_after(headers.get("Retry-After"), 0.2 * 2 ** attempt)
                    delay, by_deadline = deadline.budget(min(delay, RETRY_BUDGET_S - waited))
                    self.sleep(delay)
                    if by_deadline:
                        raise deadline.reached(what)
                    waited += delay
                    continue
                raise HttpError(status, _status_message(data), attempt)
        raise AssertionError("unreachable")

    def get_raw(self, path: str, limit: int, accept: str = "*/*") -> tuple[int, bytes]:
        """One GET, no retry, any status (``--probe`` through the pod proxy): (status, body of at
        most ``limit`` bytes). Whatever fails is that one request's failure (OSError with the
        reason), not the run's; only the run's deadline still ends the run."""
        what = f"probing {path.split('/proxy', 1)[0].rsplit('/', 1)[-1]}"
        try:
            with deadline.waiting(what):
                status, _, data = self._request(path, None, what, limit=limit, accept=accept)
        except deadline.DeadlineReached:
            raise
        except EnvironmentUnavailable as e:
            raise OSError(e.message if hasattr(e, "message") else str(e)) from None
        return status, data

    def _request(self, path: str, query: list[tuple[str, str]] | None, what: str, *, limit: int | None = None,
                 accept: str = "application/json") -> tuple[int, Any, bytes]:
        if self.stopped.is_set():
            raise EnvironmentUnavailable(f"stopped while {what}")
        wait, by_deadline = deadline.budget(self.timeout)
        method, url, headers, _, _ = self.client.param_serialize(
            "GET", path, query_params=list(query or []), header_params={"Accept": accept},
            auth_settings=["BearerToken"])
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                box["result"] = self._fetch(method, url, headers, wait, box, limit)
            except BaseException as e:  # noqa: BLE001 - handed to the waiting thread
                box["error"] = e

        worker = threading.Thread(target=work, name="skewaudit-http", daemon=True)
        worker.start()
        # a little slack: the socket's own timeout usually speaks first, with its own words
        worker.join(wait + (0 if by_deadline else 0.25))
        if worker.is_alive():
            box["abandoned"] = True
            resp = box.get("response")
            if resp is not None:
                try:
                    resp.shutdown()   # unblocks the worker's read (urllib3 >= 2.3)
                except Exception:  # noqa: BLE001 - best effort; the thread is a daemon anyway
                    pass
            if by_deadline:
                raise deadline.reached(what)
            raise EnvironmentUnavailable(f"the Kubernetes API at {self.conn.host} did not answer within "
                                         f"{self.timeout:g} s (--timeout) while {what}")
        if "error" in box:
            self._raise(box["error"], what, by_deadline)
        return box["result"]

    def _fetch(self, method: str, url: str, headers: Any, wait: float, box: dict, limit: int | None = None
               ) -> tuple[int, Any, bytes]:
        resp = self.client.call_api(method, url, headers, _request_timeout=(wait, wait)).response
        box["response"] = resp
        most = self.max_bytes if limit is None else min(limit, self.max_bytes)
        try:
            length = resp.headers.get("Content-Length")
            declared = int(length) if length and length.isdigit() else None
            if declared is not None and declared > most:
                raise _TooLarge(declared, most)   # refused before a byte of the body is read
            if declared is not None and not resp.headers.get("Content-Encoding"):
                # A plain body of a declared length (within the limit) is read in one call: one
                # allocation of exactly that size, not a chunk loop, a growing buffer and a copy
                # of it (issue 17: that was 40 % of the HTTP layer's CPU for 174 MB of pods).
                # A short body fails here as it did in the loop (urllib3 enforces the length).
                data = resp.read()
            else:
                # No length, or an encoding (a compressed body decodes to more than it declares):
                # read in CHUNKs, counting what arrives against the limit.
                chunks: list[bytes] = []
                got = 0
                while not box.get("abandoned"):
                    chunk = resp.read(min(CHUNK, most + 1 - got))
                    if not chunk:
                        break
                    chunks.append(chunk)
                    got += len(chunk)
                    if got > most:
                        raise _TooLarge(None, most)
                data = b"".join(chunks)
        except BaseException:
            resp.close()   # the connection is mid-answer: never back to the pool
            raise
        resp.release_conn()
        return resp.status, resp.headers, data

    def _raise(self, e: BaseException, what: str, by_deadline: bool = False) -> None:
        import urllib3

        host = self.conn.host
        if isinstance(e, _TooLarge):
            size = f" ({e.size} bytes)" if e.size else ""
            raise EnvironmentUnavailable(f"the Kubernetes API at {host} sent an answer larger than "
                                         f"{human(e.limit)}{size} while {what}; refused "
                                         f"(--max-input-bytes, {LIMIT_ENV})") from None
        if isinstance(e, urllib3.exceptions.ReadTimeoutError) or isinstance(
                getattr(e, "reason", None), urllib3.exceptions.ReadTimeoutError):
            if by_deadline:   # the socket's timeout was cut to what the deadline left
                raise deadline.reached(what) from None
            raise EnvironmentUnavailable(f"the Kubernetes API at {host} did not answer within "
                                         f"{self.timeout:g} s (--timeout) while {what}") from None
        if isinstance(e, urllib3.exceptions.HTTPError):
            why = _short(getattr(e, "reason", None) or e)
            if "timed out" in why:
                if by_deadline:
                    raise deadline.reached(what) from None
                why += f" after {self.timeout:g} s (--timeout)"
            raise EnvironmentUnavailable(f"cannot reach the Kubernetes API at {host}: {why}") from None
        if getattr(e, "status", None) == 0:   # the client wraps SSL errors in ApiException(status=0)
            raise EnvironmentUnavailable(f"cannot reach the Kubernetes API at {host}: "
                                         f"{_short(getattr(e, 'reason', e))}") from None
        raise e


class _TooLarge(Exception):
    def __init__(self, size: int | None, limit: int):
        super().__init__(size)
        self.size, self.limit = size, limit


def describe(path: str) -> str:
    """What a GET of ``path`` is doing, for messages: ``listing pods in namespace ml``."""
    parts = [p for p in path.split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    where = f" in namespace {ns}" if ns else ""
    if len(rest) == 1:
        return f"listing {rest[0]}{where}" if ns else f"listing {rest[0]} cluster-wide"
    if len(rest) >= 2:
        return f"getting {rest[0]} {'/'.join(rest[1:])}{where}"
    return f"reading {path}"


def _retry_after(value: str | None, default: float) -> float:
    try:
        return max(0.0, float(value)) if value else default
    except ValueError:
        return default


def _short(reason: object) -> str:
    text = str(reason)
    for marker in ("Connection refused", "timed out", "Name or service not known", "No route to host",
                   "certificate verify failed", "Temporary failure in name resolution"):
        if marker in text:
            return marker.lower() if marker != "timed out" else "timed out"
    return text.split(": ", 1)[-1][:200]


# --- paging and error mapping ------------------------------------------------------


def pages(api: Api, path: str, decode: Callable[[bytes], Any], *, selector: str = "", field: str = ""
          ) -> Iterator[Any]:
    """The decoded pages of one list, ``limit=PAGE`` + ``continue`` until the
    server has no more. A 410 on a continue token (expired) restarts the list
    once from the start: the caller skips the objects it already has. Any
    other failure raises :class:`HttpError`."""
    restarted = False
    token = ""
    while True:
        q = [("limit", str(PAGE))]
        if selector:
            q.append(("labelSelector", selector))
        if field:
            q.append(("fieldSelector", field))
        if token:
            q.append(("continue", token))
        try:
            data = api.get(path, q)
        except HttpError as e:
            if e.status == 410 and token and not restarted:
                restarted, token = True, ""   # continue token expired: start over, skip what we have
                continue
            raise
        page = decode(data)
        del data
        yield page
        token = page.metadata.continue_
        if not token:
            return


def failure(conn: Conn, res: Res, ns: str | None, verb: str, e: HttpError, required: bool
            ) -> CollectionIssue | None:
    """What an HTTP error on ``verb`` (list/get) of ``res`` means for the run.

    Raises ``EnvironmentUnavailable`` when the run cannot go on (credentials
    rejected, a required source forbidden or failing, the server failing);
    otherwise returns the issue to record, or None when there is nothing to
    say (an optional KServe resource the cluster does not serve)."""
    where = f"in namespace {ns}" if ns and res.namespaced else \
        ("cluster-wide" if res.namespaced else "(cluster-scoped)")
    if e.status == 401:
        raise EnvironmentUnavailable(
            f"the Kubernetes API at {conn.host} rejected the credentials (401 Unauthorized)"
            + (f" of context {conn.context}" if conn.context else "")
            + (f": {e.message}" if e.message else ""))
    if e.status == 403:
        if required:
            raise EnvironmentUnavailable(f"forbidden: skewaudit needs {verb} on {res.plural} {where}; "
                                         f"{RBAC_HINT} ({e.message})")
        return CollectionIssue(scope=f"{res.kind}/{ns}/*" if ns else f"{res.kind}/*",
                               kind="forbidden", area=res.area,
                               message=f"cannot {verb} {res.plural} {where}: those facts are "
                                       f"unverifiable; {RBAC_HINT} ({e.message})")
    if e.status == 404 and (res.crd or res.prefix.startswith("/apis/serving.kserve.io")):
        if required:
            return CollectionIssue(scope=f"{res.kind}/*", kind="unsupported", area="workload",
                                   message=f"the cluster serves no {res.plural} "
                                           f"({res.prefix[6:]} is not installed)")
        return None
    if e.status >= 500 or e.status == 429:
        tries = f"{e.retries} retr{'y' if e.retries == 1 else 'ies'}"
        raise EnvironmentUnavailable(f"the Kubernetes API at {conn.host} answered {e.status} to "
                                     f"{verb} {res.plural} {where} after {tries}: {e.message}")
    if required or e.status not in (404, 410):
        raise EnvironmentUnavailable(f"the Kubernetes API at {conn.host} answered {e.status} to "
                                     f"{verb} {res.plural} {where}: {e.message}")
    return CollectionIssue(scope=f"{res.kind}/*", kind="unreachable", area=res.area,
                           message=f"{verb} {res.plural} {where}: {e.status} {e.message}")
