"""Secret flags behind shell edge cases found by the fuzzer: an unclosed quote and an escaped space."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from clirun import skewaudit

def _deployment(path: Path, *scripts: str, name: str = "probe") -> Path:
    """A Deployment whose containers run ``sh -c SCRIPT`` for each script, written as YAML to ``path``."""
    containers = [{"name": f"c{i}", "image": "vllm/vllm-openai:v0.10.0", "command": ["sh", "-c", s]}
                  for i, s in enumerate(scripts)]
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "ns"},
           "spec": {"selector": {"matchLabels": {"app": name}}, "template": {
               "metadata": {"labels": {"app": name}}, "spec": {"containers": containers}}}}
    path.write_text(yaml.safe_dump(dep, sort_keys=False))
    return path


def _collected(path: Path) -> list[tuple[str, Any]]:
    """``collect`` of ``path`` in every format, each asserted to exit 0: (format, result)."""
    out = []
    for fmt in ("json", "yaml", "table"):
        r = skewaudit("collect", "--manifest", path, "--format", fmt)
        assert r.code == 0, r.err
        out.append((fmt, r))
    return out


UNCLOSED = 'vllm serve --model " --api-key QUOTELEAK1'
ESCAPED = "vllm serve m\\ --api-key BACKSLASHLEAK2"


def test_a_secret_after_an_unclosed_quote_or_an_escaped_space_is_redacted(tmp_path: Path):
    p = _deployment(tmp_path / "m.yaml", UNCLOSED, ESCAPED)
    for _fmt, r in _collected(p):
        assert "QUOTELEAK1" not in r.out + r.err and "BACKSLASHLEAK2" not in r.out + r.err
        assert "<redacted:" in r.out


# Found by the 30-minute fuzz run (`make fuzz`, redaction target): the fuzz example joined into one
# line, and the shapes that share its cause (a quoted part holding a secret flag and its value that
# does not start the word, or that is nested in other quotes).
QUOTED = [
    "vllm serve --api-key )' --api-key QLEAK3 --model 1",   # third confirmation run: an operator, then a quote
    "HF_TOKEN=a)--api-key QLEAK3",
    "x --api-key=v)--hf-token QLEAK3",
    "vllm serve --model 0' --api-key QLEAK3 --model 1 --model 1",   # the fuzz run's falsifying example
    'ARGS="--api-key QLEAK3"; exec vllm serve m $ARGS',
    "x'--api-key QLEAK3'",
    'a"b --api-key QLEAK3"',
    'sh -c "a \\" --api-key QLEAK3"',
    'x "x \'x "--api-key QLEAK3"\'"',   # the inner quote ends the outer one: 'x --api-key' then the value
]


def _nested(n: int) -> str:
    s = "--api-key QLEAK3"
    for i in range(n):
        q = "'" if i % 2 else '"'
        s = f"x {q}{s}{q}"
    return s


def test_a_secret_inside_quotes_that_do_not_start_the_word_is_redacted():
    from skewaudit import redact

    for s in QUOTED + [_nested(n) for n in range(40)]:
        assert "QLEAK3" not in redact.text(s), s


def test_quoted_secrets_in_a_script_are_redacted_in_every_output(tmp_path: Path):
    p = _deployment(tmp_path / "m.yaml", 'ARGS="--api-key QLEAK4"; exec vllm serve m $ARGS', ESCAPED)
    assert "QLEAK4" in p.read_text()
    for _fmt, r in _collected(p):
        assert "QLEAK4" not in r.out + r.err


@pytest.mark.parametrize("script,token", [
    # the first confirmation fuzz run: `--model=\ --api-key S` splits into '--model= --api-key' and 'S'
    ("vllm serve --model 1 --model=\\ --api-key QLEAK5 --model 1 --model=1", "--model= --api-key"),
    # the second: `--api-key \ --api-key S` gives '--api-key', ' --api-key', 'S'
    ("vllm serve --model 1 --api-key \\ --api-key QLEAK5 --model 1", " --api-key"),
])
def test_a_secret_flag_behind_an_escaped_space_is_paired(script: str, token: str):
    from skewaudit import redact
    from skewaudit.runtimes import effective_argv

    res = effective_argv(["sh", "-c", script], None, {}, "vllm/vllm-openai:v0.6.3", "c")
    assert token in res.argv and "QLEAK5" not in " ".join(res.argv)   # the split already fails closed
    assert "QLEAK5" not in " ".join(redact.command(res.argv))
    assert "QLEAK5" not in redact.text(script)
    # and the argv redactor pairs the split word with the value on its own
    assert "QLEAK5" not in " ".join(redact.command(["vllm", "serve", token, "QLEAK5", "--model", "1"]))


def test_the_note_naming_the_chosen_command_of_a_script_is_redacted():
    # the fourth confirmation fuzz run: `…; --api-key S --model 1` is the command used, and the note
    # quoting its first words carried S
    from skewaudit.runtimes import effective_argv

    res = effective_argv(["sh", "-c", "--model 1 --model=; --api-key QLEAK7 --model 1 1"], None, {},
                         "vllm/vllm-openai:v0.6.3", "c")
    assert "using command 2" in res.note and "QLEAK7" not in res.note


# Found by the fifth confirmation fuzz run: to a shell `< --api-key` is a redirection (stdin from a file
# named --api-key), so the command it runs is `vllm serve --model S`: S reaches the engine argv as the
# model name. Whatever the shell reading makes of a script, a value the script's text pairs with a
# secret flag stays redacted (fail closed), in every output of collect and in the snapshot.


def test_a_secret_behind_a_redirection_stays_redacted_in_the_argv_the_shell_would_run(tmp_path: Path):
    p = _deployment(tmp_path / "m.yaml", "vllm serve --model < --api-key REDIRLEAK3 --max-model-len 4096",
                    name="redir")
    for fmt, r in _collected(p):
        assert "REDIRLEAK3" not in r.out + r.err, fmt
    snap = tmp_path / "s.json"
    assert skewaudit("snapshot", "--manifest", p, "-o", snap).code == 0
    text = snap.read_text()
    assert "REDIRLEAK3" not in text and "<redacted:" in text
    # the rest of the command is still read: the max length is a fact, not lost to the redaction
    assert "4096" in skewaudit("collect", "--manifest", p, "--format", "json").out


def test_the_fail_closed_split_holds_when_scripts_are_split_in_many_threads_at_once():
    # collection builds facts in worker threads: the values one script's text marks must redact that
    # script's split, whatever other threads split at the same time
    from concurrent.futures import ThreadPoolExecutor

    from skewaudit.runtimes import _shell

    def one(i: int) -> list[str]:
        cmds, _ = _shell.split_script(f"vllm serve --model < --api-key THREADLEAK{i:04d} --port {8000 + i}", {})
        return cmds[0]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(400)))
    leaked = [cmd for cmd in results if any("THREADLEAK" in w for w in cmd)]
    assert not leaked, leaked[:3]
    assert all(f"{8000 + i}" in cmd for i, cmd in enumerate(results))   # each thread got its own command


# `sh -c SCRIPT NAME ARG…`: the script names a positional parameter as a secret flag's value, and the
# value itself is a later item of the command or the first items of `args` (KServe runtimes'
# `bash -c '… "$@"' --` take the InferenceService's args this way). Found while reading public
# manifests: the argv the shell runs was redacted, the raw command list kept the value.
POSITIONAL = [
    (["sh", "-c", "vllm serve org/M $1 $2 --api-key $3", "x", "--dtype", "half", "POSLEAK1"], None),
    (["bash", "-ec", 'exec vllm serve org/M --api-key "${1}"', "--"], ["POSLEAK2"]),
    (["sh", "-c", "vllm serve org/M --hf-token $1 --api-key $2", "sh", "POSLEAK3"], ["POSLEAK4"]),
    (["/bin/bash", "-c", 'vllm serve org/M --api-key "$@"'], ["$0", "POSLEAK5", "--dtype", "half"]),
    (["sh", "-c", "vllm serve org/M --api-key", "--"], ["POSLEAK6"]),   # the flag ends the command list
]


@pytest.mark.parametrize("command,args", POSITIONAL)
def test_a_secret_passed_as_a_positional_parameter_is_redacted_everywhere(tmp_path: Path, command, args):
    container = {"name": "server", "image": "vllm/vllm-openai:v0.10.0", "command": command}
    if args is not None:
        container["args"] = args
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "p", "namespace": "ns"},
           "spec": {"selector": {"matchLabels": {"app": "p"}}, "template": {
               "metadata": {"labels": {"app": "p"}}, "spec": {"containers": [container]}}}}
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(dep, sort_keys=False))
    for fmt, r in _collected(tmp_path / "m.yaml"):
        assert "POSLEAK" not in r.out + r.err, (fmt, command, args)
    snap = skewaudit("snapshot", "--manifest", tmp_path / "m.yaml", "-o", tmp_path / "s.json")
    assert snap.code == 0, snap.err
    assert "POSLEAK" not in (tmp_path / "s.json").read_text()
    # the other positional parameters stay readable: only the secret's item is redacted
    if "--dtype" in command + (args or []):
        out = skewaudit("collect", "--manifest", tmp_path / "m.yaml", "--format", "json").out
        assert '"half"' in out
