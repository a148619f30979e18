"""Shell completion: the dynamic values (check IDs, formats, kube contexts) and the
per-shell scripts of ``skewaudit completion SHELL``.

Only typer and the standard library at top level: the completers import what they
need (the playbook, yaml) when the shell asks, never on an ordinary run. The
protocol is typer's (``_SKEWAUDIT_COMPLETE=complete_bash`` with COMP_WORDS and
COMP_CWORD); click's spelling of the instruction (``bash_complete``) is accepted too.
"""

from __future__ import annotations

import os
import sys

import typer

COMPLETE_VAR = "_SKEWAUDIT_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def prepare(environ: dict = os.environ) -> bool:
    """Called by the entry point when the shell asks for completions: registers the shells and
    accepts click's ``SHELL_INSTRUCTION`` order as well as typer's ``INSTRUCTION_SHELL``."""
    value = environ.get(COMPLETE_VAR)
    if not value:
        return False
    from typer.completion import completion_init

    completion_init()
    first, _, rest = value.partition("_")
    if first in SHELLS + ("powershell", "pwsh"):
        environ[COMPLETE_VAR] = f"{rest}_{first}"
    return True


def script(shell: str, prog_name: str = "skewaudit") -> str:
    """The completion script to source in ``shell``."""
    from typer.completion import completion_init, get_completion_script

    completion_init()
    return get_completion_script(prog_name=prog_name, complete_var=COMPLETE_VAR, shell=shell)


def check_ids(incomplete: str) -> list[tuple[str, str]]:
    """Check IDs (and their titles) for ``explain``."""
    from skewaudit.playbook import load_playbook

    return [(cid, info.title) for cid, info in sorted(load_playbook().items()) if cid.startswith(incomplete)]


def choices(*values: str):
    """A completer offering fixed values (output formats)."""
    def complete(incomplete: str) -> list[str]:
        return [v for v in values if v.startswith(incomplete)]
    return complete


REPORT_FORMATS = choices("table", "json", "sarif", "junit", "markdown")


def kube_contexts(ctx: typer.Context, incomplete: str) -> list[tuple[str, str]]:
    """Context names from the kubeconfig the command would read: --kubeconfig if already typed,
    else $KUBECONFIG (a path list), else ~/.kube/config. Unreadable files offer nothing."""
    given = (ctx.params or {}).get("kubeconfig") or os.environ.get("KUBECONFIG") or ""
    paths = [p for p in given.split(os.pathsep) if p] or [os.path.expanduser("~/.kube/config")]
    seen: dict[str, str] = {}
    for path in paths:
        for name, cluster in _contexts(path):
            if name.startswith(incomplete):
                seen.setdefault(name, f"cluster {cluster}" if cluster else "")
    return sorted(seen.items())


def _contexts(path: str) -> list[tuple[str, str]]:
    try:
        import yaml

        with open(path, encoding="utf-8") as fh:
            doc = yaml.safe_load(fh.read(4 << 20))
    except Exception:  # noqa: BLE001 - a completer must never print a traceback into the shell
        return []
    if not isinstance(doc, dict):
        return []
    out = []
    for item in doc.get("contexts") or []:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            cluster = (item.get("context") or {}).get("cluster") if isinstance(item.get("context"), dict) else None
            out.append((item["name"], cluster if isinstance(cluster, str) else ""))
    return out


def completion(shell: str = typer.Argument(..., help="bash, zsh or fish.")) -> None:
    """Print the shell completion script: e.g. `skewaudit completion bash > ~/.local/share/bash-completion/completions/skewaudit`."""
    from skewaudit.errors import InputError

    if shell not in SHELLS:
        raise InputError(f"completion: shell must be one of {', '.join(SHELLS)}, not {shell!r}")
    sys.stdout.write(script(shell).rstrip("\n") + "\n")
