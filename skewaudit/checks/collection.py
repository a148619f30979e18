"""Collection checks: the intended workload was not found, or a source could not be read.

These turn collection problems into results so that they are counted, gated
on (``--fail-on-unverifiable``) and never silently read as "no drift".
"""

from __future__ import annotations

from skewaudit.checks._base import Ctx, Draft, check
from skewaudit.model.finding import Status


@check("collection.engine-unrecognised")
def engine_unrecognised(ctx: Ctx):
    """No serving engine could be recognised in the target container, so engine settings are unverifiable."""
    for inst in ctx.instances:
        c = inst.container
        rt = inst.pod.runtime if inst.pod is not None else None
        if rt is not None and rt.status != "unavailable":
            continue   # the engine named itself on its own endpoints (--probe)
        if c is not None and c.engine is None:
            why = c.argv_note or f"container {c.name}: command and image match no known engine"
            yield Draft("spec.runtime.engine", Status.UNVERIFIABLE, f"no serving engine recognised: {why}", reason=why)
            return
        if c is None:
            yield Draft("spec.target.container", Status.UNVERIFIABLE, "no serving container found in the workload",
                        reason="no container matched spec.target.container and none runs a known engine")
            return


@check("collection.target-not-found")
def target_not_found(ctx: Ctx):
    """The workload the spec targets is not running (or not in the manifests): nothing can be verified."""
    if ctx.missing is not None:
        yield Draft("spec.target", Status.DRIFT, ctx.missing, reason=ctx.missing)


@check("collection.kind-unsupported")
def kind_unsupported(ctx: Ctx):
    """The target's name exists in the input under a kind skewaudit does not read: named, never "not found"."""
    if ctx.missing is not None:
        yield Draft("spec.target", Status.UNVERIFIABLE, ctx.missing, reason=ctx.missing)
