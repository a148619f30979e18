"""Snapshots: the observed facts of one collection, saved as versioned JSON.

``skewaudit snapshot -o last-good.json`` records what is running (secrets are
already redacted at collection time; provenance is kept), ``skewaudit diff
--snapshot FILE`` audits it exactly as it would the live source, and
``--baseline FILE`` compares two observed states.

The file is the :class:`~skewaudit.model.observed.Snapshot` struct as JSON with
``schema`` first (``skewaudit.io/snapshot/v1``), then the collection time, the
skewaudit version, the kube context and the inputs read. It is written
atomically, so a crash never leaves half a baseline behind. Reading checks the
schema before anything else, so a report, a kubectl dump or a snapshot from a
future version gets one clear line rather than a field-by-field complaint.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

import msgspec

from skewaudit import __version__
from skewaudit.errors import InputError
from skewaudit.fsutil import write_atomic
from skewaudit.model.observed import SNAPSHOT_SCHEMA, Snapshot

_SCHEMA_FAMILY = SNAPSHOT_SCHEMA.rsplit("/", 1)[0] + "/"


def stamp(snap: Snapshot) -> Snapshot:
    """Fill collection time and version if the collector left them empty."""
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return msgspec.structs.replace(snap, collected_at=snap.collected_at or now,
                                   skewaudit_version=snap.skewaudit_version or __version__)


def _ordered(snap: Snapshot) -> dict[str, Any]:
    # ``schema`` equals its default, so omit_defaults would drop it; ``context`` stays even when null so
    # the file says "not live" explicitly. Both are written first, ahead of the bulk.
    body = msgspec.to_builtins(stamp(snap))
    body.pop("schema", None)
    head = {"schema": SNAPSHOT_SCHEMA, "source": body.pop("source"), "collected_at": body.pop("collected_at", ""),
            "skewaudit_version": body.pop("skewaudit_version", ""), "context": body.pop("context", None)}
    return {**head, **body}


def encode(snap: Snapshot) -> bytes:
    """The snapshot file's bytes: indented JSON, ``schema`` first, trailing newline."""
    return msgspec.json.format(msgspec.json.encode(_ordered(snap)), indent=1) + b"\n"


# --- several contexts in one file (``snapshot --context A --context B``) ----------------------------

SET_SCHEMA = "skewaudit.io/snapshot-set/v1"


class SnapshotSet(msgspec.Struct, frozen=True, kw_only=True):
    """One snapshot per kube context, and the contexts that could not be read (context -> why)."""

    schema: str = SET_SCHEMA
    snapshots: list[Snapshot] = []
    unreachable: dict[str, str] = {}


def encode_set(snaps: list[Snapshot], unreachable: dict[str, str]) -> bytes:
    """A snapshot set's bytes: ``schema``, the unreachable contexts, then each snapshot as :func:`encode` orders it."""
    body = {"schema": SET_SCHEMA, "unreachable": dict(unreachable), "snapshots": [_ordered(s) for s in snaps]}
    return msgspec.json.format(msgspec.json.encode(body), indent=1) + b"\n"


def load_set(path: str) -> SnapshotSet:
    """Read a snapshot set, or a single snapshot as a set of one (``diff``/``compare --snapshot``)."""
    data = _read(path)
    if _schema(data, path) != SET_SCHEMA:
        return SnapshotSet(snapshots=[reredact(decode(data, path))])
    try:
        got = msgspec.json.decode(data.removeprefix(b"\xef\xbb\xbf"), type=SnapshotSet)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise InputError(f"{path}: malformed snapshot set: {e}") from None
    except RecursionError:
        raise InputError(f"{path}: malformed snapshot set: nested too deeply") from None
    if not got.snapshots and not got.unreachable:
        raise InputError(f"{path}: empty snapshot set (no context in it)")
    for i, snap in enumerate(got.snapshots):
        bad = _bad_fact(snap)
        if snap.schema != SNAPSHOT_SCHEMA:
            bad = ("schema", f"snapshot schema {snap.schema!r}, expected {SNAPSHOT_SCHEMA!r}")
        if bad is not None:
            raise InputError(f"{path}: malformed snapshot set: snapshots[{i}].{bad[0]}: {bad[1]}")
    return msgspec.structs.replace(got, snapshots=[reredact(s) for s in got.snapshots])


def save(snap: Snapshot, path: str) -> None:
    """Write ``snap`` to ``path`` atomically (``-`` for stdout)."""
    write_atomic(path, encode(snap))


