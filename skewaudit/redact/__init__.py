"""Secret redaction, applied by every collector before a value is stored.

A secret is replaced by a marker ``<redacted:…>`` holding the first 64 bits of
HMAC-SHA256(key, value): equal markers mean equal values under the same key, so two
collections can tell "the token changed" without either revealing it; without the key
a marker says nothing else (not even the length). The key is ``SKEWAUDIT_REDACTION_KEY``
or a random per-installation key file (:mod:`._key`).

What counts as a secret:

* a value whose **name** says so (env var, flag, label or annotation key, URL query
  parameter, ``"json": "key"``, ``Header:``): :func:`is_secret_name`;
* a value **shaped** like a credential whatever its name (``hf_…``, ``sk-…``, JWTs,
  cloud keys, ``Bearer …``, PEM private keys): :func:`looks_secret`;
* the **userinfo** of a URL (``https://user:pass@host`` keeps scheme and host);
* in argv and scripts, the token after a secret flag whatever it looks like
  (``--api-key -abc``), and a shell variable that such a flag reads
  (``export P=…; … --api-key $P``).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import threading
from collections.abc import Iterable

from skewaudit.redact._key import KEY_ENV, key, key_path  # noqa: F401  (re-exported)
from skewaudit.shellargv import shell_script_index

MARKER_PREFIX = "<redacted:"
MARKER = re.compile(re.escape(MARKER_PREFIX) + r"[0-9a-f]+>")
_HEX = 16   # 64 bits: a collision between two distinct values is out of reach

# --- names ---------------------------------------------------------------------------------

# A word of the name (split on non-alphanumerics and camelCase) that names a secret anywhere…
_CONTAINS = ("PASSWORD", "PASSWD", "SECRET", "CREDENTIAL", "AUTHORIZATION", "WEBHOOK", "APIKEY", "PRIVATEKEY",
             "ACCESSKEY", "PASSPHRASE", "CONNECTIONSTRING", "CONNSTR")
# …a whole word (trailing digits ignored: API_KEY2)…
_WORDS = {"TOKEN", "AUTH", "DSN", "COOKIE", "COOKIES", "CREDS", "BEARER", "KEYS", "SAS"}
# …and words that name a secret after another word (DB_PASS, API_KEY, DB_PWD, SSH_PRIVATE), not
# first where they only qualify what follows (KEY_CACHE_DTYPE, PASS_THROUGH, PRIVATE_REGISTRY) or
# are a name of their own (PWD is the working directory). KEY and PASS alone are secrets.
_NOT_FIRST = {"KEY", "PASS", "PWD", "PRIVATE"}
_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


@functools.lru_cache(maxsize=8192)
def is_secret_name(name: str) -> bool:
    """True for names that hold secrets: ``HF_TOKEN``, ``HFTOKEN``, ``--api-key``, ``DB_PASS``,
    ``API_KEY2``, ``x-api-key``, ``apiKey``, ``SENTRY_DSN``. Counting words are not secrets:
    ``MAX_TOKENS``, ``--max-num-batched-tokens``, ``TOKENIZER``."""
    words = [w for w in _SPLIT.split(_CAMEL.sub("_", name).upper()) if w]
    for i, word in enumerate(words):
        w = word.rstrip("0123456789") or word
        if w in _WORDS or w.endswith("TOKEN") or any(s in w for s in _CONTAINS):
            return True
        if i > 0 and (w in _NOT_FIRST or w.startswith("PRIVATE")):
            return True
        if w in ("KEY", "PASS") and all(x.isdigit() for x in words[i + 1:]):   # KEY, PASS_2
            return True
        if w in ("CONN", "CONNECTION") and words[i + 1:i + 2] in (["STR"], ["STRING"]):
            return True
    return False


# --- values --------------------------------------------------------------------------------

_SHAPES = (r"hf_[A-Za-z0-9]{10,}|api_org_[A-Za-z0-9]{10,}|sk-[A-Za-z0-9_-]{16,}|sk_(?:live|test)_[A-Za-z0-9]{10,}|"
           r"rk_(?:live|test)_[A-Za-z0-9]{10,}|gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|"
           r"glpat-[A-Za-z0-9_-]{20,}|(?:AKIA|ASIA)[0-9A-Z]{16}|xox[abposr]-[A-Za-z0-9-]{10,}|"
           r"eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*|AIza[0-9A-Za-z_-]{35}|npm_[A-Za-z0-9]{36}|"
           r"pypi-AgE[A-Za-z0-9_-]{20,}|SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|"
           r"(?:Bearer|Basic)\s+(?!<redacted:)[A-Za-z0-9._~+/=:-]+|"
           r"-----BEGIN [A-Z ]*PRIVATE KEY-----(?:.*?-----END [A-Z ]*PRIVATE KEY-----|.*)")
_SHAPE = re.compile(_SHAPES, re.S)
_SHAPE_IN = re.compile(r"(?<![A-Za-z0-9_])(?:" + _SHAPES + r")", re.S)
# URL userinfo (scheme kept, host kept) and secret query parameters.
_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://)([^\s/?#@<>'\"]+)@")
_QUERY = re.compile(r"([?&])([A-Za-z0-9_.~\[\]-]+)=([^&#\s'\"<>]+)")
_URL_SIGNATURES = {"sig", "signature", "x-amz-signature", "x-amz-credential", "x-amz-security-token",
                   "x-goog-signature", "x-goog-credential", "code", "st", "se"}
# Webhook URLs whose path is the secret.
_HOOK = re.compile(r"(https?://(?:hooks\.slack\.com/services|(?:discord|discordapp)\.com/api/webhooks|"
                   r"[a-z0-9-]+\.webhook\.office\.com/webhookb2)/)([^\s'\"<>]+)")
# "Name: value" headers and "name": "value" JSON/YAML pairs.
_HEADER = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z][A-Za-z0-9_-]*)(:[ \t]*)((?:(?:Bearer|Basic|Token|Digest)[ \t]+)?"
                     r"[^\s'\",;]+)")
_JSON = re.compile(r"(\"([A-Za-z0-9_.-]+)\"\s*:\s*\")((?:[^\"\\]|\\.)*)\"")
# Cheap pre-filter: strings with none of these hold nothing scrub() would change.
# Every shape of _SHAPES starts with one of these literals: a string without one is no credential shape.
_HINT = re.compile(r"[@?&:=\"]|[\s]|hf_|api_org_|sk[-_]|rk_|gh[pousr]_|github_pat|glpat|AKIA|ASIA|xox|eyJ|AIza|npm_|"
                   r"pypi-|SG\.|Bearer|Basic|BEGIN")


def marker(value: str) -> str:
    """The redaction marker for ``value``: same value and key, same marker."""
    digest = hmac.new(key(), value.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()[:_HEX]
    return f"{MARKER_PREFIX}{digest}>"


def is_marker(value: object) -> bool:
    return isinstance(value, str) and value.startswith(MARKER_PREFIX) and MARKER.fullmatch(value) is not None


def looks_secret(value: str) -> bool:
    """True for values shaped like credentials (``hf_…``, ``Bearer …``, ``sk-…``, JWTs, cloud keys)."""
    return bool(_SHAPE.match(value.strip()))


# While :func:`secrets_in` runs, the values marked are collected here: per thread (collection
# builds facts in worker threads, and one thread's secrets must not land in another's set).
_FOUND = threading.local()


def _mark(v: str) -> str:
    if not v or MARKER.fullmatch(v):
        return v
    found = getattr(_FOUND, "sets", None)
    if found:
        found[-1].add(v)
    return marker(v)


def secrets_in(script: str) -> set[str]:
    """The values :func:`text` redacts in ``script``: what a reading of the script *as text* takes
    for a secret. Callers that derive words from the script some other way (a shell splitter that
    drops redirections) redact these values wherever they reappear, so a difference between the
    two readings can never turn a secret into a plain value (fail closed)."""
    sets = _FOUND.__dict__.setdefault("sets", [])
    sets.append(set())
    try:
        text(script)
        return sets[-1]
    finally:
        sets.pop()


_MIN_INNER = 6   # a found value shorter than this is redacted as a whole word only, not inside others


def taint(words: list[str], found: set[str]) -> list[str]:
    """``words`` with every value of ``found`` (from :func:`secrets_in`) redacted: a word equal to
    one becomes its marker; a longer one inside a word is replaced by its marker there."""
    # a secret flag taken as the value of the one before it (`--api-key \\ --api-key S`) names a flag,
    # it is no secret: S, its own value, is in ``found`` too
    found = {f for f in found if not (f.lstrip().startswith("-") and is_secret_name(f.strip()))}
    if not found:
        return words
    inner = sorted((f for f in found if len(f) >= _MIN_INNER), key=len, reverse=True)
    out = []
    for w in words:
        if w in found:
            w = marker(w)
        elif not MARKER.fullmatch(w):
            for f in inner:
                if f in w:
                    w = w.replace(f, marker(f))
        out.append(w)
    return out


def scrub(s: str) -> str:
    """Credential-shaped pieces of any string replaced: URL userinfo, secret query parameters,
    webhook paths, token shapes, secret ``Header: value`` and ``"json": "value"`` pairs."""
    if not _HINT.search(s):
        return s
    if "://" in s:
        s = _USERINFO.sub(lambda m: m.group(1) + _mark(m.group(2)) + "@", s)
        s = _HOOK.sub(lambda m: m.group(1) + _mark(m.group(2)), s)
    if "=" in s:
        s = _QUERY.sub(lambda m: m.group(0) if not (is_secret_name(m.group(2)) or m.group(2).lower() in _URL_SIGNATURES)
                       else f"{m.group(1)}{m.group(2)}={_mark(m.group(3))}", s)
    if ":" in s:
        s = _HEADER.sub(lambda m: m.group(0) if not is_secret_name(m.group(1)) or m.group(3).startswith("//")
                        else m.group(1) + m.group(2) + _mark(m.group(3)), s)
        if '"' in s:
            s = _JSON.sub(lambda m: m.group(0) if not is_secret_name(m.group(2)) else m.group(1) + _mark(m.group(3)) + '"', s)
    return _SHAPE_IN.sub(lambda m: _mark(m.group(0)), s)


def value(name: str, val: str | None) -> str | None:
    """``val`` redacted: whole when ``name`` or its shape says it is a secret, else its
    credential-shaped pieces (:func:`text`)."""
    if val is None or val == "" or is_marker(val):
        return val
    if (name and is_secret_name(name)) or looks_secret(val):
        return marker(val)
    return text(val) if _HINT.search(val) else val


# --- argv and scripts ----------------------------------------------------------------------


def argv(args: list[str]) -> list[str]:
    """Redact secret flag values in an argv (``--api-key X``, ``--hf-token=X``; the token after
    a secret flag is its value whatever it looks like) and credential-shaped tokens."""
    out: list[str] = []
    redact_next = False
    for tok in args:
        if redact_next:
            out.append(_mark(tok))
            # `--api-key --hf-token X`: the engine refuses it, but X may still be a secret (also when
            # an escaped space made the value ' --hf-token')
            redact_next = _ends_with_secret_flag(tok)
        elif _PLAIN.get(tok) or (_PLAIN.get(tok) is None and _plain(tok)):
            out.append(tok)
        else:
            red, redact_next = _token(tok)
            out.append(red)
    return out


def _token(tok: str) -> tuple[str, bool]:
    """One argv token redacted, and whether the next token is a secret flag's value."""
    if tok.startswith("-") and "=" in tok:
        flag, _, v = tok.partition("=")
        if is_secret_name(flag) or looks_secret(v):
            return f"{flag}={_mark(v)}", False
        # `--model=\ --api-key S` splits into '--model= --api-key' and 'S': S is still that flag's value
        return scrub(tok), bool(_SPACE.search(v)) and _ends_with_secret_flag(v)
    if tok.startswith("-") and is_secret_name(tok):
        return tok, True
    if not _HINT.search(tok):   # no whitespace, no credential shape, nothing scrub() would change
        return tok, False
    if _SPACE.search(tok) and _ends_with_secret_flag(tok):
        # `m\ --api-key S` splits into 'm --api-key' and 'S': the flag ends this word, S is its value
        return scrub(tok), True
    if looks_secret(tok):
        return marker(tok), False
    return scrub(tok), False


