"""The redaction key: ``SKEWAUDIT_REDACTION_KEY``, else a random per-installation key file.

A marker is an HMAC of the secret under this key. With a public key anyone could hash
guesses ("hunter2", every 6-digit PIN…) and match them against a marker, so the default
is a 256-bit random key created on first use in the user's config directory
(``$XDG_CONFIG_HOME/skewaudit/redaction.key``, else ``~/.config/skewaudit/redaction.key``),
mode 0600 (:func:`skewaudit.fsutil.create_private`: a private temporary file hard-linked
into place, so two runs starting at once agree on one key). Where no key can be kept (read-only home in a container), the run uses a
random key of its own and says once on stderr that its markers compare only within it.
"""

from __future__ import annotations

import os
import secrets
import sys

KEY_ENV = "SKEWAUDIT_REDACTION_KEY"
KEY_FILE = "redaction.key"

_loaded: dict[tuple[str | None, str | None], bytes] = {}


def config_dir() -> str:
    """skewaudit's directory under the XDG config home (not created here)."""
    from skewaudit.fsutil import xdg_dir

    return xdg_dir("XDG_CONFIG_HOME", ".config")


def key_path() -> str:
    return os.path.join(config_dir(), KEY_FILE)


def key() -> bytes:
    """The key markers are made with (cheap after the first call of a process)."""
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8", "surrogateescape")
    where = (os.environ.get("XDG_CONFIG_HOME"), os.environ.get("HOME"))   # what key_path() depends on
    k = _loaded.get(where)
    if k is None:
        k = _loaded[where] = _load_or_create(key_path())
    return k


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read(4096).strip()
    if not data:
        raise OSError(0, "the key file is empty")
    return data


def _load_or_create(path: str) -> bytes:
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        return _ephemeral(path, e.strerror or str(e))
    from skewaudit.fsutil import create_private   # only on the first run of an installation

    try:
        create_private(path, secrets.token_hex(32).encode() + b"\n")
        return _read(path)
    except OSError as e:
        return _ephemeral(path, e.strerror or str(e))


def _ephemeral(path: str, why: str) -> bytes:
    sys.stderr.write(f"warning: cannot keep a redaction key in {path} ({why}): redaction markers of this run "
                     f"compare only within it; set {KEY_ENV} to compare them across runs\n")
    return secrets.token_bytes(32)
