"""Files skewaudit writes: atomic, private (umask), symlinks followed, no temporary file left behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from clirun import EXAMPLES, MANIFESTS, ROOT

from skewaudit import fsutil
from skewaudit.errors import InputError

SPEC = EXAMPLES / "llama-3.1-70b-vllm.yaml"
MANIFEST = MANIFESTS / "llama-3.1-70b-vllm.yaml"


def _diff_to(out: Path, umask: int) -> subprocess.CompletedProcess:
    """A real `skewaudit diff -o FILE` run under ``umask``."""
    return subprocess.run([sys.executable, "-m", "skewaudit", "diff", str(SPEC), "--manifest", str(MANIFEST),
                           "--format", "json", "-o", str(out)], capture_output=True, text=True, cwd=ROOT,
                          preexec_fn=lambda: os.umask(umask), timeout=120)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _leftovers(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("umask,expected", [(0o077, 0o600), (0o022, 0o644), (0o027, 0o640)])
def test_a_new_report_honours_the_umask(tmp_path: Path, umask: int, expected: int):
    out = tmp_path / "report.json"
    r = _diff_to(out, umask)
    assert r.returncode == 0, r.stderr
    assert _mode(out) == expected
    assert '"schema"' in out.read_text() and _leftovers(tmp_path) == []


def test_an_existing_private_file_stays_private(tmp_path: Path):
    out = tmp_path / "report.json"
    out.write_text("old")
    out.chmod(0o600)
    r = _diff_to(out, 0o022)
    assert r.returncode == 0, r.stderr
    assert _mode(out) == 0o600 and out.read_text() != "old"


def test_writing_through_a_symlink_follows_it(tmp_path: Path):
    real_dir = tmp_path / "shared"
    real_dir.mkdir()
    target = real_dir / "report.json"
    target.write_text("old")
    target.chmod(0o640)
    link = tmp_path / "report.json"
    link.symlink_to(target)
    fsutil.write_atomic(str(link), "new\n")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "new\n" and _mode(target) == 0o640
    assert _leftovers(tmp_path) == [] and _leftovers(real_dir) == []


def test_a_dangling_symlink_writes_its_target(tmp_path: Path):
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "real.json")
    fsutil.write_atomic(str(link), b"x")
    assert link.is_symlink() and (tmp_path / "real.json").read_bytes() == b"x"


def test_a_symlink_into_a_missing_directory_is_a_clear_error(tmp_path: Path):
    link = tmp_path / "out.json"
    link.symlink_to(tmp_path / "nope" / "real.json")
    with pytest.raises(InputError, match=r"out.json: cannot write: directory .*nope \(symlink target\) does not exist"):
        fsutil.write_atomic(str(link), b"x")


def test_a_directory_is_not_overwritten(tmp_path: Path):
    with pytest.raises(InputError, match="is a directory"):
        fsutil.write_atomic(str(tmp_path), b"x")


_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from skewaudit import fsutil

    target, ready = sys.argv[1], Path(sys.argv[2])

    def chunks():
        yield b"x" * 65536
        ready.write_text("writing")   # the temporary file exists now
        time.sleep(60)
        yield b"never"

    fsutil.write_atomic(target, chunks())
""")


def _killed_mid_write(tmp_path: Path, sig: int) -> subprocess.Popen:
    out, ready = tmp_path / "out" / "big.json", tmp_path / "ready"
    out.parent.mkdir()
    p = subprocess.Popen([sys.executable, "-c", _WRITER, str(out), str(ready)], cwd=ROOT,
                         stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert p.poll() is None, p.stderr.read().decode()
        assert time.monotonic() < deadline, "the writer never started"
        time.sleep(0.02)
    assert len(_leftovers(out.parent)) == 1   # mid-write: the temporary file is there
    p.send_signal(sig)
    p.wait(timeout=60)
    return p


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_run_killed_mid_write_leaves_no_temporary_file(tmp_path: Path, sig: int):
    p = _killed_mid_write(tmp_path, sig)
    assert p.returncode != 0
    if sig != signal.SIGINT:
        assert p.returncode == -sig   # the signal still ends the process as it would have
    assert list((tmp_path / "out").iterdir()) == []   # no temporary file, no half-written target


def test_a_stale_temporary_file_from_a_killed_run_is_removed_on_the_next_write(tmp_path: Path):
    _killed_mid_write(tmp_path, signal.SIGKILL)   # SIGKILL cannot be caught: the file stays
    out_dir = tmp_path / "out"
    assert len(_leftovers(out_dir)) == 1
    fsutil.write_atomic(str(out_dir / "big.json"), "{}\n")
    assert _leftovers(out_dir) == [] and (out_dir / "big.json").read_text() == "{}\n"


def test_a_live_runs_temporary_file_and_other_files_are_not_touched(tmp_path: Path):
    mine = tmp_path / f".big.json.{os.getpid()}-0123abcd.tmp"     # this process: alive
    other = tmp_path / ".big.json.notours.tmp"                      # not our naming
    for p in (mine, other):
        p.write_text("x")
    fsutil.write_atomic(str(tmp_path / "big.json"), "{}")
    assert mine.exists() and other.exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path):
    out = tmp_path / "report.json"
    out.write_text("old")

    def chunks():
        yield b"partial"
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError):
        fsutil.write_atomic(str(out), chunks())
    assert out.read_text() == "old" and _leftovers(tmp_path) == []


def test_every_writer_goes_through_fsutil():
    """No other module opens a file for writing: atomic and private writes have one owner."""
    import re

    pkg = ROOT / "skewaudit"
    pattern = re.compile(r"""open\([^)]*["'](?:w|a|x|wb|ab|xb|w\+|r\+)["']|\.write_(?:text|bytes)\(""")
    bad = [str(p.relative_to(ROOT)) for p in pkg.rglob("*.py")
           if p.name != "fsutil.py" and pattern.search(p.read_text())]
    assert bad == []


def test_skewaudit_debug_keeps_the_exit_code(monkeypatch, capsys):
    """SKEWAUDIT_DEBUG=1 prints the traceback of a bug, but the exit code stays 70 (never 1, "drift")."""
    from skewaudit import cli
    def boom(*a, **k):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("skewaudit.specfile.load_paths", boom)
    monkeypatch.setenv("SKEWAUDIT_DEBUG", "1")
    monkeypatch.setattr(sys, "argv", ["skewaudit", "validate", str(SPEC)])
    with pytest.raises(SystemExit) as e:
        cli.main()
    err = capsys.readouterr().err
    assert e.value.code == 70 and "Traceback" in err and "simulated bug" in err


def test_devices_and_fifos_are_written_in_place_never_replaced(tmp_path):
    """`-o /dev/null` (or a FIFO) must not rename a temporary file over the device node: as root that
    replaced /dev/null itself. A private character device (root only) and a FIFO stand in for it."""
    import stat as st
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    fsutil.write_atomic(str(fifo), b"report\n")
    reader.join(10)
    assert got == [b"report\n"] and st.S_ISFIFO(os.stat(fifo).st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    if os.geteuid() != 0:
        return
    null = tmp_path / "null"
    os.mknod(null, 0o666 | st.S_IFCHR, os.makedev(1, 3))
    fsutil.write_atomic(str(null), b"discarded\n")
    assert st.S_ISCHR(os.stat(null).st_mode)
