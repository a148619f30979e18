"""Offline collection: rendered manifests instead of a cluster.

Reads files, directories (``*.yaml``, ``*.yml``, ``*.json``, recursively,
sorted) and ``-`` (stdin): multi-document YAML, ``kind: List``, ``kubectl get
-o yaml|json`` output and ``helm template`` output. Each document of a kind
skewaudit reads is converted with ``msgspec.convert`` into the partial structs
of :mod:`skewaudit.collect.k8s_types`; every other kind (Secrets included) is
skipped unread (JSON input is walked by :mod:`skewaudit.collect.jsonmanifest`,
its items left undecoded until then). The join is :mod:`skewaudit.collect.build`, shared with the
live collector, so an offline run sees exactly what a live one would, minus
what the input lacks (``pods_collected=False`` without Pods).

A YAML syntax error or an unreadable path is the user's input: ``InputError``
with ``file:line:col``. A document that parses but has the wrong shape for its
kind is a ``CollectionIssue(kind="malformed")`` and the run goes on.
"""

from __future__ import annotations

import os
import re
import sys
from datetime import datetime, timezone
from typing import Any, Iterator

import msgspec

from skewaudit.collect import build as b
from skewaudit.collect import containers, jsonmanifest, jsonpos, kinds, pods, quantities
from skewaudit.collect import k8s_types as k
from skewaudit.collect.request import SourceRequest, Target
from skewaudit.errors import InputError
from skewaudit.model.observed import CollectionIssue, Snapshot

_EXTS = (".yaml", ".yml", ".json")
# a `---` line; matched from the newline before it (a literal prefix: fast on 300 MB dumps)
_DOC_START = re.compile(r"\n---[ \t]*(?:#[^\n]*)?(?=\n|\Z)")
# Kinds that never name a serving workload: not worth a "found, not supported" message.
_NOT_WORKLOADS = frozenset({"Secret", "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding",
                            "Namespace", "PersistentVolumeClaim", "PersistentVolume", "NetworkPolicy",
                            "PodDisruptionBudget", "CustomResourceDefinition", "Endpoints", "EndpointSlice",
                            "ControllerRevision", "Event", "ResourceQuota", "LimitRange", "PriorityClass",
                            "StorageClass"})
_AREA = {"Node": "hardware", "HorizontalPodAutoscaler": "hpa", "Service": "services", "ConfigMap": "configmaps",
         "ServingRuntime": "engine", "ClusterServingRuntime": "engine", "Pod": "pods"}


