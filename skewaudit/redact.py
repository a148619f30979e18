"""Secret redaction, applied by every collector before a value is stored.

A secret-looking env value or flag value is replaced by a marker holding a
short keyed hash (HMAC-SHA256, 8 hex digits), so two collections can tell
"the token changed" without either revealing it. The key defaults to a fixed
project constant so snapshots taken on different machines compare; set
``SKEWAUDIT_REDACTION_KEY`` to make the hashes useless to anyone without it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import re

MARKER_PREFIX = "<redacted:"

# Env var names and flag names that hold secrets. Matching is on the upper-cased
# name split into words, so MONKEY or KEYBOARD_LAYOUT do not trigger it but
# HF_TOKEN, OPENAI_API_KEY, DB_PASSWORD and AUTH_HEADER do.
_SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "AUTH", "APIKEY")
_SECRET_NAME = re.compile(r"(^|[^A-Z0-9])(" + "|".join(_SECRET_WORDS) + r")S?([^A-Z0-9]|$)")
# Names that contain a secret word but never hold a secret value.
_NOT_SECRET = {"KEY_FILE_PATH", "TOKENIZER", "TOKENIZER_REVISION", "TOKENIZERS_PARALLELISM", "MAX_TOTAL_TOKENS",
               "MAX_INPUT_TOKENS", "MAX_BATCH_TOTAL_TOKENS", "MAX_BATCH_PREFILL_TOKENS", "MAX_NEW_TOKENS",
               "KV_CACHE_DTYPE"}
# Values that are secrets whatever they are called.
_SECRET_VALUE = re.compile(r"^(hf_[A-Za-z0-9]{10,}|Bearer\s+\S+|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|"
                           r"AKIA[0-9A-Z]{16}|xox[abpr]-[A-Za-z0-9-]{10,}|eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.)")
_TOKEN_LIKE = re.compile(r"(max|num|tokens?_?(len|limit|count|budget))", re.I)

_DEFAULT_KEY = b"skewaudit-redaction-v1"


def _key() -> bytes:
    k = os.environ.get("SKEWAUDIT_REDACTION_KEY")
    return k.encode() if k else _DEFAULT_KEY


def marker(value: str) -> str:
    """The redaction marker for ``value``: same input, same marker."""
    digest = hmac.new(_key(), value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:8]
    return f"{MARKER_PREFIX}{digest}>"


def is_marker(value: object) -> bool:
    return isinstance(value, str) and value.startswith(MARKER_PREFIX)


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True for env var or flag names that hold secrets (``HF_TOKEN``, ``--api-key``)."""
    upper = name.lstrip("-").upper().replace("-", "_")
    if upper in _NOT_SECRET or (("TOKENS" in upper or "TOKENIZER" in upper) and "TOKEN_" not in upper + "_"):
        return upper.endswith("_TOKEN") or upper == "TOKEN"
    return bool(_SECRET_NAME.search(upper))


def looks_secret(value: str) -> bool:
    """True for values shaped like credentials (``hf_…``, ``Bearer …``, ``sk-…``, JWTs)."""
    return bool(_SECRET_VALUE.match(value.strip()))


def value(name: str, val: str | None) -> str | None:
    """Redact ``val`` if the name or the value says it is a secret."""
    if val is None or val == "" or is_marker(val):
        return val
    if is_secret_name(name) or looks_secret(val):
        return marker(val)
    return val


def argv(args: list[str]) -> list[str]:
    """Redact secret flag values in an argv (``--api-key X``, ``--hf-token=X``)
    and any token that looks like a credential on its own."""
    out: list[str] = []
    redact_next = False
    for tok in args:
        if redact_next:
            # Already-redacted values (env expanded into argv) keep their marker.
            out.append(tok if tok.startswith("-") or is_marker(tok) else marker(tok))
            redact_next = tok.startswith("-") and is_secret_name(tok.split("=", 1)[0])
            continue
        if tok.startswith("-") and "=" in tok:
            flag, _, v = tok.partition("=")
            secret = (is_secret_name(flag) or looks_secret(v)) and not is_marker(v)
            out.append(f"{flag}={marker(v)}" if secret else tok)
        elif tok.startswith("-") and is_secret_name(tok):
            out.append(tok)
            redact_next = True
        elif looks_secret(tok):
            out.append(marker(tok))
        else:
            out.append(tok)
    return out


def text(s: str) -> str:
    """Redact credential-shaped substrings and ``--secret-flag value`` pairs
    inside a free-form string (a ``sh -c`` script, a log line)."""
    s = re.sub(r"(--?[A-Za-z0-9_-]+)([ =])(\S+)",
               lambda m: f"{m.group(1)}{m.group(2)}{marker(m.group(3))}"
               if is_secret_name(m.group(1)) and not m.group(3).startswith("-") else m.group(0), s)
    s = re.sub(r"\b[A-Za-z_][A-Za-z0-9_]*=(\S+)",
               lambda m: m.group(0).split("=", 1)[0] + "=" + marker(m.group(1))
               if is_secret_name(m.group(0).split("=", 1)[0]) else m.group(0), s)
    return re.sub(r"(hf_[A-Za-z0-9]{10,}|Bearer\s+\S+|sk-[A-Za-z0-9_-]{16,}|gh[pousr]_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})",
                  lambda m: marker(m.group(0)), s)
