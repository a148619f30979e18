"""Shell completion: what the shell is offered, driven through the completion protocol in a subprocess
(``_SKEWAUDIT_COMPLETE`` with COMP_WORDS/COMP_CWORD, as the sourced script does) and through real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from clirun import ROOT, skewaudit
from skewaudit.playbook import load_playbook

BIN = Path(sys.executable).parent


def offered(words: str, *, instruction: str = "bash_complete", **env: str) -> list[str]:
    """The completions for the last word of ``words`` (a trailing space: a new, empty word)."""
    parts = words.split(" ")
    p = subprocess.run([sys.executable, "-m", "skewaudit"], capture_output=True, text=True, cwd=ROOT, timeout=120,
                       env={**os.environ, "_SKEWAUDIT_COMPLETE": instruction, "COMP_WORDS": words,
                            "COMP_CWORD": str(len(parts) - 1), **env})
    assert p.returncode == 0 and p.stderr == "", p.stderr
    return [ln for ln in p.stdout.splitlines() if ln]   # nothing to offer: one empty line


KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: c1, cluster: {server: "http://127.0.0.1:1"}}]
contexts:
- {name: prod-eu, context: {cluster: c1, namespace: ml}}
- {name: prod-us, context: {cluster: c1}}
- {name: staging, context: {cluster: c1}}
current-context: staging
"""


def test_commands_and_check_ids_are_offered() -> None:
    assert {"diff", "explain", "serve", "completion", "checks"} <= set(offered("skewaudit "))
    runtime = sorted(c for c in load_playbook() if c.startswith("runtime.d"))
    assert runtime and offered("skewaudit explain runtime.d") == runtime
    assert offered("skewaudit explain nosuchprefix") == []
    # typer's own instruction order is accepted too (that is what the sourced script sends).
    assert offered("skewaudit explain runtime.d", instruction="complete_bash") == runtime


def test_formats_are_offered_per_command() -> None:
    assert offered("skewaudit diff spec.yaml --format ") == ["table", "json", "sarif", "junit", "markdown"]
    assert offered("skewaudit diff spec.yaml -F s") == ["sarif"]
    assert offered("skewaudit collect --format ") == ["table", "json", "yaml"]
    assert offered("skewaudit checks --format ") == ["table", "markdown", "json"]


def test_kube_contexts_come_from_the_kubeconfig(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    assert offered(f"skewaudit diff s.yaml --kubeconfig {kc} --context prod") == ["prod-eu", "prod-us"]
    assert offered("skewaudit collect --context ", KUBECONFIG=f"{tmp_path / 'missing'}{os.pathsep}{kc}") == [
        "prod-eu", "prod-us", "staging"]
    # An unreadable or broken kubeconfig offers nothing, and never a traceback into the shell.
    bad = tmp_path / "bad"
    bad.write_text("contexts: [unclosed\n")
    assert offered(f"skewaudit diff --kubeconfig {bad} --context ") == []


def test_completion_scripts_for_each_shell() -> None:
    for shell, marker in (("bash", "complete -o default -F _skewaudit_completion skewaudit"),
                          ("zsh", "#compdef skewaudit"), ("fish", "complete --command skewaudit")):
        r = skewaudit("completion", shell)
        assert r.code == 0 and marker in r.out and "_SKEWAUDIT_COMPLETE=complete_" in r.out, (shell, r.out)
    r = skewaudit("completion", "tcsh")
    assert (r.code, r.out) == (2, "") and r.err == "error: completion: shell must be one of bash, zsh, fish, not 'tcsh'\n"


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_real_bash_completes_through_the_sourced_script(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text(KUBECONFIG)
    script = skewaudit("completion", "bash").out
    prog = ('source "$1"; COMP_WORDS=(skewaudit diff s.yaml --context st); COMP_CWORD=4; '
            '_skewaudit_completion skewaudit; printf "%s\\n" "${COMPREPLY[@]}"')
    (tmp_path / "c.bash").write_text(script)
    p = subprocess.run(["bash", "--norc", "-c", prog, "bash", str(tmp_path / "c.bash")], capture_output=True,
                       text=True, timeout=120,
                       env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "KUBECONFIG": str(kc)})
    assert p.stdout.splitlines() == ["staging"], p.stderr
