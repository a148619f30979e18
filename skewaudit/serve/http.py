"""The HTTP side of ``skewaudit serve``: /metrics, /healthz and /report, read-only, from the last run."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from skewaudit.serve.state import Holder


def make_server(holder: Holder, host: str, port: int) -> ThreadingHTTPServer:
    """Bind (raises OSError when the address is taken); serve with :func:`start`."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "skewaudit"
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            path = self.path.split("?", 1)[0]
            state = holder.get()
            if path == "/metrics":
                from skewaudit.serve.metrics import CONTENT_TYPE, exposition

                self._send(200, CONTENT_TYPE, exposition(state))
            elif path == "/healthz":
                # Liveness of the server itself; a failing audit is a metric to alert on, not a restart.
                last = "no run yet" if not state.last_run else ("ok" if state.success else f"failing: {state.error}")
                self._send(200, "text/plain; charset=utf-8", f"ok\nlast run: {last}\n".encode())
            elif path == "/report":
                if state.report is None:
                    self._send(503, "text/plain; charset=utf-8", b"no successful audit yet\n")
                else:
                    self._send(200, "application/json", state.report_json)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found: /metrics, /healthz, /report\n")

        def do_HEAD(self) -> None:  # noqa: N802
            self.do_GET()

        def _send(self, code: int, ctype: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass   # scrapes every 15 s would drown the run log

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def start(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="skewaudit-http", daemon=True)
    thread.start()
    return thread
