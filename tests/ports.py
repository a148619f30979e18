"""Loopback ports for tests, without races: one that refuses connections, and a real server process
(Prometheus, the Pushgateway) started on a free one.

A port found free (bind to port 0, read it, close) is only free until someone else binds it: an outgoing
connection's ephemeral port or another test's server can take it before the process we start binds it.
So ``refused_port`` keeps its socket bound (not listening: connections are refused, and nobody else can
take the port while the test runs), and ``spawn_listening`` starts the server again on another port when it
exits because its port was taken, instead of failing the test by chance.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from typing import Callable, Iterator

ADDRESS_IN_USE = "address already in use"     # Go's net.Listen error text (Prometheus, the Pushgateway)


def free_port() -> int:
    """A loopback port nothing was bound to a moment ago (a server that cannot take port 0 is told it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses connections for as long as the block runs (bound, never listening)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then wait (bounded), then SIGKILL if it is still there."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)


def spawn_listening(argv: Callable[[int], list[str]], ready: Callable[[str], bool], what: str,
                    limit: float = 120.0, attempts: int = 5) -> tuple[subprocess.Popen, str]:
    """Start ``argv(port)`` on a free loopback port and wait until ``ready(url)`` (an OSError counts as not yet).

    Returns the process (stderr piped, text) and its ``http://127.0.0.1:PORT``. A process that exits because
    its port was taken meanwhile is started again on another port; any other exit, or no readiness within
    ``limit`` seconds, fails the test naming ``what``."""
    for _ in range(attempts):
        port = free_port()
        proc = subprocess.Popen(argv(port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        url = f"http://127.0.0.1:{port}"
        end = time.monotonic() + limit
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                if ADDRESS_IN_USE in err:
                    break     # the port was taken between free_port() and the bind: another port
                raise AssertionError(f"{what} exited with {proc.returncode}: {err}")
            try:
                if ready(url):
                    return proc, url
            except OSError:
                pass          # not listening yet
            if time.monotonic() > end:
                stop(proc)
                raise AssertionError(f"timed out after {limit:g} s waiting for {what} to listen")
            time.sleep(0.2)
    raise AssertionError(f"{what}: {attempts} free ports in a row were taken before it could bind one")
