"""One audit run and the record of the last one (what /metrics, /healthz and /report show)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class RunState:
    """What the last audit run left; replaced whole after each run, so readers never see half a run."""

    report: Any = None              # the last successful run's Report (None before the first)
    report_json: bytes = b""
    last_run: float = 0.0           # unix time the last run ended
    last_success: float = 0.0
    duration: float = 0.0           # seconds the last run took
    success: bool = False
    error: str = ""                 # the last failed run's one-line reason
    runs: dict[str, int] = field(default_factory=lambda: {"success": 0, "error": 0})


class Holder:
    """The current RunState behind a lock (the HTTP threads read while the loop writes)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = RunState()

    def get(self) -> RunState:
        with self._lock:
            return self._state

    def record(self, started: float, report: Any = None, error: str = "") -> RunState:
        """Record a run that began at ``started`` (unix time): its report, or why it failed."""
        now = time.time()
        with self._lock:
            old = self._state
            runs = dict(old.runs)
            if report is not None:
                from skewaudit import render

                runs["success"] += 1
                self._state = replace(old, report=report, report_json=render.render(report, "json", color=False).encode(),
                                      last_run=now, last_success=now, duration=now - started, success=True,
                                      error="", runs=runs)
            else:
                # The previous report stays served (marked stale by the success gauge), never a blank.
                runs["error"] += 1
                self._state = replace(old, last_run=now, duration=now - started, success=False, error=error,
                                      runs=runs)
            return self._state


def audit_once(spec_paths: list[str], source: dict[str, Any], *, fail_on: str, inline_ignores: bool,
               data: list[str] | None = None, data_profile: str | None = None) -> Any:
    """One audit exactly as ``diff`` runs it (specs reloaded each time: a ConfigMap may change), gated;
    with serving data (``--data``/``--data-profile``, re-read each run), the specs' data baselines too."""
    from skewaudit import audit, pipeline

    specs = pipeline.load_specs(spec_paths)
    snapshot = pipeline.collect_for(specs, source)
    report = audit.run(specs, snapshot, audit.Options(inline_ignores=inline_ignores))
    if data or data_profile:
        report = pipeline.with_data(report, pipeline.data_results_for_specs(specs, data, data_profile))
    return audit.apply_gate(report, fail_on, specs=specs)
