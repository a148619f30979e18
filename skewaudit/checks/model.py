"""Model-artifact checks: which weights, revision and tokenizer are really served.

These are correctness checks: the same architecture at another revision or
with another tokenizer gives different answers without any error.
"""

from __future__ import annotations

import re
from typing import Any

from skewaudit.checks._base import (
    Ctx, Draft, Instance, Obs, check, compare, engine_field_check, engine_obs, runtime_fact,
)
from skewaudit.model.finding import Evidence, Status

_SHA = re.compile(r"^[0-9a-f]{40}$")


def _model_id(v: Any) -> Any:
    if not isinstance(v, str):
        return v
    s = v.strip()
    for prefix in ("hf://", "huggingface://"):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return s.rstrip("/").lower()


def _is_path(v: Any) -> bool:
    return isinstance(v, str) and (v.startswith("/") or v.startswith("./") or v.startswith("pvc://"))


@check("model.id")
def model_id(ctx: Ctx):
    """The served model is the intended one (engine --model / MODEL_ID / --model-path)."""
    want = ctx.want("spec.identity.model.id")
    if want is None:
        return
    uri = ctx.want("spec.identity.model.artifacts.modelUri")
    storage = ctx.workload.extra.get("storageUri")

    def observe(inst: Instance) -> Obs:
        ob = engine_obs(inst, "model", "the model")
        if ob.unverifiable or not _is_path(ob.value):
            if ob.prov is not None and ob.prov.source == "default" and ob.value is not None:
                # The flag is absent and the engine falls back to its built-in default model.
                return Obs(value=ob.value, prov=ob.prov, note=ob.note or "engine default model")
            return ob
        # Loaded from a local path (/mnt/models): the id is only checkable through the storage URI.
        if storage is not None and storage.value:
            return Obs(value=storage.value, prov=storage.prov, note=f"model loaded from {ob.value}")
        return Obs(prov=ob.prov, unverifiable=f"model is loaded from the path {ob.value}; "
                   "its id cannot be read from the container (declare artifacts.modelUri and use a storageUri)")

    expected = want
    if uri and storage is not None:
        expected = uri
    yield compare(ctx, "spec.identity.model.id", expected, "str", observe, normalize=_model_id, what="model",
                  as_written=True)


def _or_floating(ob: Obs) -> Obs:
    """A revision flag that is absent means "whatever main is at download time":
    that is an observed value ("main (unpinned)"), not an unknown."""
    if ob.value is None and ob.prov is not None and ob.prov.source == "default":
        return Obs(value="(none: hub default branch)", prov=ob.prov, note="flag absent: floats with the hub's main branch")
    return ob


@check("model.revision")
def revision(ctx: Ctx):
    """The model revision (branch, tag or commit) matches the pinned one (with --probe: the commit loaded)."""
    want = ctx.want("spec.identity.model.revision")
    if want is None:
        return
    pin = str(want).lower()
    by_commit = bool(re.match(r"^[0-9a-f]{7,40}$", pin))

    def observe(inst: Instance) -> Obs:
        sha = runtime_fact(inst, "model_sha") if by_commit else None
        if sha is not None:
            # the engine's own word on the commit it loaded beats the flag that asked for it
            loaded = str(sha.value).lower()
            return Obs(value=want if loaded.startswith(pin) else sha.value, prov=sha.prov, note=f"loaded {sha.value}")
        return _or_floating(engine_obs(inst, "revision", "model revision"))

    yield compare(ctx, "spec.identity.model.revision", want, "str", observe, what="model revision",
                  vars={"flag": "--revision"})
check("model.tokenizer")(engine_field_check(
    ("spec.identity.model.tokenizer.id",), "tokenizer", "str", "tokenizer",
    "The tokenizer is loaded from the intended repository.", normalize=_model_id))
check("model.tokenizer-revision")(engine_field_check(
    ("spec.identity.model.tokenizer.revision",), "tokenizer_revision", "str", "tokenizer revision",
    "The tokenizer revision matches the pinned one.", flag="--tokenizer-revision", adjust=_or_floating))
check("model.served-name")(engine_field_check(
    ("spec.identity.model.servedModelName",), "served_model_name", "str", "served model name",
    "Clients address the model by the intended name (--served-model-name)."))


def _pinned(ctx: Ctx, pin: str, spec_path: str, field: str, what: str, flag: str, engines: tuple[str, ...]):
    pins = ctx.want("spec.policy.pin")
    if pins is not None and pin not in pins:
        return
    if ctx.engine is not None and ctx.engine not in engines:
        return
    spec_pin = ctx.want(spec_path)
    if spec_pin is not None:
        return  # declared: the comparison check reports any difference as drift
    floating: list[str] = []
    branch: dict[str, list[str]] = {}
    prov = None
    for inst in ctx.instances:
        ob = engine_obs(inst, field, what)
        if ob.unverifiable and (ob.prov is None or ob.prov.source != "default"):
            continue
        prov = ob.prov or prov
        if ob.value in (None, ""):
            floating.extend(inst.pods)
        elif not _SHA.match(str(ob.value)):
            branch.setdefault(str(ob.value), []).extend(inst.pods)
    if floating:
        yield Draft(spec_path, Status.UNPINNED, f"{what} is not pinned at run time: {flag} is absent, so the hub's "
                    "default branch is served as of download time", observed=[Evidence(value=None, prov=prov, pods=floating,
                    count=len(floating))], vars={"flag": flag})
    elif branch:
        name, pods = next(iter(branch.items()))
        yield Draft(spec_path, Status.UNPINNED, f"{what} '{name}' is a branch or tag, not a commit: it can move",
                    observed=[Evidence(value=name, prov=prov, pods=pods, count=len(pods))],
                    level="info", vars={"flag": flag})
    elif prov is not None:
        yield Draft(spec_path, Status.UNPINNED, f"the running {what} is pinned but the spec does not declare it: "
                    "drift in it cannot be detected", level="info", vars={"flag": flag})


@check("model.revision-pinned")
def revision_pinned(ctx: Ctx):
    """The running model revision is pinned to a commit (prevention)."""
    yield from _pinned(ctx, "model-revision", "spec.identity.model.revision", "revision", "model revision",
                       "--revision", ("vllm", "tgi", "sglang", "kserve-hf"))


@check("model.tokenizer-revision-pinned")
def tokenizer_revision_pinned(ctx: Ctx):
    """The tokenizer revision is pinned (vLLM and KServe load it separately from the model)."""
    yield from _pinned(ctx, "tokenizer-revision", "spec.identity.model.tokenizer.revision", "tokenizer_revision",
                       "tokenizer revision", "--tokenizer-revision", ("vllm", "kserve-hf"))
