"""The deadline's SIGALRM backstop keeps firing until the run ends.

A signal handler's exception raised while Python runs a weakref callback or a
``__del__`` is printed and dropped (seen in a loaded test run: the alarm's
``DeadlineReached`` went to a ``_weakrefset`` callback). With a one-shot alarm a
run then blocked in a wait of its own (a stdin pipe that never closes) was never
ended; the alarm now repeats every second until disarmed.
"""

from __future__ import annotations

import signal
import time

import pytest

from skewaudit import deadline

pytestmark = pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="POSIX interval timers only")


def test_a_dropped_alarm_is_followed_by_another_until_the_run_ends():
    deadline.start()
    try:
        deadline.arm(0.05)
        t0 = time.monotonic()
        # the first alarm is lost, as if raised inside a weakref callback
        with pytest.raises(deadline.DeadlineReached):
            time.sleep(30)
        # ... and a wait that cannot watch the budget is still cut, by the next alarm
        with pytest.raises(deadline.DeadlineReached, match="deadline of 0.05 s reached"):
            time.sleep(30)
        assert time.monotonic() - t0 < 20   # two alarms, not the 60 s of the sleeps
    finally:
        deadline.finish()
    # once the run is over nothing fires any more
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(1.5 * deadline.REPEAT_S)


def test_after_the_error_is_handled_no_alarm_interrupts_the_rest():
    deadline.start()
    try:
        deadline.arm(0.05)
        with pytest.raises(deadline.DeadlineReached):
            time.sleep(30)
        deadline.disarm()
        time.sleep(2.5 * deadline.REPEAT_S)   # would raise if the repeats outlived the disarm
    finally:
        deadline.finish()
