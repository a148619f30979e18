"""ModelSpec YAML files -> validated ``ModelSpec`` objects, with file:line:col for every problem.

The fast path composes each file with libyaml (``yaml.CSafeLoader``), turns the
nodes into plain values, drops them and validates with pydantic. Positions come
from the nodes, so a file is composed again, once, only when one is needed: for
a problem, a warning, or when the differ asks :meth:`LoadedSpec.location` for a
finding. A fleet of 1,000 specs keeps just its texts, not 1,000 node trees.

Input is untrusted, so every file is bounded before libyaml sees it: size
(5 MiB), encoding (UTF-8, no NUL or control bytes), and, when the text could
contain them, alias expansion ("billion laughs") and nesting depth, counted on
the parser's event stream, which builds nothing. Deep nesting matters because
libyaml's composer recurses in C and crashes the interpreter near 30,000 levels.

Every problem in every file is collected and raised once as a ``SpecError``,
one ``file:line:col: dotted.path: message`` line each. The cross-field rules
that types cannot express (tensor × pipeline parallel = GPUs, engine dtype
spellings, bf16 on a GPU without it, …) are at the end of this module.
"""

from __future__ import annotations

import codecs
import difflib
import os
import re
import sys
import typing
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import yaml

from skewaudit import redact
from skewaudit.errors import SpecError
from skewaudit import yamlsafe
from skewaudit.gcpause import gc_paused
from skewaudit.model.finding import Location

__all__ = ["Location", "LoadedSpec", "load_paths", "load_text", "split_path", "MAX_BYTES"]

MAX_BYTES = 5 * 1024 * 1024
CACHE_FROM = 10   # files per run from which parses are cached (skewaudit.speccache)
STDIN_NAME = "<stdin>"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_PATH_TOKEN = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")


# --- messages ---------------------------------------------------------------

@dataclass(frozen=True)
class _Msg:
    file: str
    line: int
    col: int
    path: str
    text: str
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.col}" if self.line else self.file
        return f"{where}: {'warning: ' if self.warning else ''}{self.path + ': ' if self.path else ''}{self.text}"


# --- dotted paths and positions ---------------------------------------------

def split_path(dotted: str) -> list[str | int]:
    """``"spec.a.b[2].c"`` -> ``["spec", "a", "b", 2, "c"]``; ``"x[nvidia.com/gpu]"`` keeps the key whole."""
    parts: list[str | int] = []
    for bracket, plain in _PATH_TOKEN.findall(dotted):
        parts.append(plain if plain else int(bracket) if bracket.isdigit() else bracket)
    return parts


