"""Extended resources of accelerator device plugins, by vendor.

A container asks for accelerators through ``resources.limits`` (requests default to
limits for extended resources). Each vendor's device plugin advertises its own names:

====================  =========  ===================================================
resource              vendor     device plugin
====================  =========  ===================================================
nvidia.com/gpu        nvidia     NVIDIA k8s-device-plugin (also ``gpu.shared`` when
                                 time-slicing renames it)
nvidia.com/mig-<p>    nvidia     the same plugin, MIG "mixed" strategy (``mig-1g.10gb``)
amd.com/gpu           amd        ROCm k8s-device-plugin / AMD GPU operator
google.com/tpu        google     GKE TPU node pools (chips per node)
habana.ai/gaudi       intel      Intel Gaudi (Habana) device plugin
aws.amazon.com/       aws        Neuron device plugin: ``neuron`` and ``neurondevice``
  neuron/neuroncore              are devices, ``neuroncore`` cores (2 per Inferentia2 /
                                 Trainium1 device)
gpu.intel.com/i915|xe intel      Intel GPU device plugin (Data Center GPU Max/Flex)
====================  =========  ===================================================

Any other resource with a domain (``vendor.example/fpga``) that is not a host resource
is *unmodelled*: a check that needs the accelerator count says so, naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from skewaudit import units

# resource name (or prefix ending in "-") -> (vendor, unit)
_EXACT: dict[str, tuple[str, str]] = {
    "nvidia.com/gpu": ("nvidia", "GPU"),
    "nvidia.com/gpu.shared": ("nvidia", "GPU (shared)"),
    "amd.com/gpu": ("amd", "GPU"),
    "google.com/tpu": ("google", "TPU chip"),
    "habana.ai/gaudi": ("intel", "Gaudi card"),
    "aws.amazon.com/neuron": ("aws", "Neuron device"),
    "aws.amazon.com/neurondevice": ("aws", "Neuron device"),
    "aws.amazon.com/neuroncore": ("aws", "NeuronCore"),
    "gpu.intel.com/i915": ("intel", "GPU"),
    "gpu.intel.com/xe": ("intel", "GPU"),
}
_PREFIX: tuple[tuple[str, str, str], ...] = (("nvidia.com/mig-", "nvidia", "MIG instance"),)
# Extended resources that are not accelerators (networking, hugepages, device files).
_NOT_ACCEL_PREFIX = ("hugepages-", "rdma/", "nvidia.com/hostdev", "smarter-devices/", "intel.com/sriov",
                     "openshift.io/", "devices.kubevirt.io/", "k8s.v1.cni.cncf.io/", "squat.ai/")
_HOST = {"cpu", "memory", "ephemeral-storage", "storage", "pods"}

# Spellings of accelerator.vendor -> the vendor key used here.
_VENDORS = {
    "nvidia": "nvidia", "amd": "amd", "google": "google", "gcp": "google", "tpu": "google",
    "intel": "intel", "habana": "intel", "gaudi": "intel", "aws": "aws", "amazon": "aws", "neuron": "aws",
}


def canonical_vendor(name: str | None) -> str | None:
    """``accelerator.vendor`` as a vendor key (``Google`` -> ``google``, ``habana`` -> ``intel``); None if unknown."""
    if not name:
        return None
    return _VENDORS.get(name.strip().lower())


@dataclass(frozen=True)
class Request:
    """One accelerator resource a container asks for."""

    resource: str            # "google.com/tpu"
    vendor: str | None       # None: not modelled
    unit: str                # "TPU chip"; the resource name when not modelled
    count: int | None        # None when the quantity is not a whole number
    path: str                # "resources.limits[google.com/tpu]"

    @property
    def mig_profile(self) -> str | None:
        return self.resource[len("nvidia.com/mig-"):] if self.resource.startswith("nvidia.com/mig-") else None


def classify(resource: str) -> tuple[str | None, str] | None:
    """(vendor, unit) for an accelerator resource, (None, name) for an unmodelled extended
    resource, None for host resources and known non-accelerators."""
    if resource in _EXACT:
        return _EXACT[resource]
    for prefix, vendor, unit in _PREFIX:
        if resource.startswith(prefix):
            return vendor, unit
    if resource in _HOST or "/" not in resource or resource.startswith(_NOT_ACCEL_PREFIX):
        return None
    return None, resource


def _count(q: Any) -> int | None:
    """A device count through skewaudit's one quantity parser (``"1k"`` is 1000, ``"500m"``,
    ``nan`` or ``1e999`` are None)."""
    try:
        return units.gpu_count(q)
    except ValueError:
        return None


# Results by the written resources (name, value type, value): every hardware check asks again for
# each pod group of each workload (~10,000 times in a 1,000-spec fleet audit) about the same
# few dozen resource tables. Requests are frozen; each caller gets its own list.
_MEMO: dict[tuple, list[Request]] = {}
_MEMO_MAX = 4096


def accelerator_requests(limits: dict[str, Any], requests: dict[str, Any]) -> list[Request]:
    """Every accelerator-like resource of one container (limits first: extended resources must
    have equal requests and limits, and limits are what the device plugin reads)."""
    try:
        key = (tuple((k, type(v), v) for k, v in limits.items()),
               tuple((k, type(v), v) for k, v in requests.items()))
        hit = _MEMO.get(key)
    except TypeError:   # an unhashable value (hand-built facts): not memoized
        return _requests(limits, requests)
    if hit is None:
        hit = _requests(limits, requests)
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[key] = hit
    return list(hit)


def _requests(limits: dict[str, Any], requests: dict[str, Any]) -> list[Request]:
    out: list[Request] = []
    for kind, table in (("limits", limits), ("requests", requests)):
        for res, q in table.items():
            if any(r.resource == res for r in out):
                continue
            c = classify(res)
            if c is None:
                continue
            vendor, unit = c
            out.append(Request(res, vendor, unit, _count(q), f"resources.{kind}[{res}]"))
    return out


RESOURCE_PREFIXES: tuple[str, ...] = (*_EXACT, *(p for p, _, _ in _PREFIX))


# DRA DeviceClass names of the vendors' DRA drivers (NVIDIA k8s-dra-driver-gpu: gpu.nvidia.com,
# mig.nvidia.com; Intel resource-drivers-for-kubernetes: gpu.intel.com, gaudi.intel.com; AMD
# k8s-gpu-dra-driver: gpu.amd.com). A class is named by its admin, so its words decide: an
# accelerator word (NVIDIA's compute-domain channels and NICs have none) and a vendor word.
_DRA_ACCEL = ("gpu", "mig", "tpu", "gaudi", "habana", "neuron")
_DRA_WORDS = (("nvidia", "nvidia"), ("amd", "amd"), ("gaudi", "intel"), ("habana", "intel"), ("intel", "intel"),
              ("tpu", "google"), ("google", "google"), ("neuron", "aws"), ("amazon", "aws"))


def dra_class_vendor(device_class: str | None) -> str | None:
    """The vendor of the accelerators a DRA DeviceClass names (``gpu.nvidia.com`` -> ``nvidia``); None
    when it names no accelerator (``compute-domain-default-channel.nvidia.com``) or no vendor."""
    name = (device_class or "").lower()
    if not any(w in name for w in _DRA_ACCEL):
        return None
    return next((v for word, v in _DRA_WORDS if word in name), None)
