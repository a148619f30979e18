"""The one reader of recording files: NVML sessions and engine probe rounds.

``SKEWAUDIT_NVML_REPLAY`` (:mod:`skewaudit.collect.nvml_replay`) and
``SKEWAUDIT_RUNTIME_REPLAY`` (:mod:`skewaudit.collect.probe.replay`) name a JSON file recorded
elsewhere. It is the user's input like a manifest, so it is read the same way: within
``--max-input-bytes`` (in chunks: ``/dev/zero`` named as a recording is refused, not read
whole), as UTF-8 (a byte-order mark accepted), and every problem is one line, exit 2, with
``file:line:col``: where the JSON breaks, or, for a document of the wrong shape, the
recording's own check naming the field (at ``1:1``: the decoded document has no positions).
"""

from __future__ import annotations

import json
from typing import Any, Callable

from skewaudit.errors import InputError


def read(path: str, env: str, *, cannot_read: str, not_a: str,
         shape: Callable[[Any], str | None]) -> Any:
    """The JSON document of the recording at ``path`` (named by ``env``).

    ``cannot_read``/``not_a`` complete the messages ("cannot read NVML recording (ENV): …",
    "not an NVML recording: …"); ``shape`` returns what is wrong with a decoded document, or
    None when the recording's reader can use it."""
    from skewaudit.limits import read_stream

    try:
        with open(path, "rb") as f:   # never stdin: "-" is a file name here
            data = read_stream(f, path)
    except OSError as e:
        raise InputError(f"{path}: cannot read {cannot_read} ({env}): {e.strerror}") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(f"{path}:{line}:{col}: not {not_a}: not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}:{e.colno}: not {not_a}: {e.msg}") from None
    except RecursionError:
        raise InputError(f"{path}:1:1: not {not_a}: JSON nested too deeply") from None
    except ValueError as e:   # an integer beyond Python's digit limit
        raise InputError(f"{path}:1:1: not {not_a}: {str(e).split(';')[0]}") from None
    problem = shape(doc)
    if problem:
        raise InputError(f"{path}:1:1: not {not_a}: {problem}")
    return doc
