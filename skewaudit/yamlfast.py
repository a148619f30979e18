"""A compiled fast path for manifest YAML, taken only where it provably reads what PyYAML reads.

PyYAML (libyaml + Python constructors) costs ~9 ms a pod: 10,000 pods of ``kubectl get -o yaml``
take minutes. ``yaml-rs`` (Rust, YAML 1.2) parses the same text ~20x faster, but YAML 1.2 gives
some plain scalars another meaning than YAML 1.1, which skewaudit (like Kubernetes' own decoder)
reads: ``on``/``yes`` are strings, ``0777`` is 777 not 511, ``1e3`` is a float, ``12:30`` is a
string, ``<<`` does not merge, and a few inputs one parser refuses the other accepts (tabs, NEL
line breaks, collections as keys). So :func:`load` hands a document to yaml-rs only when a cheap
check of its text (:func:`_plain`) proves none of that can occur:

- every character is one libyaml accepts, no tab, no NEL/LS/PS line break, no BOM;
- no anchor, alias, tag, directive, document marker, complex key (``?``), merge key or ``=``;
- every plain token that either parser could read as a number, boolean or null is one both read
  alike (a decimal integer of at most 18 digits, a decimal fraction, ``true``/``false``/``null``);
  such a token is never a mapping key (PyYAML's duplicate-key check compares key text: ``1`` and
  ``'1'`` are one key to it, two to yaml-rs);
- no flow collection is used as a key, and no block scalar has an explicit indentation indicator;
- nesting is provably within :data:`skewaudit.yamlsafe.MAX_DEPTH` (indentation below 61 columns
  and fewer than 70 flow collections), and there are no aliases, so the bomb and depth guards
  that PyYAML's path runs (:func:`skewaudit.yamlsafe.check`) could not refuse it.

Anything else, and any error yaml-rs raises (a syntax error, a duplicate key), goes to the PyYAML
path, which reports it with its position exactly as before. The check works on lines, and lines
already seen clean are remembered (a fleet repeats its pod templates), so its cost is mostly one
split of the text.

``metadata.managedFields`` (half the bytes of a pod, never read by skewaudit) repeats across the
pods of one template: its text block is parsed once, standalone and through the same checks, and
later documents with the identical block get the value parsed then (see :func:`_managed`).

``tests/test_yamlfast.py`` compares this path with PyYAML's on a corpus of tricky documents.
"""

from __future__ import annotations

import re
from typing import Any

try:   # optional at import: without it every document takes the PyYAML path
    import yaml_rs
except ImportError:   # pragma: no cover - the lock installs it
    yaml_rs = None

MISS = object()   # "not proven identical here": the caller takes the PyYAML path

# libyaml's printable set (reader.c), less TAB (yaml-rs accepts tabs where libyaml does not), NEL,
# LS and PS (line breaks in YAML 1.1, ordinary characters in 1.2), CR (normalised before) and BOM.
_BAD_CHAR = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")

_D = r"\s,\[\]{}"   # what ends a plain token
_CLOSE = r"[\]}]*"   # tokens are cut at blanks, ``,``, ``[`` and ``{``: closers stay on them
# plain tokens both parsers read alike as non-strings
_AGREE_NUM = r"[-+]?(?:0|[1-9][0-9]{0,17})(?:\.[0-9]{1,20}(?:[eE][-+][0-9]{1,3})?)?"
_AGREE_WORD = r"(?:true|True|TRUE|false|False|FALSE|null|Null|NULL|~)"
# a superset of the tokens either parser reads as a number: PyYAML's int/float (sexagesimal,
# 0b/0x, underscores, .inf/.nan) and yaml-rs's (0o, 0X, exponents without a dot, any case of inf)
_NUMERIC = (r"[-+]?(?:(?=[0-9_.:]*[0-9])[0-9_:]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9_]*)?"
            r"|0[xX][0-9a-fA-F_]*|0[oO][0-7_]*|0[bB][01_]*|\.(?:[iI][nN][fF]|[nN][aA][nN]))")
