"""Where values of the validation record are written: file, line, column and key path.

``diff --intent-from-eval`` audits against a spec that lives only in memory; its findings point here
instead, into the record the value came from (``results.json:57:31 (config.model_args.dtype)``).
JSON (lm-eval results, ``config.json``) and YAML (``MLmodel``) are read with the YAML parser's event
stream, which carries positions (JSON is YAML's flow style): one pass per file for all the key paths
wanted, no tree built, stopping once they are all found (a results file with thousands of task
configs stays linear; see benchmarks/eval_record.py). An item of lm-eval's ``model_args`` string
(``pretrained=…,dtype=bfloat16``) is found inside its line. Where a position cannot be had (a file
that does not parse, a key that is not there), the file alone is the answer.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Iterable

from skewaudit.evalintent.record import MAX_RECORD_BYTES, Where
from skewaudit.model.finding import Location

Key = tuple  # a key path: ("config", "model_args")


def _scan(text: str, wanted: set[Key]) -> dict[Key, tuple[int, int, int, int]]:
    """key path -> (key line, key col, value line, value col; 0-based) for each wanted path found.

    A list item's "key" is the item itself. Only paths leading to a wanted one are followed."""
    import yaml

    prefixes = {k[:i] for k in wanted for i in range(len(k) + 1)}
    found: dict[Key, tuple[int, int, int, int]] = {}
    # frames: [path (None: not followed), is_mapping, key (None: expecting one), key mark, next item index,
    # is a mapping key itself (a collection as key: YAML allows it, JSON does not)]
    stack: list[list] = []
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for ev in yaml.parse(text, Loader=loader):
        if isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            done = stack.pop()
            if stack and stack[-1][1] and not done[5]:
                stack[-1][2] = None            # the parent mapping's value is complete: a key comes next
            continue
        if not isinstance(ev, (yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent, yaml.AliasEvent)):
            continue
        path: Key | None = None
        if stack:
            frame = stack[-1]
            if frame[1] and frame[2] is None:  # a mapping key
                frame[2], frame[3] = (ev.value if isinstance(ev, yaml.ScalarEvent) else object()), ev.start_mark
                if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                    stack.append([None, isinstance(ev, yaml.MappingStartEvent), None, None, 0, True])
                continue
            if frame[0] is not None:
                part = frame[2] if frame[1] else frame[4]
                path = frame[0] + (part,)
                mark = frame[3] if frame[1] else ev.start_mark
                if path in wanted:
                    found[path] = (mark.line, mark.column, ev.start_mark.line, ev.start_mark.column)
                    if len(found) == len(wanted):
                        return found
                if path not in prefixes:
                    path = None
            if not frame[1]:
                frame[4] += 1
        else:
            path = ()
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append([path, isinstance(ev, yaml.MappingStartEvent), None, None, 0, False])
        elif stack and stack[-1][1]:
            stack[-1][2] = None                # a scalar or alias value ends its mapping entry
    return found


def _read(file: str) -> str | None:
    path = Path(file)
    try:
        if not path.is_file() or path.stat().st_size > MAX_RECORD_BYTES:
            return None
        return path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return None


def locations(wheres: Iterable[Where]) -> dict[Where, Location]:
    """The most precise position of each ``Where`` that can be had; each file is read once."""
    import yaml

    out: dict[Where, Location] = {}
    by_file: dict[str, list[Where]] = defaultdict(list)
    for at in set(wheres):
        if at.line or not at.key:
            out[at] = Location(file=at.file, line=at.line, col=1 if at.line else 0, key=at.label())
        else:
            by_file[at.file].append(at)
    for file, ats in by_file.items():
        text = _read(file)
        try:
            found = _scan(text, {a.key for a in ats}) if text is not None else {}
        except (yaml.YAMLError, RecursionError):
            found = {}
        lines = text.splitlines() if text is not None and any(a.arg for a in ats) else []
        for at in ats:
            out[at] = _position(at, found.get(at.key), lines)
    return out


def _position(at: Where, pos: tuple[int, int, int, int] | None, lines: list[str]) -> Location:
    if pos is None:
        return Location(file=at.file, key=at.label())
    key_line, key_col, value_line, value_col = pos
    if at.arg and value_line < len(lines):
        # "pretrained=…,dtype=bfloat16": point at "dtype=" inside the string (on the value's first line)
        text = lines[value_line]
        for token in (f'"{at.arg}=', f",{at.arg}="):
            i = text.find(token, value_col)
            if i >= 0:
                return Location(file=at.file, line=value_line + 1, col=i + 2, key=at.label())
    return Location(file=at.file, line=key_line + 1, col=key_col + 1, key=at.label())
