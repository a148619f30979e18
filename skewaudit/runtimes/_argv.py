"""Token-level helpers shared by the engine parsers: no engine knowledge, no I/O.

* :func:`expand_k8s` does the kubelet's ``$(VAR)`` expansion of ``command``/``args``.
* :func:`skewaudit.shellargv.shell_script_index` and :func:`split_script` (from :mod:`._shell`) turn a
  ``sh -c "…"`` string into the commands a shell would run.
* :func:`locate` finds the program behind wrappers (``exec``, ``env A=B``, ``tini --``,
  ``python3 -u -m MODULE``).
* :func:`scan` walks engine flags against a table of :class:`Opt` and keeps everything it
  does not know, verbatim; :func:`vllm_int` / :func:`sglang_int` read the engines'
  human-readable integers with their own (different) suffix rules.
Every value a scan returns has been through :mod:`skewaudit.redact`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from skewaudit import redact

# Shared note prefix: parse() reads it to lower the confidence of facts whose argv was
# assumed (image ENTRYPOINT) instead of written in the object.
NO_COMMAND = "command absent"
# Pseudo field path of argv tokens that come from an assumed image ENTRYPOINT.
ENTRYPOINT_PATH = "image ENTRYPOINT"
# Note marker: ``command`` absent, the image is not in the ENTRYPOINT table but its name
# identifies an engine, so ``args`` are read as that engine's flags (the entrypoint is assumed).
FROM_IMAGE = "entrypoint assumed from image"

Env = Mapping[str, "str | None"]
from skewaudit.runtimes._shell import _ASSIGN  # noqa: E402  (after the constants above)
from skewaudit.shellargv import basename  # noqa: E402

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
        elif i + 1 < n and (opt.kind == "secret" or _takes(tokens[i + 1])):   # a secret flag takes any next token
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
        secret = redact.is_secret_name(name)
        if (opt is None or opt.kind != "bool") and i < len(tokens) and (secret or _takes(tokens[i])):
            sc.unknown.append(redact.marker(tokens[i]) if secret and not redact.is_marker(tokens[i])
                              else redact.value(name, tokens[i]))
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
