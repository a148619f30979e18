"""Read and write profile files: bounded, schema-checked, atomic.

A profile is JSON (``skewaudit.io/data-profile/v1``). Loading refuses, with one
line naming the file: a file over the run's one input limit (``--max-input-bytes``,
``skewaudit.limits``; a profile's size is set by sketch parameters, so a huge
one is not a profile), text that is not JSON,
another schema version, fields of the wrong type (with the field path), and
sketches that do not decode.
"""

from __future__ import annotations

import msgspec

from skewaudit.dataskew import sketches as sk
from skewaudit.dataskew.profile import KINDS, PROFILE_SCHEMA, Profile
from skewaudit.errors import InputError


def save(profile: Profile, path: str) -> None:
    from skewaudit.fsutil import write_atomic

    write_atomic(path, msgspec.json.format(msgspec.json.encode(profile), indent=1) + b"\n")


def load(path: str) -> Profile:
    from skewaudit.limits import read_input

    try:
        raw = read_input(path)   # chunked, within --max-input-bytes
    except OSError as e:
        raise InputError(f"{path}: cannot read profile: {e.strerror}") from None
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    try:
        head = msgspec.json.decode(raw)
    except msgspec.DecodeError as e:
        raise InputError(f"{path}: not a data profile (invalid JSON: {e})") from None
    if not isinstance(head, dict) or "features" not in head:
        raise InputError(f"{path}: not a data profile (make one with 'skewaudit profile DATA -o FILE')")
    schema = head.get("schema")
    if schema != PROFILE_SCHEMA:
        raise InputError(f"{path}: profile schema {schema!r} is not supported by this version "
                         f"(expected {PROFILE_SCHEMA}); rebuild it with 'skewaudit profile'")
    try:
        profile = msgspec.convert(head, Profile)
    except msgspec.ValidationError as e:
        raise InputError(f"{path}: invalid data profile: {e}") from None
    for name, f in profile.features.items():
        where = f"{path}: feature {name!r}"
        if f.kind not in KINDS:
            raise InputError(f"{where}: unknown kind {f.kind!r}")
        if f.count < 0 or f.missing < 0 or f.missing > f.count:
            raise InputError(f"{where}: counts are inconsistent (count {f.count}, missing {f.missing})")
        try:
            if f.numeric:
                sk.decode_kll(f.numeric.kll)
            if f.categorical:
                sk.decode_freq(f.categorical.freq)
                sk.decode_hll(f.categorical.hll)
            if f.lengths:
                sk.decode_kll(f.lengths)
        except ValueError as e:
            raise InputError(f"{where}: {e}") from None
    return profile
