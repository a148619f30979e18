"""Exit codes and the exceptions that end a whole run.

Per-target problems (one pod unreadable, one optional source forbidden) are not
exceptions: collectors record them as ``CollectionIssue`` facts and the differ
turns them into *unverifiable* results. Only a failure that makes the whole run
meaningless raises one of these; the CLI catches ``SkewauditError`` once, prints
its one-line message and exits with its code.
"""

from __future__ import annotations

import re
from enum import IntEnum

# C0/C1 control characters. A value read from a cluster or a file (an object name, an
# annotation, an arg, an API server's Status message) could carry an ESC sequence that
# repaints the user's terminal or retitles it, a newline that forges a table row or a
# second error line, or a byte XML 1.0 forbids: they are written as visible escapes.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def printable(text: str) -> str:
    """``text`` with control characters written as ``\\n``, ``\\x1b`` …: safe on a terminal line.
    The one helper the table renderers and the CLI's error printer use."""
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(), f"\\x{ord(m.group()):02x}"), text)


class ExitCode(IntEnum):
    OK = 0            # nothing at or above the --fail-on threshold
    DRIFT = 1         # drift found (diff) at or above the threshold
    USAGE = 2         # bad flags, bad spec, bad manifest: the user's input
    UNAVAILABLE = 3   # the environment could not be read (cluster, GPU source)
    BUG = 70          # an unexpected exception: never to be read as "drift"


class SkewauditError(Exception):
    """Base class: carries the exit code and a one-line, user-facing message."""

    exit_code: ExitCode = ExitCode.USAGE

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InputError(SkewauditError):
    """A file, flag or document the user gave is wrong (exit 2).

    ``message`` is already in ``file:line:col: what is wrong`` form where a
    position is known.
    """

    exit_code = ExitCode.USAGE


class SpecError(InputError):
    """One or more ModelSpec problems; ``problems`` holds one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class EnvironmentUnavailable(SkewauditError):
    """The source of running facts cannot be reached at all (exit 3)."""

    exit_code = ExitCode.UNAVAILABLE
