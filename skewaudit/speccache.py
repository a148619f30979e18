"""Parsed ModelSpec files kept between runs, keyed by their content: an unchanged fleet is parsed once.

Loading a spec file composes it with libyaml, turns the nodes into values and indexes where every
field path is written (:func:`skewaudit.specfile._parse`): ~0.5 s CPU for 1,000 specs, the same work
on every run of an unchanged fleet. This module keeps exactly that result, each document's plain
values and position index, in one file, ``$XDG_CACHE_HOME/skewaudit/specs.msgpack`` (else
``~/.cache/skewaudit/specs.msgpack``). An entry's key is the SHA-256 of the file's text together with
skewaudit's version, PyYAML's, and the source of the modules that parse (so an edited checkout never
reads an older parser's result). Validation (pydantic, the cross-field rules, the public-spec
checks) still runs on every run, so problems and warnings are computed afresh, at the same
positions. Only files that parsed cleanly into plain values (text, 64-bit integers, floats,
booleans, nulls, lists, maps with text keys) with a complete position index are stored.

Trust: an entry is used only when its HMAC verifies, under a key derived from the installation's
redaction key (which this file never holds), so a corrupt, truncated, copied or tampered entry is
ignored, never trusted. The file is read only when it is a regular file owned by this user in a
directory only this user can write, and at most ``MAX_BYTES``; it is written through
:mod:`skewaudit.fsutil` (atomic; 0600 in a 0700 directory). A cache that cannot be read or written
is silently skipped: the run parses as it would without one. ``SKEWAUDIT_NO_CACHE=1`` turns it off.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
from typing import Any

import msgspec

DISABLE_ENV = "SKEWAUDIT_NO_CACHE"
FILE = "specs.msgpack"
MAX_BYTES = 64 * 2**20
MAX_ENTRIES = 20_000
_INT64 = (-(2**63), 2**63 - 1)


class _Entry(msgspec.Struct, array_like=True):
    mac: bytes
    body: bytes            # msgpack of _Body


class _Body(msgspec.Struct, array_like=True):
    docs: list[Any]
    # specfile's packed positions exceed 64 bits: each is kept as (high, low) 42-bit halves
    index: list[dict[str, tuple[int, int]]]


_LOW = (1 << 42) - 1


class _Pack(msgspec.Struct, array_like=True):
    salt: str
    entries: dict[str, _Entry]


def cache_dir() -> str:
    """skewaudit's directory under the XDG cache home (not created here)."""
    from skewaudit.fsutil import xdg_dir

    return xdg_dir("XDG_CACHE_HOME", ".cache")


def _salt() -> str:
    import yaml

    from skewaudit import __version__, specfile, yamlsafe

    h = hashlib.sha256()
    for mod in (specfile, yamlsafe):
        with open(mod.__file__, "rb") as f:
            h.update(f.read())
    return f"skewaudit {__version__}; pyyaml {yaml.__version__}; parser {h.hexdigest()[:32]}"


def _mac_key() -> bytes | None:
    """The HMAC key: derived from the redaction key when the installation has one (never made here)."""
    from skewaudit.redact import _key

    env = os.environ.get(_key.KEY_ENV)
    if env:
        base = env.encode("utf-8", "surrogateescape")
    else:
        try:   # read here, not through _key.key(): no key is made, and no warning printed, for a cache
            base = _key._read(_key.key_path())
        except OSError:
            return None
    return hmac.new(base, b"skewaudit spec cache v1", hashlib.sha256).digest()


def _private(st: os.stat_result) -> bool:
    return st.st_uid == os.getuid() and not st.st_mode & 0o022


def _read(path: str, salt: str) -> dict[str, _Entry]:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) and _private(st) and _private(os.stat(os.path.dirname(path)))
                and st.st_size <= MAX_BYTES):
            return {}
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError:
        return {}
    finally:
        os.close(fd)
    try:
        pack = msgspec.msgpack.decode(data, type=_Pack)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return {}
    return pack.entries if pack.salt == salt else {}


