"""Where the script is in a shell command line (``sh -c SCRIPT``, ``bash -lc``, ``env bash -c …``).

One owner for a question two layers ask: :mod:`skewaudit.runtimes` splits the script into the
commands the shell would run, and :mod:`skewaudit.redact` (below it, so it cannot import
runtimes) follows the positional parameters a script passes to a secret flag. Standard
library only.
"""

from __future__ import annotations

SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"})


def basename(tok: str) -> str:
    return tok.rstrip("/").rsplit("/", 1)[-1]


def shell_script_index(tokens: list[str]) -> int | None:
    """Index of the script string in ``sh -c SCRIPT`` / ``bash -lc SCRIPT`` / ``env bash -c …``."""
    i = 1 if tokens and basename(tokens[0]) == "env" else 0
    if i >= len(tokens) or basename(tokens[i]) not in SHELLS:
        return None
    j = i + 1
    while j < len(tokens) and tokens[j][:1] in "-+" and tokens[j] not in ("-", "--"):
        opt = tokens[j]
        if not opt.startswith("--") and "c" in opt[1:]:
            return j + 1 if j + 1 < len(tokens) else None
        j += 2 if opt in ("-o", "+o", "-O", "+O") else 1
    return None
