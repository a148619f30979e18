"""One naming table for GPU classes, and what node labels and device reports say about GPUs.

Every place that names a GPU goes through :func:`lookup`: ModelSpec short names
(``a100-80gb``, ``h100``, ``l4``), NVML names (``NVIDIA A100-SXM4-80GB``,
``Tesla T4``, older drivers' ``A100-SXM4-40GB``), GPU Feature Discovery
``nvidia.com/gpu.product`` labels (``NVIDIA-H100-80GB-HBM3``, with ``-SHARED`` and
``-MIG-<profile>`` suffixes), GKE ``cloud.google.com/gke-accelerator`` values
(``nvidia-tesla-a100`` is the 40 GB part) and Karpenter
``karpenter.k8s.aws/instance-gpu-name`` values (``a100``, told apart by memory).

A family with several memory sizes (A100 40/80 GB, V100 16/32 GB, H100 80/94 GB)
also has a family-level class (key ``a100``, ``memory_gb`` 0): a spec that says
``a100`` accepts either part, and an observation that says only ``a100`` is
resolved by its memory or stays ambiguous.

VRAM: NVML and GFD report MiB below the marketing size (H100 81559 MiB for
"80GB", T4 15360 for "16GB"), so :func:`memory_matches` allows 7 % slack.

Facts from node labels (:func:`node_gpu_facts`) and from NVML or nvidia-smi
(:func:`report_gpu_facts`) use the same keys, so :func:`disagreements` can say
when stale labels and the device itself differ.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from skewaudit.model.observed import Fact, GpuReport, NodeObs, Prov, SourceKind

MEMORY_SLACK = 0.07   # NVML totals are 2-6 % under marketing GB (T4, L4, A10G, L40S)


@dataclass(frozen=True)
class GpuClass:
    """A GPU model as the audit compares it."""

    key: str                  # canonical ModelSpec short name: "a100-80gb", "l4"; family-level: "a100"
    family: str               # "a100", "h100", …
    memory_gb: int            # marketing size; 0 for a family-level class
    compute_capability: str   # "8.0"
    arch: str                 # ampere, hopper, ada-lovelace, turing, volta, blackwell, pascal, kepler
    bf16: bool                # compute capability >= 8.0
    aliases: tuple[str, ...] = ()


# key, family, memory GB, compute capability, arch, spellings (ModelSpec, NVML, older NVML, GKE).
# GFD products are the NVML names with spaces as dashes; they normalize to the same tokens, so they
# need no rows of their own. Karpenter names are the family names. Sources: serving-config.md §8, §10.1.
_ROWS: tuple[tuple[str, str, int, str, str, tuple[str, ...]], ...] = (
    ("k80", "k80", 12, "3.7", "kepler", ("Tesla K80", "nvidia-tesla-k80")),
    ("p4", "p4", 8, "6.1", "pascal", ("Tesla P4", "nvidia-tesla-p4")),
    ("p100", "p100", 16, "6.0", "pascal", ("p100-16gb", "Tesla P100-PCIE-16GB", "Tesla P100-SXM2-16GB",
                                           "nvidia-tesla-p100")),
    ("v100-16gb", "v100", 16, "7.0", "volta", ("Tesla V100-SXM2-16GB", "Tesla V100-PCIE-16GB",
                                                "nvidia-tesla-v100")),
    ("v100-32gb", "v100", 32, "7.0", "volta", ("Tesla V100-SXM2-32GB", "Tesla V100-PCIE-32GB")),
    ("t4", "t4", 16, "7.5", "turing", ("t4-16gb", "Tesla T4", "nvidia-tesla-t4")),
    ("a10g", "a10g", 24, "8.6", "ampere", ("a10g-24gb", "NVIDIA A10G")),
    # The A10 (Azure, OCI) is not the A10G (AWS): same chip family, different board and clocks.
    ("a10", "a10", 24, "8.6", "ampere", ("a10-24gb", "NVIDIA A10")),
    ("l4", "l4", 24, "8.9", "ada-lovelace", ("l4-24gb", "NVIDIA L4", "nvidia-l4")),
    ("l40", "l40", 48, "8.9", "ada-lovelace", ("l40-48gb", "NVIDIA L40")),
    ("l40s", "l40s", 48, "8.9", "ada-lovelace", ("l40s-48gb", "NVIDIA L40S")),
    ("a100-40gb", "a100", 40, "8.0", "ampere", ("NVIDIA A100-SXM4-40GB", "NVIDIA A100-PCIE-40GB",
                                                 "A100-SXM4-40GB", "nvidia-tesla-a100")),
    ("a100-80gb", "a100", 80, "8.0", "ampere", ("NVIDIA A100-SXM4-80GB", "NVIDIA A100 80GB PCIe",
                                                 "A100-SXM4-80GB", "nvidia-a100-80gb")),
    ("h100-80gb", "h100", 80, "9.0", "hopper", ("NVIDIA H100 80GB HBM3", "NVIDIA H100 PCIe",
                                                 "nvidia-h100-80gb", "nvidia-h100-mega-80gb")),
    ("h100-94gb", "h100", 94, "9.0", "hopper", ("h100-nvl", "NVIDIA H100 NVL")),
    ("h200", "h200", 141, "9.0", "hopper", ("h200-141gb", "NVIDIA H200", "NVIDIA H200 NVL",
                                            "nvidia-h200-141gb")),
    # Blackwell memory sizes are the vendors' per-GPU figures, not yet checked against NVML output.
    ("b200", "b200", 180, "10.0", "blackwell", ("b200-180gb", "NVIDIA B200", "nvidia-b200")),
    ("gb200", "gb200", 186, "10.0", "blackwell", ("NVIDIA GB200", "nvidia-gb200")),
    ("rtx-pro-6000", "rtx-pro-6000", 96, "12.0", "blackwell",
     ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "nvidia-rtx-pro-6000")),
)

_DROP_TOKENS = {"NVIDIA", "TESLA"}
_MEM_TOKEN = re.compile(r"^(\d+)G(?:B|IB)?$")
_GKE_PREFIX = "nvidia-"


def _bf16(cc: str) -> bool:
    return int(cc.split(".")[0]) >= 8


def _norm(name: str) -> str:
    """Upper-case tokens without vendor words: "NVIDIA A100 80GB PCIe" -> "A100-80GB-PCIE"."""
    toks = re.split(r"[^A-Z0-9.]+", name.upper())
    return "-".join(t for t in toks if t and t not in _DROP_TOKENS)


def _build() -> tuple[dict[str, GpuClass], dict[str, GpuClass], dict[str, GpuClass], dict[str, list[GpuClass]]]:
    classes: dict[str, GpuClass] = {}
    exact: dict[str, GpuClass] = {}
    normed: dict[str, GpuClass] = {}
    families: dict[str, list[GpuClass]] = {}
    for key, family, mem, cc, arch, names in _ROWS:
        cls = GpuClass(key, family, mem, cc, arch, _bf16(cc), names)
        classes[key] = cls
        families.setdefault(family, []).append(cls)
    for family, members in families.items():
        if len(members) > 1 and family not in classes:
            first = members[0]
            classes[family] = GpuClass(family, family, 0, first.compute_capability, first.arch, first.bf16)
    for cls in classes.values():
        for spelling in (cls.key, *cls.aliases):
            exact[spelling.lower()] = cls
            # GKE values are matched exactly only: "nvidia-tesla-a100" normalizes to "A100", which
            # must stay the ambiguous family, not the 40 GB part GKE means by it.
            if not spelling.lower().startswith(_GKE_PREFIX) or " " in spelling or spelling != spelling.lower():
                normed[_norm(spelling)] = cls
    return classes, exact, normed, families


CLASSES, _EXACT, _NORMED, _FAMILIES = _build()


def split_product(label: str) -> tuple[str, str | None, bool]:
    """Split a GFD product label (or NVML MIG device name) into (product, mig_profile, shared).

    ``NVIDIA-A100-SXM4-40GB-MIG-1g.5gb-SHARED`` -> ``("NVIDIA-A100-SXM4-40GB", "1g.5gb", True)``;
    ``NVIDIA A100-SXM4-40GB MIG 1g.5gb`` (NVML MIG device) -> the same without sharing.
    """
    product = label.strip()
    shared = False
    if product.upper().endswith("-SHARED"):
        product, shared = product[: -len("-SHARED")], True
    m = re.search(r"[-\s]MIG[-\s](\S+)$", product, re.IGNORECASE)
    profile = None
    if m:
        product, profile = product[: m.start()], m.group(1)
    return product, profile, shared


def _by_memory(family: str, memory_mib: int) -> GpuClass | None:
    fits = [c for c in _FAMILIES.get(family, []) if memory_matches(c.memory_gb, memory_mib)]
    return min(fits, key=lambda c: abs(c.memory_gb * 1024 - memory_mib)) if fits else None


def _family_class(family: str) -> GpuClass | None:
    members = _FAMILIES.get(family, [])
    return members[0] if len(members) == 1 else CLASSES.get(family)


def _parse_tokens(normed: str) -> GpuClass | None:
    """Fallback for spellings not in the table: family token first, then an optional "80GB" token."""
    toks = normed.split("-")
    family = toks[0].lower() if toks else ""
    if family not in _FAMILIES:
        return None
    mems = [int(m.group(1)) for t in toks[1:] if (m := _MEM_TOKEN.match(t))]
    if not mems:
        return _family_class(family)
    exact = [c for c in _FAMILIES[family] if c.memory_gb == mems[0]]
    return exact[0] if exact else None


@functools.lru_cache(maxsize=1024)
def lookup(name: str, memory_mib: int | None = None) -> GpuClass | None:
    """The class ``name`` means in any of the spellings this module knows, or None.

    ``memory_mib`` resolves family-only names (Karpenter ``a100``) to a memory class.
    Cached: the classes are frozen, and checks ask again for every pod group of every workload.
    """
    if not name or not name.strip():
        return None
    product, _, _ = split_product(name)
    cls = _EXACT.get(product.lower())
    if cls is None:
        normed = _norm(product)
        cls = _NORMED.get(normed) or _parse_tokens(normed)
    if cls is not None and cls.memory_gb == 0 and memory_mib:
        cls = _by_memory(cls.family, memory_mib) or cls
    return cls


def same_class(declared: str, observed: str, observed_memory_mib: int | None = None) -> bool | None:
    """Whether an observed GPU is the declared class; None when either name is unknown or the
    observation is too vague (Karpenter ``a100`` without memory against ``a100-80gb``)."""
    d, o = lookup(declared), lookup(observed, observed_memory_mib)
    if d is None or o is None:
        return None
    if d.family != o.family:
        return False
    if d.memory_gb == 0:
        return True
    if o.memory_gb == 0:
        return None
    return d.key == o.key


def memory_matches(declared_gb: float, observed_mib: int) -> bool:
    """A declared marketing size ("80GB") against NVML/GFD MiB (81559), with 7 % slack."""
    if declared_gb <= 0 or observed_mib <= 0:
        return False
    return abs(observed_mib / 1024 - declared_gb) <= MEMORY_SLACK * declared_gb


def cuda_from_int(v: int) -> str:
    """NVML's CUDA driver version integer as text: 12040 -> "12.4"."""
    return f"{v // 1000}.{(v % 1000) // 10}"


