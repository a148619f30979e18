"""Container facts: one Kubernetes container spec -> ``ContainerObs`` / ``PodTemplateObs``.

Owns everything about a single container as the kubelet would run it:
ConfigMap lookup (:class:`ConfigMaps`, with "not found" vs "not read"
issues), the effective env (:func:`resolve_env`: ``envFrom`` then ``env``,
later wins, ``$(VAR)`` expanded from earlier vars, Secrets never read, every
value through :mod:`skewaudit.redact`), the effective argv and engine parse
from :mod:`skewaudit.runtimes` (:func:`container_obs`), image references
(:func:`split_image`, :func:`resolved_digest`), the cheap "is this serving?" pre-filter (:func:`looks_serving`) and
re-pointing shared container facts at a pod (:func:`_retarget`,
:func:`_with_status`). Pure: no I/O, no ``kubernetes`` import.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Callable

import msgspec

from skewaudit import redact, units
from skewaudit.collect import k8s_types as k
from skewaudit.collect import mounts
from skewaudit.collect.quantities import quantity_str
from skewaudit.model.observed import (
    CollectionIssue, ContainerObs, EnvVar, ImageRef, PodTemplateObs, Port, Probe, Prov, SourceKind,
)

# Accelerator resources of every vendor (skewaudit.accelerators.resources): a container
# requesting one is a serving candidate.
GPU_RESOURCE_PREFIXES = units.DEVICE_RESOURCE_PREFIXES


def _obj(kind: str, ns: str, name: str) -> str:
    """How issues and provenance name an object: ``Kind/ns/name``, or ``Kind/name`` without a namespace."""
    return f"{kind}/{ns}/{name}" if ns else f"{kind}/{name}"


def split_image(ref: str, image_id: str | None = None) -> ImageRef:
    """``repo:tag@sha256:…`` split as written, plus the digest it resolved to."""
    name, _, digest = ref.partition("@")
    slash, colon = name.rfind("/"), name.rfind(":")
    repo, tag = (name[:colon], name[colon + 1:]) if colon > slash else (name, None)
    return ImageRef(ref=ref, repository=repo, tag=tag or None, digest=digest or None,
                    resolved_digest=resolved_digest(image_id))


def resolved_digest(image_id: str | None) -> str | None:
    """``docker-pullable://repo@sha256:…`` / ``repo@sha256:…`` / ``sha256:…`` -> ``sha256:…``."""
    if not image_id:
        return None
    at = image_id.rfind("@")
    tail = image_id[at + 1:] if at >= 0 else image_id.split("://", 1)[-1]
    return tail if ":" in tail else None


def _expand(value: str, env: dict[str, str | None]) -> str:
    """Kubernetes ``$(VAR)`` expansion of one env value: ``$$`` escapes, undefined
    or unknown (secret) references stay as written."""
    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        v = env.get(m.group(1))
        return m.group(0) if v is None else v
    return _VAR.sub(sub, value) if "$" in value else value


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def _redact_list(items: list[str] | None) -> list[str] | None:
    return redact.command(items)


_REDACTED: dict[tuple[str, str], str | None] = {}


def _redact_value(name: str, value: str) -> str | None:
    """:func:`redact.value`, memoized: the same (name, value) pairs recur in
    every template and pod of a fleet."""
    key = (name, value)
    out = _REDACTED.get(key, _REDACTED)
    if out is _REDACTED:
        out = redact.value(name, value)
        if len(_REDACTED) < 100_000:
            _REDACTED[key] = out
    return out  # type: ignore[return-value]


def labels_obs(labels: dict[str, str]) -> dict[str, str]:
    """Labels (or a selector) as stored: a value whose key names a secret (``api-key: …``) is a
    marker, the same on every object, so selectors still match the labels they select."""
    return {key: _redact_value(key, v) for key, v in labels.items()}


def requests_gpu(c: k.Container) -> bool:
    res = c.resources
    return res is not None and (bool(res.claims) or any(key.startswith(GPU_RESOURCE_PREFIXES)
                                                        for key in (*res.limits, *res.requests)))


def looks_serving(spec: k.PodSpec) -> bool:
    """Cheap pre-filter for fleet runs: a container requests GPUs or runs a
    recognised engine (argv from literal env only; ConfigMaps come later)."""
    from skewaudit import runtimes

    for c in spec.containers:
        if requests_gpu(c):
            return True
        env = {e.name: e.value for e in c.env if e.value_from is None}
        res = runtimes.effective_argv(c.command, c.args, env, c.image, "")
        if runtimes.detect(res.argv, c.image, env) is not None:
            return True
    return False


# --- ConfigMaps --------------------------------------------------------------