_SPACE = re.compile(r"\s")   # what str.isspace() and str.split() call whitespace


_BREAK = re.compile(r"[\s;&|()<>]+")   # what ends a shell word


def _ends_with_secret_flag(words: str) -> bool:
    """``m --api-key``, ``x)--api-key``: words whose last is a secret flag (the next token is its value)."""
    last = _BREAK.split(words)[-1]
    return last.startswith("-") and "=" not in last and is_secret_name(last)


# Tokens _token() leaves as they are, remembered (flags, model ids and numbers repeat across every
# container of a fleet). A verdict depends on the token alone, never on the key, and holds no marker.
_PLAIN: dict[str, bool] = {}
_PLAIN_MAX = 256        # longer tokens (scripts) are not remembered
_PLAIN_ENTRIES = 16384  # bounded: cleared when full


def _plain(tok: str) -> bool:
    """True when :func:`_token` leaves ``tok`` as it is and pairs nothing with it (remembered)."""
    plain = _token(tok) == (tok, False)
    if len(tok) <= _PLAIN_MAX:
        if len(_PLAIN) >= _PLAIN_ENTRIES:
            _PLAIN.clear()
        _PLAIN[tok] = plain
    return plain


def command(items: list[str] | None) -> list[str] | None:
    """A container ``command``/``args`` list or argv: :func:`argv`, then :func:`text` on items
    holding more than one word (a ``sh -c`` script) or a ``NAME=value``, and the positional
    parameters a ``sh -c`` script puts after a secret flag (:func:`_positional_secrets`)."""
    if items is None:
        return None
    refs = secret_refs(items)
    out = [text(t, refs) if (" " in t or "\t" in t or "\n" in t or (not t.startswith("-") and "=" in t)) else t
           for t in argv(list(items))]
    for i in _positional_secrets(items):
        if not MARKER.fullmatch(out[i]):
            out[i] = marker(items[i])
    return out


