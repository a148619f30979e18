"""The run's overall deadline (``--deadline``) and what the run is waiting for.

Every wait skewaudit makes on the outside world (an API answer, an exec
credential plugin, stdin) has its own bound (``--timeout``); the deadline
bounds the sum, so a cluster that answers each call just in time, or a retry
loop, still ends. When it passes, the run exits 3 with one line naming what it
was waiting for: ``deadline of 300 s reached while listing pods in namespace ml``.

Two mechanisms, both reading the state here:

- waits that can be cut short ask :func:`budget` how long they may wait and
  raise :func:`reached` themselves (the HTTP layer does);
- a ``SIGALRM`` backstop (main thread, POSIX) interrupts anything else that
  blocks, such as a read of a stdin pipe that never closes.

Standard library only: the CLI arms it before any heavy import.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Iterator

from skewaudit.errors import EnvironmentUnavailable

DEFAULT_S = 300.0
REPEAT_S = 1.0                   # the backstop alarm repeats this often after the deadline until disarmed
ENV = "SKEWAUDIT_DEADLINE"


class DeadlineReached(EnvironmentUnavailable):
    """The run's ``--deadline`` passed (exit 3)."""


_started = time.monotonic()      # the run's start; cli.main resets it
_seconds: float | None = None
_until: float | None = None      # monotonic time the run must end by
_doing = threading.local()
_last = "starting"               # what the main flow last said it waits for (for the alarm)


_in_run = False                  # between start() and finish(): the CLI owns the process and its SIGALRM


def start() -> None:
    """Mark the start of a CLI run (the deadline counts from here) and clear any armed one."""
    global _started, _in_run
    disarm()
    _started, _in_run = time.monotonic(), True


def finish() -> None:
    """The CLI run is over: no deadline, no alarm (a library caller never gets a SIGALRM)."""
    global _in_run
    disarm()
    _in_run = False


def arm(seconds: float) -> None:
    """End the run ``seconds`` after :func:`start`; 0 turns the deadline off."""
    global _seconds, _until
    disarm()
    if seconds <= 0:
        return
    _seconds, _until = seconds, _started + seconds
    left = _until - time.monotonic()
    if left <= 0:
        raise reached()
    _alarm(left)


def disarm() -> None:
    global _seconds, _until
    _seconds = _until = None
    _alarm(0)


def remaining() -> float | None:
    """Seconds left before the deadline; None when there is none."""
    return None if _until is None else _until - time.monotonic()


def budget(timeout: float) -> tuple[float, bool]:
    """How long one wait of at most ``timeout`` seconds may last, and whether
    the deadline (not the timeout) is what limits it. Raises :class:`DeadlineReached`
    when no time is left."""
    left = remaining()
    if left is None or left >= timeout:
        return timeout, False
    if left <= 0:
        raise reached()
    return left, True


def doing() -> str:
    return getattr(_doing, "what", None) or _last


@contextmanager
def waiting(what: str) -> Iterator[None]:
    """Say what this thread waits for (``listing pods in namespace ml``) while inside."""
    global _last
    before = getattr(_doing, "what", None)
    _doing.what = what
    _last = what   # any thread's latest wait: what the alarm names
    try:
        yield
    finally:
        _doing.what = before


def reached(what: str | None = None) -> DeadlineReached:
    seconds = _seconds if _seconds is not None else 0.0
    return DeadlineReached(f"deadline of {seconds:g} s reached while {what or doing()} "
                           f"(--deadline, {ENV})")


def _on_alarm(signum: int, frame: object) -> None:
    if _until is not None:
        raise reached(_last)
    _alarm(0)   # disarmed in the meantime: stop the repeats


def _alarm(seconds: float) -> None:
    """Schedule (or, with 0, cancel) the SIGALRM backstop; only the main thread can."""
    import signal

    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        return
    if seconds > 0 and not _in_run:
        return
    if seconds > 0:
        signal.signal(signal.SIGALRM, _on_alarm)
        # A little after the deadline (waits that watch the budget speak first, with their own words),
        # then every second until disarmed: a signal handler's exception raised while Python runs a
        # weakref callback or a __del__ is printed and dropped, and a one-shot alarm would then never
        # end a run blocked in a wait of its own (a stdin pipe that never closes).
        signal.setitimer(signal.ITIMER_REAL, seconds + 0.5, REPEAT_S)
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)