@dataclass
class ConfigMaps:
    """ConfigMap data by (namespace, name). ``available`` is False when the
    source could not be read (forbidden, not in the input): a missing map is
    then "unverifiable", not "not found". Manifests without a namespace are
    stored under "" and match any namespace."""

    data: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    available: bool = True
    why: str = ""
    issues: list[CollectionIssue] = field(default_factory=list)
    _reported: set = field(default_factory=set)
    # Template container facts built from these maps, for :func:`template_container`; a map
    # added later could change them, so adding one forgets them.
    facts: dict[tuple, tuple[ContainerObs, str]] = field(default_factory=dict)

    def add(self, cm: k.ConfigMap) -> None:
        self.data[(cm.metadata.namespace, cm.metadata.name)] = cm.data
        self.facts.clear()

    def get(self, ns: str, name: str, scope: str, optional: bool | None) -> dict[str, str] | None:
        found = self.data.get((ns, name))
        if found is None:
            found = self.data.get(("", name))
        if found is None and not optional and (ns, name) not in self._reported:
            self._reported.add((ns, name))
            obj = _obj("ConfigMap", ns, name)
            if self.available:
                self.issues.append(CollectionIssue(scope=obj, kind="not-found", area="configmaps",
                                                   message=f"{obj} referenced by {scope} does not exist; "
                                                           "its env vars are unresolved"))
            else:
                self.issues.append(CollectionIssue(scope=obj, kind="not-collected", area="configmaps",
                                                   message=f"{obj} referenced by {scope} was not read "
                                                           f"({self.why}); its env vars are unresolved"))
        return found


# --- containers --------------------------------------------------------------


@dataclass
class EnvItem:
    """One env source with where it is written (object and field path)."""

    var: k.EnvVar | k.EnvFromSource
    object: str
    path: str


def resolve_env(items: list[EnvItem], ns: str, cms: ConfigMaps, scope: str, container: str
                ) -> tuple[list[EnvVar], dict[str, str | None], dict[str, Prov]]:
    """Effective env: ``envFrom`` items first, then ``env`` (later wins), as the kubelet does."""
    out: dict[str, EnvVar] = {}
    values: dict[str, str | None] = {}
    provs: dict[str, Prov] = {}

    def put(name: str, value: str | None, source: str, prov_src: str, ref: str | None, item: EnvItem) -> None:
        out.pop(name, None)   # re-insert: order shows precedence
        out[name] = EnvVar(name=name, value=value, source=source, ref=ref, path=item.path)
        values[name] = value
        provs[name] = Prov(source=prov_src, object=item.object, path=item.path, container=container)

    for item in (i for i in items if isinstance(i.var, k.EnvFromSource)):
        ef: k.EnvFromSource = item.var  # type: ignore[assignment]
        if ef.config_map_ref is not None:
            data = cms.get(ns, ef.config_map_ref.name, scope, ef.config_map_ref.optional)
            for key, v in (data or {}).items():
                name = ef.prefix + key
                put(name, _redact_value(name, v), "configmap", SourceKind.CONFIGMAP,
                    f"configmap {ef.config_map_ref.name}/{key}", item)
        if ef.secret_ref is not None:
            # The keys live in the Secret, which is never read: one pseudo-var says so.
            name = f"{ef.prefix}*"
            put(name, None, "secret", SourceKind.SECRET, f"secret {ef.secret_ref.name} (all keys)", item)
            values.pop(name, None)
    for item in (i for i in items if isinstance(i.var, k.EnvVar)):
        e: k.EnvVar = item.var  # type: ignore[assignment]
        vf = e.value_from
        if vf is None:
            put(e.name, _redact_value(e.name, _expand(e.value or "", values)), "literal", SourceKind.ENV, None, item)
        elif vf.config_map_key_ref is not None:
            ref = vf.config_map_key_ref
            data = cms.get(ns, ref.name, scope, ref.optional)
            if data is not None and ref.key in data:
                put(e.name, _redact_value(e.name, data[ref.key]), "configmap", SourceKind.CONFIGMAP,
                    f"configmap {ref.name}/{ref.key}", item)
            else:
                put(e.name, None, "unresolved", SourceKind.UNKNOWN, f"configmap {ref.name}/{ref.key}", item)
                if data is not None and not ref.optional:
                    cms.issues.append(CollectionIssue(
                        scope=scope, kind="not-found", area="configmaps",
                        message=f"env {e.name}: key {ref.key!r} is not in {_obj('ConfigMap', ns, ref.name)}"))
        elif vf.secret_key_ref is not None:
            ref = vf.secret_key_ref
            put(e.name, None, "secret", SourceKind.SECRET, f"secret {ref.name}/{ref.key}", item)
        elif vf.field_ref is not None:
            put(e.name, None, "field", SourceKind.POD_SPEC, f"field {vf.field_ref.field_path}", item)
        elif vf.resource_field_ref is not None:
            put(e.name, None, "resource", SourceKind.POD_SPEC, f"resource {vf.resource_field_ref.resource}", item)
        else:
            put(e.name, None, "unresolved", SourceKind.UNKNOWN, None, item)
    return list(out.values()), values, provs


