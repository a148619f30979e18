"""The GPU naming table, VRAM matching, node-label facts and source disagreements (skewaudit.gpus)."""

from __future__ import annotations

import re

import pytest

import fake_nvml
from skewaudit import gpus
from skewaudit.collect import nvml
from skewaudit.model.observed import NodeObs

# Every spelling issue 4 and serving-config.md §10.1 list, with the class it means.
NAME_FORMS = [
    # ModelSpec short names
    ("a100-80gb", "a100-80gb"), ("a100-40gb", "a100-40gb"), ("A100", "a100"), ("a100", "a100"),
    ("h100", "h100"), ("h100-80gb", "h100-80gb"), ("NVIDIA A100", "a100"), ("Tesla A100", "a100"), ("l4", "l4"), ("t4", "t4"), ("a10g", "a10g"),
    ("v100-16gb", "v100-16gb"), ("l40s", "l40s"), ("h200", "h200"), ("b200", "b200"), ("A100_80G", "a100-80gb"),
    # NVML names
    ("NVIDIA A100-SXM4-80GB", "a100-80gb"), ("NVIDIA A100-SXM4-40GB", "a100-40gb"),
    ("NVIDIA A100 80GB PCIe", "a100-80gb"), ("NVIDIA A100-PCIE-40GB", "a100-40gb"),
    ("NVIDIA H100 80GB HBM3", "h100-80gb"), ("NVIDIA H100 PCIe", "h100-80gb"), ("NVIDIA H100 NVL", "h100-94gb"),
    ("Tesla T4", "t4"), ("NVIDIA L4", "l4"), ("NVIDIA A10G", "a10g"), ("NVIDIA A10", "a10"),
    ("NVIDIA L40S", "l40s"), ("Tesla V100-SXM2-16GB", "v100-16gb"), ("NVIDIA H200", "h200"),
    ("NVIDIA B200", "b200"), ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "rtx-pro-6000"),
    ("A100-SXM4-40GB", "a100-40gb"), ("A100-SXM4-80GB", "a100-80gb"),            # old drivers: no "NVIDIA "
    ("NVIDIA A100-SXM4-40GB MIG 1g.5gb", "a100-40gb"),                           # an NVML MIG device
    # GFD gpu.product labels
    ("NVIDIA-H100-80GB-HBM3", "h100-80gb"), ("NVIDIA-H100-80GB-HBM3-SHARED", "h100-80gb"),
    ("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", "a100-40gb"), ("A100-SXM4-40GB-MIG-1g.5gb", "a100-40gb"),
    ("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb-SHARED", "a100-80gb"), ("Tesla-T4", "t4"),
    ("NVIDIA-A100-80GB-PCIe", "a100-80gb"), ("NVIDIA-L4", "l4"), ("NVIDIA-A10G", "a10g"), ("NVIDIA-L40S", "l40s"),
    ("Tesla-V100-SXM2-16GB", "v100-16gb"), ("NVIDIA-H100-PCIe", "h100-80gb"), ("NVIDIA-H100-NVL", "h100-94gb"),
    ("NVIDIA-H200", "h200"), ("NVIDIA-B200", "b200"),
    # GKE cloud.google.com/gke-accelerator values
    ("nvidia-tesla-a100", "a100-40gb"), ("nvidia-a100-80gb", "a100-80gb"), ("nvidia-tesla-t4", "t4"),
    ("nvidia-l4", "l4"), ("nvidia-h100-80gb", "h100-80gb"), ("nvidia-h100-mega-80gb", "h100-80gb"),
    ("nvidia-h200-141gb", "h200"), ("nvidia-tesla-v100", "v100-16gb"), ("nvidia-tesla-k80", "k80"),
    ("nvidia-tesla-p4", "p4"), ("nvidia-tesla-p100", "p100"), ("nvidia-b200", "b200"), ("nvidia-gb200", "gb200"),
    ("nvidia-rtx-pro-6000", "rtx-pro-6000"),
]

# Karpenter instance-gpu-name values with instance-gpu-memory (MiB, EC2 marketing sizes).
KARPENTER_FORMS = [
    ("a100", 40960, "a100-40gb"), ("a100", 81920, "a100-80gb"), ("t4", 16384, "t4"), ("a10g", 24576, "a10g"),
    ("l4", 24576, "l4"), ("l40s", 49152, "l40s"), ("h100", 81920, "h100-80gb"), ("v100", 16384, "v100-16gb"),
    ("v100", 32768, "v100-32gb"), ("h200", 144384, "h200"),
]


