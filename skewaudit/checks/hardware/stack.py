"""The software stack under the engine: driver and CUDA versions on the node or device, and the
CUDA version the image was built for."""

from __future__ import annotations

from skewaudit.checks._base import Ctx, Draft, check, compare
from skewaudit.checks.hardware.facts import gpu_facts, gpu_obs
from skewaudit.model.finding import Evidence, Status


def _version_check(field: str, key: str, what: str):
    def run(ctx: Ctx):
        """The {what} on the nodes (or device) satisfies the intended constraint."""
        want = ctx.want(field)
        if want is None:
            return
        yield compare(ctx, field, str(want), "version", lambda i: gpu_obs(ctx, i, key), what=what)
    run.__doc__ = run.__doc__.format(what=what)
    return run


check("hardware.driver-version")(_version_check("spec.runtime.gpu.driverVersion", "driver_version",
                                                "NVIDIA driver version"))
check("hardware.cuda-version")(_version_check("spec.runtime.gpu.cudaVersion", "cuda_driver_version",
                                              "CUDA version supported by the driver"))


_CU = __import__("re").compile(r"cu(?:da)?-?(\d{2,3})(\d)?\b|cuda(\d+)\.(\d+)")


def image_cuda(tag: str | None) -> str | None:
    """CUDA version an image tag names: ``cu124`` / ``cuda12.4`` -> ``12.4``."""
    if not tag:
        return None
    m = _CU.search(tag.lower())
    if not m:
        return None
    if m.group(3):
        return f"{m.group(3)}.{m.group(4)}"
    digits = m.group(1) + (m.group(2) or "")
    return f"{digits[:-1]}.{digits[-1]}" if len(digits) >= 3 else f"{digits[0]}.{digits[1]}"


@check("hardware.image-cuda")
def image_cuda_fits(ctx: Ctx):
    """The CUDA version the image was built for is not newer than what the node's driver supports."""
    from skewaudit import units

    for inst in ctx.instances:
        c = inst.container
        want = image_cuda(c.image.tag) if c else None
        have = gpu_facts(ctx, inst).get("cuda_driver_version")
        if want is None or have is None or have.value is None:
            continue
        if units.parse_version(want) > units.parse_version(str(have.value)):
            yield Draft("spec.runtime.gpu.cudaVersion", Status.DRIFT, f"image {c.image.ref} needs CUDA {want}, "
                        f"the driver on {inst.label} supports up to {have.value}", expected=f"<= {have.value}",
                        observed=[Evidence(value=want, pods=[inst.label]), Evidence(value=have.value, prov=have.prov)],
                        level="error")
            return
