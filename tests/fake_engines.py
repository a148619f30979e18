"""Fake serving engines on 127.0.0.1 answering from recorded bodies.

Each ``tests/fixtures/engines/<engine>-<version>/`` holds a ``fixture.json``
(engine, version, where the shape was checked, ``routes``: GET path -> file)
and the bodies. A path the version lacks answers 404, as that engine does.
Modes reproduce what goes wrong in the field:

* ``unauthorized``: paths under the fixture's ``protected`` prefixes (vLLM's
  ``--api-key`` guards ``/v1/*``) answer 401 ``{"error": "Unauthorized"}``;
* ``hang``: every request waits ``hang_s`` before answering (a stuck engine);
  stopping the engine ends the wait, so a long hang costs a test nothing after it;
* ``malformed``: every body is cut in half (a proxy or engine bug);
* ``drip``: headers at once, then the body one byte every ``hang_s`` seconds.

``overrides`` replaces one route's body (a dict is JSON-encoded): one odd
replica, one clamped length. ``requests`` logs ``(path, headers)`` so tests
can check that no credential ever reaches an engine.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENGINES = Path(__file__).resolve().parent / "fixtures" / "engines"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        eng: FakeEngine = self.server.engine  # type: ignore[attr-defined]
        path = urlsplit(self.path).path
        with eng.lock:
            eng.requests.append((path, dict(self.headers)))
        code, body, ctype = eng.answer(path)
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if eng.mode == "drip":
                for i in range(len(body)):
                    self.wfile.write(body[i:i + 1])
                    self.wfile.flush()
                    if eng.stopping.wait(eng.hang_s):
                        return
            else:
                self.wfile.write(body)
        except OSError:
            pass   # the client gave up (a hang test): nothing to do


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout and fault tests) makes the handler's write fail; socketserver
        # would print that traceback to stderr, where it lands in whichever test is capturing then.
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FakeEngine:
    def __init__(self, fixture: str, *, mode: str = "ok", overrides: dict[str, Any] | None = None,
                 hang_s: float = 5.0):
        self.dir = ENGINES / fixture
        self.meta = json.loads((self.dir / "fixture.json").read_text())
        self.mode, self.hang_s = mode, hang_s
        self.bodies: dict[str, bytes] = {p: (self.dir / f).read_bytes() for p, f in self.meta["routes"].items()}
        for p, v in (overrides or {}).items():
            self.bodies[p] = v if isinstance(v, bytes) else json.dumps(v).encode()
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        # set by stop(): a hanging or dripping handler ends (a daemon thread sleeping on would outlive its test)
        self.stopping = threading.Event()
        self.url = ""
        self._server: _Server | None = None

    @property
    def engine(self) -> str:
        return self.meta["engine"]

    def answer(self, path: str) -> tuple[int, bytes, str]:
        if self.mode == "hang":
            self.stopping.wait(self.hang_s)
        if self.mode == "unauthorized" and any(path.startswith(p) for p in self.meta.get("protected", ["/"])):
            return 401, b'{"error":"Unauthorized"}', "application/json"
        body = self.bodies.get(path)
        if body is None:
            return 404, b'{"detail":"Not Found"}', "application/json"
        if self.mode == "malformed":
            body = body[: len(body) // 2] or b"{"
        ctype = "text/plain; version=0.0.4; charset=utf-8" if path.endswith("metrics") else "application/json"
        return 200, body, ctype

    def start(self) -> "FakeEngine":
        self.stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.engine = self  # type: ignore[attr-defined]
        self._server = server
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeEngine":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