def command_and_args(cmd: list[str] | None, args: list[str] | None) -> tuple[list[str] | None, list[str] | None]:
    """A container's ``command`` and ``args``, redacted as the one argv the kubelet runs (command
    then args): a secret flag ending ``command`` pairs with the first arg, and a ``sh -c`` script in
    ``command`` names positional parameters that are ``args`` items (``--api-key $1``)."""
    if not cmd or not args:
        return command(cmd), command(args)
    joined = command([*cmd, *args]) or []
    if len(joined) != len(cmd) + len(args):   # defensive: redaction is item by item
        return command(cmd), command(args)
    return joined[:len(cmd)], joined[len(cmd):]


_PARAM = re.compile(r"""["']?\$(?:(\d)|\{(\d+)\}|([@*]))["']?""")


def _positional_secrets(items: list[str]) -> list[int]:
    """Indices of the items of ``sh -c SCRIPT NAME ARG…`` that the script passes as the value of a
    secret flag: ``--api-key $3`` (item ``$3``), ``"${2}"``, ``"$@"``/``$*`` (its first, ``$1``).
    Which script words are secret values is the text reading's (:func:`secrets_in`), so every
    spelling it redacts in the script is followed to the item the shell substitutes (a KServe
    runtime's ``bash -c '… "$@"' --`` takes the InferenceService's args this way)."""
    at = shell_script_index(items)
    if at is None:
        return []
    script, first = items[at], at + 1                # items[first] is $0
    out = []
    words = _words(script)
    if words and words[-1].startswith("-") and is_secret_name(words[-1].split("=", 1)[0]) \
            and first + 1 < len(items):
        # `sh -c '… --api-key' -- KEY`: the shell does not pass KEY, but it was written as the key
        out.append(first + 1)
    named = [_PARAM.fullmatch(v.strip()) for v in secrets_in(script)]
    # and, whatever the quoting (an unclosed quote reads differently as text and to a shell), every
    # parameter written right after a secret flag
    named += [m for m in _PARAM_REF.finditer(script) if _after_secret_flag(script[:m.start()])]
    for m in named:
        if m:
            n = int(m.group(1) or m.group(2)) if not m.group(3) else 1
            if first + n < len(items):
                out.append(first + n)
    return sorted(set(out))