@pytest.mark.parametrize("name,key", NAME_FORMS)
def test_every_name_form_maps_to_its_class(name, key):
    cls = gpus.lookup(name)
    assert cls is not None, name
    assert cls.key == key


@pytest.mark.parametrize("name,mib,key", KARPENTER_FORMS)
def test_karpenter_names_resolve_with_memory(name, mib, key):
    assert gpus.lookup(name, mib).key == key


@pytest.mark.parametrize("cls", list(gpus.CLASSES.values()), ids=lambda c: c.key)
def test_each_class_maps_back_from_its_key_and_aliases(cls):
    assert gpus.lookup(cls.key) is cls
    assert gpus.lookup(cls.key.upper()) is cls
    for alias in cls.aliases:
        assert gpus.lookup(alias) is cls, alias
        if not alias.startswith("nvidia-"):
            # the GFD product label for an NVML name: spaces become dashes, optional -SHARED
            gfd = re.sub(r"\s+", "-", alias)
            assert gpus.lookup(gfd) is cls, gfd
            assert gpus.lookup(gfd + "-SHARED") is cls, gfd


def test_family_class_covers_memory_variants():
    a100 = gpus.lookup("a100")
    assert (a100.key, a100.memory_gb, a100.compute_capability, a100.arch, a100.bf16) == (
        "a100", 0, "8.0", "ampere", True)
    t4 = gpus.lookup("Tesla T4")
    assert (t4.family, t4.memory_gb, t4.compute_capability, t4.arch, t4.bf16) == ("t4", 16, "7.5", "turing", False)


@pytest.mark.parametrize("name", ["mi300x", "a100-50gb", "", "   ", "nvidia-tesla-z9", "Intel Arc"])
def test_unknown_names_are_none(name):
    assert gpus.lookup(name) is None


@pytest.mark.parametrize("declared,observed,mib,expected", [
    ("a100", "NVIDIA A100-SXM4-40GB", None, True),
    ("a100", "NVIDIA A100-SXM4-80GB", None, True),
    ("a100-80gb", "NVIDIA-A100-SXM4-80GB", None, True),
    ("a100-80gb", "nvidia-tesla-a100", None, False),      # GKE's nvidia-tesla-a100 is the 40 GB part
    ("a100-80gb", "a100", None, None),                    # Karpenter name without memory: cannot tell
    ("a100-80gb", "a100", 81920, True),
    ("a100-80gb", "a100", 40960, False),
    ("h100", "NVIDIA H100 80GB HBM3", None, True),
    ("h100", "NVIDIA H100 NVL", None, True),
    ("h100-80gb", "NVIDIA H100 NVL", None, False),
    ("a10g", "NVIDIA A10", None, False),                  # A10 (Azure/OCI) is not the A10G (AWS)
    ("l4", "Tesla T4", None, False),
    ("mi300x", "NVIDIA L4", None, None),
    ("l4", "Some New GPU", None, None),
])
def test_same_class(declared, observed, mib, expected):
    assert gpus.same_class(declared, observed, mib) is expected


@pytest.mark.parametrize("gb,mib,ok", [
    (80, 81559, True), (80, 81920, True), (16, 15360, True), (24, 23034, True), (24, 23028, True),
    (48, 46068, True), (141, 143771, True), (16, 16384, True),
    (40, 81559, False), (80, 40960, False), (94, 81559, False), (24, 15360, False), (0, 100, False),
])
def test_memory_matches_with_slack(gb, mib, ok):
    assert gpus.memory_matches(gb, mib) is ok


@pytest.mark.parametrize("v,text", [(12040, "12.4"), (11080, "11.8"), (12020, "12.2"), (13000, "13.0"),
                                    (12090, "12.9")])
def test_cuda_from_int(v, text):
    assert gpus.cuda_from_int(v) == text


@pytest.mark.parametrize("label,expected", [
    ("NVIDIA-H100-80GB-HBM3", ("NVIDIA-H100-80GB-HBM3", None, False)),
    ("NVIDIA-H100-80GB-HBM3-SHARED", ("NVIDIA-H100-80GB-HBM3", None, True)),
    ("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb", ("NVIDIA-A100-SXM4-40GB", "1g.5gb", False)),
    ("NVIDIA-A100-SXM4-80GB-MIG-1g.10gb.me-SHARED", ("NVIDIA-A100-SXM4-80GB", "1g.10gb.me", True)),
    ("NVIDIA-A100-SXM4-40GB-MIG-INVALID", ("NVIDIA-A100-SXM4-40GB", "INVALID", False)),
])
def test_split_product(label, expected):
    assert gpus.split_product(label) == expected


# --- node labels ---------------------------------------------------------------------------------

