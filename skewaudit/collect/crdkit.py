"""The shape every custom-resource family module shares: an object struct and its list
struct, and objects indexed by what they point at.

A family module (KEDA, routes, DRA, …) declares only its ``spec`` (and ``status``) structs;
:func:`resource` makes ``<Kind>`` (``metadata``, ``spec``[, ``status``]) and ``<Kind>List``
(``metadata``, ``items``) from them, with the base config of
:mod:`~skewaudit.collect.k8s_types` (API field names, unknown fields skipped). :func:`index`
is the join the shared builder does with them: a ScaledObject by the workload it scales,
a route by the Services it sends traffic to.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable, TypeVar

import msgspec

from skewaudit.collect import k8s_types as k

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


def resource(kind: str, spec: type, status: type | None = None, *, module: str) -> tuple[type, type]:
    """``(<kind> struct, <kind>List struct)`` for a resource whose body is ``spec`` (and ``status``)."""
    fields: list[tuple[str, Any, Any]] = [
        ("metadata", k.ObjectMeta, msgspec.field(default_factory=k.ObjectMeta)),
        ("spec", spec, msgspec.field(default_factory=spec)),
    ]
    if status is not None:
        fields.append(("status", status | None, None))
    obj = msgspec.defstruct(kind, fields, bases=(k._K,), module=module)
    page = msgspec.defstruct(f"{kind}List", [("metadata", k.ListMeta, msgspec.field(default_factory=k.ListMeta)),
                                             ("items", list[obj], [])], bases=(k._K,), module=module)
    return obj, page


def index(objs: Iterable[T], keys: Callable[[T], Iterable[tuple[K, Any]]]) -> dict[K, list]:
    """``key -> values`` for every ``(key, value)`` that ``keys(obj)`` yields, in input order, each
    value once per key (two rules of one route naming the same Service count once)."""
    out: dict[K, list] = {}
    for o in objs:
        for key, value in keys(o):
            bucket = out.setdefault(key, [])
            if value not in bucket:
                bucket.append(value)
    return out