def join_path(parts: Iterable[str | int]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _lookup(mapping: yaml.MappingNode, key: str, depth: int = 0) -> tuple[yaml.Node, yaml.Node] | None:
    merges = []
    for k, v in mapping.value:
        if isinstance(k, yaml.ScalarNode):
            if k.value == key and k.tag != "tag:yaml.org,2002:merge":
                return k, v
            if k.tag == "tag:yaml.org,2002:merge" or k.value == "<<":
                merges.append(v)
    for m in merges:  # keys pulled in with `<<: *anchor`
        for node in (m.value if isinstance(m, yaml.SequenceNode) else [m]):
            if isinstance(node, yaml.MappingNode) and depth < 8:
                found = _lookup(node, key, depth + 1)
                if found:
                    return found
    return None


def _resolve(root: yaml.Node, parts: list[str | int]) -> tuple[yaml.Node, yaml.Node | None, bool]:
    """Walk ``parts`` down from ``root``: (deepest node reached, its key node, whether all parts matched).

    Mapping keys may themselves contain dots (``nvidia.com/gpu``), so a key is
    matched against the shortest run of parts that names it."""
    cur, key, i = root, None, 0
    while i < len(parts):
        p = parts[i]
        if isinstance(cur, yaml.MappingNode):
            for j in range(i + 1, len(parts) + 1):
                found = _lookup(cur, str(p) if j == i + 1 else ".".join(str(x) for x in parts[i:j]))
                if found:
                    key, cur, i = found[0], found[1], j
                    break
            else:
                break
        elif isinstance(cur, yaml.SequenceNode) and (isinstance(p, int) or str(p).isdigit()) \
                and int(p) < len(cur.value):
            key, cur, i = None, cur.value[int(p)], i + 1
        else:
            break
    return cur, key, i == len(parts)


_RESOLVED: dict[tuple[str, tuple[bool, bool]], str] = {}


class _Loader(yaml.CSafeLoader):
    """libyaml's safe loader, its scalar tag resolution remembered: resolving runs in Python, a
    dozen regular expressions per plain scalar, and a fleet's specs repeat the same keys and values.
    The tag depends only on the text and its quoting (this loader has no path resolvers)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is not yaml.ScalarNode or self.yaml_path_resolvers or len(value) > 200:
            return super().resolve(kind, value, implicit)
        key = (value, implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = super().resolve(kind, value, implicit)
            if len(_RESOLVED) >= 50_000:
                _RESOLVED.clear()
            _RESOLVED[key] = tag
        return tag


class _Source:
    """One file's text; its YAML nodes are composed on first use.

    Only the most recently used file keeps its nodes: loading and the differ
    visit spec after spec, so a fleet run holds one node tree at a time
    instead of 1,000 of them (~45 MB and ~400,000 objects the cyclic GC would
    keep rescanning). Going back to an earlier file composes it again."""

    __slots__ = ("name", "text", "_nodes", "index")
    _holder: "_Source | None" = None   # class-level: the one source whose nodes are kept

    def __init__(self, name: str, text: str):
        self.name, self.text, self._nodes = name, text, None
        # per document: written dotted path -> packed (line, col), see _position_index
        self.index: list[dict[str, int] | None] = []

    def _docs(self) -> list[yaml.Node]:
        if self._nodes is None:
            # Safe: the same text already passed the alias/depth bounds and loaded.
            self._nodes = list(yaml.compose_all(self.text, Loader=_Loader))
            held = _Source._holder
            if held is not None and held is not self:
                held._nodes = None
            _Source._holder = self
        return self._nodes

    def node(self, doc: int, parts: list[str | int]) -> tuple[yaml.Node, yaml.Node | None, bool] | None:
        docs = self._docs()
        return _resolve(docs[doc], parts) if doc < len(docs) else None

    def position(self, doc: int, parts: list[str | int], *, at_key: bool = False) -> tuple[int, int]:
        """1-based (line, col) where ``parts`` is written, else of its nearest written ancestor.

        A scalar points at its value; a block mapping or list at its key, which is
        where a reader looks; ``at_key`` forces the key (unknown-field errors)."""
        found = self.node(doc, parts)
        if found is None:
            return 1, 1
        node, key, full = found
        block = isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and not node.flow_style
        # A value that starts before its key is an alias (*name) to a node
        # written earlier: the key is where this use of it is.
        alias = key is not None and node.start_mark.index < key.start_mark.index
        mark = key.start_mark if key is not None and (at_key or not full or block or alias) else node.start_mark
        return mark.line + 1, mark.column + 1

    def scalar_text(self, doc: int, parts: list[str | int]) -> str | None:
        found = self.node(doc, parts)
        if found and found[2] and isinstance(found[0], yaml.ScalarNode):
            return found[0].value
        return None


_SPLIT: dict[str, list[str | int]] = {}


class LoadedSpec:
    """One YAML document that validated as a ModelSpec, and where it came from."""

    __slots__ = ("spec", "file", "doc_index", "_source")

    def __init__(self, spec: Any, file: str, doc_index: int, source: _Source):
        self.spec, self.file, self.doc_index, self._source = spec, file, doc_index, source

    def location(self, dotted: str) -> Location | None:
        """Where ``dotted`` (``spec.runtime.engine.dtype``, ``…args[2]``, ``…requests.nvidia.com/gpu``) is
        written; the nearest written ancestor when it is not. Composes this file's nodes once, lazily."""
        index = self._source.index[self.doc_index] if self.doc_index < len(self._source.index) else None
        if index is not None:
            line, col = _indexed_position(index, dotted)
            return Location(file=self.file, line=line, col=col)
        parts = _SPLIT.get(dotted)
        if parts is None:
            # The same field paths recur in every spec of a fleet; position() only reads the list.
            parts = split_path(dotted)
            if len(_SPLIT) < 10_000:
                _SPLIT[dotted] = parts
        try:
            line, col = self._source.position(self.doc_index, parts)
        except yaml.YAMLError:  # cannot happen for a file that loaded; never fail a report over a position
            return None
        return Location(file=self.file, line=line, col=col)

    def __repr__(self) -> str:
        return f"LoadedSpec({self.spec.metadata.name!r}, {self.file!r}, doc {self.doc_index})"


# --- reading ----------------------------------------------------------------

def _line_col(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _decode(name: str, data: bytes) -> str | _Msg:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _Msg(name, 1, 1, "", "file is UTF-16 text; save it as UTF-8")
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    nul = data.find(b"\0")
    if nul >= 0:
        head = data[:nul].decode("utf-8", "replace")
        line, col = _line_col(head, len(head))
        return _Msg(name, line, col, "", "binary data (NUL byte): not a YAML text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        head = data[: e.start].decode("utf-8", "replace")
        line, col = _line_col(head, len(head))
        return _Msg(name, line, col, "", f"not valid UTF-8 (byte 0x{data[e.start]:02x}); ModelSpec files must be "
                    "UTF-8 text")
    bad = _CONTROL.search(text)
    if bad:
        line, col = _line_col(text, bad.start())
        return _Msg(name, line, col, "", f"control character U+{ord(bad.group()):04X} is not allowed in YAML "
                    "(binary file?)")
    return text


def _too_large(name: str, size: int) -> _Msg:
    return _Msg(name, 0, 0, "", f"file is too large ({size / 2**20:.1f} MiB; a ModelSpec file may be at most "
                f"{MAX_BYTES // 2**20} MiB)")


def _read(name: str, path: str | None, stdin_text: str | None) -> _Source | _Msg:
    if path is None:  # stdin
        if stdin_text is not None:
            data = stdin_text.encode("utf-8", "surrogateescape")
        else:
            stream = getattr(sys.stdin, "buffer", None)
            data = stream.read(MAX_BYTES + 1) if stream is not None else sys.stdin.read(MAX_BYTES + 1).encode()
        if len(data) > MAX_BYTES:
            return _Msg(name, 0, 0, "", f"input is too large (more than {MAX_BYTES // 2**20} MiB)")
    else:
        try:
            size = os.stat(path).st_size
            if size > MAX_BYTES:
                return _too_large(name, size)
            with open(path, "rb") as f:
                data = f.read(MAX_BYTES + 1)  # bounded even for /dev/zero or a growing file
        except OSError as e:
            return _Msg(name, 0, 0, "", f"cannot read: {e.strerror or e}")
        if len(data) > MAX_BYTES:
            return _too_large(name, len(data))
    text = _decode(name, data)
    return text if isinstance(text, _Msg) else _Source(name, text)


def _expand(paths: list[str]) -> tuple[list[tuple[str, str | None, bool, int]], list[_Msg], list[str]]:
    """Paths -> [(display name, real path or None for stdin, given explicitly, group)], problems, dir names."""
    out: list[tuple[str, str | None, bool, int]] = []
    problems: list[_Msg] = []
    dirs: list[str] = []
    seen: set[str] = set()
    for group, p in enumerate(paths):
        if p == "-":
            if "-" not in seen:
                seen.add("-")
                out.append((STDIN_NAME, None, True, group))
            continue
        if os.path.isdir(p):
            found = []
            for root, subdirs, files in os.walk(p):
                subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
                found += [os.path.join(root, f) for f in sorted(files)
                          if f.lower().endswith((".yaml", ".yml")) and not f.startswith(".")]
            if not found:
                problems.append(_Msg(p, 0, 0, "", "no *.yaml or *.yml files in this directory"))
            dirs.append(p)
            for f in found:
                real = os.path.realpath(f)
                if real not in seen:
                    seen.add(real)
                    out.append((os.path.normpath(f), f, False, group))
        elif os.path.exists(p):
            real = os.path.realpath(p)
            if real not in seen:
                seen.add(real)
                out.append((p, p, True, group))
        else:
            problems.append(_Msg(p, 0, 0, "", "no such file or directory"))
    return out, problems, dirs


# --- YAML parsing ------------------------------------------------------------

_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_CTOR = yaml.constructor.SafeConstructor


class _Fallback(Exception):
    """The document uses a YAML feature the fast converter leaves to PyYAML (merge keys, collection tags)."""


def _convert(node: yaml.Node) -> Any:
    # libyaml composes (and resolves tags) in C; building the Python values from
    # the nodes here is ~35% faster than PyYAML's generic constructor, because
    # nearly every scalar in a spec is a plain string.
    if node.tag == _STR:
        return node.value
    if isinstance(node, yaml.MappingNode):
        if node.tag != _MAP:
            raise _Fallback
        out = {}
        for k, v in node.value:
            if k.tag == "tag:yaml.org,2002:merge":
                raise _Fallback
            key = _convert(k)
            if isinstance(key, (dict, list)):
                raise _Fallback  # PyYAML reports "found unhashable key" with its position
            if key in out:
                raise yamlsafe.duplicate_key_error(node, k)
            out[key] = _convert(v)
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _SEQ:
            raise _Fallback
        return [_convert(x) for x in node.value]
    try:
        return _CTOR.yaml_constructors.get(node.tag, _CTOR.construct_undefined)(_CTOR(), node)
    except ValueError as e:  # Python's 4,300-digit int limit, a date like 2025-13-45
        raise _BadScalar(node, e) from None


class _BadScalar(Exception):
    """A scalar YAML resolved to a type whose value cannot be built; located at its node."""

    def __init__(self, node: yaml.Node, error: ValueError):
        super().__init__(str(error))
        self.node = node
        digits = node.value.lstrip("+-").replace("_", "")
        if node.tag == "tag:yaml.org,2002:int" and digits.isdigit():
            self.text = f"a {len(digits)}-digit integer is beyond any sane value for a spec field"
        else:
            shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
            self.text = f"cannot read {shown!r} as a {node.tag.rsplit(':', 1)[-1]}: {str(error).splitlines()[0]}"


def _load_all(text: str, index: list[dict[str, int] | None] | None = None) -> list[Any]:
    """The documents of ``text`` as Python values; ``index`` receives each one's _position_index."""
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
        docs = [_convert(n) for n in nodes]
    except _Fallback:
        return list(yaml.load_all(text, Loader=yamlsafe.StrictLoader))
    if index is not None:
        index.extend(_position_index(n) for n in nodes)
    return docs


class _NoIndex(Exception):
    """A document whose positions _position_index leaves to the node walk (merge keys, aliases)."""


_MERGE = "tag:yaml.org,2002:merge"


_SCALAR, _MAPPING, _SEQUENCE = 0, 1, 2
_MASK40 = (1 << 40) - 1


def _position_index(root: yaml.Node) -> dict[str, int] | None:
    """Where each written path of one document is, for ``_indexed_position``.

    Built from the nodes the loader composes anyway, so the differ can place a
    1,000-spec fleet's findings without composing every file again (a quarter
    of the audit's time otherwise). Maps each dotted path (``spec.a.b``,
    ``…args[2]``, ``…requests.nvidia.com/gpu``; the root is ``""``) to one int:
    the node kind (2 bits), where ``_Source.position`` puts a full match (the
    value of a scalar or flow collection, the key of a block mapping or list)
    and the key's own position, each ``line << 20 | col``, 1-based.

    Left out, so that the node walk answers them: documents with merge keys or
    aliases, keys ``split_path`` cannot spell (brackets, empty), a dotted key
    whose shorter prefix is also a key there (the walk takes the shortest), and
    repeated keys after the first (the walk takes the first)."""
    out: dict[str, int] = {}
    seen: set[int] = {id(root)}
    mapping, sequence, scalar, intern = yaml.MappingNode, yaml.SequenceNode, yaml.ScalarNode, sys.intern

    def pack(mark: yaml.Mark) -> int:
        if mark.column + 1 > 0xFFFFF:
            raise _NoIndex
        return (mark.line + 1) << 20 | (mark.column + 1)

    def kind(node: yaml.Node) -> int:
        return _MAPPING if isinstance(node, mapping) else _SEQUENCE if isinstance(node, sequence) else _SCALAR

    # One call per collection, not per node: scalars (most nodes) are recorded inline.
    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, mapping):
            keys = None   # the mapping's keys, for dotted keys only
            done: set[str] = set()
            for k, v in node.value:
                if not isinstance(k, scalar):
                    continue
                key = k.value
                if k.tag == _MERGE or key == "<<":
                    raise _NoIndex
                if key in done or not key or "[" in key or "]" in key:
                    continue
                if "." in key:
                    if keys is None:
                        keys = {x.value for x, _ in node.value if isinstance(x, scalar)}
                    if any(key[:i] in keys for i, ch in enumerate(key) if ch == "."):
                        continue
                done.add(key)
                if id(v) in seen:
                    raise _NoIndex   # an alias: the same node reached twice
                seen.add(id(v))
                path = intern(f"{prefix}.{key}" if prefix else key)
                at_key = pack(k.start_mark)
                if isinstance(v, scalar):
                    out[path] = _SCALAR | pack(v.start_mark) << 2 | at_key << 42
                    continue
                # a block collection is placed at its key, a flow one at its value
                full = pack(v.start_mark) if v.flow_style else at_key
                out[path] = kind(v) | full << 2 | at_key << 42
                walk(v, path)
        elif isinstance(node, sequence):
            for i, item in enumerate(node.value):
                if id(item) in seen:
                    raise _NoIndex
                seen.add(id(item))
                path = intern(f"{prefix}[{i}]")
                out[path] = kind(item) | pack(item.start_mark) << 2
                if not isinstance(item, scalar):
                    walk(item, path)

    try:
        out[""] = kind(root) | pack(root.start_mark) << 2
        walk(root, "")
    except _NoIndex:
        return None
    return out


def _indexed_position(index: dict[str, int], dotted: str) -> tuple[int, int]:
    """``_Source.position(doc, split_path(dotted))`` answered from a ``_position_index``:
    the same walk (shortest run of parts naming a key, digits indexing lists),
    over paths instead of nodes."""
    packed = index.get(dotted)
    if packed is None:
        parts = _SPLIT.get(dotted) or split_path(dotted)
        cur, packed, i, n = "", index[""], 0, len(parts)
        while i < n:
            kind, p = packed & 3, parts[i]
            if kind == _MAPPING:
                for j in range(i + 1, n + 1):
                    key = str(p) if j == i + 1 else ".".join(str(x) for x in parts[i:j])
                    found = index.get(f"{cur}.{key}" if cur else key)
                    if found is not None:
                        cur, packed, i = (f"{cur}.{key}" if cur else key), found, j
                        break
                else:
                    break
            elif kind == _SEQUENCE and (isinstance(p, int) or str(p).isdigit()) \
                    and (found := index.get(f"{cur}[{int(p)}]")) is not None:
                cur, packed, i = f"{cur}[{int(p)}]", found, i + 1
            else:
                break
        if i < n:
            # not written: the nearest written ancestor, at its key when it has one
            mark = (packed >> 42) or (packed >> 2) & _MASK40
            return mark >> 20, mark & 0xFFFFF
    mark = (packed >> 2) & _MASK40
    return mark >> 20, mark & 0xFFFFF


def _parse(src: _Source, cache: Any = None) -> list[Any] | _Msg:
    """The documents of ``src`` (its position indexes into ``src.index``), or the problem that stops it.
    ``cache`` (:class:`skewaudit.speccache.SpecCache`) answers for a text parsed by an earlier run."""
    digest = cache.digest(src.text) if cache is not None else None
    if digest is not None:
        hit = cache.get(digest)
        if hit is not None:
            src.index.extend(hit[1])
            return hit[0]
    try:
        # Spec files are small: every node counts towards the limit, not only alias expansions.
        yamlsafe.check(src.text, limit_plain_nodes=True)
        docs = _load_all(src.text, src.index)
        if digest is not None:
            cache.put(digest, docs, src.index)
        return docs
    except yamlsafe.Refused as e:
        return _Msg(src.name, e.line, e.col, "", e.text)
    except _BadScalar as e:
        return _Msg(src.name, e.node.start_mark.line + 1, e.node.start_mark.column + 1, "", e.text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        if isinstance(e, yamlsafe.LocatedValueError) and mark is not None:
            # a value YAML parsed but that cannot be used: a duplicate key, a date that does not exist
            return _Msg(src.name, mark.line + 1, mark.column + 1, "", str(e.problem))
        what = e.problem or e.context or "invalid YAML"
        if e.context and e.problem:
            what += f" ({e.context})"
        return _Msg(src.name, mark.line + 1 if mark else 0, mark.column + 1 if mark else 0, "",
                    f"YAML syntax error: {what}")
    except yaml.YAMLError as e:
        return _Msg(src.name, 0, 0, "", f"YAML error: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    except (ValueError, RecursionError, OverflowError, TypeError) as e:
        return _Msg(src.name, 0, 0, "", f"cannot read YAML: {str(e).splitlines()[0] if str(e) else type(e).__name__}")


# --- validation -------------------------------------------------------------

def _looks_like_modelspec(doc: dict) -> bool:
    kind, api = doc.get("kind"), doc.get("apiVersion")
    if kind == "ModelSpec" or (isinstance(api, str) and api.startswith(("piqc.ai/", "skewaudit.io/"))):
        return True
    if isinstance(kind, str):
        return difflib.SequenceMatcher(None, kind.lower(), "modelspec").ratio() >= 0.8
    spec = doc.get("spec")
    return kind is None and isinstance(spec, dict) and "identity" in spec


def _what(v: Any) -> str:
    if v is None:
        return "an empty value"
    if isinstance(v, bool):
        return f"{str(v).lower()} (a boolean)"
    if isinstance(v, int) and abs(v) >= 10**20:
        return f"a {len(str(abs(v)))}-digit number"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    if isinstance(v, str):
        shown = redact.text(v if len(v) <= 40 else v[:37] + "...")
        return f"the string {shown!r}" + (" (remove the quotes)" if re.fullmatch(r"-?\d+(\.\d+)?", v) else "")
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    return f"a {type(v).__name__}"


def _model_at(parts: list[str | int]) -> Any:
    """The pydantic model class at ``parts`` (YAML names), or None."""
    from pydantic import BaseModel

    from skewaudit.model.spec import ModelSpec

    tp: Any = ModelSpec
    for p in parts:
        tp = _strip(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            field = _fields(tp).get(str(p))
            if field is None:
                return None
            tp = field.annotation
        elif typing.get_origin(tp) in (list, dict):
            tp = typing.get_args(tp)[-1]
        else:
            return None
    tp = _strip(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _strip(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _fields(cls: Any) -> dict[str, Any]:
    return {f.alias or name: f for name, f in cls.model_fields.items()}


_INDEX: dict[str, list[str]] = {}


def _field_index() -> dict[str, list[str]]:
    """Every YAML field name -> the dotted paths where it is valid (for 'belongs under' hints)."""
    if not _INDEX:
        from skewaudit.model.spec import ModelSpec

        def walk(cls: Any, prefix: str, depth: int) -> None:
            for alias, f in _fields(cls).items():
                path = f"{prefix}.{alias}" if prefix else alias
                _INDEX.setdefault(alias, []).append(path)
                sub = _model_at(split_path(path))
                if sub is not None and depth < 8:
                    walk(sub, path, depth + 1)

        walk(ModelSpec, "", 0)
    return _INDEX


def _norm(s: str) -> str:
    return s.replace("_", "").replace("-", "").lower()


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word`` (same letters in another case/style first), or None."""
    choices = list(choices)
    same = [c for c in choices if _norm(c) == _norm(word)]
    if same:
        return same[0]
    by_lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[close[0]] if close else None


def _unknown_field(parts: list[str | int]) -> str:
    name, parent = str(parts[-1]), parts[:-1]
    cls = _model_at(parent)
    allowed = list(_fields(cls)) if cls is not None else []
    hint = suggest(name, allowed)
    if hint:
        return f"unknown field; did you mean '{hint}'?"
    elsewhere = [p for p in _field_index().get(name, []) if p.rsplit(".", 1)[0] != join_path(parent)]
    if elsewhere:
        return f"unknown field here; '{name}' belongs under {elsewhere[0].rsplit('.', 1)[0]}"
    return "unknown field (expected one of: " + ", ".join(allowed) + ")" if allowed else "unknown field"


_TYPE_WORDS = {"int_type": "an integer", "float_type": "a number", "bool_type": "true or false",
               "string_type": "a string", "list_type": "a list", "dict_type": "a mapping (key: value)",
               "model_type": "a mapping (key: value)", "model_attributes_type": "a mapping (key: value)",
               "date_type": "a date (YYYY-MM-DD)", "literal_error": None}


def _pydantic_text(err: dict, parts: list[str | int]) -> str:
    typ, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if typ == "extra_forbidden":
        return _unknown_field(parts)
    if typ == "missing":
        return "required field is missing"
    if typ == "literal_error":
        choices = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        text = f"expected {ctx.get('expected')}, got {_what(value)}"
        hint = suggest(value, choices) if isinstance(value, str) else None
        if isinstance(value, bool):
            return text + "; YAML reads unquoted yes/no/on/off/true/false as booleans: quote the value"
        return text + (f"; did you mean '{hint}'?" if hint else "")
    if typ in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[typ]}, got {_what(value)}"
    if typ == "less_than_equal":
        return f"must be at most {ctx.get('le'):,}, got {_what(value)}"
    if typ == "string_too_short":
        return "must not be empty"
    if typ == "string_pattern_mismatch":
        if parts and parts[-1] == "imageDigest":
            return "expected 'sha256:' followed by 64 lowercase hex digits"
        return "must not contain spaces"
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix):]
    return msg.replace("Input should be", "should be")


def _validation_problems(src: _Source, doc: int, exc: Any) -> list[_Msg]:
    out: list[_Msg] = []
    errors = exc.errors(include_url=False)
    # A misspelt required field also reports the real name as missing; the
    # did-you-mean line already says it, so drop the second line.
    suggested = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            parent, cls = tuple(err["loc"][:-1]), _model_at(list(err["loc"][:-1]))
            hint = suggest(str(err["loc"][-1]), _fields(cls)) if cls is not None else None
            if hint:
                suggested.add(parent + (hint,))
    for err in errors:
        if err["type"] == "missing" and tuple(err["loc"]) in suggested:
            continue
        parts = list(err["loc"])
        at_key = err["type"] == "extra_forbidden"
        if parts and parts[-1] == "[key]":
            parts, at_key = parts[:-1], True
        line, col = src.position(doc, parts, at_key=at_key)
        msg = _Msg(src.name, line, col, join_path(parts), _pydantic_text(err, parts))
        if msg not in out:
            out.append(msg)
    return out


def _public_problems(src: _Source, doc_index: int, doc: dict, reported: set[str]) -> list[_Msg]:
    """What the public ModelSpec validator refuses in a piqc.ai/v1alpha1 document, minus what skewaudit's own
    validation already said at the same place."""
    from skewaudit import specpublic

    def known(parent: list[str | int], key: Any) -> bool:
        cls = _model_at(parent)
        return cls is not None and key in _fields(cls)

    out = []
    for parts, text, at_key in specpublic.problems(doc, _what, known):
        path = join_path(parts)
        if any(path == r or path.startswith((r + ".", r + "[")) for r in reported):
            continue
        line, col = src.position(doc_index, parts, at_key=at_key)
        msg = _Msg(src.name, line, col, path, text)
        if msg not in out:
            out.append(msg)
    return out


def _doc_problem(src: _Source, doc_index: int, doc: Any) -> _Msg:
    line, col = src.position(doc_index, [])
    if not isinstance(doc, dict):
        what = "a list" if isinstance(doc, list) else f"a single value ({_what(doc)})"
        return _Msg(src.name, line, col, "", f"document {doc_index + 1} is {what}, not a mapping; a ModelSpec starts "
                    "with 'apiVersion:' and 'kind: ModelSpec'")
    kind = doc.get("kind")
    if isinstance(kind, str):
        line, col = src.position(doc_index, ["kind"])
        return _Msg(src.name, line, col, "kind", f"expected 'ModelSpec', got {kind!r}: this is not a ModelSpec "
                    "document (pass spec files, not manifests)")
    return _Msg(src.name, line, col, "", f"document {doc_index + 1} is not a ModelSpec: it has no 'kind: ModelSpec'")


def _load_source(src: _Source, explicit: bool, specs: list[LoadedSpec], problems: list[_Msg],
                 warnings: list[_Msg], cache: Any = None) -> None:
    from pydantic import ValidationError

    from skewaudit.model.spec import PIQC_API, ModelSpec
    from skewaudit.specrules import (
        rules,  # imports this module: load it once this one is complete
    )

    docs = _parse(src, cache)
    if isinstance(docs, _Msg):
        problems.append(docs)
        return
    if explicit and all(d is None for d in docs):
        problems.append(_Msg(src.name, 1, 1, "", "empty file: expected a ModelSpec document (apiVersion, kind, "
                             "metadata, spec)"))
        return
    for i, doc in enumerate(docs):
        if doc is None:
            continue  # an empty document between '---' separators
        if not (isinstance(doc, dict) and _looks_like_modelspec(doc)):
            if explicit:  # in a directory, other YAML (manifests, values files) is simply not ours
                problems.append(_doc_problem(src, i, doc))
            continue
        try:
            spec, found = ModelSpec.model_validate(doc, by_alias=True, by_name=False), []
        except ValidationError as e:
            spec, found = None, _validation_problems(src, i, e)
        if doc.get("apiVersion") == PIQC_API:
            found += _public_problems(src, i, doc, {m.path for m in found})
        if found or spec is None:
            problems.extend(found)
            continue
        loaded = LoadedSpec(spec, src.name, i, src)
        for level, parts, text in rules(loaded):
            at_key = bool(parts) and parts[-1] == "[key]"  # the problem is a map key, not its value
            parts = parts[:-1] if at_key else parts
            line, col = src.position(i, parts, at_key=at_key)
            (warnings if level == "warning" else problems).append(
                _Msg(src.name, line, col, join_path(parts), text, warning=level == "warning"))
        specs.append(loaded)


def load_paths(paths: list[str], *, stdin_text: str | None = None) -> tuple[list[LoadedSpec], list[str]]:
    """Load and validate every ModelSpec under ``paths`` (files, directories, ``-`` for stdin).

    Returns (specs, warning lines). Raises ``SpecError`` listing every problem
    (warnings included, so they are not lost), one ``file:line:col: path: message`` each.
    """
    inputs, problems, dirs = _expand(list(paths))
    specs: list[LoadedSpec] = []
    warnings: list[_Msg] = []
    per_group: dict[int, int] = {}
    # A fleet's unchanged files are parsed once, not on every run (skewaudit.speccache); one file alone
    # is parsed faster than the cache is read.
    cache = None
    if len(inputs) >= CACHE_FROM:
        from skewaudit import speccache

        cache = speccache.open_cache()
    # YAML nodes are acyclic and freed by reference counting: see skewaudit.gcpause.
    with gc_paused():
        for name, real, explicit, group in inputs:
            src = _read(name, real, stdin_text)
            if isinstance(src, _Msg):
                problems.append(src)
                continue
            before = len(specs) + len(problems)
            _load_source(src, explicit, specs, problems, warnings, cache)
            per_group[group] = per_group.get(group, 0) + len(specs) + len(problems) - before
    if cache is not None:
        cache.save()
    for group, p in enumerate(paths):
        if p in dirs and per_group.get(group) == 0 and any(i[3] == group for i in inputs):
            problems.append(_Msg(p, 0, 0, "", "no ModelSpec documents (kind: ModelSpec) in this directory"))
    warnings += _duplicate_names(specs)
    order = {name: n for n, (name, *_rest) in enumerate(inputs)}

    def key(m: _Msg) -> tuple:
        return order.get(m.file, -1), m.line, m.col

    if problems:
        raise SpecError([str(m) for m in sorted(problems + warnings, key=key)])
    return specs, [str(m) for m in sorted(warnings, key=key)]


class _Relocated(LoadedSpec):
    """A spec held only in memory whose values were written elsewhere (a validation record):
    every position is asked of ``relocate``, never of text no file holds."""

    __slots__ = ("_relocate",)

    def __init__(self, loaded: LoadedSpec, file: str, relocate: Callable[[str], Location | None]):
        super().__init__(loaded.spec, file, loaded.doc_index, loaded._source)
        self._relocate = relocate

    def location(self, dotted: str) -> Location | None:
        return self._relocate(dotted) or Location(file=self.file)


def load_text(text: str, file: str, relocate: Callable[[str], Location | None]) -> tuple[list[LoadedSpec], list[str]]:
    """Load the ModelSpecs of ``text`` rendered from another record (``file``), as ``load_paths`` does.

    ``relocate`` maps a field path to where its value was really written. Findings, problems and
    warnings point there; a problem it cannot place is reported at ``file`` with the field path, and a
    warning it cannot place is dropped (it concerns a value the renderer chose, not the record)."""
    src = _Source(file, text)
    specs: list[LoadedSpec] = []
    problems: list[_Msg] = []
    warnings: list[_Msg] = []
    _load_source(src, True, specs, problems, warnings)

    def moved(m: _Msg, keep: bool) -> _Msg | None:
        loc = relocate(m.path)
        if loc is None:
            return _Msg(file, 0, 0, m.path, m.text, m.warning) if keep else None
        return _Msg(loc.file, loc.line, loc.col, loc.key or m.path, m.text, m.warning)

    placed = [x for x in (moved(m, False) for m in warnings) if x is not None]
    if problems:
        raise SpecError([str(m) for m in (moved(m, True) for m in problems + warnings) if m is not None])
    return [_Relocated(s, file, relocate) for s in specs], [str(m) for m in placed]


def _duplicate_names(specs: list[LoadedSpec]) -> list[_Msg]:
    first: dict[str, LoadedSpec] = {}
    out = []
    for s in specs:
        name = s.spec.metadata.name
        if name in first:
            loc = s.location("metadata.name")
            prev = first[name].location("metadata.name")
            out.append(_Msg(s.file, loc.line if loc else 0, loc.col if loc else 0, "metadata.name",
                            f"'{name}' is also the name of the spec at {prev}; the differ tells specs apart by name",
                            warning=True))
        else:
            first[name] = s
    return out
