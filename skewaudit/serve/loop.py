"""The audit loop of ``skewaudit serve``: one run per interval in the main thread (so the run's
--deadline backstop works), the HTTP server in another, a clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any

from skewaudit.errors import SkewauditError, printable
from skewaudit.serve.state import Holder, audit_once


def run_one(holder: Holder, spec_paths: list[str], source: dict[str, Any], *, fail_on: str,
            inline_ignores: bool, data: list[str] | None = None, data_profile: str | None = None
            ) -> SkewauditError | None:
    """One bounded audit run recorded in ``holder``; returns the error that failed it, if any."""
    from skewaudit import deadline

    started = time.time()
    deadline.start()     # each run gets the whole --deadline (source_request arms it from the flag)
    try:
        report = audit_once(spec_paths, source, fail_on=fail_on, inline_ignores=inline_ignores, data=data,
                            data_profile=data_profile)
    except SkewauditError as e:
        deadline.disarm()   # before the record: the backstop alarm repeats until disarmed
        holder.record(started, error=e.message.splitlines()[0] if e.message else type(e).__name__)
        return e
    finally:
        deadline.disarm()
    holder.record(started, report=report)
    return None


def serve_forever(holder: Holder, spec_paths: list[str], source: dict[str, Any], *, fail_on: str,
                  inline_ignores: bool, host: str, port: int, interval: float, data: list[str] | None = None,
                  data_profile: str | None = None) -> None:
    from skewaudit.errors import EnvironmentUnavailable
    from skewaudit.serve.http import make_server, start

    try:
        server = make_server(holder, host, port)
    except OSError as e:
        raise EnvironmentUnavailable(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    start(server)
    h, p = server.server_address[:2]
    sys.stderr.write(f"skewaudit serve: listening on http://{h}:{p} (/metrics, /healthz, /report), "
                     f"auditing every {interval:g} s\n")
    sys.stderr.flush()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.is_set():
            err = run_one(holder, spec_paths, source, fail_on=fail_on, inline_ignores=inline_ignores, data=data,
                          data_profile=data_profile)
            state = holder.get()
            if err is not None:
                sys.stderr.write(printable(f"skewaudit serve: audit failed ({state.error}); keeping the last "
                                           f"report") + "\n")
            else:
                g = state.report.gate
                sys.stderr.write(f"skewaudit serve: audit done in {state.duration:.2f} s: "
                                 f"{g.reason if g and g.reason else 'clean'}\n")
            sys.stderr.flush()
            stop.wait(interval)
    finally:
        server.shutdown()
        server.server_close()