def _probe(kind: str, p: k.Probe | None) -> Probe | None:
    if p is None:
        return None
    common = dict(timeout_seconds=p.timeout_seconds, period_seconds=p.period_seconds,
                  initial_delay_seconds=p.initial_delay_seconds, failure_threshold=p.failure_threshold)
    if p.http_get is not None:
        return Probe(kind=kind, handler="httpGet", path=p.http_get.path, port=p.http_get.port, **common)
    if p.tcp_socket is not None:
        return Probe(kind=kind, handler="tcpSocket", port=p.tcp_socket.port, **common)
    if p.grpc is not None:
        return Probe(kind=kind, handler="grpc", port=p.grpc.port, **common)
    return Probe(kind=kind, handler="exec", **common)


@dataclass
class ContainerSource:
    """A container to build, with where each part is written.

    ``path`` is the container's own field path; ``arg_path`` maps the paths
    :func:`runtimes.effective_argv` reports (relative to ``path``) to the real
    place (KServe: runtime args vs InferenceService args)."""

    c: k.Container
    object: str
    path: str
    env: list[EnvItem]
    arg_path: Callable[[str], str] | None = None


def plain_source(c: k.Container, obj: str, path: str) -> ContainerSource:
    # Paths are interned: a fleet repeats "spec.template.spec.containers[0].env[X]"
    # in every workload, and one copy of each is enough.
    env: list[EnvItem] = [EnvItem(ef, obj, sys.intern(f"{path}.envFrom[{i}]")) for i, ef in enumerate(c.env_from)]
    env += [EnvItem(e, obj, sys.intern(f"{path}.env[{e.name}]")) for e in c.env]
    return ContainerSource(c, obj, path, env)


def container_obs(src: ContainerSource, ns: str, cms: ConfigMaps, scope: str | None = None) -> ContainerObs:
    """Effective configuration of one container (env, argv, engine facts, resources).
    ``scope`` names the object in issues when ``src.object`` is a placeholder."""
    from skewaudit import runtimes

    c = src.c
    env_list, values, provs = resolve_env(src.env, ns, cms, scope or src.object, c.name)
    refs = redact.secret_refs([*(c.command or []), *(c.args or [])])
    if refs & values.keys():   # `--api-key $(P)` / `sh -c '… --api-key $P'`: P holds a secret, whatever its name
        values = {k: redact.marker(v) if k in refs and v and not redact.is_marker(v) else v for k, v in values.items()}
        env_list = [EnvVar(name=e.name, value=values[e.name], source=e.source, ref=e.ref, path=e.path)
                    if e.name in refs and e.name in values else e for e in env_list]
    res = runtimes.effective_argv(c.command, c.args, values, c.image, src.path)
    paths = [sys.intern(p) for p in res.paths]
    if src.arg_path is not None:
        paths = [src.arg_path(p) for p in paths]
    argv = _redact_list(res.argv)
    engine = runtimes.parse(runtimes.ContainerInput(
        argv=argv, arg_paths=paths, env=values, env_prov=provs, image=c.image,
        object=src.object, container=c.name, note=res.note,
        read_config=mounts.reader(c, ns, cms, scope or src.object)))
    r = c.resources or k.ResourceRequirements()
    probes = [p for p in (_probe("readiness", c.readiness_probe), _probe("liveness", c.liveness_probe),
                          _probe("startup", c.startup_probe)) if p is not None]
    command, args = redact.command_and_args(c.command, c.args)
    return ContainerObs(
        name=c.name, image=split_image(c.image), path=src.path,
        command=command, args=args, argv=argv, argv_note=res.note,
        env=env_list, requests={key: quantity_str(v) for key, v in r.requests.items()},
        limits={key: quantity_str(v) for key, v in r.limits.items()},
        claims=[cl.name for cl in r.claims if cl.name],
        claim_requests={cl.name: cl.request for cl in r.claims if cl.name and cl.request},
        ports=[Port(container_port=p.container_port, name=p.name, protocol=p.protocol) for p in c.ports],
        probes=probes, engine=engine)


def node_affinity(aff: k.Affinity | None) -> dict[str, list[str]]:
    """Required node affinity flattened: ``In`` -> values, other operators as ``"Op:v1,v2"``.
    Terms are ORed by Kubernetes, so values of the same key across terms are unioned."""
    out: dict[str, list[str]] = {}
    na = aff.node_affinity if aff is not None else None
    req = na.required_during_scheduling_ignored_during_execution if na is not None else None
    for term in (req.node_selector_terms if req is not None else []):
        for e in term.match_expressions:
            vals = e.values if e.operator == "In" else [f"{e.operator}:{','.join(e.values)}".rstrip(":")]
            bucket = out.setdefault(e.key, [])
            bucket.extend(v for v in vals if v not in bucket)
    return out


