"""Snapshots: the observed facts of one collection, saved as versioned JSON.

``skewaudit snapshot -o last-good.json`` records what is running (secrets are
already redacted at collection time; provenance is kept), ``skewaudit diff
--snapshot FILE`` audits it exactly as it would the live source, and
``--baseline FILE`` compares two observed states. Files are written atomically.
"""

from __future__ import annotations

import datetime as _dt

import msgspec

from skewaudit import __version__
from skewaudit.errors import InputError
from skewaudit.fsutil import write_atomic
from skewaudit.model.observed import SNAPSHOT_SCHEMA, Snapshot

_MAX_BYTES = 512 * 1024 * 1024


def stamp(snap: Snapshot) -> Snapshot:
    """Fill collection time and version if the collector left them empty."""
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return msgspec.structs.replace(snap, collected_at=snap.collected_at or now,
                                   skewaudit_version=snap.skewaudit_version or __version__)


def encode(snap: Snapshot) -> bytes:
    return msgspec.json.format(msgspec.json.encode(stamp(snap)), indent=1) + b"\n"


def save(snap: Snapshot, path: str) -> None:
    """Write ``snap`` to ``path`` atomically (``-`` for stdout)."""
    write_atomic(path, encode(snap))


def load(path: str) -> Snapshot:
    """Read a snapshot; a clear one-line InputError for anything that is not one."""
    try:
        with open(path, "rb") as f:
            data = f.read(_MAX_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: no such snapshot file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a snapshot file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if len(data) > _MAX_BYTES:
        raise InputError(f"{path}: larger than {_MAX_BYTES // 2**20} MiB; not a skewaudit snapshot")
    try:
        head = msgspec.json.decode(data, type=dict)
    except msgspec.DecodeError as e:
        raise InputError(f"{path}: not a skewaudit snapshot (invalid JSON: {e})") from None
    schema = head.get("schema")
    if schema != SNAPSHOT_SCHEMA:
        raise InputError(f"{path}: not a skewaudit snapshot (schema {schema!r}, expected {SNAPSHOT_SCHEMA!r})")
    try:
        snap = msgspec.convert(head, type=Snapshot)
    except msgspec.ValidationError as e:
        raise InputError(f"{path}: malformed snapshot: {e}") from None
    return snap