GFD_H100 = NodeObs(name="gpu-h100-1", labels={
    "nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3", "nvidia.com/gpu.memory": "81559", "nvidia.com/gpu.count": "8",
    "nvidia.com/cuda.driver-version.major": "550", "nvidia.com/cuda.driver-version.minor": "107",
    "nvidia.com/cuda.driver-version.revision": "02", "nvidia.com/cuda.runtime-version.major": "12",
    "nvidia.com/cuda.runtime-version.minor": "4", "nvidia.com/gpu.compute.major": "9",
    "nvidia.com/gpu.compute.minor": "0", "nvidia.com/mig.strategy": "none",
    "nvidia.com/gpu.sharing-strategy": "none",
}, allocatable={"nvidia.com/gpu": "8", "cpu": "190"})


def test_gfd_labels_give_every_fact_with_provenance():
    f = gpus.node_gpu_facts(GFD_H100)
    assert {k: f[k].value for k in ("class", "product", "memory_mib", "count", "allocatable", "driver_version",
                                    "cuda_driver_version", "compute_capability", "mig_strategy", "sharing")} == {
        "class": "h100-80gb", "product": "NVIDIA-H100-80GB-HBM3", "memory_mib": 81559, "count": 8, "allocatable": 8,
        "driver_version": "550.107.02", "cuda_driver_version": "12.4", "compute_capability": "9.0",
        "mig_strategy": "none", "sharing": "none"}
    assert f["class"].prov.source == "node-label"
    assert f["class"].prov.object == "Node/gpu-h100-1"
    assert f["class"].prov.path == "metadata.labels[nvidia.com/gpu.product]"
    assert f["class"].raw == "NVIDIA-H100-80GB-HBM3"
    assert f["allocatable"].prov.source == "node-status"
    assert f["allocatable"].prov.path == "status.allocatable[nvidia.com/gpu]"
    assert "cpu" not in str(list(f))


def test_deprecated_gfd_version_labels_keep_leading_zero():
    node = NodeObs(name="n", labels={"nvidia.com/cuda.driver.major": "535", "nvidia.com/cuda.driver.minor": "104",
                                     "nvidia.com/cuda.driver.rev": "05", "nvidia.com/cuda.runtime.major": "12",
                                     "nvidia.com/cuda.runtime.minor": "2"})
    f = gpus.node_gpu_facts(node)
    assert f["driver_version"].value == "535.104.05"
    assert f["driver_version"].prov.path == "metadata.labels[nvidia.com/cuda.driver.{major,minor,rev}]"
    assert f["cuda_driver_version"].value == "12.2"


def test_gfd_mig_single_and_shared_products():
    node = NodeObs(name="mig", labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-40GB-MIG-1g.5gb",
                                       "nvidia.com/gpu.memory": "4864", "nvidia.com/mig.strategy": "single"},
                   allocatable={"nvidia.com/gpu": "7"})
    f = gpus.node_gpu_facts(node)
    assert (f["class"].value, f["mig_profile"].value, f["mig_strategy"].value) == ("a100-40gb", "1g.5gb", "single")
    assert f["mig_memory_mib"].value == 4864 and "memory_mib" not in f   # per instance, not per GPU
    shared = gpus.node_gpu_facts(NodeObs(name="ts", labels={"nvidia.com/gpu.product": "Tesla-T4-SHARED"},
                                         allocatable={"nvidia.com/gpu.shared": "4"}))
    assert (shared["class"].value, shared["sharing"].value) == ("t4", "shared")
    assert shared["allocatable@gpu.shared"].value == 4


def test_mixed_mig_allocatable_resources():
    node = NodeObs(name="mixed", labels={"nvidia.com/mig.strategy": "mixed"},
                   allocatable={"nvidia.com/mig-1g.10gb": "7", "nvidia.com/mig-3g.40gb": "2"})
    f = gpus.node_gpu_facts(node)
    assert f["allocatable@mig-1g.10gb"].value == 7
    assert f["allocatable@mig-3g.40gb"].prov.path == "status.allocatable[nvidia.com/mig-3g.40gb]"


def test_gke_labels():
    node = NodeObs(name="gke-a2", labels={"cloud.google.com/gke-accelerator": "nvidia-tesla-a100",
                                          "cloud.google.com/gke-accelerator-count": "1",
                                          "cloud.google.com/gke-gpu-partition-size": "1g.5gb",
                                          "cloud.google.com/gke-gpu-driver-version": "latest"})
    f = gpus.node_gpu_facts(node)
    assert (f["class"].value, f["count"].value, f["mig_profile"].value) == ("a100-40gb", 1, "1g.5gb")
    assert f["class"].prov.path == "metadata.labels[cloud.google.com/gke-accelerator]"
    assert f["driver_channel@gke"].value == "latest" and "driver_version" not in f