_TOKEN = re.compile(r"[^\s,\[{]+")
# a token (a key keeps its ``:``) that one parser could read otherwise than the other
_RISKY_TOKEN = re.compile(
    rf"[&*!%@`].*"                                        # anchor, alias, tag, directive, reserved
    rf"|[?:]{_CLOSE}"                                     # complex key, a value without a key
    rf"|(?:<<|=|[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF){_CLOSE}:?"   # merge, value, 1.1 booleans
    rf"|(?!{_AGREE_NUM}(?:[\]}}]+:?)?$){_NUMERIC}{_CLOSE}:?"  # a number read differently
    rf"|(?:{_AGREE_NUM}|{_AGREE_WORD}):"                   # a non-string key
    rf"|[|>][-+]?[0-9].*",                                 # block scalar indentation indicator
    re.S)
_JSON_KEY = re.compile(r"[\"']:")   # ``"a":1``: a value right after a quoted key (YAML 1.2, flow)
# a line that is one short key and a quoted value, whole: nothing on it is structure
_QUOTED_LINE = (r"[ ]*(?:-[ ]+)?[^\s'\"#:,\[\]{}&*!|>%@`?-][^:#\n]{0,250}:[ ]+"
                r"(?:'(?:[^'\n]|'')*'|\"(?:[^\"\\\n]|\\.)*\")[ ]*$")
_RISKY_LINE = re.compile(
    rf"^(?:(?:---|\.\.\.)(?:[{_D}]|$)"                     # document markers
    rf"|[ ]*-[ ]+-(?:[ ]|$)"                              # compact nested sequences
    rf"|(?=.{{1000}})(?!{_QUOTED_LINE}))",                  # a long line (1,024-character keys)
    re.M)
# ``]:``/``}:``: a flow collection as a key, unless every opener before it on the line is inside
# a plain scalar (``k:{"name":"vllm"}:``, the keys of managedFields)
_CLOSED_KEY = re.compile(rf"[\]}}]:(?:[{_D}]|$)", re.M)
_NODE_OPEN = re.compile(r"(?:^|[\s\[{,]|[\"']:)[\[{](?![\]}])")
# a flow collection may open here (counted only when many ``[``/``{`` could bound the depth)
_FLOW_OPEN = re.compile(r"(?:^|(?<=[\s\[{,])|(?<=[\"']:))[\[{](?![\]}])", re.M)
_QUOTED_LINE_RE = re.compile(_QUOTED_LINE)
_DEEP_INDENT = "\n" + " " * 61

# lines and tokens already checked: a fleet repeats its pod templates
_SAFE_LINES: set[str] = set()
_SAFE_TOKENS: set[str] = set()
_SAFE_MAX = 200_000


def _flow_opens(text: str) -> int:
    """An upper bound of the flow collections in ``text`` (and so of their nesting)."""
    n = text.count("[") + text.count("{")
    if n < 70:
        return n
    n -= text.count("[]") + text.count("{}")
    if n < 70:
        return n
    # many brackets: most are JSON inside quoted strings (last-applied-configuration); count
    # only where a flow collection can open, outside lines that are a key and a quoted string
    return sum(len(_FLOW_OPEN.findall(ln)) for ln in text.split("\n")
               if ("[" in ln or "{" in ln) and not _QUOTED_LINE_RE.match(ln))


def _risky(token: str) -> bool:
    if _RISKY_TOKEN.fullmatch(token):
        return True
    return ("':" in token or '":' in token) and any(_RISKY_TOKEN.fullmatch(t) for t in _JSON_KEY.split(token)[1:])


def _closed_keys_ok(new: str) -> bool:
    """No ``]:``/``}:`` closes a flow collection used as a key: on each line that has one, an opener
    comes before the first and none of them starts a node (one pass a line, whatever its length)."""
    done = 0
    for m in _CLOSED_KEY.finditer(new):
        if m.start() < done:
            continue
        start = new.rfind("\n", 0, m.start()) + 1
        done = new.find("\n", m.end())
        done = len(new) if done < 0 else done
        head = new[start:m.start()]
        last = max(k.start() for k in _CLOSED_KEY.finditer(new, m.start(), done))
        if ("[" not in head and "{" not in head) or _NODE_OPEN.search(new[start:last]):
            return False
    return True


