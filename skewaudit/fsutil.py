"""Atomic, private file writes: a report or snapshot is either whole on disk or absent.

Every file skewaudit writes goes through this module (:func:`write_atomic`, or
:func:`atomic_output` to stream a large report). The bytes go to a temporary
file in the target's directory, are flushed and fsynced, then renamed over the
target (``os.replace`` is atomic on POSIX), so a crash or a full disk never
leaves a truncated report behind for CI to read.

Permissions: a new file gets ``0666 & ~umask`` (the temporary file is created
with mode 0666 and the kernel applies the umask, as for ``>`` in a shell); a
file that already exists keeps its mode, so a 0600 snapshot stays 0600.

Symlinks are followed: writing to ``report.json -> /shared/report.json``
replaces ``/shared/report.json`` and keeps the link, as shell redirection would
(the temporary file is made next to the real target, so the rename stays on
one filesystem).

Temporary files are named ``.<name>.<pid>-<random>.tmp``. One run's file is
removed when the write fails, on Ctrl-C, and on SIGTERM/SIGHUP (a handler is
installed for the duration of the write, cleans up, then lets the signal do
what it would have done). A run killed with SIGKILL cannot clean up: the next
write to the same target removes temporary files whose process is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import stat
import sys
import threading
from typing import BinaryIO, Iterable, Iterator

from skewaudit.errors import InputError

_CAUGHT = (signal.SIGTERM, signal.SIGHUP)


class _Signalled(BaseException):
    """A termination signal arrived while a temporary file existed (raised by our handler)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _tmp_pattern(base: str) -> re.Pattern:
    return re.compile(r"\." + re.escape(base) + r"\.(\d+)-[0-9a-f]{8}\.tmp\Z")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True     # exists, owned by someone else
    return True


def remove_stale(directory: str, base: str) -> list[str]:
    """Remove temporary files of ``base`` in ``directory`` left by runs that no longer exist
    (killed with SIGKILL, or a machine crash); returns the paths removed. Only files owned
    by this user and named by this module are touched."""
    pat, removed = _tmp_pattern(base), []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    prefix = f".{base}."
    for name in names:
        if not name.startswith(prefix):
            continue
        m = pat.match(name)
        if m is None or _pid_alive(int(m.group(1))):
            continue
        full = os.path.join(directory, name)
        try:
            st = os.lstat(full)
            if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid():
                os.unlink(full)
                removed.append(full)
        except OSError:
            continue
    return removed


def _target(path: str) -> str:
    """The file a write to ``path`` replaces: symlinks followed (see the module docstring)."""
    real = os.path.realpath(path)
    if os.path.isdir(real):
        raise InputError(f"{path}: cannot write: is a directory")
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        where = directory if real == os.path.abspath(path) else f"{directory} (symlink target)"
        raise InputError(f"{path}: cannot write: directory {where} does not exist")
    return real


def _special_file(path: str) -> str | None:
    """``path`` when it exists and is neither a regular file nor a directory (symlinks followed)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return None if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) else path


def _existing_mode(real: str) -> int | None:
    try:
        st = os.stat(real)
    except OSError:
        return None
    return stat.S_IMODE(st.st_mode) if stat.S_ISREG(st.st_mode) else None


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """While a temporary file exists, SIGTERM/SIGHUP raise :class:`_Signalled` (so cleanup runs)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise _Signalled(signum)

    previous = {}
    for sig in _CAUGHT:
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):
            continue
    try:
        yield
    finally:
        for sig, prev in previous.items():
            signal.signal(sig, prev)


@contextlib.contextmanager
def atomic_output(path: str) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content to; it replaces ``path`` when the block
    ends without an exception, and is removed otherwise. ``-`` is stdout (not atomic)."""
    if path == "-":
        out = getattr(sys.stdout, "buffer", None)
        sys.stdout.flush()
        if out is None:   # an in-memory stdout (tests): text only
            import io

            buf = io.BytesIO()
            yield buf
            sys.stdout.write(buf.getvalue().decode("utf-8"))
        else:
            yield out
            out.flush()
        return
    special = _special_file(path)
    if special is not None:
        # A device, FIFO or socket (/dev/null, /dev/stdout, a pipe): written in place. Renaming a
        # temporary file over it would replace the device node itself (as root, /dev/null).
        try:
            f = open(special, "wb")
        except OSError as e:
            raise InputError(f"{path}: cannot write: {e.strerror}") from None
        with f:
            yield f
            f.flush()
        return
    real = _target(path)
    directory, base = os.path.split(real)
    remove_stale(directory, base)
    mode = _existing_mode(real)
    tmp = os.path.join(directory, f".{base}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    with _signals_raise():
        try:
            # 0o666: the kernel applies the umask, exactly as for a new file.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except OSError as e:
            raise InputError(f"{path}: cannot write: {e.strerror}") from None
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, real)
        except BaseException as e:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(e, _Signalled):
                _redeliver(e.signum)
            if isinstance(e, OSError):
                raise InputError(f"{path}: cannot write: {e.strerror}") from None
            raise
    _sync_dir(directory)


def _redeliver(signum: int) -> None:
    """Let the signal do what it would have done without our handler (usually: end the process)."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    raise KeyboardInterrupt   # only reached if the default action does not end the process


def _sync_dir(directory: str) -> None:
    # The rename is durable only once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: str, data: str | bytes | Iterable[bytes]) -> None:
    """Write ``data`` (text, bytes, or an iterable of byte chunks) to ``path`` atomically;
    ``-`` means stdout."""
    with atomic_output(path) as f:
        if isinstance(data, str):
            f.write(data.encode("utf-8"))
        elif isinstance(data, (bytes, bytearray, memoryview)):
            f.write(data)
        else:
            for chunk in data:
                f.write(chunk)


def create_private(path: str, data: bytes) -> None:
    """Create ``path`` holding ``data``, mode 0600 (its directory 0700 when made here), unless it
    exists: whole or absent, and never replacing a file another process created first (the
    redaction key: two first runs at once must agree on one). The bytes go to a private
    temporary file that is hard-linked into place (atomic and exclusive); on a filesystem
    without hard links, an exclusive create."""
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, mode=0o700, exist_ok=True)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return
        except OSError:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
        _sync_dir(directory)
    finally:
        os.unlink(tmp)


def xdg_dir(var: str, default: str) -> str:
    """skewaudit's directory under an XDG base directory (``XDG_CONFIG_HOME`` / ``.config``,
    ``XDG_CACHE_HOME`` / ``.cache``); not created here."""
    base = os.environ.get(var, "")
    if not os.path.isabs(base):   # the XDG spec: a relative value is ignored
        base = os.path.join(os.path.expanduser("~"), default)
    return os.path.join(base, "skewaudit")


def append_text(path: str, text: str) -> None:
    """Append ``text`` to ``path`` (created ``0666 & ~umask`` if absent) in one write: for files whose owner
    defines them as append-only logs, such as GitHub Actions' ``$GITHUB_STEP_SUMMARY`` and ``$GITHUB_OUTPUT``
    (other steps' lines are already there; replacing the file would lose them)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
