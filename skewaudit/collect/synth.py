"""Containers an operator renders from its custom resource's fields.

KServe's LLMInferenceService, KubeRay's RayService and the NIM operator's NIMService
do not carry the engine's command line: their controllers write it from CRD fields
(``spec.parallelism.tensor``, ``serveConfigV2`` ``engine_kwargs``, ``spec.env``). The
family modules describe that rendering as an argv of (token, field path, source)
and this module turns it into an ordinary :class:`ContainerObs` through the same
engine parsers as a pod (:func:`engine_container`): every fact keeps the path of
the CRD field that wrote it, as a ``workload-spec`` fact, or ``default`` when the
operator's own template wrote it. Also small shared pieces: a workload fact
(:func:`fact`), a pod's serving container given the rendered engine facts
(:func:`with_engine`). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import msgspec

from skewaudit.collect import k8s_types as k
from skewaudit.collect.containers import ConfigMaps, ContainerSource, EnvItem, container_obs, plain_source
from skewaudit.model.observed import ContainerObs, Fact, Prov, SourceKind

_TOKEN = re.compile(r"^(.*\.command)\[(\d+)\](.*)$")


@dataclass
class Argv:
    """An argv being rendered: each token with the field that wrote it."""

    tokens: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    def add(self, path: str, *tokens: str, source: str = SourceKind.WORKLOAD) -> None:
        for t in tokens:
            self.tokens.append(t)
            self.paths.append(path)
            self.sources.append(source)

    def has(self, flag: str) -> bool:
        return any(t == flag or t.startswith(flag + "=") for t in self.tokens)


def flag_tokens(key: str, value: Any) -> list[str]:
    """An engine keyword argument (``tensor_parallel_size: 4``) as the CLI flags vLLM reads."""
    import json

    flag = "--" + key.replace("_", "-")
    if value is True:
        return [flag]
    if value is False:
        return [f"--no-{flag[2:]}"]
    if value is None:
        return []
    if isinstance(value, (dict, list)):
        return [flag, json.dumps(value, separators=(",", ":"), sort_keys=True)]
    return [flag, str(value)]


def engine_container(c: k.Container, argv: Argv, obj: str, path: str, ns: str, cms: ConfigMaps, *,
                     env: list[EnvItem] | None = None, note: str | None = None,
                     image_path: str | None = None) -> ContainerObs:
    """``c`` run with the rendered ``argv`` (its own command/args when ``argv`` is empty).

    Engine facts read from a rendered token carry that token's field path and source;
    ``image_path`` re-points facts the parser read from the image (a NIM's model)."""
    if argv.tokens:
        c = msgspec.structs.replace(c, command=list(argv.tokens), args=None)
    where = {i: (p, s) for i, (p, s) in enumerate(zip(argv.paths, argv.sources))}

    def arg_path(p: str) -> str:
        m = _TOKEN.match(p)
        if m is None or m.group(1) != f"{path}.command" or int(m.group(2)) not in where:
            return p
        return where[int(m.group(2))][0]

    src = ContainerSource(c, obj, path, env if env is not None else plain_source(c, obj, path).env,
                          arg_path=arg_path if argv.tokens else None)
    co = container_obs(src, ns, cms)
    by_path = {p: s for p, s in zip(argv.paths, argv.sources)}
    e = co.engine
    if e is not None:
        fields = {}
        for n, f in e.fields.items():
            p = f.prov
            if p.source == SourceKind.ARG and p.path in by_path:
                p = msgspec.structs.replace(p, source=by_path[p.path])
            elif image_path is not None and p.path == "image" and p.object == obj:
                p = msgspec.structs.replace(p, path=image_path, source=SourceKind.WORKLOAD)
            fields[n] = f if p is f.prov else msgspec.structs.replace(f, prov=p)
        e = msgspec.structs.replace(e, fields=fields)
    return msgspec.structs.replace(co, engine=e, argv_note=note or co.argv_note)


def fact(obj: str, value: Any, path: str, *, default: Any = None, note: str | None = None,
         why_default: str = "") -> Fact:
    """A workload fact read at ``path``; ``default`` (with ``why_default``) when the field is absent."""
    if value is None:
        return Fact(value=default, prov=Prov(source=SourceKind.DEFAULT, object=obj, path=path),
                    note=f"{path} absent: {default}" + (f" ({why_default})" if why_default else ""))
    return Fact(value=value, prov=Prov(source=SourceKind.WORKLOAD, object=obj, path=path), note=note)