# --- node labels -------------------------------------------------------------------------------

_GFD = "nvidia.com/"
_L_PRODUCT = "nvidia.com/gpu.product"
_L_MEMORY = "nvidia.com/gpu.memory"
_L_GKE_ACC = "cloud.google.com/gke-accelerator"
_L_KARP_NAME = "karpenter.k8s.aws/instance-gpu-name"
_L_KARP_MEM = "karpenter.k8s.aws/instance-gpu-memory"


def _int(text: str) -> int | None:
    try:
        return int(text.strip())
    except (ValueError, AttributeError):
        return None


def _version(labels: dict[str, str], full: str, parts: tuple[str, ...]) -> tuple[str, str] | None:
    """(value, label key) from a ``….full`` label or from its split parts (GFD keeps "02" as is)."""
    if labels.get(full):
        return labels[full], full
    got = [labels.get(p, "") for p in parts]
    if got[0]:
        base = parts[0].rsplit(".", 1)[0]
        names = ",".join(p.rsplit(".", 1)[1] for p in parts)
        return ".".join(g for g in got if g), f"{base}.{{{names}}}"
    return None


def node_gpu_facts(node: NodeObs) -> dict[str, Fact]:
    """GPU facts a node's labels and allocatable resources state.

    Keys: ``class``, ``product``, ``memory_mib`` (``mig_memory_mib`` per MIG instance under the single
    strategy), ``count``, ``allocatable``, ``driver_version``, ``cuda_driver_version``, ``mig_strategy``,
    ``mig_profile``, ``compute_capability``, ``sharing``. When several label sets speak to one key
    (GFD > GKE > Karpenter), the winner is under the key and every source also under ``key@gfd``,
    ``key@gke``, ``key@karpenter`` so :func:`source_disagreements` can report stale labels.
    """
    labels = node.labels
    obj = f"Node/{node.name}"

    def lab(key: str, value, raw: str | None = None, note: str | None = None) -> Fact:
        path = key if key.startswith("metadata.") else f"metadata.labels[{key}]"
        return Fact(value, Prov(SourceKind.NODE_LABEL, obj, path), raw=raw, note=note)

    cands: dict[str, list[tuple[str, Fact]]] = {}

    def add(key: str, src: str, fact: Fact) -> None:
        cands.setdefault(key, []).append((src, fact))

    facts: dict[str, Fact] = {}
    if _L_PRODUCT in labels:
        raw = labels[_L_PRODUCT]
        product, profile, shared = split_product(raw)
        mem = _int(labels.get(_L_MEMORY, ""))
        cls = lookup(product, None if profile else mem)
        facts["product"] = lab(_L_PRODUCT, raw)
        add("class", "gfd", lab(_L_PRODUCT, cls.key if cls else product, raw=raw,
                                note=None if cls else "not in skewaudit's GPU class table"))
        if profile:
            add("mig_profile", "gfd", lab(_L_PRODUCT, profile, raw=raw))
        if shared:
            add("sharing", "gfd", lab(_L_PRODUCT, "shared", raw=raw,
                                      note="-SHARED product: time-slicing or MPS replicas"))
        if _L_MEMORY in labels:
            key = "mig_memory_mib" if profile else "memory_mib"
            add(key, "gfd", lab(_L_MEMORY, mem, raw=None if mem is not None else labels[_L_MEMORY]))
    if _L_GKE_ACC in labels:
        raw = labels[_L_GKE_ACC]
        cls = lookup(raw)
        add("class", "gke", lab(_L_GKE_ACC, cls.key if cls else raw, raw=raw,
                                note=None if cls else "not in skewaudit's GPU class table"))
    if _L_KARP_NAME in labels:
        raw = labels[_L_KARP_NAME]
        mem = _int(labels.get(_L_KARP_MEM, ""))
        cls = lookup(raw, mem)
        add("class", "karpenter", lab(_L_KARP_NAME, cls.key if cls else raw, raw=raw,
                                      note=None if cls else "not in skewaudit's GPU class table"))
        if mem is not None:
            add("memory_mib", "karpenter", lab(_L_KARP_MEM, mem, note="EC2 marketing size, not NVML's"))
    for src, key in (("gfd", "nvidia.com/gpu.count"), ("gke", "cloud.google.com/gke-accelerator-count"),
                     ("karpenter", "karpenter.k8s.aws/instance-gpu-count")):
        if key in labels:
            n = _int(labels[key])
            add("count", src, lab(key, n, raw=None if n is not None else labels[key]))
    for key, lkey in (("mig_profile", "cloud.google.com/gke-gpu-partition-size"),
                      ("sharing", "cloud.google.com/gke-gpu-sharing-strategy")):
        if lkey in labels:
            add(key, "gke", lab(lkey, labels[lkey]))
    if "nvidia.com/gpu.sharing-strategy" in labels:
        cands.setdefault("sharing", []).insert(0, ("gfd", lab("nvidia.com/gpu.sharing-strategy",
                                                             labels["nvidia.com/gpu.sharing-strategy"])))

    for key, found in cands.items():
        facts[key] = found[0][1]
        for src, fact in found:
            facts.setdefault(f"{key}@{src}", fact)

    drv = _version(labels, "nvidia.com/cuda.driver-version.full",
                   ("nvidia.com/cuda.driver-version.major", "nvidia.com/cuda.driver-version.minor",
                    "nvidia.com/cuda.driver-version.revision")) or \
        _version(labels, "", ("nvidia.com/cuda.driver.major", "nvidia.com/cuda.driver.minor",
                              "nvidia.com/cuda.driver.rev"))
    if drv:
        facts["driver_version"] = lab(drv[1], drv[0])
    cuda = _version(labels, "nvidia.com/cuda.runtime-version.full",
                    ("nvidia.com/cuda.runtime-version.major", "nvidia.com/cuda.runtime-version.minor")) or \
        _version(labels, "", ("nvidia.com/cuda.runtime.major", "nvidia.com/cuda.runtime.minor"))
    if cuda:
        facts["cuda_driver_version"] = lab(cuda[1], cuda[0], note="CUDA version the driver supports")
    if "nvidia.com/gpu.compute.major" in labels:
        cc = ".".join(labels[k] for k in ("nvidia.com/gpu.compute.major", "nvidia.com/gpu.compute.minor")
                      if labels.get(k))
        facts["compute_capability"] = lab("nvidia.com/gpu.compute.{major,minor}", cc)
    if "nvidia.com/mig.strategy" in labels:
        facts["mig_strategy"] = lab("nvidia.com/mig.strategy", labels["nvidia.com/mig.strategy"])
    if "cloud.google.com/gke-gpu-driver-version" in labels:
        facts["driver_channel@gke"] = lab("cloud.google.com/gke-gpu-driver-version",
                                          labels["cloud.google.com/gke-gpu-driver-version"],
                                          note="a GKE install channel, not a driver version")

    for res, qty in node.allocatable.items():
        if res == "nvidia.com/gpu" or res.startswith(("nvidia.com/mig-", "nvidia.com/gpu.")):
            n = _int(qty)
            key = "allocatable" if res == "nvidia.com/gpu" else f"allocatable@{res[len(_GFD):]}"
            facts[key] = Fact(n, Prov(SourceKind.NODE_STATUS, obj, f"status.allocatable[{res}]"),
                              raw=None if n is not None else qty)
    return facts