def _files(paths: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if p == "-":
            out.append(p)
        elif os.path.isdir(p):
            found = sorted(os.path.join(d, f) for d, _, fs in os.walk(p) for f in fs
                           if f.endswith(_EXTS) and not f.startswith("."))
            if not found:
                raise InputError(f"{p}: no manifests (*.yaml, *.yml, *.json) in this directory")
            out += found
        elif os.path.exists(p):
            out.append(p)
        else:
            raise InputError(f"{p}: no such file or directory")
    return out


def _read(path: str) -> bytes:
    from skewaudit.limits import read_input

    try:
        return read_input(path)   # chunked, within --max-input-bytes (/dev/zero, endless pipes)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None


def _first_byte(data: bytes) -> bytes:
    """The first non-blank byte (``data.lstrip()`` would copy a 300 MB dump to find it)."""
    m = _LEADING_BLANK.match(data)
    return data[m.end():m.end() + 1]


_LEADING_BLANK = re.compile(rb"\s*")


def _text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: not UTF-8 text (byte {e.start})") from None


_warn = jsonmanifest.warn   # one stderr warning line for both readers


def _documents(path: str, text: str) -> Iterator[tuple[int, Any, str]]:
    """(line, document, where) triples. Documents are split on ``---`` lines first so a
    syntax error and a malformed object both report the line they are on; a kubectl-style
    ``kind: List`` is split into its items (:mod:`skewaudit.collect.yamllist`), each parsed
    on its own, so memory is bounded by one item rather than the whole fleet."""
    from skewaudit.collect import yamllist

    name = "<stdin>" if path == "-" else path
    if "\r" in text:
        text = text.replace("\r\n", "\n")   # Windows line ends: `---\r` is a document start too
    bounds, pos = [], 0
    nl = text.find("\n")
    first = _DOC_START.match("\n" + (text if nl < 0 else text[:nl])) if text.startswith("---") else None
    if first:   # a `---` on the first line: matched with a newline put before it
        bounds.append((0, 0))
        pos = first.end() - 1
    for m in _DOC_START.finditer(text, pos):
        bounds.append((pos, m.start() + 1))
        pos = m.end()
    bounds.append((pos, len(text)))
    line0, counted = 0, 0   # newlines before `start`, counted incrementally
    for start, end in bounds:
        line0 += text.count("\n", counted, start)
        counted = start
        chunk = text[start:end]
        parts = yamllist.split(chunk)
        if parts is not None:
            head_text, items_line, items = parts
            head = _load(name, head_text, line0)
            kind = head.get("kind") if isinstance(head, dict) else None
            if isinstance(kind, str) and kind.endswith("List") and head.get("items") is None:
                for i, (off, item_text) in enumerate(items):
                    item = _load(name, item_text, line0 + off)
                    yield line0 + off + 1, item, f"{name}:{line0 + off + 1}: {kind}.items[{i}]"
                continue
        doc = _load(name, chunk, line0)
        if doc is not None:
            first_line = next((i for i, ln in enumerate(chunk.split("\n"))
                               if ln.strip() and not ln.lstrip().startswith("#")), 0)
            yield line0 + first_line + 1, doc, f"{name}:{line0 + first_line + 1}"


def _load(name: str, chunk: str, line0: int) -> Any:
    """One YAML document of ``name`` that starts after ``line0`` lines, guarded and located."""
    import yaml

    from skewaudit import yamlfast, yamlsafe

    # Machine-written YAML (kubectl, helm) that provably reads the same: a compiled parser,
    # ~20x faster; anything else, any error or duplicate key, takes the path below.
    doc = yamlfast.load(chunk)
    if doc is not yamlfast.MISS:
        return doc
    # Refuse alias bombs and nesting deep enough to crash libyaml's C composer (a segfault).
    try:
        yamlsafe.check(chunk)
    except yamlsafe.Refused as e:
        raise InputError(f"{name}:{e.line + line0}:{e.col}: {e.text}") from None
    try:
        doc, dups = yamlsafe.load_document(chunk)
    except yamlsafe.LocatedValueError as e:
        mark = e.problem_mark
        pos_s = f":{mark.line + 1 + line0}:{mark.column + 1}" if mark else ""
        raise InputError(f"{name}{pos_s}: {e.problem}") from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        pos_s = f":{mark.line + 1 + line0}:{mark.column + 1}" if mark else ""
        raise InputError(f"{name}{pos_s}: YAML syntax error: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise InputError(f"{name}: YAML error: {e}") from None
    for key, first, again in dups:
        _warn(f"{name}:{again.line + 1 + line0}:{again.column + 1}: duplicate key {key!r} (first at line "
              f"{first.line + 1 + line0}); the last value is used, kubectl would refuse this file")
    return doc


def _objects(doc: Any, name: str, where: str) -> Iterator[dict]:
    """A document's objects: itself, or the items of a ``kind: List``/``XList``; anything
    else (a string, a list item that is not an object, a List without items) is reported."""
    if isinstance(doc, dict):
        kind = doc.get("kind")
        if isinstance(kind, str) and kind.endswith("List") and not isinstance(doc.get("items"), list):
            _warn(f"{where}: {kind} without a list of items (items: {_what(doc.get('items'))}); "
                  "no objects read from it")
        elif isinstance(kind, str) and kind.endswith("List") and isinstance(doc.get("items"), list):
            for i, item in enumerate(doc["items"]):
                yield from _objects(item, name, f"{where}: {kind}.items[{i}]")
        elif not isinstance(kind, str) or not kind:
            _warn(f"{where}: an object without kind; ignored")
        else:
            yield doc
    elif isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _objects(item, name, f"{where}: item [{i}]")
    else:
        _warn(f"{where}: {_what(doc)}, not a Kubernetes object; ignored")


def _what(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, str):
        return f"a string {v[:30]!r}" + ("…" if len(v) > 30 else "")
    return f"a {type(v).__name__}"


def load_inventory(paths: tuple[str, ...], namespace: str | None = None,
                   keep_pod: Any = None) -> tuple[b.Inventory, list[str]]:
    """Read every manifest into an Inventory. Objects written without a
    namespace take ``namespace`` when given (as ``kubectl apply -n`` would)."""
    inv = b.Inventory(pods=pods.PodStore(keep_full=keep_pod))
    files = _files(paths)
    seen_kinds: set[str] = set()
    for path in files:
        name = "<stdin>" if path == "-" else path
        data = _read(path)
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]   # a UTF-8 byte-order mark (Windows editors)
        if _first_byte(data) in (b"{", b"["):
            try:
                # Listed whole before any is used: a file that turns out not to be JSON is
                # read again as YAML, and nothing may be counted twice.
                found = jsonmanifest.objects(data, name)
            except msgspec.DecodeError:
                found = None   # YAML flow style, not JSON: read it as YAML
            except RecursionError:
                raise InputError(f"{name}: JSON nested too deeply to be a Kubernetes manifest") from None
            if found is not None:
                for kind, api, md, raw, at in found:
                    _ingest(inv, seen_kinds, at, kind, md, raw, namespace, api)
                if not found:
                    _warn(f"{name}: no Kubernetes objects in this file")
                continue
        n = 0
        text = _text(name, data)
        del data   # only the text is needed from here on: one copy of a large dump, not two
        for line, doc, where in _documents(path, text):
            for obj in _objects(doc, name, where):
                n += 1
                md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
                _ingest(inv, seen_kinds, f"{name}:{line}", obj.get("kind"), md, obj, namespace,
                        obj.get("apiVersion"))
        if n == 0:
            _warn(f"{name}: no Kubernetes objects in this file")
    inv.pods_listed = any(r.observed for r in inv.pods.recs)
    if "ConfigMap" not in seen_kinds:
        inv.configmaps.available, inv.configmaps.why = False, "no ConfigMaps in the input"
    if not ({"ServingRuntime", "ClusterServingRuntime"} & seen_kinds):
        inv.unavailable["servingruntimes"] = "none in the input"
    return inv, [("<stdin>" if f == "-" else f) for f in files]


def _ingest(inv: b.Inventory, seen_kinds: set[str], at: str | jsonpos.At, kind: Any, md: dict, obj: Any,
            namespace: str | None, api_version: Any = None) -> None:
    """Convert one object (a dict, or raw JSON bytes) of a kind skewaudit reads and add it;
    ``at`` is where it starts (``file:line``, ``file:line:col`` in JSON)."""
    ext = kinds.by_api(api_version, kind)
    if ext is not None:
        typ: Any = ext.struct
        kind = ext.kind
    else:
        typ = k.KINDS.get(kind) if isinstance(kind, str) else None
    if typ is None:
        # Secrets and every other kind: skipped unread, only the name kept so that a
        # target naming it hears "found, kind not supported" rather than "not found"
        if isinstance(kind, str) and kind not in _NOT_WORKLOADS and isinstance(md.get("name"), str):
            ns = md.get("namespace") if isinstance(md.get("namespace"), str) else (namespace or "")
            inv.others.setdefault(md["name"], []).append((kind, ns))
        return
    try:
        if isinstance(obj, dict):
            o = msgspec.convert(obj, typ, strict=False)
        else:
            o = msgspec.json.decode(obj, type=typ, strict=False)
    except msgspec.ValidationError as e:
        ns = md.get("namespace") or namespace or ""
        where = containers._obj(kind, ns if isinstance(ns, str) else "", str(md.get("name", "?")))
        area = ext.area if ext is not None else _AREA.get(kind, "workload")
        inv.issues.append(CollectionIssue(scope=where, kind="malformed", area=area,
                                          message=f"{at}: {where}: {e}"))
        return
    except msgspec.DecodeError as e:   # the bytes themselves (invalid UTF-8 in a string the head skipped)
        raise InputError(f"{at}: {kind} {md.get('name', '')!s:.60}: {e}") from None
    if not o.metadata.name:
        _warn(f"{at}: {kind} without metadata.name; ignored")
        return
    if not o.metadata.namespace and kind not in ("Node", "ClusterServingRuntime"):
        o.metadata.namespace = namespace or ""
    bad = quantities.drop_invalid_quantities(kind, o)
    if bad:
        where = containers._obj(kind, o.metadata.namespace, o.metadata.name)
        inv.issues.append(quantities.quantity_issue(where, bad, str(at)))
    seen_kinds.add(kind)
    if ext is not None:
        if ext.pod_specs is not None:
            inv.saw(ext.kind, o.metadata.namespace, o.metadata.name)
            for _, spec in ext.pod_specs(o):
                quantities.canonical_quantities(spec)
        inv.crds.setdefault(ext.kind, []).append(o)
        return
    _add(inv, kind, o)


def _add(inv: b.Inventory, kind: str, o: Any) -> None:
    md = o.metadata
    if kind in b.WORKLOAD_KINDS:
        # owned ReplicaSets and pods are not workloads of their own: no near-name noise
        if kind not in ("ReplicaSet", "Pod") or b._controller(md) is None:
            inv.saw(kind, md.namespace, md.name)
        if kind != "InferenceService":
            quantities.canonical_quantities(o.spec if kind == "Pod" else o.spec.template.spec)
    if kind == "Pod":
        inv.pods.add(o)
    elif kind == "Deployment":
        inv.deployments.append(o)
    elif kind == "StatefulSet":
        inv.statefulsets.append(o)
    elif kind == "ReplicaSet":
        inv.replicasets.append(o)
    elif kind == "Job":
        inv.jobs.append(o)
    elif kind == "InferenceService":
        inv.isvcs.append(o)
    elif kind in ("ServingRuntime", "ClusterServingRuntime"):
        o.kind = kind
        inv.runtimes.append(o)
    elif kind == "Node":
        inv.nodes[md.name] = b.node_obs(o)
    elif kind == "HorizontalPodAutoscaler":
        inv.hpas.append(o)
    elif kind == "Service":
        inv.services.append(o)
    elif kind == "ConfigMap":
        inv.configmaps.add(o)


def scoped_targets(req: SourceRequest, default_ns: str | None) -> list[Target]:
    """The request's targets with the namespace flags applied: ``-n`` overrides a
    target's namespace; ``-A`` leaves unspecified ones open; with no targets,
    one open target (every serving workload in scope)."""
    out = []
    for t in req.targets or (Target(),):
        if req.namespace:
            ns = req.namespace
        elif t.namespace or req.all_namespaces:
            ns = t.namespace
        else:
            ns = default_ns
        out.append(Target(namespace=ns, kind=t.kind, name=t.name, selector=dict(t.selector),
                          container=t.container, context=t.context, fallback_name=t.fallback_name))
    return out


def pod_targets(targets: list[Target]) -> Any:
    """``keep_full`` for PodStore: pods a target names by kind Pod keep their spec."""
    named = {(t.namespace, t.name) for t in targets if b.kind_of(t.kind) == "Pod" and t.name}
    if not named:
        return None
    return lambda p: (p.metadata.namespace, p.metadata.name) in named or (None, p.metadata.name) in named


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def collect(req: SourceRequest) -> Snapshot:
    """Collect from ``req.manifests``."""
    from skewaudit import __version__

    targets = scoped_targets(req, None)
    inv, inputs = load_inventory(req.manifests, req.namespace, keep_pod=pod_targets(targets))
    selected, issues = b.select(inv, targets)
    workloads, nodes, more = b.build(inv, selected)
    return Snapshot(source="manifest", collected_at=now(), skewaudit_version=__version__, inputs=inputs,
                    workloads=workloads, nodes=nodes, issues=inv.issues + issues + more)