_PARAM_REF = re.compile(r"\$(?:(\d)|\{(\d+)\}|([@*]))")


def _after_secret_flag(before: str) -> bool:
    """Whether the text just before a parameter ends with a secret flag (quotes, spaces and ``=``
    between them ignored)."""
    words = before.rstrip(" \t\n'\"=").replace("'", " ").replace('"', " ").split()
    return bool(words) and words[-1].startswith("-") and is_secret_name(words[-1].split("=", 1)[0])


# A shell word: unquoted runs, '…' and "…" (possessive: linear, no backtracking).
_WORD = re.compile(r"""(?:[^\s'"]++|'[^']*+'?|"(?:[^"\\]++|\\.)*+"?)++""", re.S)
_OPS = re.compile(r"[;&|()<>]+")
_TAIL = re.compile(r"[;&|)<>].*$", re.S)   # `--api-key K;next`: the value ends at the operator
_ASSIGN = re.compile(r"(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+=-][^}]*)?\}|\(([A-Za-z_][A-Za-z0-9_.-]*)\)|"
                  r"([A-Za-z_][A-Za-z0-9_]*))")


def _unquote(w: str) -> str:
    return w.replace("'", "").replace('"', "")


def _words(s: str) -> list[str]:
    return [_unquote(m.group(0)) for m in _WORD.finditer(s)]


