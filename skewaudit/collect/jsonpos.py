"""Where each object of a JSON manifest starts, as ``file:line:col``, without a second parse.

msgspec decodes a ``kubectl get -o json`` List with its items left as ``msgspec.Raw``: the
exact bytes of each value, in order, with nothing between two of them but a comma and
whitespace. So once the ``[`` of the ``items`` array is found, each item's offset is the
previous one's end plus that separator: one small regex match per item, nothing read inside
the items. Finding the ``[`` walks only the top-level members written before ``items``
(``apiVersion`` in kubectl's output). Offsets become line and column through
:class:`Positions`, which counts newlines from the last offset asked (items come in order),
so a 300 MB dump is counted once, in C.

Columns count characters, as the YAML loader's marks do. Anything unexpected (the decoder
accepted what this walk does not understand) yields no offset rather than a wrong one.
"""

from __future__ import annotations

import re
from typing import Iterator, Sequence

import msgspec

_WS = re.compile(rb"[ \t\r\n]*")
_SEP = re.compile(rb"[ \t\r\n]*,[ \t\r\n]*")
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.S)
_SCALAR = re.compile(rb"[^,\]}\s]+")       # a number, true, false or null
_STRUCT = re.compile(rb'[\[\]{}"]')          # what changes depth (or hides a bracket in a string)


def start(buf: bytes, i: int = 0) -> int:
    """Offset of the first value in ``buf`` from ``i`` on (after whitespace)."""
    return _WS.match(buf, i).end()


def _skip(buf: bytes, i: int) -> int | None:
    """Offset just after the JSON value starting at ``i``."""
    c = buf[i:i + 1]
    if c == b'"':
        m = _STRING.match(buf, i)
        return m.end() if m else None
    if c not in (b"{", b"["):
        m = _SCALAR.match(buf, i)
        return m.end() if m else None
    depth = 0
    while (m := _STRUCT.search(buf, i)) is not None:
        b = m.group()
        if b == b'"':
            s = _STRING.match(buf, m.start())
            if s is None:
                return None
            i = s.end()
            continue
        depth += 1 if b in (b"{", b"[") else -1
        i = m.end()
        if depth == 0:
            return i
    return None


def _decoded(key: bytes) -> object:
    try:
        return msgspec.json.decode(key)
    except msgspec.DecodeError:
        return None


def items_bracket(buf: bytes, obj: int) -> int | None:
    """Offset just after the ``[`` of the ``items`` member of the object at ``obj``."""
    if buf[obj:obj + 1] != b"{":
        return None
    i = obj + 1
    while True:
        i = _WS.match(buf, i).end()
        key = _STRING.match(buf, i)
        if key is None:
            return None
        i = _WS.match(buf, key.end()).end()
        if buf[i:i + 1] != b":":
            return None
        i = _WS.match(buf, i + 1).end()
        name = key.group()
        if name == b'"items"' or (b"\\" in name and _decoded(name) == "items"):
            return i + 1 if buf[i:i + 1] == b"[" else None
        end = _skip(buf, i)
        if end is None:
            return None
        i = _WS.match(buf, end).end()
        if buf[i:i + 1] != b",":
            return None
        i += 1


def item_offsets(buf: bytes, obj: int, items: Sequence[object]) -> Iterator[int | None]:
    """The offset of each of ``items`` (the decoded ``msgspec.Raw`` items of the List object at
    ``obj``), checked against the item's bytes; ``None`` for every item once the walk loses
    its place."""
    at = items_bracket(buf, obj)
    for n, item in enumerate(items):
        if at is None:
            yield None
            continue
        if n:
            m = _SEP.match(buf, at)
            at = m.end() if m else None
            if at is None:
                yield None
                continue
        else:
            at = _WS.match(buf, at).end()
        if not buf.startswith(item, at):   # type: ignore[arg-type]  # a Raw is a buffer: one memcmp
            at = None   # not where the decoder read it (a key written twice): no position at all
            yield None
            continue
        yield at
        at += len(item)   # type: ignore[arg-type]


class Positions:
    """``file:line:col`` for byte offsets into one JSON buffer, counted incrementally and only
    for the offsets a message names (:meth:`lazy`): a dump without problems counts nothing."""

    def __init__(self, name: str, buf: bytes):
        self.name, self.buf = name, buf
        self._ascii: bool | None = None
        self._off, self._line, self._col = 0, 1, 1   # the last offset asked and its position

    def at(self, off: int | None) -> str:
        if off is None:
            return self.name
        line, col = self.line_col(off)
        return f"{self.name}:{line}:{col}"

    def line_col(self, off: int) -> tuple[int, int]:
        if off < self._off:
            self._off, self._line, self._col = 0, 1, 1
        buf = self.buf
        last_nl = buf.rfind(b"\n", self._off, off)
        if last_nl >= 0:
            self._line += buf.count(b"\n", self._off, off)
            self._col = 1 + self._chars(last_nl + 1, off)
        else:
            self._col += self._chars(self._off, off)
        self._off = off
        return self._line, self._col

    def lazy(self, off: int | None) -> "At":
        return At(self, off)

    def _chars(self, a: int, b: int) -> int:
        if self._ascii is None:
            self._ascii = self.buf.isascii()   # then a column is a byte count: nothing decoded
        return b - a if self._ascii else len(self.buf[a:b].decode("utf-8", "replace"))


class At:
    """Where an object starts, worked out when a message is formatted (``f"{at}: …"``)."""

    __slots__ = ("positions", "off")

    def __init__(self, positions: Positions, off: int | None):
        self.positions, self.off = positions, off

    def __str__(self) -> str:
        return self.positions.at(self.off)
