"""How a probe reaches an engine: the API server's pod proxy, or plain HTTP.

A transport answers ``get(path) -> Reply`` and nothing else: GET only, no
request body, and never a credential for the engine. The pod proxy
(``/api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH``) carries skewaudit's
own Kubernetes credentials to the API server, which does not forward them to
the pod; plain HTTP (``--local``, ``--endpoint``) sends no Authorization
header at all. So an engine started with ``--api-key`` answers 401, and that
is reported as such, never worked around with a key read from a Secret.

Every reply is bounded: ``MAX_BODY`` bytes at most are read (a longer body is
marked truncated and not parsed, or refused unread through the proxy), each
whole answer has the run's ``--timeout`` (and ``--deadline``), and a
:class:`Budget` ends the whole probe round after ``PROBE_BUDGET_S``.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote, urlsplit

MAX_BODY = 4 * 1024 * 1024     # a /metrics page of a busy engine is ~100-300 KB
PROBE_BUDGET_S = 120.0         # the whole probe round, every pod included


@dataclass(frozen=True)
class Reply:
    """What one GET brought back. ``status`` 0: no HTTP answer (``error`` says why)."""

    status: int
    body: bytes = b""
    error: str | None = None
    truncated: bool = False


class Transport(Protocol):
    where: str

    def get(self, path: str) -> Reply: ...


class Budget:
    """The probe round's deadline, shared by every worker."""

    def __init__(self, seconds: float = PROBE_BUDGET_S):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.lock = threading.Lock()

    def left(self) -> float:
        return self.end - time.monotonic()

    def spent(self) -> bool:
        return self.left() <= 0


class HttpTransport:
    """Plain HTTP(S) to an engine's base URL (``--local``, ``--endpoint``)."""

    def __init__(self, base_url: str, timeout: float, budget: Budget | None = None):
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{base_url!r} is not an http(s) URL")
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.prefix = parts.path.rstrip("/")
        self.timeout, self.budget = timeout, budget
        self.where = f"{parts.scheme}://{parts.netloc}{self.prefix}"

    def get(self, path: str) -> Reply:
        from skewaudit import deadline

        timeout = self.timeout
        if self.budget is not None:
            timeout = min(timeout, max(0.05, self.budget.left()))
        timeout, _ = deadline.budget(timeout)     # the run's --deadline bounds this wait too
        end = time.monotonic() + timeout
        cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=timeout)
        try:
            # No Authorization, no cookies: skewaudit never sends an engine credential.
            conn.request("GET", self.prefix + path, headers={"Accept": "application/json, text/plain",
                                                             "User-Agent": "skewaudit-probe"})
            resp = conn.getresponse()
            body = bytearray()
            while len(body) <= MAX_BODY:
                # the whole answer within the timeout: an engine that trickles bytes is cut off too
                if time.monotonic() > end:
                    return Reply(0, error=f"the answer was not complete within {timeout:g} s (--timeout)")
                chunk = resp.read1(min(64 * 1024, MAX_BODY + 1 - len(body)))   # what has arrived
                if not chunk:
                    break
                body += chunk
            return Reply(resp.status, bytes(body[:MAX_BODY]), truncated=len(body) > MAX_BODY)
        except (socket.timeout, TimeoutError):
            return Reply(0, error=f"no answer within {timeout:g} s (--timeout)")
        except ConnectionRefusedError:
            return Reply(0, error=f"connection refused at {self.where}")
        except (OSError, http.client.HTTPException) as e:
            return Reply(0, error=f"cannot reach {self.where}: {type(e).__name__}: {str(e)[:120]}")
        finally:
            conn.close()


class ProxyTransport:
    """GET through the API server's pod proxy, on the run's kubernetes client."""

    def __init__(self, api, namespace: str, pod: str, port: int):
        self.api = api
        self.base = f"/api/v1/namespaces/{quote(namespace)}/pods/{quote(pod)}:{port}/proxy"
        self.where = f"pod proxy :{port}"

    def get(self, path: str) -> Reply:
        try:
            # the client's own bounds apply: --timeout for the whole answer, --deadline, and
            # MAX_BODY (a longer answer is refused unread, reported as this GET's failure)
            status, body = self.api.get_raw(self.base + path, MAX_BODY)
        except OSError as e:
            return Reply(0, error=f"through the pod proxy: {str(e)[:200]}")
        return Reply(status, body)