# --- device reports (NVML, nvidia-smi through exec) --------------------------------------------


def report_gpu_facts(report: GpuReport) -> dict[str, Fact]:
    """The :func:`node_gpu_facts` keys from an NVML or exec report; empty when it is unavailable
    (its ``reason`` is the collection issue)."""
    if report.status != "ok":
        return {}

    def f(path: str, value, raw: str | None = None, note: str | None = None) -> Fact:
        return Fact(value, Prov(report.source, report.object, path), raw=raw, note=note)

    facts: dict[str, Fact] = {}
    if report.driver_version:
        facts["driver_version"] = f("driver_version", report.driver_version)
    if report.cuda_driver_version:
        facts["cuda_driver_version"] = f("cuda_driver_version", report.cuda_driver_version,
                                         note="CUDA version the driver supports")
    if report.nvml_version:
        facts["nvml_version"] = f("nvml_version", report.nvml_version)
    if not report.devices:
        return facts
    d0 = report.devices[0]
    mib = d0.memory_total_bytes // 2**20 if d0.memory_total_bytes else None
    cls = lookup(d0.name, mib)
    names = sorted({d.name for d in report.devices})
    note = f"devices differ: {', '.join(names)}" if len(names) > 1 else None
    if cls is None:
        note = "; ".join(n for n in ("not in skewaudit's GPU class table", note) if n)
    facts["class"] = f("devices[0].name", cls.key if cls else d0.name, raw=d0.name, note=note)
    facts["product"] = f("devices[0].name", d0.name)
    if mib is not None:
        facts["memory_mib"] = f("devices[0].memory_total_bytes", mib)
    # Devices this process may use (after CUDA_VISIBLE_DEVICES), not the node's total: never
    # compared with the node's count by disagreements().
    facts["count"] = f("devices", len(report.devices), note=report.visible_devices)
    if d0.compute_capability:
        facts["compute_capability"] = f("devices[0].compute_capability", d0.compute_capability)
    if d0.mig_mode is not None:
        facts["mig_mode"] = f("devices[0].mig_mode", d0.mig_mode)
    profiles = sorted({m.profile for d in report.devices for m in d.mig_devices if m.profile})
    if profiles:
        facts["mig_profile"] = f("devices[0].mig_devices[0].profile", profiles[0],
                                 note=f"mixed MIG profiles: {', '.join(profiles)}" if len(profiles) > 1 else None)
    return facts