def _plain(text: str) -> bool:
    """True when ``text`` is in the subset where yaml-rs and PyYAML (DocumentLoader) agree."""
    if _DEEP_INDENT in text or text.startswith(" " * 61):
        return False   # block nesting could reach MAX_DEPTH: PyYAML's path runs the depth scan
    if _flow_opens(text) >= 70:
        return False
    lines = set(text.split("\n"))
    lines -= _SAFE_LINES
    if not lines:
        return True
    new = "\n".join(lines)
    if _BAD_CHAR.search(new) or _RISKY_LINE.search(new):
        return False
    if not _closed_keys_ok(new):
        return False
    tokens = set(_TOKEN.findall(new))
    tokens -= _SAFE_TOKENS
    if any(map(_risky, tokens)):
        return False
    if len(_SAFE_LINES) > _SAFE_MAX or len(_SAFE_TOKENS) > _SAFE_MAX:
        _SAFE_LINES.clear()
        _SAFE_TOKENS.clear()
    _SAFE_LINES.update(lines)
    _SAFE_TOKENS.update(tokens)
    return True


def _parse(text: str) -> Any:
    if not _plain(text):
        return MISS
    try:
        return yaml_rs.loads(text, parse_datetime=False)
    except Exception:   # a syntax error, a duplicate key: PyYAML's path reports it with its position
        return MISS


# --- managedFields: one parse per distinct block ---------------------------------------------------

_MF_KEY = "managedFields:"
_MF_MARK = "__skewaudit_managed_fields__"
_MF_CACHE: dict[str, Any] = {}
# a dump lists a workload's pods side by side (kubectl sorts by name): a few recent blocks get
# nearly every hit, and each cached value is a whole parsed tree, so memory stays small
_MF_CACHE_MAX = 64
_BLOCK_END: dict[int, re.Pattern] = {}


def _block_end(indent: int) -> re.Pattern:
    """The newline after which a block at ``indent`` ends: the next line that is not blank, not a
    comment, not more indented and not a ``- `` entry at the same column."""
    pat = _BLOCK_END.get(indent)
    if pat is None:
        pat = _BLOCK_END[indent] = re.compile(r"\n(?! {%d}| {%d}- |[ ]*\n|[ ]*$|[ ]*#)" % (indent + 1, indent))
    return pat


def _managed(text: str) -> Any:
    """``text`` parsed with its ``metadata.managedFields`` block taken from the cache, or MISS.

    The block (the key's line and every line below it, by indentation) is replaced by
    ``managedFields: [MARK]``, the rest is parsed, and the mark is swapped for the block's value,
    parsed standalone once per distinct text. A flow value as the placeholder makes any line the
    cut left behind a syntax error (so: the PyYAML path). No blank lines stand in for the block:
    positions are never read from yaml-rs (any error goes to the PyYAML path, which reads the
    document as written), and ~400 empty lines a pod cost the line check ~15 % of its time."""
    at = text.find(_MF_KEY)
    if at < 0 or _MF_MARK in text:
        return MISS
    start = text.rfind("\n", 0, at) + 1
    indent = at - start
    if text[start:at].strip(" ") or not text.startswith(_MF_KEY + "\n", at):
        return MISS
    m = _block_end(indent).search(text, at)
    end = m.start() + 1 if m else len(text)
    block = text[start:end]
    value = _MF_CACHE.get(block, MISS)
    if value is MISS:
        whole = _parse(block)
        if not (isinstance(whole, dict) and len(whole) == 1 and "managedFields" in whole):
            return MISS
        value = whole["managedFields"]
        if len(_MF_CACHE) >= _MF_CACHE_MAX:
            del _MF_CACHE[next(iter(_MF_CACHE))]   # the oldest
        _MF_CACHE[block] = value
    rest = text[:start] + " " * indent + f"managedFields: [{_MF_MARK}]\n" + text[end:]
    doc = _parse(rest)
    md = doc.get("metadata") if isinstance(doc, dict) else None
    if not (isinstance(md, dict) and md.get("managedFields") == [_MF_MARK]):
        return MISS
    md["managedFields"] = value
    return doc


def load(text: str) -> Any:
    """One manifest document read as :func:`skewaudit.yamlsafe.load_document` would read it (with
    no duplicate keys), or :data:`MISS` when that cannot be shown cheaply."""
    if yaml_rs is None:
        return MISS
    doc = _managed(text) if _MF_KEY in text else MISS
    return _parse(text) if doc is MISS else doc