def _plain(v: Any) -> bool:
    t = type(v)
    if t is str or t is float or t is bool or v is None:
        return True
    if t is int:
        return _INT64[0] <= v <= _INT64[1]
    if t is list:
        return all(_plain(x) for x in v)
    if t is dict:
        return all(type(k) is str and _plain(x) for k, x in v.items())
    return False


class SpecCache:
    """The entries of one run: read once, written back once when the run parsed anything new."""

    def __init__(self, path: str, key: bytes, salt: str, entries: dict[str, _Entry]):
        self.path, self._key, self._salt = path, key, salt
        self._old, self._new = entries, {}
        self._used: set[str] = set()

    def digest(self, text: str) -> str:
        return hashlib.sha256(f"{self._salt}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()

    def _mac(self, digest: str, body: bytes) -> bytes:
        return hmac.new(self._key, digest.encode() + b"\0" + body, hashlib.sha256).digest()

    def get(self, digest: str) -> tuple[list[Any], list[dict[str, int]]] | None:
        """(documents, position indexes) of the file whose text has ``digest``, or None."""
        e = self._old.get(digest)
        if e is None or not hmac.compare_digest(e.mac, self._mac(digest, e.body)):
            return None
        try:
            body = msgspec.msgpack.decode(e.body, type=_Body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return None
        if len(body.docs) != len(body.index):
            return None
        self._used.add(digest)
        return body.docs, [{p: hi << 42 | lo for p, (hi, lo) in ix.items()} for ix in body.index]

    def put(self, digest: str, docs: list[Any], index: list[dict[str, int] | None]) -> None:
        """Keep a file's parse when it is plain values with a complete index (else nothing)."""
        if len(docs) != len(index) or any(i is None for i in index) or not _plain(docs):
            return
        try:
            halves = [{p: (v >> 42, v & _LOW) for p, v in ix.items()} for ix in index]   # type: ignore[union-attr]
            body = msgspec.msgpack.encode(_Body(docs, halves))   # type: ignore[arg-type]
        except (OverflowError, TypeError, ValueError, msgspec.EncodeError):
            return
        self._new[digest] = _Entry(self._mac(digest, body), body)

    def save(self) -> None:
        """Write the entries back when this run parsed a file the cache did not hold; silent on failure."""
        if not self._new:
            return
        from skewaudit import fsutil
        from skewaudit.errors import InputError

        # This run's files first, then the others as they were, within the bounds.
        keep = {**self._new, **{d: self._old[d] for d in self._used}}
        size = sum(len(e.body) for e in keep.values())
        for d, e in self._old.items():
            if len(keep) >= MAX_ENTRIES or size + len(e.body) > MAX_BYTES // 2:
                break
            if d not in keep:
                keep[d] = e
                size += len(e.body)
        data = msgspec.msgpack.encode(_Pack(self._salt, keep))
        if len(data) > MAX_BYTES:
            return
        try:
            directory = os.path.dirname(self.path)
            os.makedirs(directory, mode=0o700, exist_ok=True)
            if not _private(os.stat(directory)):
                return
            if os.path.lexists(self.path):
                if not _private(os.lstat(self.path)):
                    return
                fsutil.write_atomic(self.path, data)   # keeps the file's 0600
            else:
                fsutil.create_private(self.path, data)
        except (OSError, InputError):
            return


def open_cache() -> SpecCache | None:
    """This run's cache, or None (turned off, no key, or no user id to check ownership against)."""
    if os.environ.get(DISABLE_ENV) or not hasattr(os, "getuid"):
        return None
    try:
        key = _mac_key()
        if key is None:
            return None
        salt = _salt()
    except OSError:
        return None
    path = os.path.join(cache_dir(), FILE)
    return SpecCache(path, key, salt, _read(path, salt))
