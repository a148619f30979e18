"""Accelerator classes other than NVIDIA GPUs, and what node labels say about them.

One row per class: its key (what a ModelSpec's ``accelerator.type`` uses), vendor,
memory per device, and the spellings labels and instance types use. Sources:

* AMD GPU operator / ROCm node labeller: ``amd.com/gpu.product-name``
  (``AMD_Instinct_MI300X_OAM``), ``amd.com/gpu.device-id`` (``74a1``),
  ``amd.com/gpu.vram`` (``192G``), ``amd.com/gpu.family`` (``AI``: a GFX family, not
  a product); the older labeller writes the same keys under ``beta.amd.com/``.
* GKE TPU node pools: ``cloud.google.com/gke-tpu-accelerator``
  (``tpu-v5-lite-podslice`` is v5e, ``tpu-v6e-slice`` v6e) and
  ``cloud.google.com/gke-tpu-topology`` (``2x4``); machine types ``ct5lp-*`` (v5e),
  ``ct6e-*`` (v6e), ``ct5p-*`` (v5p), ``ct4p-*`` (v4).
* AWS: Karpenter's ``karpenter.k8s.aws/instance-accelerator-name`` (``inferentia2``,
  ``trainium``) and ``…-count``; EC2 families ``inf1``/``inf2``/``trn1``/``trn1n``/
  ``trn2`` (Neuron) and ``dl1`` (Gaudi) in ``node.kubernetes.io/instance-type``.
* Intel Gaudi nodes carry no product label from the device plugin. Node Feature Discovery
  names the PCI device when its ``deviceLabelFields`` include ``device``
  (``feature.node.kubernetes.io/pci-1200_1da3_1020.present``: vendor 1da3 is Habana;
  device 1000/1010 Gaudi, 1020/1021/1030 Gaudi2, 1060/1063 Gaudi3, the habanalabs driver's
  ``PCI_IDS_*``); the default fields (class, vendor: ``pci-1200_1da3``) say only "a Habana
  device". Else the instance type (``dl1``), else unverifiable.

Names are compared as upper-case tokens without vendor words, so
``AMD Instinct MI300X``, ``AMD_Instinct_MI300X_OAM`` and ``mi300x`` are one class.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from skewaudit.model.observed import Fact, NodeObs, Prov, SourceKind


@dataclass(frozen=True)
class AccelClass:
    key: str                 # "mi300x", "tpu-v5e", "gaudi2", "inferentia2"
    vendor: str              # amd | google | intel | aws
    memory_gb: int           # per device (chip for TPUs)
    aliases: tuple[str, ...] = ()


# key, vendor, memory GB per device, spellings (labels, marketing names, instance families)
_ROWS: tuple[tuple[str, str, int, tuple[str, ...]], ...] = (
    ("mi100", "amd", 32, ("AMD Instinct MI100", "738c")),
    ("mi210", "amd", 64, ("AMD Instinct MI210", "740f")),
    ("mi250", "amd", 128, ("AMD Instinct MI250",)),
    ("mi250x", "amd", 128, ("AMD Instinct MI250X", "740c")),
    ("mi300a", "amd", 128, ("AMD Instinct MI300A", "74a0")),
    ("mi300x", "amd", 192, ("AMD Instinct MI300X", "AMD_Instinct_MI300X_OAM", "MI300X-O", "74a1")),
    ("mi325x", "amd", 256, ("AMD Instinct MI325X", "AMD_Instinct_MI325_OAM", "MI325", "74a5")),
    ("mi355x", "amd", 288, ("AMD Instinct MI355X", "AMD_Instinct_MI355X_OAM")),
    ("tpu-v4", "google", 32, ("v4", "tpu-v4-podslice", "ct4p")),
    ("tpu-v5e", "google", 16, ("v5e", "v5litepod", "tpu-v5-lite-podslice", "tpu-v5-lite-device", "ct5lp", "ct5l")),
    ("tpu-v5p", "google", 95, ("v5p", "tpu-v5p-slice", "ct5p")),
    ("tpu-v6e", "google", 32, ("v6e", "trillium", "tpu-v6e-slice", "ct6e")),
    ("gaudi", "intel", 32, ("gaudi1", "hl-205", "dl1")),
    ("gaudi2", "intel", 96, ("hl-225", "hl-225d")),
    ("gaudi3", "intel", 128, ("hl-325", "hl-325l")),
    ("inferentia", "aws", 8, ("inferentia1", "inf1")),
    ("inferentia2", "aws", 32, ("inf2",)),
    ("trainium", "aws", 32, ("trainium1", "trn1", "trn1n")),
    ("trainium2", "aws", 96, ("trn2", "trn2u")),
)
_DROP = {"AMD", "INSTINCT", "OAM", "GOOGLE", "CLOUD", "INTEL", "HABANA", "AWS", "AMAZON", "VF"}

CLASSES: dict[str, AccelClass] = {}
_BY_NAME: dict[str, AccelClass] = {}


def _norm(name: str) -> str:
    toks = re.split(r"[^A-Z0-9]+", name.upper())
    return "-".join(t for t in toks if t and t not in _DROP)


for _key, _vendor, _mem, _names in _ROWS:
    _cls = CLASSES[_key] = AccelClass(_key, _vendor, _mem, _names)
    for _n in (_key, *_names):
        _BY_NAME[_n.lower()] = _cls
        _BY_NAME.setdefault(_norm(_n), _cls)


def lookup(name: str | None) -> AccelClass | None:
    """The class any known spelling names: exact first, then normalized tokens, then the
    first token alone (``AMD-MI300X-192G`` -> mi300x)."""
    if not name or not str(name).strip():
        return None
    s = str(name).strip()
    cls = _BY_NAME.get(s.lower()) or _BY_NAME.get(_norm(s))
    if cls is None:
        first = _norm(s).split("-")[0]
        cls = _BY_NAME.get(first.lower()) if first else None
    return cls


def vendor_of(name: str | None) -> str | None:
    cls = lookup(name)
    return cls.vendor if cls else None


# --- node labels -------------------------------------------------------------------------------

_AMD_PREFIXES = ("amd.com/gpu.", "beta.amd.com/gpu.")
_L_TPU = "cloud.google.com/gke-tpu-accelerator"
_L_TPU_TOPO = "cloud.google.com/gke-tpu-topology"
_L_KARP_ACC = "karpenter.k8s.aws/instance-accelerator-name"
_L_KARP_ACC_N = "karpenter.k8s.aws/instance-accelerator-count"
_L_ITYPE = "node.kubernetes.io/instance-type"
_VRAM = re.compile(r"^(\d+(?:\.\d+)?)\s*([GM])i?B?$", re.I)
# Allocatable resources that count a node's accelerators, per vendor.
_COUNT_RESOURCES = {"amd": "amd.com/gpu", "google": "google.com/tpu", "intel": "habana.ai/gaudi",
                    "aws": "aws.amazon.com/neuron"}


_NFD_PCI = re.compile(r"^feature\.node\.kubernetes\.io/pci-([0-9a-f_]+)\.present$")
_HABANA = "1da3"
_HABANA_DEVICES = {"1000": "gaudi", "1010": "gaudi", "1020": "gaudi2", "1021": "gaudi2", "1030": "gaudi2",
                   "1060": "gaudi3", "1063": "gaudi3"}


def _habana_pci(labels: dict[str, str]) -> tuple[str, str] | None:
    """(label key, class key) of an NFD PCI label that names a Habana device by its ID."""
    for key, value in labels.items():
        m = _NFD_PCI.match(key)
        if m is None or value != "true":
            continue
        fields = m.group(1).split("_")
        if _HABANA in fields:
            i = fields.index(_HABANA)
            dev = fields[i + 1] if i + 1 < len(fields) else None
            if dev in _HABANA_DEVICES:
                return key, _HABANA_DEVICES[dev]
    return None


def _int(text: str | None) -> int | None:
    try:
        return int(str(text).strip())
    except (TypeError, ValueError):
        return None


def node_accel_facts(node: NodeObs) -> dict[str, Fact]:
    """Facts a node's labels state about a non-NVIDIA accelerator, with the keys of
    :func:`skewaudit.gpus.node_gpu_facts`: ``class`` (a class key, or the label as written
    when not in the table, with a note), ``vendor``, ``memory_mib`` (AMD ``vram``),
    ``count`` and ``topology`` (TPU slices)."""
    labels, obj = node.labels, f"Node/{node.name}"
    facts: dict[str, Fact] = {}

    def lab(key: str, value, raw: str | None = None, note: str | None = None) -> Fact:
        return Fact(value, Prov(SourceKind.NODE_LABEL, obj, f"metadata.labels[{key}]"), raw=raw, note=note)

    def put_class(key: str, raw: str, cls: AccelClass | None) -> None:
        if "class" in facts:
            return
        facts["class"] = lab(key, cls.key if cls else raw, raw=raw,
                             note=None if cls else "not in skewaudit's accelerator table")
        if cls is not None:
            facts["vendor"] = lab(key, cls.vendor)

    for prefix in _AMD_PREFIXES:
        name_key, dev_key, vram_key = f"{prefix}product-name", f"{prefix}device-id", f"{prefix}vram"
        if name_key in labels:
            put_class(name_key, labels[name_key], lookup(labels[name_key]))
        elif dev_key in labels and lookup(labels[dev_key]) is not None:
            put_class(dev_key, labels[dev_key], lookup(labels[dev_key]))
        if vram_key in labels and "memory_mib" not in facts:
            m = _VRAM.match(labels[vram_key].strip())
            if m:
                mib = int(float(m.group(1)) * (1024 if m.group(2).upper() == "G" else 1))
                facts["memory_mib"] = lab(vram_key, mib, raw=labels[vram_key])
        if "class" in facts and "vendor" not in facts:
            facts["vendor"] = lab(name_key if name_key in labels else dev_key, "amd")
    if _L_TPU in labels:
        put_class(_L_TPU, labels[_L_TPU], lookup(labels[_L_TPU]))
        facts.setdefault("vendor", lab(_L_TPU, "google"))
    if _L_TPU_TOPO in labels:
        facts["topology"] = lab(_L_TPU_TOPO, labels[_L_TPU_TOPO])
    if _L_KARP_ACC in labels:
        cls = lookup(labels[_L_KARP_ACC])
        if cls is not None or "class" not in facts:
            put_class(_L_KARP_ACC, labels[_L_KARP_ACC], cls)
        n = _int(labels.get(_L_KARP_ACC_N))
        if n is not None:
            facts.setdefault("count", lab(_L_KARP_ACC_N, n))
    habana = _habana_pci(labels) if "class" not in facts else None
    if habana is not None:
        key, cls_key = habana
        facts["class"] = lab(key, cls_key, note="Node Feature Discovery PCI label: the Habana device ID")
        facts["vendor"] = lab(key, "intel")
    itype = labels.get(_L_ITYPE, "")
    if itype and "class" not in facts:
        family = itype.split(".")[0].split("-")[0].lower()
        cls = lookup(family) if family else None
        if cls is not None:
            facts["class"] = lab(_L_ITYPE, cls.key, raw=itype, note=f"from the instance type {itype}")
            facts["vendor"] = lab(_L_ITYPE, cls.vendor)
    vendor = facts["vendor"].value if "vendor" in facts else None
    res = _COUNT_RESOURCES.get(vendor or "")
    if res and res in node.allocatable:
        n = _int(node.allocatable[res])
        facts["allocatable"] = Fact(n, Prov(SourceKind.NODE_STATUS, obj, f"status.allocatable[{res}]"))
    return facts


def same_class(declared: str, observed: str) -> bool | None:
    """Whether an observed class is the declared one; None when the declared name is unknown."""
    d = lookup(declared)
    if d is None:
        return None
    o = lookup(observed)
    return o is not None and o.key == d.key
