"""Refuse YAML that must never reach a YAML loader: alias bombs and pathological nesting.

libyaml's C composer crashes the process (SIGSEGV) on nesting around 30,000 levels,
and a "billion laughs" document expands a few lines into millions of nodes. Every
reader of untrusted YAML (spec files, rendered manifests) runs :func:`check` first;
it walks parser events only, building nothing, and only when the text could hold
either risk.
"""

from __future__ import annotations

import yaml

MAX_ALIASES = 100
MAX_NODES = 100_000
MAX_DEPTH = 200


class Refused(Exception):
    """A file that must not reach the YAML loader (too deep, too many aliases)."""

    def __init__(self, text: str, line: int = 0, col: int = 0):
        super().__init__(text)
        self.text, self.line, self.col = text, line, col


def _scan_events(text: str, limit_plain_nodes: bool, loader: type = yaml.CSafeLoader) -> None:
    """Refuse alias bombs and deep nesting by walking parser events (nothing is built)."""
    sizes: dict[str, int] = {}
    stack: list[list] = []  # [expanded node count, anchor] per open collection
    aliases = 0
    alias_nodes = 0   # nodes that exist only through alias expansion
    total = 0
    for ev in yaml.parse(text, Loader=loader):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append([1, ev.anchor])
            if len(stack) > MAX_DEPTH:
                m = ev.start_mark
                raise Refused(f"YAML nesting is deeper than {MAX_DEPTH} levels; refusing to load", m.line + 1,
                               m.column + 1)
            continue
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            n, anchor = stack.pop()
            if anchor:
                sizes[anchor] = n
        elif isinstance(ev, yaml.ScalarEvent):
            n = 1
            if ev.anchor:
                sizes[ev.anchor] = 1
        elif isinstance(ev, yaml.AliasEvent):
            aliases += 1
            m = ev.start_mark
            if aliases > MAX_ALIASES:
                raise Refused(f"more than {MAX_ALIASES} YAML aliases; refusing to expand them (a ModelSpec "
                               "needs few or none; this looks like a 'billion laughs' document)", m.line + 1,
                               m.column + 1)
            n = sizes.get(ev.anchor, 1)
            alias_nodes += n
            if alias_nodes > MAX_NODES:
                raise Refused(f"YAML aliases expand to more than {MAX_NODES} nodes; refusing to load (a 'billion "
                              "laughs' document?)", m.line + 1, m.column + 1)
        else:
            continue
        if stack:
            stack[-1][0] += n
            count = stack[-1][0]
        else:
            total += n
            count = total
        # A big file without aliases is just big (a kubectl dump of a fleet): only specs cap it.
        if limit_plain_nodes and count > MAX_NODES:
            m = ev.start_mark
            raise Refused(f"more than {MAX_NODES} YAML nodes; refusing to load", m.line + 1, m.column + 1)


def check(text: str, *, limit_plain_nodes: bool = False) -> None:
    """Raise :class:`Refused` if ``text`` must not be given to a YAML loader: an alias bomb,
    nesting deep enough to crash libyaml's C composer (a segfault, not an exception), or,
    with ``limit_plain_nodes``, simply more nodes than a small file should have. A syntax
    error is left for the loader, which reports it with its position."""
    if not _needs_scan(text):
        return
    try:
        _scan_events(text, limit_plain_nodes)
    except yaml.YAMLError as e:
        _rescan_prefix(text, e, limit_plain_nodes)


# libyaml's scanner reads ahead across a whole flow collection before it hands out the
# first event, and newer libyaml builds stop deep nesting with their own error there
# (1,000 levels in 0.2.6) before this module's bound is reached. Our bound must speak
# first whatever the library version, so when the C scan fails, the text up to the
# failure is walked again with the pure-Python parser, which has no such limit and
# reads ahead at most 1,024 characters. It runs only on failing input, over the prefix.
RESCAN_LIMIT = 4 * 1024 * 1024