def _vars(s: str) -> set[str]:
    """The variables ``s`` reads (``$P``, ``${P}``, ``$(P)``)."""
    return {a or b or c for a, b, c in _VAR.findall(s)} if "$" in s else set()


def secret_refs(items: Iterable[str]) -> set[str]:
    """Variables (``$P``, ``${P}``, ``$(P)``) read as the value of a secret flag or assigned to a
    secret-named variable, in an argv or in the scripts inside it."""
    items = list(items)
    if not any("$" in t for t in items):   # a reference is needed to have one (most argvs: fast path)
        return set()
    words: list[str] = []
    for t in items:
        words.extend(_words(t) if _SPACE.search(t) else [t])
    refs: set[str] = set()
    reads: dict[str, set[str]] = {}   # variable -> the variables its assignments read
    for i, w in enumerate(words):
        if w.startswith("-"):
            flag, eq, target = w.partition("=")
            if not is_secret_name(flag) or not (eq or i + 1 < len(words)):
                continue
            target = target if eq else words[i + 1]
        elif m := _ASSIGN.match(w):
            target = w[m.end():]
            if not is_secret_name(m.group(1)):
                reads.setdefault(m.group(1), set()).update(_vars(target))
                continue
        else:
            continue
        refs.update(_vars(target))
    todo = list(refs)
    while todo:   # P=$Q; HF_TOKEN=$P: Q is a secret too (linear: each variable is followed once)
        for v in reads.pop(todo.pop(), ()):
            if v not in refs:
                refs.add(v)
                todo.append(v)
    return refs


def text(s: str, refs: set[str] | None = None, *, _depth: int = 0) -> str:
    """Redact a free-form string (a ``sh -c`` script, a note, a log line): values of secret
    flags (``--api-key K``, ``--api-key=K``, whatever precedes them), ``NAME=value`` for
    secret names and for variables a secret flag reads (``refs``, found here when not
    given), and every credential-shaped piece (:func:`scrub`). Markers are left as they are."""
    if refs is None:
        refs = secret_refs([s]) if ("$" in s and "-" in s) or "=" in s else set()
    out: list[str] = []
    last, pending = 0, False
    for m in _WORD.finditer(s):
        w = m.group(0)
        out.append(s[last:m.start()])
        last = m.end()
        u = _unquote(w)
        if pending:
            if _OPS.fullmatch(u):
                pending = False
            elif u != "\\":   # a line continuation between flag and value
                out.append(_value(w, refs, _depth))
                pending = _ends_with_secret_flag(u)
                continue
            out.append(w)
            continue
        if u.startswith("-"):
            flag, eq, v = w.partition("=")
            if eq and is_secret_name(_unquote(flag)):
                out.append(f"{flag}={_value(v, refs, _depth)}")
                pending = _ends_with_secret_flag(u)   # `--api-key=K)--hf-token` S
                continue
            if not eq and not _SPACE.search(w) and is_secret_name(u):   # "--x a b" is a script, not a flag
                pending = True
                out.append(w)
                continue
        elif (a := _ASSIGN.match(u)) and (is_secret_name(a.group(1)) or a.group(1) in refs):
            cut = w.index("=") + 1
            v = w[cut:]
            out.append(w[:cut] + _value(v, refs, _depth))
            pending = _ends_with_secret_flag(u)
            continue
        if ("'" in w or '"' in w) and _SPACE.search(w):
            out.append(_quoted(w, refs, _depth))
            # `"x --api-key"K`-like splits: a word ending in a secret flag pairs with the next one
            pending = _ends_with_secret_flag(u)
        else:
            out.append(w)
            pending = _OPS.search(u) is not None and _ends_with_secret_flag(u)   # `(--api-key` K
    out.append(s[last:])
    return scrub("".join(out))   # on the whole string: a header or a JSON pair spans words