def _vtuple(v: object) -> tuple:
    parts = re.findall(r"\d+|[A-Za-z]+", str(v))
    return tuple(int(p) if p.isdigit() else p.lower() for p in parts)


def _differ(key: str, a: Fact, b: Fact, memory_mib: int | None) -> bool:
    if key == "class":
        return same_class(str(a.value), str(b.value), memory_mib) is False
    if key in ("memory_mib", "mig_memory_mib"):
        x, y = int(a.value), int(b.value)
        return abs(x - y) > MEMORY_SLACK * max(x, y)
    if key in ("driver_version", "cuda_driver_version", "compute_capability"):
        return _vtuple(a.value) != _vtuple(b.value)
    return str(a.value).strip().lower() != str(b.value).strip().lower()


# Keys two sources can honestly disagree on. Not "count": a pod sees its allocation, a node all GPUs.
_COMPARED = ("class", "memory_mib", "driver_version", "cuda_driver_version", "compute_capability", "mig_profile")


def disagreements(a: dict[str, Fact], b: dict[str, Fact]) -> list[tuple[str, Fact, Fact]]:
    """Keys both fact sets state with different values (class by :func:`same_class`, memory with
    slack, versions numerically: "550.107.02" == "550.107.2")."""
    out = []
    mem = b.get("memory_mib")
    for key in _COMPARED:
        fa, fb = a.get(key), b.get(key)
        if fa is None or fb is None or fa.value is None or fb.value is None:
            continue
        if _differ(key, fa, fb, mem.value if mem and isinstance(mem.value, int) else None):
            out.append((key, fa, fb))
    return out


def source_disagreements(facts: dict[str, Fact]) -> list[tuple[str, Fact, Fact]]:
    """Within one node: label sets that contradict the winning one (``class@gke`` vs GFD's)."""
    out = []
    for name, other in facts.items():
        key, _, src = name.partition("@")
        winner = facts.get(key)
        if not src or key not in _COMPARED or winner is None or other is winner or other == winner:
            continue
        if winner.value is not None and other.value is not None and _differ(key, winner, other, None):
            out.append((key, winner, other))
    return out
