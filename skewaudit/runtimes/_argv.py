"""Token-level helpers shared by the engine parsers: no engine knowledge, no I/O.

* :func:`expand_k8s` does the kubelet's ``$(VAR)`` expansion of ``command``/``args``.
* :func:`shell_script_index` and :func:`split_script` turn a ``sh -c "…"`` string into
  the commands a shell would run (quotes, ``$VAR``, ``&&``/``;``/newlines, comments,
  redirections), so the serving command can be picked out of it.
* :func:`locate` finds the program behind wrappers (``exec``, ``env A=B``, ``tini --``,
  ``python3 -u -m MODULE``).
* :func:`scan` walks engine flags against a table of :class:`Opt` and keeps everything it
  does not know, verbatim; :func:`vllm_int` / :func:`sglang_int` read the engines'
  human-readable integers with their own (different) suffix rules.
Every value a scan returns has been through :mod:`skewaudit.redact`.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from skewaudit import redact

# Shared note prefix: parse() reads it to lower the confidence of facts whose argv was
# assumed (image ENTRYPOINT) instead of written in the object.
NO_COMMAND = "command absent"
# Pseudo field path of argv tokens that come from an assumed image ENTRYPOINT.
ENTRYPOINT_PATH = "image ENTRYPOINT"

Env = Mapping[str, "str | None"]
_K8S_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")   # what Kubernetes accepts as an env var name


# --- Kubernetes $(VAR) ------------------------------------------------------------------


def expand_k8s(text: str, env: Env, refs: list[tuple[str, str]] | None = None) -> str:
    """Expand ``$(VAR)`` the way the kubelet does (k8s third_party/forked/golang/expansion).

    ``$$`` becomes ``$`` (so ``$$(VAR)`` is the literal ``$(VAR)``); an undefined
    reference, or one whose value is unknown (None: a Secret), stays as written.
    ``refs`` collects ``(name, "undefined"|"unknown")`` for every reference left alone.
    """
    if "$" not in text:
        return text  # most tokens: nothing to expand (a third of fleet parse time otherwise)
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
        elif nxt == "(":
            close = text.find(")", i + 2)
            if close == -1:
                out.append("$(")
            else:
                name = text[i + 2:close]
                val = env.get(name)
                if val is not None:
                    out.append(val)
                else:
                    out.append(text[i:close + 1])
                    # `$(nproc)` in a sh -c script is a command substitution, not a reference
                    if refs is not None and _K8S_NAME.fullmatch(name):
                        refs.append((name, "unknown" if name in env else "undefined"))
                i = close + 1
                continue
        else:
            out.append("$" + nxt)
        i += 2
    return "".join(out)


# --- shell scripts ----------------------------------------------------------------------

_SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh"}
_ASSIGN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MARKER = re.compile(re.escape(redact.MARKER_PREFIX) + r"[0-9a-f]+>")
_RESERVED = {"then", "do", "else", "elif", "if", "while", "until", "{", "!", "exec"}
_OPERATOR_CHARS = set("();<>|&")


def basename(tok: str) -> str:
    return tok.rstrip("/").rsplit("/", 1)[-1]


def shell_script_index(tokens: list[str]) -> int | None:
    """Index of the script string in ``sh -c SCRIPT`` / ``bash -lc SCRIPT`` / ``env bash -c …``."""
    i = 1 if tokens and basename(tokens[0]) == "env" else 0
    if i >= len(tokens) or basename(tokens[i]) not in _SHELLS:
        return None
    j = i + 1
    while j < len(tokens) and tokens[j][:1] in "-+" and tokens[j] not in ("-", "--"):
        opt = tokens[j]
        if not opt.startswith("--") and "c" in opt[1:]:
            return j + 1 if j + 1 < len(tokens) else None
        j += 2 if opt in ("-o", "+o", "-O", "+O") else 1
    return None


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
        if j == -1:
            return "$", i + 1
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
    if nxt and nxt in "@*#?$!-0123456789":
        return "$" + nxt, i + 2
    return "$", i + 1


def _redirection(out: list[str], text: str, i: int) -> int:
    """Drop a redirection (``2>&1``, ``> log``, ``&>>f``, ``<in``) starting at ``text[i]``."""
    # fd digits written just before the operator belong to it when they start a word
    tail = "".join(out)
    m = re.search(r"(^|[\s;&|(])(\d+)$", tail)
    if m:
        del out[:]
        out.append(tail[:m.start(2)])
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
        k = 0
        while k < len(cmd) and (cmd[k] in _RESERVED or
                                (_ASSIGN.match(cmd[k]) and any(not _ASSIGN.match(t) for t in cmd[k:]))):
            k += 1
        if cmd[k:]:
            out.append(cmd[k:])
    return out


def _assignments(cmds: list[list[str]], env: Env) -> dict[str, str | None]:
    """``export A=B`` / ``A=B`` lines in the script, applied on top of the container env."""
    merged: dict[str, str | None] = dict(env)
    for cmd in cmds:
        words = cmd[1:] if cmd[0] in ("export", "declare", "local", "readonly") else cmd
        if not all(_ASSIGN.match(w) for w in words):
            continue
        for w in words:
            name, _, val = w.partition("=")
            merged[name] = _simple_expand(val, merged)
    return merged


def split_script(script: str, env: Env) -> tuple[list[list[str]], str | None]:
    """The simple commands of a ``sh -c`` script, in order, after shell expansion.

    Returns ``(commands, note)``; ``note`` is set when the script could not be split
    exactly (an unbalanced quote), in which case it is split on whitespace.
    """
    try:
        first = _commands(_split_words(_prepare(script, env, expand=False)))
        merged = _assignments(first, env)
        return _commands(_split_words(_prepare(script, merged, expand=True))), None
    except ValueError as e:  # shlex: "No closing quotation" / "No escaped character"
        return _commands(script.split()), f"sh -c script not split exactly ({e}): split on whitespace"


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
    """``redact.text`` for a note that may already hold markers (left as they are)."""
    markers = _MARKER.findall(note)
    # a placeholder starting with "-" is never taken for a secret flag's value
    out = redact.text(_MARKER.sub("-\x00-", note))
    for m in markers:
        out = out.replace("-\x00-", m, 1)
    return out


# --- locating the program -----------------------------------------------------------------

_PYTHON = re.compile(r"python(\d+(\.\d+)?)?")


@dataclass(frozen=True)
class Entry:
    """The program an argv runs: ``prog`` (basename), ``module`` (``python -m``), and the
    index ``rest`` of the first token after them."""

    prog: str
    module: str | None
    start: int
    rest: int


def locate(argv: list[str] | None) -> Entry | None:
    """Skip launch wrappers and find the program (and the python module) argv runs."""
    if not argv:
        return None
    i, n = 0, len(argv)
    while i < n:
        b = basename(argv[i])
        if _ASSIGN.match(argv[i]) or b in ("exec", "nohup", "time", "command"):
            i += 1
        elif b == "env":
            i += 1
            while i < n and (argv[i].startswith("-") or _ASSIGN.match(argv[i])):
                i += 2 if argv[i] in ("-u", "--unset", "-C", "--chdir") else 1
        elif b in ("tini", "dumb-init", "catatonit"):
            i += 1
            while i < n and argv[i].startswith("-"):
                i += 1
                if argv[i - 1] == "--":
                    break
        else:
            break
    if i >= n:
        return None
    prog = basename(argv[i])
    if not _PYTHON.fullmatch(prog):
        return Entry(prog, None, i, i + 1)
    j = i + 1
    while j < n:
        o = argv[j]
        if o == "-m":
            return Entry(prog, argv[j + 1] if j + 1 < n else None, i, j + 2)
        if o.startswith("-m") and not o.startswith("--"):
            return Entry(prog, o[2:], i, j + 1)
        if o in ("-X", "-W"):
            j += 2
        elif o.startswith("-") and o != "-c":
            j += 1
        else:
            break
    if j < n and argv[j] != "-c":   # python SCRIPT: the script is the program
        return Entry(re.sub(r"\.py$", "", basename(argv[j])), None, i, j + 1)
    return Entry(prog, None, i, j)


def image_repo(image: str) -> str:
    """``ghcr.io/x/y:tag@sha256:…`` -> ``ghcr.io/x/y`` (lower-cased)."""
    ref = image.split("@", 1)[0]
    head, _, tail = ref.rpartition(":")
    if head and "/" not in tail:
        ref = head
    return ref.lower()


def image_tag(image: str) -> str | None:
    ref = image.split("@", 1)[0]
    head, _, tail = ref.rpartition(":")
    return tail if head and "/" not in tail else None


@dataclass(frozen=True)
class Entrypoint:
    """What a known image runs when ``command`` is absent (a built-in table, not a
    registry lookup). ``split_args``: the image passes args through an unquoted ``$@``,
    so an item holding spaces becomes several arguments."""

    tokens: tuple[str, ...]
    note: str
    split_args: bool = False


# --- flag scanning ------------------------------------------------------------------------


@dataclass(frozen=True)
class Opt:
    """How one engine flag is read.

    ``field``: canonical field (or an engine-private name the parser resolves itself);
    None keeps the flag (and its value) in ``unknown_args``. ``kind``: ``str``,
    ``lower``, ``int``, ``hint`` (human-readable int, engine rules), ``float``,
    ``bool`` (a switch, no value), ``names`` (one or more values, first counts),
    ``config`` (a config file) or ``secret`` (value never leaves the scan unredacted).
    ``invert``: a switch that turns the field off (``--disable-radix-cache``).
    """

    field: str | None
    kind: str = "str"
    invert: bool = False


@dataclass
class Hit:
    flag: str                 # the flag as given (after engine normalisation)
    opt: Opt
    value: str | None         # value text (redacted); None for a switch or a missing value
    path: str                 # path of the value token (of the flag token for a switch)
    negated: bool = False     # --no-x / --disable-x
    inline: bool = False      # --flag=value
    extra: list[str] = field(default_factory=list)   # further values of a ``names`` flag
    spelled: str = ""         # the flag exactly as written (``--no-enable-prefix-caching``)


@dataclass
class Scan:
    hits: list[Hit] = field(default_factory=list)
    positionals: list[tuple[str, str]] = field(default_factory=list)   # (token, path)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][-+]?\d+)?")


def _takes(tok: str | None) -> bool:
    """Can ``tok`` be the value of the flag before it?"""
    return tok is not None and (not tok.startswith("-") or bool(_NUMBER.fullmatch(tok)))


def scan(tokens: list[str], paths: list[str], table: Mapping[str, Opt], *, engine: str,
         underscores: bool = False, negate: bool = False) -> Scan:
    """Walk ``tokens`` (flags, values, positionals) against ``table``.

    ``underscores``: read ``--max_num_seqs`` as ``--max-num-seqs`` (vLLM's parser does,
    for the part before the first ``.``). ``negate``: ``--no-x`` and ``--disable-x``
    turn off the switches ``--x`` / ``--enable-x`` (argparse BooleanOptionalAction).
    """
    sc = Scan()
    i, n = 0, len(tokens)
    while i < n:
        tok, path = tokens[i], paths[i]
        if tok == "--":
            sc.positionals.extend(zip(tokens[i + 1:], paths[i + 1:]))
            break
        if not tok.startswith("-") or _NUMBER.fullmatch(tok) or tok == "-":
            sc.positionals.append((redact.value("", tok), path))
            i += 1
            continue
        if " " in tok and "=" not in tok.split(" ", 1)[0]:
            sc.unknown.append(redact.text(tok))
            sc.notes.append(f"argv item '{redact.text(tok)}' contains a space: {engine} reads it as one "
                            "unknown argument, not a flag and its value; split it into two list items")
            i += 1
            continue
        name, eq, inline = tok.partition("=")
        if underscores and name.startswith("--"):
            head, dot, tail = name[2:].partition(".")
            name = "--" + head.replace("_", "-") + dot + tail
        opt, negated = table.get(name), False
        if opt is None and negate:
            for pre, to in (("--no-", "--"), ("--disable-", "--enable-")):
                alt = to + name[len(pre):] if name.startswith(pre) else None
                if alt and table.get(alt) is not None and table[alt].kind == "bool":
                    opt, negated, name = table[alt], True, alt
                    break
        if opt is None or (opt.field is None and opt.kind not in ("config", "secret")):
            i = _keep_unknown(sc, tokens, i, name, eq, inline, table, engine)
            continue
        if opt.kind == "bool":
            sc.hits.append(Hit(name, opt, inline if eq else None, path, negated, bool(eq),
                               spelled=tok.partition("=")[0]))
            if eq:
                sc.notes.append(f"{tok.split('=')[0]} is a switch and takes no value; {engine} may reject "
                                f"'{tok}'")
            i += 1
            continue
        if eq:
            val, vpath, i = inline, path, i + 1
        elif _takes(tokens[i + 1] if i + 1 < n else None):
            val, vpath, i = tokens[i + 1], paths[i + 1], i + 2
        else:
            sc.hits.append(Hit(name, opt, None, path, spelled=tok))
            sc.notes.append(f"{name} has no value: {engine} refuses to start")
            i += 1
            continue
        safe = val if redact.is_marker(val) or opt.kind != "secret" else redact.marker(val)
        hit = Hit(name, opt, redact.value(name, safe), vpath, inline=bool(eq), spelled=tok.partition("=")[0])
        if opt.kind == "names":   # nargs="+": every following non-flag token
            while i < n and not tokens[i].startswith("-"):
                hit.extra.append(redact.value(name, tokens[i]))
                i += 1
        sc.hits.append(hit)
    return sc


def _keep_unknown(sc: Scan, tokens: list[str], i: int, name: str, eq: str, inline: str,
                  table: Mapping[str, Opt], engine: str) -> int:
    """Keep an unknown (or known but unmapped) flag and its value verbatim (redacted)."""
    opt = table.get(name)
    if eq:
        sc.unknown.append(f"{tokens[i].partition('=')[0]}={redact.value(name, inline)}")
        i += 1
    else:
        sc.unknown.append(tokens[i])
        i += 1
        # a flag we do not know is assumed to take the next non-flag token as its value
        if (opt is None or opt.kind != "bool") and i < len(tokens) and _takes(tokens[i]):
            sc.unknown.append(redact.value(name, tokens[i]))
            i += 1
    if opt is None and name.startswith("--"):
        for alt in (name.replace("_", "-"), "--" + name[2:].replace("-", "_")):
            if alt != name and alt in table:
                sc.notes.append(f"{name} is not a {engine} flag ({engine} does not treat '_' and '-' "
                                f"alike); did you mean {alt}?")
                break
    return i


# --- values -------------------------------------------------------------------------------

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


def parse_bool(text: str) -> bool | None:
    t = text.strip().lower()
    return True if t in _TRUE else False if t in _FALSE else None


def _decimal(num: str, mult: int) -> int | None:
    try:
        v = Decimal(num) * mult
    except InvalidOperation:
        return None
    return int(v)


def vllm_int(text: str) -> int | None:
    """vLLM ``human_readable_int``: k/m/g/t = 10^3n (decimals allowed), K/M/G/T = 2^10n
    (integers only), else a plain int. ``32k`` = 32000, ``32K`` = 32768."""
    t = text.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGtT])", t)
    if m:
        num, suf = m.groups()
        if suf.islower():
            return _decimal(num, 1000 ** ("kmgt".index(suf) + 1))
        return int(num) * 1024 ** ("KMGT".index(suf) + 1) if num.isdigit() else None
    return int(t) if re.fullmatch(r"[-+]?\d+", t) else None


def sglang_int(text: str) -> int | None:
    """SGLang ``human_readable_int``: SI k/M/G/T = 10^3n, IEC Ki/Mi/Gi/Ti = 2^10n,
    case-sensitive (``32K`` and ``32m`` are invalid), else a plain int."""
    t = text.strip()
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|M|G|T|Ki|Mi|Gi|Ti)", t)
    if m:
        num, suf = m.groups()
        if suf.endswith("i"):
            return int(num) * 1024 ** ("KMGT".index(suf[0]) + 1) if num.isdigit() else None
        return _decimal(num, 1000 ** ("kMGT".index(suf) + 1))
    return int(t) if re.fullmatch(r"[-+]?\d+", t) else None


def plain_int(text: str) -> int | None:
    t = text.strip()
    return int(t) if re.fullmatch(r"[-+]?\d+", t) else None


_UNRESOLVED = re.compile(r"\$[({A-Za-z_]|`")


def convert(kind: str, text: str, hint: Callable[[str], int | None] = vllm_int) -> tuple[object, str | None]:
    """Typed value of ``text`` for an :class:`Opt` kind; ``(None, note)`` when invalid or
    when it still holds a variable or command substitution (not a value to compare)."""
    value, note = (None, None) if _UNRESOLVED.search(text) else _convert(kind, text, hint)
    return value, (_runtime_note(text) or note) if value is None else note


def _convert(kind: str, text: str, hint: Callable[[str], int | None]) -> tuple[object, str | None]:
    if kind in ("str", "names", "config", "secret"):
        return text, None
    if kind == "lower":
        return text.lower(), None
    if kind == "bool":
        b = parse_bool(text)
        return b, (None if b is not None else f"invalid: '{text}' is not a boolean")
    if kind == "float":
        try:
            return float(text), None
        except ValueError:
            return None, f"invalid: '{text}' is not a number"
    v = (hint if kind == "hint" else plain_int)(text)
    return v, (None if v is not None else f"invalid: '{text}' is not an integer the engine accepts")


def _runtime_note(text: str) -> str | None:
    if _UNRESOLVED.search(text):
        return f"not known until run time: '{text}' is expanded by the shell or comes from an unresolved variable"
    return None


def render(value: object) -> str:
    """How ``value`` would be written back; ``raw`` is kept when the token differs."""
    return str(value).lower() if isinstance(value, bool) else str(value)