_FACTS_MAX = 4096


def template_container(c: k.Container, obj: str, path: str, ns: str, cms: ConfigMaps) -> ContainerObs:
    """``container_obs`` of a template's container at ``path`` of ``obj``, built once per distinct
    container and shared by every object of the same kind in the same namespace that writes it
    identically at the same path (a fleet deploys the same few containers in many Deployments).

    Only the object's own name differs between such objects, and only in the provenance of the
    engine facts, which :func:`_retarget` re-points. A container is shared only when that is
    provably all: building it raised no collection issue (issues name the object), and its facts
    name the object nowhere but in that provenance (checked on their encoding)."""
    try:
        key = (obj.partition("/")[0], ns, path, cms.available, cms.why, msgspec.json.encode(c))
    except (TypeError, ValueError):   # not encodable (hand-built structs): built as before
        return container_obs(plain_source(c, obj, path), ns, cms)
    hit = cms.facts.get(key)
    if hit is not None:
        shared, first = hit
        return shared if first == obj else _retarget(shared, first, obj, path, path)
    before = len(cms.issues)
    out = container_obs(plain_source(c, obj, path), ns, cms)
    if len(cms.issues) == before and _names_object_only_in_provenance(out, obj):
        if len(cms.facts) >= _FACTS_MAX:
            cms.facts.clear()
        cms.facts[key] = (out, obj)
    return out


def _names_object_only_in_provenance(c: ContainerObs, obj: str) -> bool:
    """Every occurrence of ``obj`` in ``c`` is an engine fact's ``prov.object`` (which :func:`_retarget`
    re-points): the count of its text in ``c``'s JSON equals the count of those fields."""
    fields = c.engine.fields.values() if c.engine is not None else ()
    if any(f.prov is None for f in fields):
        return False
    in_prov = sum(1 for f in fields if f.prov.object == obj)
    return msgspec.json.encode(c).count(msgspec.json.encode(obj)[1:-1]) == in_prov


def template_obs(spec: k.PodSpec, labels: dict[str, str], obj: str, path: str, ns: str, cms: ConfigMaps,
                 containers: list[ContainerObs] | None = None) -> PodTemplateObs:
    """The pod shape a controller stamps out (``path`` is the PodSpec's path)."""
    if containers is None:
        containers = [template_container(c, obj, f"{path}.containers[{i}]", ns, cms)
                      for i, c in enumerate(spec.containers)]
    inits = [template_container(c, obj, f"{path}.initContainers[{i}]", ns, cms)
             for i, c in enumerate(spec.init_containers)]
    return PodTemplateObs(labels=labels_obs(labels), containers=containers, init_containers=inits,
                          node_selector=dict(spec.node_selector), node_affinity=node_affinity(spec.affinity),
                          tolerations=list(spec.tolerations), runtime_class=spec.runtime_class_name,
                          service_account=spec.service_account_name,
                          resource_claims={rc.name: (f"ResourceClaimTemplate/{rc.resource_claim_template_name}"
                                                     if rc.resource_claim_template_name else
                                                     f"ResourceClaim/{rc.resource_claim_name or '?'}")
                                           for rc in spec.resource_claims if rc.name})


# --- shared container facts, re-pointed at pods --------------------------------


def _retarget(c: ContainerObs, old_obj: str, new_obj: str, old_path: str, new_path: str) -> ContainerObs:
    """The same container facts, provenance moved from a template to a pod."""
    def prov(p: Prov) -> Prov:
        moved = p.path.startswith(old_path)
        if p.object != old_obj and not moved:
            return p
        return msgspec.structs.replace(p, object=new_obj if p.object == old_obj else p.object,
                                       path=sys.intern(new_path + p.path[len(old_path):]) if moved else p.path)
    e = c.engine
    if e is not None:
        e = msgspec.structs.replace(e, fields={n: msgspec.structs.replace(f, prov=prov(f.prov))
                                               for n, f in e.fields.items()})
    env = [msgspec.structs.replace(v, path=sys.intern(new_path + v.path[len(old_path):]))
           if v.path.startswith(old_path) else v for v in c.env]
    return msgspec.structs.replace(c, path=new_path, engine=e, env=env)


def _with_status(base: ContainerObs, st: tuple | None) -> ContainerObs:
    """A pod's container: the shared facts plus this pod's status."""
    if st is None:
        return base
    img = base.image
    if st[0]:
        img = msgspec.structs.replace(img, resolved_digest=resolved_digest(st[0]))
    return msgspec.structs.replace(base, image=img, ready=st[1], restart_count=st[2])