def _read(path: str) -> bytes:
    from skewaudit.limits import read_input

    try:
        return read_input(path)   # chunked, within --max-input-bytes
    except FileNotFoundError:
        raise InputError(f"{path}: no such snapshot file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a snapshot file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None


class _Head(msgspec.Struct):
    """Just the schema: read first (msgspec skips the rest without building it)."""

    schema: Any = None


def _schema(data: bytes, path: str) -> Any:
    """The ``schema`` of a JSON object; a one-line InputError for anything that is not one."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        schema = msgspec.json.decode(data, type=_Head).schema
    except msgspec.ValidationError:
        # Not an object: say what it is, when it is JSON at all (a truncated array is not).
        try:
            kind = type(msgspec.json.decode(data)).__name__
        except msgspec.DecodeError as e:
            raise InputError(f"{path}: not a skewaudit snapshot (invalid JSON: {e})") from None
        except RecursionError:
            raise InputError(f"{path}: not a skewaudit snapshot (JSON nested too deeply)") from None
        raise InputError(f"{path}: not a skewaudit snapshot (a JSON {kind}, not an object "
                         f"with schema {SNAPSHOT_SCHEMA!r})") from None
    except msgspec.DecodeError as e:
        raise InputError(f"{path}: not a skewaudit snapshot (invalid JSON: {e})") from None
    except RecursionError:
        raise InputError(f"{path}: not a skewaudit snapshot (JSON nested too deeply)") from None
    return schema


def decode(data: bytes, path: str = "<snapshot>") -> Snapshot:
    """Parse snapshot bytes; a one-line InputError naming ``path`` for anything that is not one."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]   # a UTF-8 byte-order mark (an editor on Windows): specs and manifests accept it too
    schema = _schema(data, path)
    if schema == SET_SCHEMA:
        raise InputError(f"{path}: a snapshot set of several kube contexts; read it with 'diff --snapshot' or "
                         "'compare --snapshot', or take a one-context snapshot for this")
    if schema != SNAPSHOT_SCHEMA:
        if isinstance(schema, str) and schema.startswith(_SCHEMA_FAMILY):
            raise InputError(f"{path}: snapshot schema {schema!r} is not supported by skewaudit {__version__} "
                             f"(it reads {SNAPSHOT_SCHEMA!r}); re-take the snapshot with this version")
        what = f"schema {schema!r}" if schema is not None else "no 'schema' field"
        raise InputError(f"{path}: not a skewaudit snapshot ({what}, expected {SNAPSHOT_SCHEMA!r}); "
                         "write one with 'skewaudit snapshot -o FILE'")
    try:
        # Typed decoding straight into the structs: one pass over a file that can be tens of MB.
        snap = msgspec.json.decode(data, type=Snapshot)
    except (msgspec.ValidationError, msgspec.DecodeError) as e:
        raise InputError(f"{path}: malformed snapshot: {e}") from None
    except RecursionError:
        raise InputError(f"{path}: malformed snapshot: nested too deeply") from None
    bad = _bad_fact(snap)
    if bad is not None:
        raise InputError(f"{path}: malformed snapshot: {bad[0]}: {bad[1]}")
    return snap


# Fact types the collectors write (model.observed.ENGINE_FIELDS: counts and lengths are ints,
# fractions floats, switches bools); a fact of another type cannot come from skewaudit.
_INT_FACTS = frozenset({"max_model_len", "max_input_tokens", "max_num_seqs", "max_num_batched_tokens",
                        "max_concurrent_requests", "tensor_parallel_size", "pipeline_parallel_size",
                        "data_parallel_size", "data_parallel_size_local", "port"})
_FLOAT_FACTS = frozenset({"gpu_memory_utilization"})
_BOOL_FACTS = frozenset({"enable_prefix_caching", "trust_remote_code", "enforce_eager"})


def _fact_problem(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if name in _INT_FACTS and (type(value) is not int):
        return f"{name} must be an integer, got {_jtype(value)}"
    if name in _FLOAT_FACTS and (type(value) not in (int, float) or value != value or abs(value) == float("inf")):
        return f"{name} must be a number, got {_jtype(value)}"
    if name in _BOOL_FACTS and type(value) is not bool:
        return f"{name} must be true or false, got {_jtype(value)}"
    return None


def _jtype(v: Any) -> str:
    text = msgspec.json.encode(v).decode()
    return f"{'a string' if isinstance(v, str) else 'a ' + type(v).__name__} {text[:40]}"


def _bad_fact(snap: Snapshot) -> tuple[str, str] | None:
    """(field path, what is wrong) of the first fact a collector could not have written, or None:
    engine facts of the wrong type, quantities the API server would refuse."""
    from skewaudit import units

    def quantities(d: dict, where: str) -> tuple[str, str] | None:
        for key, v in d.items():
            try:
                (units.gpu_count if key.startswith(units.DEVICE_RESOURCE_PREFIXES) else units.parse_quantity)(v)
            except ValueError as e:
                return f"{where}[{key}]", str(e)
        return None

    def container(c: Any, where: str) -> tuple[str, str] | None:
        for name, f in (c.engine.fields.items() if c.engine is not None else ()):
            why = _fact_problem(name, f.value)
            if why is not None:
                return f"{where}.engine.fields.{name}.value", why
        return quantities(c.limits, f"{where}.limits") or quantities(c.requests, f"{where}.requests")

    checked: set[int] = set()
    for i, w in enumerate(snap.workloads):
        if w.replicas is not None and w.replicas.value is not None and type(w.replicas.value) is not int:
            return f"workloads[{i}].replicas.value", f"replicas must be an integer, got {_jtype(w.replicas.value)}"
        groups = [(f"workloads[{i}].template", w.template)] + \
                 [(f"workloads[{i}].pods[{j}]", p) for j, p in enumerate(w.pods)]
        for where, holder in groups:
            for field in ("containers", "init_containers"):
                for j, c in enumerate(getattr(holder, field, ())):
                    if id(c) in checked:
                        continue
                    checked.add(id(c))
                    bad = container(c, f"{where}.{field}[{j}]")
                    if bad is not None:
                        return bad
    for name, n in snap.nodes.items():
        bad = quantities(n.allocatable, f"nodes[{name}].allocatable") or \
            quantities(n.capacity, f"nodes[{name}].capacity")
        if bad is not None:
            return bad
    return None


def load(path: str) -> Snapshot:
    """Read a snapshot file (``-`` for stdin); a clear one-line InputError for anything that is not one.

    Its values are redacted again with today's rules: a snapshot written by an older skewaudit,
    or edited by hand, may hold a secret the current matcher would have caught, and every
    output (tables, baseline hints, bundles) must show only markers. Markers are kept as they are."""
    return reredact(decode(_read(path), path))


def reredact(snap: Snapshot) -> Snapshot:
    from skewaudit import redact

    return msgspec.convert(redact.deep(msgspec.to_builtins(snap)), Snapshot)
