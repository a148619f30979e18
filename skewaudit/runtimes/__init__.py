"""Engine argument parsers: a container's command, args and env -> :class:`EngineFacts`.

Pure functions, no I/O. :func:`effective_argv` turns Kubernetes ``command``/``args``
into the argv the process really gets (``$(VAR)`` expansion, ``sh -c`` scripts, the
image ENTRYPOINT when ``command`` is absent); :func:`parse` recognises the engine and
maps its flags and env onto the canonical names in
:data:`skewaudit.model.observed.ENGINE_FIELDS`, each value with its provenance.

An engine is one module in this package (found by ``pkgutil``; ``_``-prefixed modules
are helpers) exporting ``ENGINE``, ``FLAGS_VERSION`` (the engine release its flag table
follows, printed by ``skewaudit --version``), ``matches(argv, image, env) -> (signal, confidence)
| None`` and ``parse(ci) -> EngineFacts``, and optionally ``entrypoint(image) ->
Entrypoint | None`` for images whose ENTRYPOINT it knows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from types import ModuleType
from typing import Callable

from skewaudit import redact
from skewaudit.model.observed import ENGINE_FIELDS, EngineFacts, Fact, Prov
from skewaudit.runtimes import _argv, _shell
from skewaudit.runtimes._argv import ENTRYPOINT_PATH, FROM_IMAGE, NO_COMMAND, Hit, Scan
from skewaudit.shellargv import shell_script_index

__all__ = ["ArgvResult", "ConfigFile", "ContainerInput", "FactSet", "detect", "effective_argv", "engines", "parse"]

_RANK = {"high": 3, "medium": 2, "low": 1}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class ArgvResult:
    """The argv a container's process gets, and where each token was written."""

    argv: list[str] | None   # None: command absent and the image is not in the ENTRYPOINT table
    paths: list[str]         # field path per token; sh -c tokens all point at the script string;
                             # tokens of an assumed image ENTRYPOINT have the path "image ENTRYPOINT"
    note: str | None         # e.g. "command absent: image ENTRYPOINT decides (vllm/vllm-openai:v0.10.0); …"
    shell: bool              # True when argv came from a sh -c / bash -lc string


@dataclass(frozen=True)
class ConfigFile:
    """An engine config file (``--config FILE``) as the collector found it in the container:
    the parsed mapping and where it is written (``ConfigMap/ns/name``, ``data[vllm.yaml]``),
    or ``values`` None and the reason it cannot be read (baked into the image, a Secret, …)."""

    values: dict | None
    object: str = ""
    path: str = ""
    reason: str | None = None


@dataclass(frozen=True)
class ContainerInput:
    """What an engine parser reads: effective argv (redacted), env (redacted) and provenance."""

    argv: list[str] | None
    arg_paths: list[str]
    env: dict[str, str | None]
    env_prov: dict[str, Prov]
    image: str
    object: str
    container: str
    note: str | None = None
    # path in the container -> the file, for engines that read a config file; the collector
    # resolves mounts (ConfigMap volumes) and parses the file, the parser stays pure
    read_config: Callable[[str], ConfigFile] | None = None


# --- registry -----------------------------------------------------------------------------


@functools.cache
def _modules() -> tuple[ModuleType, ...]:
    import importlib
    import pkgutil

    names = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
    return tuple(importlib.import_module(f"{__name__}.{n}") for n in names)


def flag_tables() -> list[tuple[str, str]]:
    """``(engine, engine release its flag table follows)`` per engine module (``FLAGS_VERSION``), sorted."""
    return sorted((m.ENGINE, m.FLAGS_VERSION) for m in _modules())


def engines() -> list[str]:
    """Registered engine names, sorted."""
    return sorted(m.ENGINE for m in _modules())


