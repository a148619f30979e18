"""Accelerators of every vendor: the resources pods request and the classes node labels name.

NVIDIA GPU classes keep their own table (:mod:`skewaudit.gpus`, NVML/GFD/GKE/Karpenter
spellings, memory-split families). This package adds what a pod can request besides
``nvidia.com/gpu`` and how other vendors' nodes name their accelerators:

* :mod:`~skewaudit.accelerators.resources`: the extended resources of each vendor's
  device plugin (``amd.com/gpu``, ``google.com/tpu``, ``habana.ai/gaudi``,
  ``aws.amazon.com/neuron``/``neuroncore``, NVIDIA MIG ``nvidia.com/mig-<profile>``),
  which one a container requests, and which requests skewaudit does not model
  (reported as unverifiable, naming the resource, never as drift);
* :mod:`~skewaudit.accelerators.classes`: AMD Instinct, Google TPU, Intel Gaudi and AWS
  Inferentia/Trainium classes in the spellings of their labels (AMD GPU operator
  ``amd.com/gpu.product-name``, GKE ``cloud.google.com/gke-tpu-accelerator``, Karpenter
  ``karpenter.k8s.aws/instance-accelerator-name``, EC2 instance families).
"""

from __future__ import annotations

from skewaudit.accelerators.classes import AccelClass, lookup, node_accel_facts, vendor_of
from skewaudit.accelerators.resources import Request, accelerator_requests, canonical_vendor, dra_class_vendor

__all__ = ["AccelClass", "Request", "accelerator_requests", "canonical_vendor", "dra_class_vendor", "lookup",
           "node_accel_facts", "vendor_of"]
