"""Byte limits on everything skewaudit reads: manifest files, stdin, snapshots, API answers.

One limit, ``--max-input-bytes`` (``SKEWAUDIT_MAX_INPUT_BYTES``; default 256 MiB),
so ``/dev/zero`` given as a manifest, a runaway pipe or a 1 GiB API answer is
refused after at most that many bytes, read in chunks (never one whole-file
read first), instead of exhausting memory. The limit is per input: a manifest
file, stdin, a snapshot, one API answer (one list page or one object).

Standard library only.
"""

from __future__ import annotations

import os
import re
import sys
from typing import BinaryIO

from skewaudit.errors import InputError

DEFAULT_MAX_INPUT_BYTES = 256 * 2**20
ENV = "SKEWAUDIT_MAX_INPUT_BYTES"
CHUNK = 1 << 20
_UNITS = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "ki": 2**10, "mi": 2**20, "gi": 2**30}

_limit = DEFAULT_MAX_INPUT_BYTES


def parse_size(text: str | int) -> int:
    """``268435456``, ``256Mi``, ``300M``, ``1GiB`` → bytes; InputError otherwise."""
    if isinstance(text, int):
        n = text
    else:
        m = re.fullmatch(r"\s*(\d{1,15})\s*([kmg]i?)?b?\s*", str(text), re.IGNORECASE)
        if not m:
            raise InputError(f"--max-input-bytes: {text!r} is not a size (e.g. 268435456, 256Mi, 1Gi)")
        n = int(m.group(1)) * _UNITS[(m.group(2) or "").lower()]
    if n < 1024:
        raise InputError(f"--max-input-bytes: {text!r} is too small (at least 1024 bytes)")
    return n


def set_max_input_bytes(n: int) -> None:
    global _limit
    _limit = n


def max_input_bytes() -> int:
    return _limit


def human(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n} bytes"


def too_large(name: str, limit: int | None = None) -> str:
    limit = limit or _limit
    return (f"{name}: larger than {human(limit)} (--max-input-bytes, {ENV}); "
            "raise the limit if this input is really that large")


def read_stream(stream: BinaryIO, name: str, limit: int | None = None) -> bytes:
    """Read ``stream`` to its end in chunks, refusing it past ``limit`` bytes."""
    limit = limit or _limit
    buf = bytearray()
    while True:
        chunk = stream.read(min(CHUNK, limit + 1 - len(buf)))
        if not chunk:
            return bytes(buf)
        buf += chunk
        if len(buf) > limit:
            raise InputError(too_large(name, limit))


def read_input(path: str, name: str | None = None) -> bytes:
    """A file's bytes, or stdin's for ``-``, within the limit (exit 2 past it)."""
    name = name or ("<stdin>" if path == "-" else path)
    if path == "-":
        stream = getattr(sys.stdin, "buffer", None)
        if stream is None:   # a text stdin (tests replacing sys.stdin)
            text = sys.stdin.read(_limit + 1)
            data = text.encode("utf-8", "surrogateescape")
            if len(data) > _limit:
                raise InputError(too_large(name))
            return data
        from skewaudit import deadline

        with deadline.waiting("reading stdin"):
            return read_stream(stream, name)
    with open(path, "rb") as f:
        try:
            size = os.fstat(f.fileno()).st_size
        except OSError:
            size = 0
        if size > _limit:   # a regular file says its size: refuse without reading it
            raise InputError(too_large(name))
        return read_stream(f, name)