def _detect(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[ModuleType, str, str] | None:
    # argv signals beat image names beat env; within a rank the first module (sorted) wins
    best: tuple[tuple[int, bool], ModuleType, str, str] | None = None
    for mod in _modules():
        hit = mod.matches(argv, image, env)
        if hit is None:
            continue
        key = (_RANK[hit[1]], hit[0].startswith("argv"))
        if best is None or key > best[0]:
            best = (key, mod, hit[0], hit[1])
    return None if best is None else best[1:]


def detect(argv: list[str] | None, image: str, env: dict[str, str | None]) -> tuple[str, str, str] | None:
    """``(engine, signal, confidence)`` for the strongest signal, or None.

    The confidence is argv's own; :func:`parse` lowers it to ``medium`` when the argv was
    assumed (``ContainerInput.note`` starts with ``command absent``)."""
    found = _detect(argv, image, env)
    return None if found is None else (found[0].ENGINE, found[1], found[2])


def parse(ci: ContainerInput) -> EngineFacts | None:
    """The engine facts of one container; None when no engine is recognised."""
    found = _detect(ci.argv, ci.image, ci.env)
    return None if found is None else found[0].parse(ci)


def _serving(tokens: list[str]) -> bool:
    return any(m.matches(tokens, "", {}) is not None for m in _modules())


# --- effective argv -------------------------------------------------------------------------


def _image_entrypoint(image: str) -> _argv.Entrypoint | None:
    for mod in _modules():
        fn = getattr(mod, "entrypoint", None)
        ep = fn(image) if fn else None
        if ep is not None:
            return ep
    return None


def _image_engine(image: str) -> str | None:
    """The engine an image's name identifies (``…/mistral-vllm:1.2`` -> vllm), or None."""
    if not image:
        return None
    found = _detect(None, image, {})
    return None if found is None or not found[1].startswith("image") else found[0].ENGINE


def effective_argv(command: list[str] | None, args: list[str] | None, env: dict[str, str | None],
                   image: str, base_path: str) -> ArgvResult:
    """Kubernetes semantics: ``command`` replaces the image ENTRYPOINT, ``args`` its CMD;
    ``$(VAR)`` expanded from ``env`` by the kubelet; ``sh -c`` scripts split like a shell
    and the serving command picked out. Without ``command``, known images get their
    ENTRYPOINT from a built-in table (the note says it was assumed)."""
    notes: list[str] = []
    refs: list[tuple[str, str]] = []
    cmd = [_argv.expand_k8s(t, env, refs) for t in command or []]
    arg = [_argv.expand_k8s(t, env, refs) for t in args or []]
    cpaths = [f"{base_path}.command[{i}]" for i in range(len(cmd))]
    apaths = [f"{base_path}.args[{i}]" for i in range(len(arg))]
    if cmd:
        tokens, paths = cmd + arg, cpaths + apaths
    else:
        where = f"{NO_COMMAND}: image ENTRYPOINT decides ({image or 'no image'})"
        ep = _image_entrypoint(image)
        if ep is not None:
            if ep.split_args:
                arg, apaths, split = _shell.word_split(arg, apaths)
                if split:
                    notes.append("args items with spaces are split by the image's unquoted $@: "
                                 + ", ".join(repr(s) for s in split))
            tokens, paths = list(ep.tokens) + arg, [ENTRYPOINT_PATH] * len(ep.tokens) + apaths
            notes.insert(0, f"{where}; {ep.note}")
            if arg and (shell_script_index(arg) is not None or _serving(arg)):
                notes.append(f"args start with their own command ({' '.join(arg[:2])}) but the image ENTRYPOINT "
                             f"is prepended to them: the container runs `{' '.join(ep.tokens + tuple(arg[:2]))} …`; "
                             "set `command:` instead")
        elif arg and (shell_script_index(arg) is not None or _serving(arg)):
            tokens, paths = arg, apaths
            notes.insert(0, f"{where}; args read as the whole command, which holds only if the image "
                            "has no ENTRYPOINT")
        elif arg and (named := _image_engine(image)) is not None:
            # A custom image (registry/team/mistral-vllm:1.2) whose name says which engine it
            # wraps: its ENTRYPOINT is not in the table, but args given alone are that engine's
            # flags. Read them as such, and say the entrypoint was assumed.
            tokens, paths = arg, apaths
            notes.insert(0, f"{where}; args, {FROM_IMAGE} {image}: read as {named} flags (the image's own "
                            "ENTRYPOINT is not known to skewaudit)")
        else:
            notes.insert(0, where)
            return ArgvResult(None, [], _join(notes + _ref_notes(refs)), False)
    shell = False
    for _ in range(3):   # sh -c "exec bash -c '…'" nests
        k = shell_script_index(tokens)
        if k is None:
            break
        script_path, after, after_paths = paths[k], tokens[k + 1:], paths[k + 1:]
        cmds, split_note = _shell.split_script(tokens[k], _shell.positional_env(env, after))
        if split_note:
            notes.append(split_note)
        cmds = [_shell.expand_positional(c, after, after_paths, script_path) for c in cmds]
        serving = [c for c in cmds if _serving(c[0])]
        chosen = serving[-1] if serving else (cmds[-1] if cmds else ([], []))
        if len(cmds) > 1:
            notes.append(f"shell script runs {len(cmds)} commands; using command {cmds.index(chosen) + 1} "
                         f"({' '.join(redact.argv(chosen[0])[:3])})")   # redacted whole: pairs span the cut
        if after and after[0].startswith("-") and after[0] not in ("-", "--") and _shell.uses_args(tokens[k]):
            # `sh -c '… "$@"' --flag …`: the shell takes the first token after the script as $0
            notes.append(f"{after[0]!r} after the sh -c script is the shell's $0, not an argument: "
                         "the command never sees it (put a name such as `--` before the arguments)")
        (tokens, paths), shell = chosen, True
    return ArgvResult(tokens, paths, _join(notes + _ref_notes(refs)), shell)


def _ref_notes(refs: list[tuple[str, str]]) -> list[str]:
    out: list[str] = []
    for name, state in dict.fromkeys(refs):
        out.append(f"$({name}) left as written: its value comes from a Secret or is not resolvable offline"
                   if state == "unknown" else
                   f"$({name}) is not defined in the container env: Kubernetes passes it literally")
    return out


def _join(notes: list[str]) -> str | None:
    # notes quote pieces of argv: a last redaction pass so no note can carry a secret
    return _shell.scrub("; ".join(notes)) if notes else None


# --- building facts (shared by the engine modules) ------------------------------------------


def _add_note(a: str | None, b: str | None) -> str | None:
    return a if not b else b if not a else f"{a}; {b}"


class FactSet:
    """One container's engine facts while a parser fills them; :meth:`build` freezes them."""

    def __init__(self, ci: ContainerInput, engine_label: str, match: tuple[str, str] | None):
        self.ci = ci
        self.label = engine_label
        self.fields: dict[str, Fact] = {}
        self.notes: list[str] = []
        self.unknown: list[str] = []
        self.config_file: str | None = None
        self.config_read = False           # the config file's values were read (config_loaded)
        self.config_why: str | None = None  # why they could not be
        # argv runs a program that is not one of the engine's entrypoints (a wrapper script):
        # the flags it passes are read, but what it leaves out is the wrapper's business
        self.wrapper: str | None = None
        sig, conf = match or ("parser chosen by the caller", "low")
        # argv was not written in the object: its head is the image ENTRYPOINT skewaudit
        # assumed (token paths say so), or args were taken to be the whole command
        self.assumed_entrypoint = bool(ci.note and ci.note.startswith(NO_COMMAND)) and (
            ci.arg_paths[:1] == [ENTRYPOINT_PATH] or "; assumed " in (ci.note or "") or FROM_IMAGE in ci.note)
        # args alone, read as this engine's flags because the image name identifies it
        self.from_image = bool(ci.note and ci.note.startswith(NO_COMMAND) and FROM_IMAGE in ci.note)
        if ci.note and ci.note.startswith(NO_COMMAND) and sig.startswith("argv") and conf == "high":
            sig = f"{sig} ({'image ENTRYPOINT assumed' if self.assumed_entrypoint else 'args read as the command'})"
            conf = "medium"
        self.signal, self.confidence = sig, conf

    # provenance
    def _prov(self, source: str, path: str = "") -> Prov:
        return Prov(source=source, object=self.ci.object, path=path, container=self.ci.container)

    def env_prov(self, name: str) -> Prov:
        p = self.ci.env_prov.get(name)
        return Prov(source=p.source if p else "env", object=(p.object if p and p.object else self.ci.object),
                    path=(p.path if p and p.path else f"env[{name}]"),
                    container=(p.container if p and p.container else self.ci.container))

    # setters
    def arg(self, field: str, value: object, path: str, raw: str | None = None, note: str | None = None) -> None:
        self.fields[field] = Fact(value, self._prov("arg", path), raw=raw, note=note)

    def default(self, field: str, value: object, note: str | None = None) -> None:
        self.fields[field] = Fact(value, self._prov("default"), note=note)

    def unknown_fact(self, field: str, note: str) -> None:
        self.fields[field] = Fact(None, self._prov("unknown"), note=note)

    def annotate(self, field: str, note: str) -> None:
        f = self.fields[field]
        self.fields[field] = Fact(f.value, f.prov, raw=f.raw, note=_add_note(f.note, note))

    def env_twin(self, field: str, name: str, kind: str, hint=_argv.plain_int) -> str | None:
        """A flag's env twin (TGI's clap, llama.cpp's ``LLAMA_ARG_*``): fills ``field`` when no flag
        set it (``"set"``); when the command line did, it wins and a differing env value is noted
        (``"arg"``); ``"env"`` when another env var already set it; None when ``name`` is unset."""
        fact = self.env(name, kind, hint)
        if fact is None:
            return None
        current = self.fields.get(field)
        if current is None:
            self.fields[field] = fact
            return "set"
        if current.prov.source != "arg":
            return "env"
        if fact.value is not None and fact.value != current.value:
            shown = fact.raw if fact.raw is not None else _argv.render(fact.value)
            note = f"overrides env {name}={shown} (the command line wins)"
            self.annotate(field, note)
            self.notes.append(f"{field}: {note}")
        return "arg"

    def env(self, name: str, kind: str, hint=_argv.plain_int) -> Fact | None:
        """The fact an env var gives (typed like a flag value), or None when it is not set."""
        if name not in self.ci.env:
            return None
        raw, prov = self.ci.env[name], self.env_prov(name)
        if raw is None:
            return Fact(None, prov, note=f"value not available offline ({prov.source})")
        value, note = _argv.convert(kind, raw, hint)
        return Fact(value, prov, raw=raw if value is None or _argv.render(value) != raw else None, note=note)

    # flags
    def fact_of(self, h: Hit, hint=_argv.vllm_int) -> Fact:
        """The typed fact for one scanned flag."""
        prov = self._prov("arg", h.path)
        if h.opt.kind == "bool":
            value, note = (True, None) if h.value is None else _argv.convert("bool", h.value)
            if value is not None and (h.negated != h.opt.invert):
                value = not value
            # raw: what was written, when the switch alone does not say True
            raw = h.value if h.value is not None else (h.spelled or h.flag) if h.negated or h.opt.invert else None
            return Fact(value, prov, raw=raw, note=note)
        if h.value is None:
            return Fact(None, prov, note="flag given without a value")
        value, note = _argv.convert(h.opt.kind, h.value, hint)
        if h.extra:
            note = _add_note(note, "also served as: " + ", ".join(h.extra))
        raw = h.value if value is None or _argv.render(value) != h.value else None
        return Fact(value, prov, raw=raw, note=note)

    def apply(self, sc: Scan, hint=_argv.vllm_int, repeated: str = "the last one wins") -> dict[str, list[Hit]]:
        """Turn scanned flags into facts (last one wins); returns the hits per field."""
        self.unknown.extend(sc.unknown)
        self.notes.extend(sc.notes)
        groups: dict[str, list[Hit]] = {}
        for h in sc.hits:
            if h.opt.kind == "config":
                if self.config_file is not None:
                    self.notes.append(f"{h.flag} given more than once: {self.label} allows only one")
                self.config_file = h.value
                self.notes.append(self._config_note(h.flag, h.value))
            elif h.opt.kind == "secret":   # record that it is set, never the value
                self.unknown.extend([f"{h.flag}={h.value}"] if h.inline else [h.flag] + ([h.value] if h.value else []))
            else:
                groups.setdefault(h.opt.field or "", []).append(h)
        for field, hits in groups.items():
            fact = self.fact_of(hits[-1], hint)
            if len(hits) > 1:
                given = ", ".join(f"{x.spelled or x.flag} {x.value}" if x.value is not None else x.spelled or x.flag
                                  for x in hits)
                note = f"given {len(hits)} times ({given}): {repeated}"
                fact = Fact(fact.value, fact.prov, raw=fact.raw, note=_add_note(fact.note, note))
                # Named by the flag as written, never by the parser's field name (``_model_name``).
                self.notes.append(f"{hits[-1].spelled or hits[-1].flag}: {note}")
            self.fields[field] = fact
        return groups

    def _config_note(self, flag: str, value: str | None) -> str:
        return (f"{flag} {value}: values in that file are not visible to skewaudit; "
                "settings not on the command line may come from it")

    def config_loaded(self, flag: str, ok: bool, why: str | None = None) -> None:
        """The engine parser read the config file (``ok``), or says why it could not: the
        generic "not visible" note is replaced by what is known."""
        unseen = self._config_note(flag, self.config_file)
        self.notes = [n for n in self.notes if n != unseen]
        self.config_read, self.config_why = ok, why
        if not ok:
            self.notes.append(f"{flag} {self.config_file}: {why}; settings not on the command line may come "
                              "from it (unverifiable)")

    def defaults(self, table: dict[str, tuple[object, str | None]]) -> None:
        """Fill every field not set from the engine's documented defaults."""
        for field, (value, note) in table.items():
            if field in self.fields:
                continue
            if self.ci.argv is None:
                self.unknown_fact(field, "argv unknown: the image ENTRYPOINT/CMD decides")
            elif self.wrapper is not None:
                self.unknown_fact(field, f"not on the command line of {self.wrapper}, which is not a {self.label} "
                                         "entrypoint: the wrapper decides (from its env or its own defaults)")
            elif self.config_file and not self.config_read:
                what = note if value is None else f"{value}" + (f" ({note})" if note else "")
                why = f"not visible: {self.config_why}" if self.config_why else "not visible"
                self.default(field, None, f"not on the command line: {self.config_file} may set it ({why}); "
                                          f"else the engine default: {what}")
            else:
                self.default(field, value, note)

    def build(self, engine: str, entrypoint: str | None) -> EngineFacts:
        host = self.fields.get("host")
        if host is not None and host.value in _LOOPBACK:
            self.annotate("host", "binds loopback only: unreachable from other pods")
        if self.from_image:
            # Provenance, not silent evidence: each value read from args says the entrypoint was assumed.
            for name, f in list(self.fields.items()):
                if f.prov.source == "arg":
                    self.annotate(name, f"args, {FROM_IMAGE} {self.ci.image}")
        bad = set(self.fields) - set(ENGINE_FIELDS)
        if bad:   # a parser bug, not a user error
            raise ValueError(f"{engine} parser produced non-canonical fields: {sorted(bad)}")
        order = list(ENGINE_FIELDS)
        return EngineFacts(
            engine=engine, detected_by=self.signal, confidence=self.confidence, entrypoint=entrypoint,
            fields={k: self.fields[k] for k in sorted(self.fields, key=order.index)},
            unknown_args=list(self.unknown), config_file=self.config_file,
            # notes quote pieces of argv: a last redaction pass so no note can carry a secret
            notes=[_shell.scrub(n) for n in dict.fromkeys(self.notes)],
        )


def begin(ci: "ContainerInput", title: str, form: tuple[str, int] | None,
          signal: tuple[str, str] | None) -> tuple[list[str], list[str], "FactSet", str | None, int]:
    """The start every argv parser shares: ``(argv, paths, facts, entrypoint, index of the first
    flag)``. An argv that runs no known entrypoint of the engine is still read from its program on,
    with a note saying so."""
    argv = ci.argv or []
    paths = (list(ci.arg_paths) + [""] * len(argv))[:len(argv)]
    fs = FactSet(ci, title, signal)
    entry, start = form if form else (None, 0)
    if not form and argv and not fs.from_image:
        e = _argv.locate(argv)
        start = e.rest if e else 0
        fs.notes.append(f"argv does not run a known {title} entrypoint ({' '.join(argv[:2])} …): "
                        "flags read from the rest of it; what it does not pass is unknown, not the engine default")
        fs.wrapper = argv[0]
    return argv, paths, fs, entry, start
