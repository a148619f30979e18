"""Resource quantities in pod specs: checked as the API server would, written as it prints them.

Split from :mod:`skewaudit.collect.containers` (which builds container facts from what
survives here): :func:`drop_invalid_quantities` removes every quantity the API server would
refuse (and device counts that are not whole numbers) and says where, so observed facts only
ever hold valid quantities; :func:`quantity_issue` is the collection issue for them;
:func:`canonical_quantities` writes YAML numbers as the API prints them (``4`` -> ``"4"``) so
a manifest and a pod read back from a cluster compare equal; every pod spec read passes through
it, so it also folds the pod's volumes into its containers' mounts (:func:`mounts.attach`), as it
did before the split. Pure: no I/O.
"""

from __future__ import annotations

import functools
from typing import Any

from skewaudit import units
from skewaudit.collect import k8s_types as k
from skewaudit.collect import mounts
from skewaudit.model.observed import CollectionIssue

# Accelerator resources of every vendor (skewaudit.accelerators.resources): counted, not sized.
GPU_RESOURCE_PREFIXES = units.DEVICE_RESOURCE_PREFIXES


def quantity_str(q: Any) -> str:
    """A quantity as the API would print it (YAML ints become ``"1"``)."""
    if isinstance(q, float) and q.is_integer():
        return str(int(q))
    return str(q)


@functools.lru_cache(maxsize=4096)
def _quantity_problem(value: str | int | float, device: bool) -> str | None:
    # Cached: a fleet repeats the same few values ("4", "128Gi") in every pod.
    try:
        (units.gpu_count if device else units.parse_quantity)(value)
    except ValueError as e:
        return str(e)
    return None


def _check_quantities(d: dict, path: str, out: list[str]) -> None:
    bad = []
    for key, v in d.items():
        why = _quantity_problem(v, str(key).startswith(GPU_RESOURCE_PREFIXES)) \
            if isinstance(v, (str, int, float)) else f"not a quantity: {type(v).__name__}"
        if why is not None:
            bad.append(key)
            out.append(f"{path}[{key}]: {why}")
    for key in bad:
        del d[key]


_POD_KINDS = ("Pod", "Deployment", "StatefulSet", "ReplicaSet", "Job")


def drop_invalid_quantities(kind: str, o: Any) -> list[str]:
    """Remove from ``o`` (a decoded object of ``kind``) every resource quantity the API server
    would reject, and every device count (``nvidia.com/gpu``…) that is not a whole number;
    returns one ``path: why`` line each. Observed facts then only ever hold valid
    quantities (a snapshot round-trips), and the caller records a collection issue so
    what depended on them is unverifiable, never a crash or a guess."""
    out: list[str] = []
    conts: list[tuple[str, k.Container | None]] = []
    if kind == "Node":
        st = o.status
        if st is not None:
            _check_quantities(st.allocatable, "status.allocatable", out)
            _check_quantities(st.capacity, "status.capacity", out)
        return out
    if kind == "InferenceService":
        pred = o.spec.predictor
        conts.append(("spec.predictor.model", pred.model))
        conts += [(f"spec.predictor.containers[{i}]", c) for i, c in enumerate(pred.containers)]
    elif kind in ("ServingRuntime", "ClusterServingRuntime"):
        conts += [(f"spec.containers[{i}]", c) for i, c in enumerate(o.spec.containers)]
    elif kind in _POD_KINDS:
        spec = o.spec if kind == "Pod" else getattr(getattr(o.spec, "template", None), "spec", None)
        if spec is None:
            return out
        base = "spec" if kind == "Pod" else "spec.template.spec"
        conts += [(f"{base}.containers[{i}]", c) for i, c in enumerate(spec.containers)]
        conts += [(f"{base}.initContainers[{i}]", c) for i, c in enumerate(spec.init_containers)]
    for path, c in conts:
        r = c.resources if c is not None else None
        if r is not None:
            _check_quantities(r.limits, f"{path}.resources.limits", out)
            _check_quantities(r.requests, f"{path}.resources.requests", out)
    return out


def quantity_issue(obj: str, problems: list[str], at: str = "") -> CollectionIssue:
    """The collection issue for :func:`drop_invalid_quantities`' findings on ``obj``."""
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return CollectionIssue(scope=obj, kind="malformed", area="resources",
                           message=f"{at + ': ' if at else ''}{obj}: {problems[0]}{more}; "
                                   "what depends on it is unverifiable")


def canonical_quantities(spec: k.PodSpec) -> None:
    """Write YAML-int quantities as the API prints them (``4`` -> ``"4"``), in
    place, so a manifest template and a pod read back from a cluster compare
    equal; and fold the pod's volumes into its containers' mounts (:func:`mounts.attach`),
    which every pod spec read passes through here."""
    mounts.attach(spec)
    for c in (*spec.containers, *spec.init_containers):
        r = c.resources
        if r is not None:
            # Live objects already carry strings: rebuild only what YAML wrote as numbers.
            if any(type(v) is not str for v in r.limits.values()):
                r.limits = {key: quantity_str(v) for key, v in r.limits.items()}
            if any(type(v) is not str for v in r.requests.values()):
                r.requests = {key: quantity_str(v) for key, v in r.requests.items()}
