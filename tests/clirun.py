"""Run the real ``skewaudit`` command line in a subprocess, as a user or CI would."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
MANIFESTS = EXAMPLES / "manifests"


@dataclass
class Run:
    code: int
    out: str
    err: str


def skewaudit(*args: str | Path, stdin: str | None = None, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> Run:
    """``python -m skewaudit ARGS`` with NO_COLOR and a wide terminal, so output is stable."""
    full_env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})}
    p = subprocess.run([sys.executable, "-m", "skewaudit", *map(str, args)], input=stdin, capture_output=True,
                       text=True, env=full_env, cwd=cwd or ROOT, timeout=120)
    return Run(p.returncode, p.stdout, p.stderr)


def main_inprocess(monkeypatch, capsys, *args, stdin: bytes | None = None) -> tuple[int, str, str]:
    """Run the real entry point (the one that maps errors to exit codes) in-process: faster than a
    subprocess, same exit codes and output."""
    import io

    import pytest

    from skewaudit import cli

    monkeypatch.setattr(sys, "argv", ["skewaudit", *map(str, args)])
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    with pytest.raises(SystemExit) as e:
        cli.main()
    out = capsys.readouterr()
    assert "Traceback" not in out.err and "internal error" not in out.err, out.err
    return int(e.value.code or 0), out.out, out.err
