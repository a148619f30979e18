"""Shell scripts in container commands: what ``sh -c "…"`` would actually run.

:func:`skewaudit.shellargv.shell_script_index` finds the script in ``sh -c``/``bash -lc``
argv; :func:`split_script` turns it into the commands a shell would run (quotes, ``$VAR``
and ``${VAR}`` from the container env, ``&&``/``;``/newlines, comments, redirections),
so the serving command can be picked out of it. :func:`word_split` reproduces the
unquoted ``$@`` of entrypoint scripts such as TGI's. No I/O; values pass through
:mod:`skewaudit.redact` (:func:`scrub`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from skewaudit import redact

Env = Mapping[str, "str | None"]

_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MARKER = redact.MARKER
_RESERVED = {"then", "do", "else", "elif", "if", "while", "until", "{", "!", "exec"}
_OPERATOR_CHARS = set("();<>|&")
# Positional parameters (``sh -c SCRIPT $0 $1 …``): ``split_script`` gets them in its env under
# the names "0", "1", … (never valid variable names) plus POSITIONAL; "$@"/$@/"$*" become one of
# these marker words, which :func:`expand_positional` replaces with the argument tokens.
POSITIONAL = "\x00positional"
ALL_ARGS, SPLIT_ARGS, JOINED_ARGS = "\x00@\x00", "\x00@split\x00", "\x00@joined\x00"


def _insert(value: str, quoted: bool) -> str:
    """Text that re-reads as ``value`` after shlex: escaped inside "…", word-split outside."""
    if quoted:   # shlex (posix) honours a backslash inside "…" only before " and \
        return re.sub(r'(["\\])', r"\\\1", value)
    return " ".join(shlex.quote(w) for w in value.split())


def _simple_expand(word: str, env: Env) -> str:
    def sub(m: re.Match) -> str:
        val = env.get(m.group(1) or m.group(2))
        return m.group(0) if val is None else val
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)", sub, word)


def _matching(text: str, i: int, open_: str, close: str) -> int:
    """Index of the bracket closing the one at ``i`` (quotes respected), or len-1."""
    depth, q = 0, None
    for j in range(i, len(text)):
        c = text[j]
        if q:
            q = None if c == q else q
        elif c in "'\"":
            q = c
        elif c == open_:
            depth += 1
        elif c == close:
            depth -= 1
            if depth == 0:
                return j
    return len(text) - 1


def _dollar(text: str, i: int, env: Env, expand: bool, quoted: bool) -> tuple[str, int]:
    """Shell ``$…`` at ``text[i]``: returns (replacement text, index after it)."""
    nxt = text[i + 1] if i + 1 < len(text) else ""
    if nxt == "(":
        # Command substitution (or a $(VAR) Kubernetes left alone): one literal word,
        # its value is decided at run time.
        j = _matching(text, i + 1, "(", ")")
        lit = text[i:j + 1]
        return (lit if quoted else shlex.quote(lit)), j + 1
    if nxt == "{":
        j = text.find("}", i + 2)
        if j == -1:   # bash: "bad substitution"; the caller falls back to a whitespace split
            raise ValueError("no closing brace for '${'")
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])(.*))?", text[i + 2:j], re.S)
        lit = text[i:j + 1]
        if not expand or m is None:
            return (lit if quoted else shlex.quote(lit)), j + 1
        name, op, word = m.groups()
        val = env.get(name)
        if op and (name not in env or (op.startswith(":") and val == "")):
            return _insert(_simple_expand(word or "", env), quoted), j + 1
        return (_insert(val, quoted) if val is not None else (lit if quoted else shlex.quote(lit))), j + 1
    m = _NAME.match(text, i + 1)
    if m:
        val = env.get(m.group(0)) if expand else None
        return (_insert(val, quoted) if val is not None else "$" + m.group(0)), m.end()
    if nxt in ("@", "*") and expand and POSITIONAL in env:
        # "$@" (the arguments after the script) as one marker word, replaced by the caller with
        # the tokens themselves: as separate words only when the quotes hold nothing else
        whole = quoted and text[i - 1:i] == '"' and text[i + 2:i + 3] == '"'
        mark = ALL_ARGS if nxt == "@" and whole else SPLIT_ARGS if not quoted else JOINED_ARGS
        return mark, i + 2
    if nxt and nxt.isdigit() and expand and nxt in env:
        val = env.get(nxt)
        return (_insert(val, quoted) if val is not None else "$" + nxt), i + 2
    if nxt and nxt in "@*#?$!-0123456789":
        return "$" + nxt, i + 2
    return "$", i + 1


def _redirection(out: list[str], text: str, i: int) -> int:
    """Drop a redirection (``2>&1``, ``> log``, ``&>>f``, ``<in``) starting at ``text[i]``."""
    # fd digits written just before the operator belong to it when they start a word. They were
    # copied to ``out`` one character per item (only plain characters are, and a digit after a
    # quote, ``$`` or backslash does not start a word), so dropping them is a pop per digit: looking
    # back in the script, never joining ``out``, keeps the whole pass linear.
    j = i
    while j > 0 and text[j - 1].isdigit():
        j -= 1
    if j < i and (j == 0 or text[j - 1] in " \t\n;&|("):
        del out[len(out) - (i - j):]
    while i < len(text) and text[i] in "<>&|":
        i += 1
    while i < len(text) and text[i] in " \t":
        i += 1
    if i < len(text) and text[i] in "'\"":
        end = text.find(text[i], i + 1)
        return len(text) if end == -1 else end + 1
    while i < len(text) and not text[i].isspace() and text[i] not in ";&|()":
        i += 1
    return i


def _prepare(script: str, env: Env, expand: bool) -> str:
    """Rewrite a shell script into text shlex can split like the shell would: comments and
    redirections dropped, unquoted newlines become ``;``, line continuations joined,
    ``$VAR``/``${VAR}`` expanded from ``env`` outside single quotes (unknown ones left as
    written), command substitutions kept as one literal word."""
    out: list[str] = []
    i, n, q, word_start = 0, len(script), None, True
    while i < n:
        c = script[i]
        if q == "'":
            out.append(c)
            q = None if c == "'" else q
            i += 1
        elif c == "\\":
            if script[i + 1:i + 2] != "\n":
                out.append(script[i:i + 2])
            i += 2
            word_start = False
        elif q == '"':
            if c == "$":
                rep, i = _dollar(script, i, env, expand, True)
                out.append(rep)
                continue
            out.append(c)
            q = None if c == '"' else q
            i += 1
        elif c in "'\"":
            q, word_start = c, False
            out.append(c)
            i += 1
        elif c == "#" and word_start:
            end = script.find("\n", i)
            i = n if end == -1 else end
        elif c == "\n":
            out.append(" ; ")
            i, word_start = i + 1, True
        elif c == "$":
            rep, i = _dollar(script, i, env, expand, False)
            out.append(rep)
            word_start = False
        elif c == "`":
            end = script.find("`", i + 1)
            end = n - 1 if end == -1 else end
            out.append(shlex.quote(script[i:end + 1]))
            i, word_start = end + 1, False
        elif c == "<" and _MARKER.match(script, i):
            m = _MARKER.match(script, i)
            out.append(shlex.quote(m.group(0)))   # a redaction marker, not a redirection
            i, word_start = m.end(), False
        elif c in "<>" or (c == "&" and script[i + 1:i + 2] == ">"):
            i = _redirection(out, script, i)
            out.append(" ")
            word_start = True
        else:
            out.append(c)
            word_start = c in " \t;&|()"
            i += 1
    return "".join(out)


def _split_words(text: str) -> list[str]:
    lex = shlex.shlex(text, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    lex.commenters = ""
    return list(lex)


def _commands(words: list[str]) -> list[list[str]]:
    cmds: list[list[str]] = [[]]
    for w in words:
        if w and set(w) <= _OPERATOR_CHARS:
            cmds.append([])
        else:
            cmds[-1].append(w)
    out = []
    for cmd in cmds:
        # drop `exec`, shell keywords and per-command assignments (`A=1 vllm serve …`)
        # assignments are dropped only when a command word follows them (computed once: linear)
        last_word = max((j for j, t in enumerate(cmd) if not _ASSIGN.match(t)), default=-1)
        k = 0
        while k < len(cmd) and (cmd[k] in _RESERVED or (_ASSIGN.match(cmd[k]) and k < last_word)):
            k += 1
        if cmd[k:]:
            out.append(cmd[k:])
    return out


def _assignments(cmds: list[list[str]], env: Env) -> dict[str, str | None]:
    """``export A=B`` / ``A=B`` lines in the script, applied on top of the container env.

    A variable with a secret name, or one a secret flag reads (``export P=…; … --api-key $P``),
    holds its redaction marker: the secret is redacted wherever the variable expands."""
    merged: dict[str, str | None] = dict(env)
    refs = redact.secret_refs([w for cmd in cmds for w in cmd])
    for cmd in cmds:
        words = cmd[1:] if cmd[0] in ("export", "declare", "local", "readonly") else cmd
        if not all(_ASSIGN.match(w) for w in words):
            continue
        for w in words:
            name, _, val = w.partition("=")
            val = _simple_expand(val, merged)
            merged[name] = redact.marker(val) if (name in refs or redact.is_secret_name(name)) and val and \
                not redact.is_marker(val) else val
    return merged


def split_script(script: str, env: Env) -> tuple[list[list[str]], str | None]:
    """The simple commands of a ``sh -c`` script, in order, after shell expansion.

    Returns ``(commands, note)``; ``note`` is set when the script could not be split
    exactly (an unbalanced quote), in which case it is split on whitespace.
    """
    # What the script read as text takes for a secret stays redacted in whatever the shell reading
    # makes of it: `--model < --api-key S` is `--model S` to a shell (the redirection is dropped),
    # and S must not come out as a plain model name.
    found = redact.secrets_in(script)
    try:
        first = _commands(_split_words(_prepare(script, env, expand=False)))
        merged = _assignments(first, env)
        cmds, note = _commands(_split_words(_prepare(script, merged, expand=True))), None
    except ValueError as e:  # shlex: "No closing quotation" / "No escaped character"
        cmds, note = _commands(script.split()), f"sh -c script not split exactly ({e}): split on whitespace"
    return [redact.taint(cmd, found) for cmd in cmds], note


def uses_args(script: str) -> bool:
    """Whether a script reads its positional parameters ($@, $*, $1…)."""
    return re.search(r"\$\{?[@*1-9]", script) is not None


def positional_env(env: Env, after: list[str]) -> dict[str, str | None]:
    """``env`` plus the positional parameters of ``sh -c SCRIPT after…``: ``$0`` is the first token
    after the script (the shell's name for itself, not an argument), ``$1``… the rest."""
    merged: dict[str, str | None] = dict(env)
    merged[POSITIONAL] = ""
    for n, tok in enumerate(after[:10]):
        merged[str(n)] = tok
    return merged


def expand_positional(cmd: list[str], after: list[str], paths: list[str], script_path: str
                      ) -> tuple[list[str], list[str]]:
    """A script command with its "$@" markers replaced by the arguments after ``$0`` (each with its
    own field path); other words point at the script."""
    rest, rest_paths = after[1:], paths[1:]
    out: list[str] = []
    outp: list[str] = []
    for w in cmd:
        if w == ALL_ARGS:
            out += rest
            outp += rest_paths
        elif w == SPLIT_ARGS:
            toks, tpaths, _ = word_split(rest, rest_paths)
            out += toks
            outp += tpaths
        elif ALL_ARGS in w or SPLIT_ARGS in w or JOINED_ARGS in w:
            joined = " ".join(rest)
            out.append(w.replace(ALL_ARGS, joined).replace(SPLIT_ARGS, joined).replace(JOINED_ARGS, joined))
            outp.append(script_path)
        else:
            out.append(w)
            outp.append(script_path)
    return out, outp


def word_split(tokens: list[str], paths: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Split items holding spaces the way an unquoted ``$@`` would; returns the split items too."""
    out: list[str] = []
    outp: list[str] = []
    split: list[str] = []
    for tok, path in zip(tokens, paths):
        parts = tok.split()          # unquoted $@ also drops empty items
        if len(parts) > 1:
            split.append(tok)
        out.extend(parts)
        outp.extend([path] * len(parts))
    return out, outp, split


def scrub(note: str) -> str:
    """``redact.text`` for a note (markers already in it are left as they are)."""
    return redact.text(note)