def _rescan_prefix(text: str, err: yaml.YAMLError, limit_plain_nodes: bool) -> None:
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    end = (mark.index + 1) if mark is not None and mark.index is not None else len(text)
    if end > RESCAN_LIMIT:
        return
    try:
        _scan_events(text[:end], limit_plain_nodes, loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return  # a genuine syntax error: the loader reports it with its position


def _needs_scan(text: str) -> bool:
    # An alias needs both an anchor (&) and a reference (*); nesting a level deeper
    # needs one of these indicator characters. Typical specs have neither risk and
    # skip the scan (it costs a third of the load time).
    if "&" in text and "*" in text:
        return True
    return sum(text.count(c) for c in "[{-:?") >= MAX_DEPTH


# --- loading: what a YAML library accepts but a Kubernetes object or a spec must not ----------

_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else f"{text[:20]!r}… ({len(text)} characters)"


class LocatedValueError(yaml.constructor.ConstructorError):
    """YAML that parses but holds a value that cannot be used (a key written twice, an integer
    beyond the digit limit, a date that does not exist); its message is skewaudit's own."""


def value_error(node: yaml.Node, e: Exception) -> yaml.constructor.ConstructorError:
    """A located error for a scalar PyYAML's constructors reject with a bare ValueError
    (an integer beyond Python's digit limit, ``2024-13-45`` read as a date)."""
    what, text = node.tag.rsplit(":", 1)[-1], str(node.value)
    if what == "int" and "digits" in str(e):
        why = f"an integer of {len(text)} characters (more digits than can be read)"
    else:
        why = f"invalid {what} {_short(text)}: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
    return LocatedValueError(None, None, why, node.start_mark)


def duplicate_keys(node: yaml.MappingNode) -> list[tuple[str, yaml.Mark, yaml.Mark]]:
    """(key, first mark, repeated mark) for each scalar key written twice in one mapping.
    Merge keys (``<<``) are not duplicates: overriding a merged key is what they are for."""
    seen: dict[str, yaml.Mark] = {}
    out = []
    for k, _ in node.value:
        if not isinstance(k, yaml.ScalarNode) or k.tag == _MERGE:
            continue
        if k.value in seen:
            out.append((k.value, seen[k.value], k.start_mark))
        else:
            seen[k.value] = k.start_mark
    return out


class DocumentLoader(yaml.CSafeLoader):
    """libyaml's safe loader for Kubernetes manifests, read with JSON's semantics.

    Timestamps stay strings (the API has no date type; ``2024-13-45`` is not an error),
    an integer PyYAML cannot build is a located error, and keys written twice in one
    mapping are recorded in ``duplicates`` (the last one wins, as in PyYAML) for the
    caller to warn about: kubectl refuses such a file."""

    yaml_implicit_resolvers = {first: [(tag, rx) for tag, rx in rs if tag != _TIMESTAMP]
                               for first, rs in yaml.CSafeLoader.yaml_implicit_resolvers.items()}

    def __init__(self, stream: str):
        super().__init__(stream)
        self.duplicates: list[tuple[str, yaml.Mark, yaml.Mark]] = []

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode) and len(node.value) > 1:
            self.duplicates += duplicate_keys(node)
        return super().construct_mapping(node, deep)


def _located(ctor):
    def construct(loader, node):
        try:
            return ctor(loader, node)
        except ValueError as e:
            raise value_error(node, e) from None
    return construct


for _tag in ("int", "float", "timestamp"):
    _full = f"tag:yaml.org,2002:{_tag}"
    DocumentLoader.add_constructor(_full, _located(yaml.constructor.SafeConstructor.yaml_constructors[_full]))


def duplicate_key_error(mapping: yaml.MappingNode, key: yaml.Node) -> yaml.constructor.ConstructorError:
    """The located error for a key written twice in one mapping of a spec file."""
    first = next(k for k, _ in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key.value)
    return LocatedValueError(
        None, None, f"duplicate key {key.value!r} (first at line {first.start_mark.line + 1}); "
                    "YAML would silently keep the last value", key.start_mark)


class StrictLoader(yaml.CSafeLoader):
    """libyaml's safe loader for spec files that need PyYAML's constructor (merge keys, tags):
    a key written twice, and a scalar PyYAML cannot build, are located errors."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            for key, _, _ in duplicate_keys(node)[:1]:
                raise duplicate_key_error(node, next(k for k, _ in reversed(node.value)
                                                     if isinstance(k, yaml.ScalarNode) and k.value == key))
        return super().construct_mapping(node, deep)


for _tag in ("int", "float", "timestamp"):
    _full = f"tag:yaml.org,2002:{_tag}"
    StrictLoader.add_constructor(_full, _located(yaml.constructor.SafeConstructor.yaml_constructors[_full]))


def load_document(text: str) -> tuple[object, list[tuple[str, yaml.Mark, yaml.Mark]]]:
    """One manifest document (see :class:`DocumentLoader`) and its duplicate keys."""
    loader = DocumentLoader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()
