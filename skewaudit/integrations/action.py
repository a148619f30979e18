"""The GitHub Action's run logic (``action.yml`` calls ``python -m skewaudit.integrations.action``).

Inputs come as ``INPUT_*`` environment variables, set by ``action.yml`` from the action's ``with:`` block
(underscores for dashes: ``fail-on`` is ``INPUT_FAIL_ON``). It runs ``skewaudit diff`` once on the given specs
and rendered manifests (or the cluster of ``$KUBECONFIG`` when no manifest is given), writes SARIF (and JSON,
JUnit when asked), appends the Markdown report to ``$GITHUB_STEP_SUMMARY``, sets step outputs in
``$GITHUB_OUTPUT``, turns ``file:line:col`` input errors into error annotations, and exits with diff's own exit
code (0 clean, 1 drift or a gate switch, 2 input error, 3 environment unavailable), so the gate is the CLI's.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Mapping

_BOOL = {"true": True, "false": False, "": False}
_LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?P<col>\d+): (?P<msg>.*)$")


class _BadInput(Exception):
    pass


def _paths(text: str) -> list[str]:
    """Whitespace- or newline-separated paths; globs (``**`` too) expanded, a pattern matching nothing kept so
    skewaudit names it."""
    out: list[str] = []
    for word in shlex.split(text):
        hits = sorted(glob.glob(word, recursive=True)) if glob.has_magic(word) else []
        out += hits or [word]
    return out


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(f"INPUT_{name}", "").strip().lower()
    if raw not in _BOOL:
        raise _BadInput(f"input {name.lower().replace('_', '-')} must be true or false, got {raw!r}")
    return _BOOL[raw]


def build_command(env: Mapping[str, str], work: Path) -> tuple[list[str], dict[str, Path]]:
    """The ``skewaudit diff`` argv for these inputs, and the report files it writes (format -> path)."""
    specs = _paths(env.get("INPUT_SPECS", ""))
    if not specs:
        raise _BadInput("input specs is required: ModelSpec files or directories")
    files = {"sarif": Path(env.get("INPUT_SARIF") or "skewaudit.sarif"),
             "json": Path(env.get("INPUT_JSON") or work / "report.json"),
             "markdown": work / "summary.md"}
    if env.get("INPUT_JUNIT"):
        files["junit"] = Path(env["INPUT_JUNIT"])
    cmd = [sys.executable, "-m", "skewaudit", "diff", *specs]
    for m in _paths(env.get("INPUT_MANIFESTS", "")):
        cmd += ["--manifest", m]
    cmd += ["--fail-on", env.get("INPUT_FAIL_ON", "").strip() or "drift"]
    if _flag(env, "FAIL_ON_UNVERIFIABLE"):
        cmd.append("--fail-on-unverifiable")
    if _flag(env, "FAIL_ON_UNPINNED"):
        cmd.append("--fail-on-unpinned")
    cmd += shlex.split(env.get("INPUT_ARGS", ""))
    for fmt in [*files, "table"]:     # paired with the outputs in order: the table, last, goes to the log
        cmd += ["-F", fmt]
    for path in files.values():
        cmd += ["-o", str(path)]
    return cmd, files


def _append(path: str | None, text: str) -> None:
    if path:
        from skewaudit.fsutil import append_text

        append_text(path, text)


def _escape(s: str) -> str:
    # Workflow-command escaping (a message may not carry raw newlines or %).
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def main(env: Mapping[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    with tempfile.TemporaryDirectory(prefix="skewaudit-action-") as tmp:
        try:
            cmd, files = build_command(env, Path(tmp))
        except _BadInput as e:
            print(f"::error::skewaudit action: {_escape(str(e))}")
            return 2
        print("+ " + shlex.join(cmd[2:]), flush=True)
        proc = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
        sys.stderr.write(proc.stderr)
        code = proc.returncode
        outputs = {"exit-code": str(code), "sarif": str(files["sarif"]) if files["sarif"].exists() else ""}
        if code in (0, 1) and files["json"].exists():
            summary = json.loads(files["json"].read_text(encoding="utf-8")).get("summary", {})
            for key in ("drift", "unverifiable", "unpinned", "match"):
                outputs[key] = str(summary.get(key, 0))
            _append(env.get("GITHUB_STEP_SUMMARY"), files["markdown"].read_text(encoding="utf-8") + "\n")
        else:
            # No report: say why, once in the summary and as annotations on the files at fault.
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()] or [f"exit code {code}"]
            for ln in lines:
                m = _LOCATED.match(ln)
                where = f" file={m['file']},line={m['line']},col={m['col']}" if m else ""
                print(f"::error{where}::{_escape(m['msg'] if m else ln)}")
            body = "\n".join(f"    {ln}" for ln in lines)
            _append(env.get("GITHUB_STEP_SUMMARY"),
                    f"## skewaudit could not run (exit {code})\n\n{body}\n\n")
        _append(env.get("GITHUB_OUTPUT"), "".join(f"{k}={v}\n" for k, v in outputs.items()))
        return code


if __name__ == "__main__":
    raise SystemExit(main())
