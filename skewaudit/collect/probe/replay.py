"""Record and replay of engine probes, like the NVML recording.

``skewaudit collect --probe --record FILE`` writes every GET of the probe
round (status and body, per target) to FILE; ``SKEWAUDIT_RUNTIME_REPLAY=FILE``
then answers the probes from it instead of the network, so a box recorded
once can be audited anywhere (and the probe code is tested without engines).
Bodies are redacted before they are written: JSON string values through
:func:`skewaudit.redact.value`, text through :func:`skewaudit.redact.text`.

Format (JSON)::

    {"schema": "skewaudit.io/runtime-recording/v1",
     "targets": {"Pod/ml/llama-0": {"/v1/models": {"status": 200, "body": "{...}"},
                                    "/metrics": {"status": 0, "error": "timed out"}}}}
"""

from __future__ import annotations

import json
import threading
from typing import Any

import msgspec

from skewaudit import redact
from skewaudit.collect import recording
from skewaudit.collect.probe.session import redact_json
from skewaudit.collect.probe.transport import Reply, Transport

REPLAY_ENV = "SKEWAUDIT_RUNTIME_REPLAY"
SCHEMA = "skewaudit.io/runtime-recording/v1"


def _redact_body(body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return redact.text(text)
    return msgspec.json.encode(redact_json(doc)).decode()


class Recorder:
    """Collects the replies of one probe round; :meth:`dump` is the file's text."""

    def __init__(self) -> None:
        self.targets: dict[str, dict[str, dict]] = {}
        self.lock = threading.Lock()

    def wrap(self, inner: Transport, key: str) -> Transport:
        return _Recording(inner, self, key)

    def add(self, key: str, path: str, reply: Reply) -> None:
        entry: dict = {"status": reply.status}
        if reply.error:
            entry["error"] = reply.error
        if reply.body:
            entry["body"] = _redact_body(reply.body)
        if reply.truncated:
            entry["truncated"] = True
        with self.lock:
            self.targets.setdefault(key, {})[path] = entry

    def dump(self) -> str:
        return json.dumps({"schema": SCHEMA, "targets": self.targets}, indent=1, sort_keys=True) + "\n"


class _Recording:
    def __init__(self, inner: Transport, rec: Recorder, key: str):
        self.inner, self.rec, self.key, self.where = inner, rec, key, inner.where

    def get(self, path: str) -> Reply:
        reply = self.inner.get(path)
        self.rec.add(self.key, path, reply)
        return reply


class Replay:
    """A loaded recording; :meth:`transport` answers one target's GETs from it."""

    def __init__(self, path: str, targets: dict):
        self.path, self.targets = path, targets

    def transport(self, key: str, where: str) -> Transport:
        return _Replayed(self, key, where)


class _Replayed:
    def __init__(self, rec: Replay, key: str, where: str):
        self.rec, self.key, self.where = rec, key, f"replay of {where} from {rec.path}"

    def get(self, path: str) -> Reply:
        entry = self.rec.targets.get(self.key, {}).get(path)
        if entry is None:
            return Reply(0, error=f"GET {path} for {self.key} is not in the recording {self.rec.path}")
        return Reply(int(entry.get("status", 0)), str(entry.get("body", "")).encode(), entry.get("error"),
                     bool(entry.get("truncated", False)))


def load(path: str) -> Replay:
    """A recording file; a bad one is the user's input error (file:line:col)."""
    doc = recording.read(path, REPLAY_ENV, cannot_read="the runtime recording", not_a="a runtime recording",
                         shape=_shape)
    return Replay(path, doc["targets"])


_ENTRY_TYPES = {"status": (int,), "body": (str,), "error": (str, type(None)), "truncated": (bool,)}


def _shape(doc: Any) -> str | None:
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return f'expected "schema": "{SCHEMA}"'
    targets = doc.get("targets")
    if not isinstance(targets, dict) or not all(isinstance(v, dict) and all(isinstance(e, dict) for e in v.values())
                                                for v in targets.values()):
        return '"targets" must map targets to {path: {status, body}} objects'
    for key, paths in targets.items():
        for path, entry in paths.items():
            for field, value in entry.items():
                if field in _ENTRY_TYPES and (not isinstance(value, _ENTRY_TYPES[field])
                                              or (field == "status" and isinstance(value, bool))):
                    return (f"targets[{json.dumps(key)}][{json.dumps(path)}].{field}: "
                            f"{type(value).__name__}, expected {_ENTRY_TYPES[field][0].__name__}")
    return None
