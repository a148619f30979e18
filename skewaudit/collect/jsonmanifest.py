"""The objects of a JSON manifest (``kubectl get -o json``, a hand-written object), located.

A List's items are left undecoded (``msgspec.Raw``) and routed by kind, name and namespace
alone, so a 10,000-pod dump is never a dict tree; where each object starts comes from
:mod:`skewaudit.collect.jsonpos`.

A key written twice in one object is a warning with the ``file:line:col`` of its second
occurrence, as in YAML manifests (msgspec, like PyYAML, keeps the last value; kubectl
refuses the file). Finding one soundly costs a full parse of every object, so the test is
the cheapest exact one found: msgspec decodes the object generically, which drops the
repeated members, and encodes it again; a ``:`` is a member separator or a character of a
string, the encoder writes a string's ``:`` as itself, so without ``\\u003a`` escapes the
object has no duplicate key exactly when both texts hold as many ``:``. Only an object
that fails this test is tokenized in Python to name and locate each repeated key.

That parse costs: on a 10,000-pod ``kubectl get -o json`` List (217 MB) the run's CPU went
from 3.5 s to 7.4 s. So a file larger than :data:`DUPLICATES_CHECKED_UP_TO` (8 MiB: hand-written
and templated manifests are far smaller, and duplicates come from them; the API server writes
each key once) is not checked for duplicate keys, and reading it costs what it did.
"""

from __future__ import annotations

import itertools
import re
import sys
from typing import Any, Iterator

import msgspec

from skewaudit.collect import jsonpos


class _Head(msgspec.Struct):
    """Just enough of a JSON object to route it: kind, name, and List items
    left undecoded (``msgspec.Raw``) so each is decoded once, typed."""

    kind: Any = None
    api_version: Any = msgspec.field(default=None, name="apiVersion")
    # left raw (None when absent) and read by _Meta: decoding it to a dict built managedFields too
    metadata: msgspec.Raw = None  # type: ignore[assignment]
    items: list[msgspec.Raw] | None = None


class _Meta(msgspec.Struct):
    """The metadata a routed object is named by (only fields present are kept)."""

    name: Any = msgspec.UNSET
    namespace: Any = msgspec.UNSET


_HEAD = msgspec.json.Decoder(_Head)
_META = msgspec.json.Decoder(_Meta)
_ANY = msgspec.json.Decoder()
_MEMBERS = msgspec.json.Decoder(dict[str, msgspec.Raw])
_ENC = msgspec.json.Encoder()
DUPLICATES_CHECKED_UP_TO = 8 << 20   # bytes of one JSON file (see the module docstring)
# a string, or a byte that opens, closes or separates (numbers and literals need no token)
_TOKEN = re.compile(rb'"(?:[^"\\]++|\\.)*+"|[{}\[\],:]', re.S)

Found = tuple[str, Any, Any, "bytes | msgspec.Raw", jsonpos.At]


def warn(text: str) -> None:
    """A one-line warning on stderr: input skewaudit ignores is never ignored silently."""
    sys.stderr.write(f"warning: {text}\n")


def objects(data: bytes, name: str) -> list[Found]:
    """(kind, apiVersion, metadata, raw, where it starts: ``file:line:col`` once formatted) of each object in JSON input
    (``kubectl get -o json``), without building a dict tree of the whole file: 10,000 pods
    stay a few hundred MB instead of GBs. Raises msgspec's error when the file is not one
    JSON object (the YAML reader takes it then: a JSON array is YAML too)."""
    check = len(data) <= DUPLICATES_CHECKED_UP_TO
    return list(_walk(data, jsonpos.start(data), "", jsonpos.Positions(name, data), check))


def _walk(raw: bytes | msgspec.Raw, off: int | None, where: str, pos: jsonpos.Positions,
          check: bool) -> Iterator[Found]:
    """The objects of one JSON value starting at byte ``off`` of the file; an item that is
    not an object is reported and skipped; ``check``: warn about duplicate keys."""
    try:
        head = _HEAD.decode(raw)
    except msgspec.ValidationError:
        if not where:
            raise
        warn(f"{pos.at(off)}: {where} is {_what(raw)}, not a Kubernetes object; ignored")
        return
    if isinstance(head.kind, str) and head.kind.endswith("List"):
        if check and _list_duplicates(raw, off, head.items, pos):
            check = False   # its items were scanned with it: each duplicate is said once
        if head.items is None:
            warn(f"{pos.at(off)}: {where or head.kind}: {head.kind} without items; no objects read from it")
            return
        offsets = jsonpos.item_offsets(pos.buf, off, head.items) if off is not None else itertools.repeat(None)
        for i, (item, item_off) in enumerate(zip(head.items, offsets)):
            yield from _walk(item, item_off, f"{where or head.kind}.items[{i}]", pos, check)
    elif isinstance(head.kind, str):
        if check and _maybe_duplicates(raw):
            _report(raw, off, pos)
        yield head.kind, head.api_version, _metadata(head.metadata), raw, pos.lazy(off)
    else:
        warn(f"{pos.at(off)}: {where or 'the document'} has no kind; ignored")


def _what(raw: bytes | msgspec.Raw) -> str:
    v = msgspec.json.decode(raw)
    return "null" if v is None else f"a JSON {type(v).__name__}"


