"""Files a container sees through its volume mounts: an engine's ``--config FILE`` read
from the ConfigMap it is mounted from.

Kubernetes semantics (core/v1 ``Volume``, ``VolumeMount``):

* a ``configMap`` volume mounted at a directory shows each key as a file of the same
  name, or, with ``items``, only the listed keys at their ``path`` (which may hold
  sub-directories);
* a mount with ``subPath`` puts one entry of the volume (a key, or an item's path) at
  ``mountPath`` itself;
* the longest mount path that contains the file wins (a mount shadows what is below it).

A file no ConfigMap mount covers is baked into the image (or on a volume skewaudit does not
read: emptyDir, PVC): unverifiable, never a pass; a file on a Secret volume says so (Secrets
are never read). The ConfigMap's text is untrusted input: the same YAML guards
as manifests (:mod:`skewaudit.yamlsafe`), and only a mapping is accepted.

:func:`attach` folds each pod's volumes into its containers' mounts when the pod spec is
read, so a container spec alone says where its files come from.
"""

from __future__ import annotations

import posixpath
from typing import Callable

from skewaudit.collect import k8s_types as k
from skewaudit.runtimes import ConfigFile

def attach(spec: k.PodSpec) -> None:
    """Record on each container mount the volume it names, keeping only ConfigMap and Secret
    mounts (in place; idempotent). Other mounts (emptyDir, PVCs, the ServiceAccount token the
    admission plugin adds to every pod) say nothing skewaudit can read, and dropping them
    keeps a running pod's container equal to its template's, which is how the current
    revision is told apart."""
    by_name = {v.name: v for v in spec.volumes}
    for c in (*spec.containers, *spec.init_containers):
        if not c.volume_mounts:
            continue
        kept = []
        for vm in c.volume_mounts:
            vol = by_name.get(vm.name)
            if vm.source is None and vol is not None and (vol.config_map is not None or vol.secret is not None):
                vm.source = k.MountSource(kind="configMap" if vol.config_map is not None else "secret",
                                          config_map=vol.config_map)
            if vm.source is not None:
                kept.append(vm)
        c.volume_mounts = kept


def configmap_names(c: k.Container) -> list[str]:
    """The ConfigMaps a container mounts (for live collection to fetch)."""
    return [vm.source.config_map.name for vm in c.volume_mounts
            if vm.source is not None and vm.source.config_map is not None and vm.source.config_map.name]


def locate(path: str, mounts: list[k.VolumeMount]) -> tuple[k.VolumeMount, str] | str:
    """(mount, ConfigMap key) of the file at ``path``, or why it does not come from a ConfigMap."""
    if not path.startswith("/"):
        return (f"{path} is a relative path: it depends on the image's working directory, so the file "
                "cannot be located")
    path = posixpath.normpath(path)
    best: tuple[k.VolumeMount, str] | None = None
    for vm in mounts:
        mp = posixpath.normpath(vm.mount_path or "/")
        if vm.sub_path:
            rel = vm.sub_path if path == mp else None
        else:
            rel = path[len(mp):].lstrip("/") if path == mp or path.startswith(mp.rstrip("/") + "/") else None
        if rel is not None and (best is None or len(mp) > len(posixpath.normpath(best[0].mount_path or "/"))):
            best = (vm, rel)
    if best is None:
        return (f"no ConfigMap is mounted at {path}: the file is baked into the image (or on a volume "
                "skewaudit does not read), its values are not visible")
    vm, rel = best
    src = vm.source
    if src is None or src.config_map is None:
        return f"{path} is on the Secret volume {vm.name!r}: Secrets are never read"
    if not rel:
        return f"{path} is the mount point of ConfigMap volume {vm.name!r} (a directory), not a file"
    items = src.config_map.items
    if items:
        item = next((i for i in items if posixpath.normpath(i.path) == posixpath.normpath(rel)), None)
        if item is None:
            return (f"{path}: ConfigMap {src.config_map.name} volume {vm.name!r} projects only "
                    f"{', '.join(i.path for i in items)} (items), not {rel}")
        return vm, item.key
    if "/" in rel:
        return f"{path}: ConfigMap volume {vm.name!r} has no sub-directory {posixpath.dirname(rel)}"
    return vm, rel


def reader(c: k.Container, ns: str, cms, scope: str) -> Callable[[str], ConfigFile]:
    """The container's config-file reader: a path in the container -> the file (``cms``: the
    ConfigMaps read, :class:`~skewaudit.collect.containers.ConfigMaps`)."""
    from skewaudit.collect.containers import _obj

    def read(path: str) -> ConfigFile:
        found = locate(path, c.volume_mounts)
        if isinstance(found, str):
            return ConfigFile(None, reason=found)
        vm, key = found
        cm = vm.source.config_map   # type: ignore[union-attr]
        obj = _obj("ConfigMap", ns, cm.name)
        where = f"data[{key}]"
        data = cms.get(ns, cm.name, scope, cm.optional)
        if data is None:
            why = "does not exist" if cms.available else f"was not read ({cms.why})"
            return ConfigFile(None, obj, where, f"{obj} (mounted at {vm.mount_path}) {why}")
        if key not in data:
            return ConfigFile(None, obj, where, f"{obj} has no key {key!r} (mounted at {vm.mount_path})")
        values, why = parse(data[key])
        return ConfigFile(values, obj, where, None if values is not None else f"{obj} {where}: {why}")

    return read


def parse(text: str) -> tuple[dict | None, str | None]:
    """A config file's mapping, through the same guards as manifests; (None, why) otherwise."""
    import yaml

    from skewaudit import yamlsafe

    try:
        yamlsafe.check(text, limit_plain_nodes=True)
        doc, _ = yamlsafe.load_document(text)
    except yamlsafe.Refused as e:
        return None, f"line {e.line}:{e.col}: {e.text}"
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        at = f"line {mark.line + 1}:{mark.column + 1}: " if mark else ""
        return None, f"{at}not valid YAML ({e.problem or e.context})"
    except yaml.YAMLError as e:
        return None, f"not valid YAML ({type(e).__name__})"
    if not isinstance(doc, dict):
        return None, f"not a mapping of flag names to values (a {type(doc).__name__})"
    return doc, None
