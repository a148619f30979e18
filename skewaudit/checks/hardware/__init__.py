"""Hardware checks: GPU class, count, memory, driver/CUDA stack, MIG, and whether
the parallelism fits the GPUs the pod actually gets.

GPU facts come from three places, strongest first: NVML or ``nvidia-smi`` in
the pod (local mode, ``--exec``), the labels of the node the pod runs on (GFD,
GKE, Karpenter), and offline, the pod template's nodeSelector/affinity (what
the scheduler is told to pick). Each observation says which one it used.

One module per concern, all registered when this package is imported:
:mod:`.facts` (the merged GPU facts of an instance and why they are missing),
:mod:`.classes` (class, memory, MIG profile, bf16, node vs device),
:mod:`.counts` (accelerators per pod of every vendor, DRA claims, parallelism fit,
allocatable) and :mod:`.stack` (driver, CUDA, the image's CUDA build).
"""

from __future__ import annotations

from skewaudit.checks.hardware import classes, counts, stack
from skewaudit.checks.hardware.classes import (
    bf16_support, gpu_class, gpu_memory, mig_profile, source_disagreement,
)
from skewaudit.checks.hardware.counts import gpu_allocatable, gpu_count, parallelism_fits
from skewaudit.checks.hardware.facts import gpu_facts
from skewaudit.checks.hardware.stack import image_cuda, image_cuda_fits

__all__ = ["bf16_support", "classes", "counts", "gpu_allocatable", "gpu_class", "gpu_count", "gpu_facts",
           "gpu_memory", "image_cuda", "image_cuda_fits", "mig_profile", "parallelism_fits", "source_disagreement",
           "stack"]