def test_karpenter_labels_use_memory():
    node = NodeObs(name="ip-10-0-1-2", labels={"karpenter.k8s.aws/instance-gpu-name": "a100",
                                               "karpenter.k8s.aws/instance-gpu-memory": "81920",
                                               "karpenter.k8s.aws/instance-gpu-count": "8"})
    f = gpus.node_gpu_facts(node)
    assert (f["class"].value, f["class"].raw, f["memory_mib"].value, f["count"].value) == (
        "a100-80gb", "a100", 81920, 8)


def test_gfd_wins_over_gke_and_stale_labels_are_reported():
    node = NodeObs(name="n1", labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                                      "nvidia.com/gpu.memory": "81920",
                                      "cloud.google.com/gke-accelerator": "nvidia-tesla-a100"})
    f = gpus.node_gpu_facts(node)
    assert f["class"].value == "a100-80gb"
    assert f["class@gfd"] is f["class"]
    assert f["class@gke"].value == "a100-40gb"
    [(key, winner, other)] = gpus.source_disagreements(f)
    assert (key, winner.value, other.value) == ("class", "a100-80gb", "a100-40gb")
    agreeing = NodeObs(name="n2", labels={"nvidia.com/gpu.product": "NVIDIA-L4",
                                          "cloud.google.com/gke-accelerator": "nvidia-l4"})
    assert gpus.source_disagreements(gpus.node_gpu_facts(agreeing)) == []


def test_unknown_product_is_kept_raw_with_a_note():
    f = gpus.node_gpu_facts(NodeObs(name="x", labels={"nvidia.com/gpu.product": "NVIDIA-Z9000"}))
    assert f["class"].value == "NVIDIA-Z9000"
    assert "not in skewaudit's GPU class table" in f["class"].note


# --- device reports against node labels ------------------------------------------------------------


def _a100_report():
    return nvml.collect_gpus(fake_nvml.load("a100x4_nvlink"), env={"CUDA_VISIBLE_DEVICES": "0"})


def test_report_facts_carry_nvml_provenance():
    f = gpus.report_gpu_facts(_a100_report())
    assert {k: f[k].value for k in ("class", "product", "memory_mib", "count", "driver_version",
                                    "cuda_driver_version", "compute_capability", "mig_mode")} == {
        "class": "a100-80gb", "product": "NVIDIA A100-SXM4-80GB", "memory_mib": 81920, "count": 1,
        "driver_version": "550.107.02", "cuda_driver_version": "12.4", "compute_capability": "8.0", "mig_mode": False}
    assert f["class"].prov.source == "nvml"
    assert f["class"].prov.path == "devices[0].name"
    assert f["count"].note == "CUDA_VISIBLE_DEVICES=0"


def test_report_facts_mig_profiles_and_unavailable():
    f = gpus.report_gpu_facts(nvml.collect_gpus(fake_nvml.load("h100x8_mig"), env={}))
    assert f["mig_profile"].value == "1g.10gb"
    assert "mixed MIG profiles" in f["mig_profile"].note
    assert gpus.report_gpu_facts(nvml.collect_gpus(fake_nvml.load("no_library"), env={})) == {}


def test_matching_labels_and_nvml_do_not_disagree():
    node = NodeObs(name="n", labels={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB",
                                     "nvidia.com/gpu.memory": "81920",
                                     "nvidia.com/gpu.count": "4",   # the node has 4, the pod sees 1: not a disagreement
                                     "nvidia.com/cuda.driver-version.full": "550.107.2",
                                     "nvidia.com/cuda.runtime-version.full": "12.4"})
    assert gpus.disagreements(gpus.node_gpu_facts(node), gpus.report_gpu_facts(_a100_report())) == []


def test_stale_driver_label_and_wrong_gpu_are_disagreements():
    node = NodeObs(name="n", labels={"cloud.google.com/gke-accelerator": "nvidia-tesla-a100",
                                     "nvidia.com/cuda.driver-version.full": "535.104.05",
                                     "nvidia.com/cuda.runtime-version.full": "12.2"})
    found = gpus.disagreements(gpus.node_gpu_facts(node), gpus.report_gpu_facts(_a100_report()))
    assert [(k, a.value, b.value) for k, a, b in found] == [
        ("class", "a100-40gb", "a100-80gb"), ("driver_version", "535.104.05", "550.107.02"),
        ("cuda_driver_version", "12.2", "12.4")]
    assert found[0][1].prov.source == "node-label" and found[0][2].prov.source == "nvml"