def _metadata(raw: msgspec.Raw | None) -> dict:
    """``metadata``'s name and namespace as a dict; {} when it is missing or not an object."""
    if raw is None:
        return {}
    try:
        m = _META.decode(raw)
    except msgspec.ValidationError:
        return {}
    return {k: v for k, v in (("name", m.name), ("namespace", m.namespace)) if v is not msgspec.UNSET}


def _colons(text: bytes | msgspec.Raw) -> int:
    return memoryview(text).tobytes().count(b":") if isinstance(text, msgspec.Raw) else text.count(b":")


def _maybe_duplicates(raw: bytes | msgspec.Raw) -> bool:
    """False only when the JSON value ``raw`` provably has no key written twice in any object
    (the module docstring says why the test is exact); True sends it to :func:`_report`."""
    text = raw if isinstance(raw, bytes) else memoryview(raw).tobytes()
    if b"\\u003a" in text or b"\\u003A" in text:   # a `:` the raw text does not show
        return True
    try:
        value = _ANY.decode(text)
    except msgspec.DecodeError:
        return True   # a number beyond float range, bad UTF-8: not provably clean, so scanned
    return text.count(b":") != _ENC.encode(value).count(b":")


def _list_duplicates(raw: bytes | msgspec.Raw, off: int | None, items: list[msgspec.Raw] | None,
                     pos: jsonpos.Positions) -> bool:
    """Keys written twice in a List's own members (``items`` twice, in its ``metadata``); the
    items are each checked when read. The same count as :func:`_maybe_duplicates`, one level
    deep: the members kept, their values written back verbatim. True when the items were
    scanned too (the walk cannot step over them: ``items`` written twice)."""
    try:
        members = _MEMBERS.decode(raw)
    except msgspec.DecodeError:
        return False
    # a key holding a `:` may be written `\u003a` (the count then proves nothing)
    top = _colons(raw) != _colons(_ENC.encode(members)) or any(":" in k for k in members)
    if top or any(_maybe_duplicates(v) for k, v in members.items() if k != "items"):
        skip = _items_span(pos.buf, off, items) if off is not None and items is not None else None
        _report(raw, off, pos, skip)
        return skip is None
    return False


def _items_span(buf: bytes, off: int, items: list[msgspec.Raw]) -> tuple[int, int] | None:
    """(offset of the ``[``, offset just after the last item) of a List's ``items`` array."""
    bracket = jsonpos.items_bracket(buf, off)
    if bracket is None:
        return None
    last = None
    for last in jsonpos.item_offsets(buf, off, items):
        pass
    if items and last is None:
        return None
    end = jsonpos.start(buf, last + len(items[-1]) if items else bracket)  # type: ignore[operator]
    return (bracket - 1, end + 1) if buf[end:end + 1] == b"]" else None


def duplicates(buf: bytes, start: int, end: int, skip: tuple[int, int] | None = None
               ) -> list[tuple[str, int, int]]:
    """(key, offset of its first occurrence, offset of the repeated one) for each key written
    twice in one object of the JSON value ``buf[start:end]``; ``skip`` is a span read as
    an empty array (a List's items, each checked on its own)."""
    stack: list[dict[str, int] | None] = []   # the keys of each open object; None for an array
    out: list[tuple[str, int, int]] = []
    expect_key = False
    i = start
    while (m := _TOKEN.search(buf, i, end)) is not None:
        i = m.end()
        t = m.group()
        if skip is not None and m.start() == skip[0]:
            i, t = skip[1], b"[]"
        c = t[:1]
        if c == b'"':
            seen = stack[-1] if stack else None
            if expect_key and seen is not None:
                key = _key(t)
                if key in seen:
                    out.append((key, seen[key], m.start()))
                else:
                    seen[key] = m.start()
            expect_key = False
        elif c == b"{":
            stack.append({})
            expect_key = True
        elif c == b"[":
            if t != b"[]":
                stack.append(None)
            expect_key = False
        elif c in (b"}", b"]"):
            if stack:
                stack.pop()
            expect_key = False
        elif c == b",":
            expect_key = bool(stack) and stack[-1] is not None
        else:   # ":"
            expect_key = False
    return out


def _key(token: bytes) -> str:
    """A key's text, escapes decoded (``"\\u0069mage"`` is ``image``)."""
    if b"\\" in token:
        try:
            return msgspec.json.decode(token)
        except msgspec.DecodeError:
            pass
    return token[1:-1].decode("utf-8", "replace")


def _report(raw: bytes | msgspec.Raw, off: int | None, pos: jsonpos.Positions,
            skip: tuple[int, int] | None = None) -> None:
    """Warn about each key written twice in ``raw`` (at ``off`` in the file), in the YAML
    reader's words."""
    if off is not None:
        buf, start, end = pos.buf, off, off + len(memoryview(raw))
    else:   # no place in the file known: the object's own text, the file named without a position
        buf, start, end = memoryview(raw).tobytes(), 0, len(memoryview(raw))
    for key, first, again in duplicates(buf, start, end, skip):
        if off is None:
            warn(f"{pos.name}: duplicate key {key!r}; the last value is used, kubectl would refuse this file")
            continue
        line, col = pos.line_col(again)
        first_line = line - buf.count(b"\n", first, again)
        warn(f"{pos.name}:{line}:{col}: duplicate key {key!r} (first at line {first_line}); the last value is used, "
             "kubectl would refuse this file")
