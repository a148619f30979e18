"""Split a ``kind: List`` YAML document into its items, so each is parsed on its own.

``kubectl get … -o yaml`` prints a whole fleet as one document: ``items:`` at column 0
followed by one ``- `` entry per object at column 0. Parsed whole, PyYAML builds the node
tree of every object before the first is used (1.2 GB for 1,000 pods); parsed item by item,
memory is bounded by the largest item and each item still passes the bomb/depth scan of
:mod:`skewaudit.yamlsafe` before it reaches libyaml.

Only that exact shape is split; anything else (items indented or in flow style, anchors and
aliases that could cross items) is left to the whole-document path, so the split can never
change what a file means. An item keeps its line and column: its leading ``-`` becomes a
space and the text before it is dropped, with the line offset returned beside it.
"""

from __future__ import annotations

import re
from typing import Iterator

# Each pattern starts at the newline before a line (a literal prefix the regex engine finds
# at memchr speed; ``^`` with re.M would be tried at every character of a 300 MB dump).
_ITEMS = re.compile(r"\nitems:[ \t]*(?:#[^\n]*)?\n")
_ITEMS_FIRST = re.compile(r"items:[ \t]*(?:#[^\n]*)?\n")   # the same on the document's first line
# a line at column 0 that ends the items block: not an entry, not indented, not blank or a comment
_TOP = re.compile(r"\n(?!-(?:[ \t\n]|$))[^\s#]")
_ENTRY = re.compile(r"\n-(?=[ \t\n])")


def split(text: str) -> tuple[str, int, Iterator[tuple[int, str]]] | None:
    """``(head, head_items_line, items)`` for a kubectl-style List document, else None.

    ``head`` is the document without its entries (``items:`` left empty, so it reads as
    null; blank lines stand in for them); ``items`` yields ``(line offset, text)`` pairs, one
    at a time (no copy of the whole block is made), the text of one entry with its ``-``
    replaced by a space (an indented block mapping at the same columns)."""
    if "&" in text and "*" in text:
        return None   # an alias in one item may name an anchor in another: parse it whole
    m = _ITEMS_FIRST.match(text) or _ITEMS.search(text)
    if m is None:
        return None
    at, start = m.start() + (text[m.start()] == "\n"), m.end()   # the items line, what follows
    top = _TOP.search(text, start - 1)
    end = top.start() + 1 if top else len(text)
    entries = [e.start() + 1 for e in _ENTRY.finditer(text, start - 1, end)]
    if not entries or not _comments_only(text[start:entries[0]]):
        return None
    items_line = text.count("\n", 0, at)
    # lines after the block keep their numbers
    head = text[:start] + "\n" * text.count("\n", start, end) + text[end:]
    return head, items_line, _items(text, entries, start, end, items_line + 1)


def _items(text: str, entries: list[int], pos: int, end: int, line: int) -> Iterator[tuple[int, str]]:
    for a, b in zip(entries, entries[1:] + [end]):
        line += text.count("\n", pos, a)
        pos = a
        yield line, " " + text[a + 1:b]


def _comments_only(s: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in s.split("\n"))
