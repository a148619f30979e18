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

_ITEMS = re.compile(r"^items:[ \t]*(?:#.*)?\n", re.M)
# a line at column 0 that ends the items block: not an entry, not indented, not blank or a comment
_TOP = re.compile(r"^(?!-(?:[ \t\n]|$))[^\s#]", re.M)
_ENTRY = re.compile(r"^-(?=[ \t\n])", re.M)


def split(text: str) -> tuple[str, int, list[tuple[int, str]]] | None:
    """``(head, head_items_line, items)`` for a kubectl-style List document, else None.

    ``head`` is the document without its entries (``items:`` left empty, so it reads as
    null; blank lines stand in for them); ``items`` are ``(line offset, text)`` pairs, the text of one entry with its
    ``-`` replaced by a space (an indented block mapping at the same columns)."""
    if "&" in text and "*" in text:
        return None   # an alias in one item may name an anchor in another: parse it whole
    m = _ITEMS.search(text)
    if m is None:
        return None
    start = m.end()
    top = _TOP.search(text, start)
    end = top.start() if top else len(text)
    block = text[start:end]
    entries = [e.start() for e in _ENTRY.finditer(block)]
    if not entries or block[:entries[0]].strip(" \t\n") and not _comments_only(block[:entries[0]]):
        return None
    items_line = text.count("\n", 0, m.start())
    head = text[:start] + "\n" * block.count("\n") + text[end:]   # lines after it keep their numbers
    line, out, pos = items_line + 1, [], 0
    for a, b in zip(entries, entries[1:] + [len(block)]):
        line += block.count("\n", pos, a)
        pos = a
        out.append((line, " " + block[a + 1:b]))
    return head, items_line, out


def _comments_only(s: str) -> bool:
    return all(not ln.strip() or ln.lstrip().startswith("#") for ln in s.split("\n"))