_SEGMENT = re.compile(r"""[^'"]++|'[^']*+'?|"(?:[^"\\]++|\\.)*+"?""", re.S)   # a word's pieces, as _WORD reads them
_CLOSED = re.compile(r"""'[^']*'|"(?:[^"\\]|\\.)*["]""", re.S)
_MAX_NESTING = 8


def _value(v: str, refs: set[str], depth: int) -> str:
    """A secret's word redacted: up to a shell operator (``K;next``, ``K)'…``) it is the value;
    what follows the operator is script again, read as such (past the nesting bound, redacted whole)."""
    tail = _TAIL.search(v)
    if tail is None:
        return _mark(_unquote(v))
    rest = tail.group(0)
    return _mark(_unquote(v[:tail.start()])) + (text(rest, refs, _depth=depth + 1) if depth < _MAX_NESTING
                                                else _mark(rest))


def _quoted(w: str, refs: set[str], depth: int) -> str:
    """A word with quoted parts holding whitespace: each such part is a script of its own, read
    word by word (``bash -c '…'``, ``ARGS="--api-key K"``, ``x'--api-key K'``, and an unclosed
    quote, which runs to the end of the text). Past a few levels of quotes in quotes the part is
    redacted whole: no input can make redaction recurse without bound or keep a secret."""
    out = []
    for m in _SEGMENT.finditer(w):
        g = m.group(0)
        if g[0] not in "'\"" or not _SPACE.search(g):
            out.append(g)
            continue
        closed = _CLOSED.fullmatch(g) is not None
        inner = g[1:-1] if closed else g[1:]
        red = text(inner, refs, _depth=depth + 1) if depth < _MAX_NESTING else _mark(inner)
        out.append(g[0] + red + (g[0] if closed else ""))
    return "".join(out)


# Maps whose keys are user-chosen names (a value is redacted by its key) and argv-like lists.
_NAMED_MAPS = {"labels", "annotations", "selector", "node_selector", "matchLabels", "nodeSelector"}
_ARGV_LISTS = {"command", "args", "argv", "unknown_args"}


def deep(obj: object, field: str = "") -> object:
    """Redact every string in a JSON-like tree (a snapshot read back): env items by their
    ``name``, label/annotation maps by their keys, argv-like lists as argv, any other string
    as text. Markers are kept, so a tree already redacted comes back unchanged."""
    if isinstance(obj, str):
        return text(obj) if _HINT.search(obj) else obj
    if isinstance(obj, dict):
        if field in _NAMED_MAPS:
            return {k: value(k, v) if isinstance(v, str) else deep(v) for k, v in obj.items()}
        if isinstance(obj.get("name"), str) and isinstance(obj.get("value"), str):   # an env var
            return {**{k: deep(v, k) for k, v in obj.items()}, "value": value(obj["name"], obj["value"])}
        return {k: deep(v, k) for k, v in obj.items()}
    if isinstance(obj, list):
        if field in _ARGV_LISTS and all(isinstance(x, str) for x in obj):
            return command(obj)
        return [deep(x, field) for x in obj]
    return obj
