"""Atomic file writes: a report or snapshot is either whole on disk or absent.

Written to a temporary file in the same directory, flushed and fsynced, then
renamed over the target (``os.replace`` is atomic on POSIX), so a crash or a
full disk never leaves a truncated report behind for CI to read.
"""

from __future__ import annotations

import os
import tempfile

from skewaudit.errors import InputError


def write_atomic(path: str, text: str | bytes) -> None:
    """Write ``text`` to ``path`` atomically; ``-`` means stdout."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if path == "-":
        import sys

        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise InputError(f"{path}: cannot write: directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"{path}: cannot write: {e.strerror}") from None
