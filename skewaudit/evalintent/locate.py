"""Where a value of the validation record is written: file, line, column and key path.

``diff --intent-from-eval`` audits against a spec that lives only in memory; its findings point here
instead, into the record the value came from (``results.json:57:31 (config.model_args.dtype)``).
JSON (lm-eval results, ``config.json``) and YAML (``MLmodel``) are composed once per file with the
YAML parser, which keeps node positions (JSON is YAML's flow style); an item of lm-eval's
``model_args`` string (``pretrained=…,dtype=bfloat16``) is found inside its line. Where a position
cannot be had (a file that does not compose, a key that is not there), the file alone is the answer.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from skewaudit.evalintent.record import MAX_RECORD_BYTES, Where
from skewaudit.model.finding import Location


@lru_cache(maxsize=16)
def _compose(file: str) -> tuple[Any, list[str]] | None:
    """(root node, lines) of a JSON or YAML file, or None when it cannot be composed."""
    import yaml

    path = Path(file)
    try:
        if not path.is_file() or path.stat().st_size > MAX_RECORD_BYTES:
            return None
        text = path.read_bytes().decode("utf-8-sig")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return yaml.compose(text, Loader=loader), text.splitlines()
    except (OSError, UnicodeDecodeError, yaml.YAMLError, RecursionError):
        return None


def _child(node: Any, part: str | int) -> tuple[Any, Any] | None:
    """(key node, value node) of ``part`` under ``node``; for a list item the key is the item."""
    import yaml

    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                return k, v
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part], node.value[part]
    return None


def location(at: Where) -> Location:
    """The most precise position of ``at`` that can be had."""
    label = at.label()
    if at.line:
        return Location(file=at.file, line=at.line, col=1, key=label)
    if not at.key:
        return Location(file=at.file, key=label)
    composed = _compose(at.file)
    if composed is None:
        return Location(file=at.file, key=label)
    node, lines = composed
    key = None
    for part in at.key:
        found = _child(node, part)
        if found is None:
            break
        key, node = found
    if key is None:
        return Location(file=at.file, key=label)
    mark = key.start_mark
    line, col = mark.line + 1, mark.column + 1
    if at.arg and node.start_mark.line == node.end_mark.line and node.start_mark.line < len(lines):
        # "pretrained=…,dtype=bfloat16" on one line: point at "dtype=" inside the string
        text = lines[node.start_mark.line]
        start = node.start_mark.column
        for token in (f'"{at.arg}=', f",{at.arg}="):
            i = text.find(token, start)
            if i >= 0:
                return Location(file=at.file, line=line, col=i + 2, key=label)
    return Location(file=at.file, line=line, col=col, key=label)
