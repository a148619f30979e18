"""Checks against what the validation run used (``spec.validation``, written by ``init --from-eval``).

- ``model.chat-template``: serving's ``--chat-template`` override against the evaluated template's
  SHA-256. An inline template is hashed and compared; a file path is unverifiable (its content lives in
  the image or a volume); no override means the tokenizer's own template, whose revision
  ``model.tokenizer-revision`` pins.
- ``runtime.generation-defaults``: the sampling defaults serving applies to requests that omit them,
  against the settings the evaluation sent. vLLM applies the model's ``generation_config.json`` from 0.8.0
  on (``--generation-config auto``, the default since vllm-project/vllm#12622), its own defaults
  (temperature 1.0, top_p 1.0, top_k off, repetition_penalty 1.0) before that or with
  ``--generation-config vllm``; ``--override-generation-config`` JSON wins over both.
Only vLLM's flags are modelled; other engines are unverifiable with that reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from skewaudit import constraints
from skewaudit.checks._base import Ctx, Instance, Obs, check, compare, runtime_fact
from skewaudit.model.finding import Status

VLLM_DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0}
AUTO_FROM = "0.8.0"       # vLLM's default --generation-config became "auto" here (vllm-project/vllm#12622)


def _flag(inst: Instance, *names: str) -> tuple[bool, str | None]:
    """(given, value) of a flag among the engine's unparsed arguments (``--x v``, ``--x=v``, ``--x_y v``)."""
    c = inst.container
    args = list(c.engine.unknown_args) if c is not None and c.engine is not None else []
    spellings = {n for name in names for n in (name, name.replace("-", "_"))}
    for i, a in enumerate(args):
        key, eq, val = a.partition("=")
        if key in spellings:
            if eq:
                return True, val
            return True, args[i + 1] if i + 1 < len(args) else None
    return False, None


def _is_vllm(inst: Instance) -> bool:
    c = inst.container
    return c is not None and c.engine is not None and c.engine.engine == "vllm"


@check("model.chat-template")
def chat_template(ctx: Ctx):
    """Serving renders prompts with the chat template that was evaluated (a --chat-template override is hashed)."""
    want = ctx.want("spec.validation.chatTemplateSha")
    if want is None:
        return

    def observe(inst: Instance) -> Obs:
        if not _is_vllm(inst):
            return Obs(unverifiable="only vLLM's --chat-template is read")
        given, value = _flag(inst, "--chat-template")
        if not given:
            return Obs(value=want, note="no --chat-template: the tokenizer's own template (its revision is checked "
                       "by model.tokenizer-revision)")
        if value and ("{%" in value or "{{" in value):
            return Obs(value=hashlib.sha256(value.encode("utf-8")).hexdigest(),
                       note="inline --chat-template, hashed")
        return Obs(unverifiable=f"--chat-template {value} is a file in the image or a volume: compare its sha256 "
                   f"with the evaluated {want[:12]}…")

    yield compare(ctx, "spec.validation.chatTemplateSha", want, "str", observe, what="chat template sha256")


def _serving_defaults(inst: Instance, model_defaults: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    """The sampling defaults this vLLM instance applies, and where they come from (or None, why)."""
    given, mode = _flag(inst, "--generation-config")
    mode = mode if given else None
    if mode is None:
        version = _version(inst)
        if version is None:
            return None, (f"the default of --generation-config depends on the vLLM version (auto from {AUTO_FROM}) "
                          "and the version is not known")
        mode = "auto" if constraints.compile(f">={AUTO_FROM}", "version").matches(version) else "vllm"
        origin = f"default for vLLM {version}"
    else:
        origin = f"--generation-config {mode}"
    if mode == "vllm":
        base, source = dict(VLLM_DEFAULTS), f"vLLM's own defaults ({origin})"
    elif mode == "auto":
        if model_defaults is None:
            return None, (f"serving applies the model's generation_config.json ({origin}); it was not read "
                          "(init --from-eval --model-dir DIR records it)")
        base, source = {**VLLM_DEFAULTS, **model_defaults}, f"the model's generation_config.json ({origin})"
    else:
        return None, f"--generation-config {mode}: a directory in the image or a volume"
    given, override = _flag(inst, "--override-generation-config")
    if given and override:
        try:
            extra = json.loads(override)
        except ValueError:
            return None, "--override-generation-config is not valid JSON"
        if isinstance(extra, dict):
            base.update(extra)
            source += " with --override-generation-config"
    return base, source


def _version(inst: Instance) -> str | None:
    from skewaudit.checks.runtime import image_version

    rt = runtime_fact(inst, "engine_version")
    if rt is not None:
        return image_version(str(rt.value)) or str(rt.value)
    c = inst.container
    if c is None or not c.image.repository or c.image.repository.rsplit("/", 1)[-1] != "vllm-openai":
        return None
    return image_version(c.image.tag)


def _greedy(settings: dict[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    if out.pop("do_sample", None) is False:
        out["temperature"] = 0.0
    return out


@check("runtime.generation-defaults")
def generation_defaults(ctx: Ctx):
    """The sampling defaults serving applies to requests that omit them equal the settings evaluated."""
    evaluated = ctx.want("spec.validation.sampling")
    if not evaluated:
        return
    evaluated = _greedy(dict(evaluated))
    model_defaults = ctx.want("spec.validation.modelGenerationDefaults")
    model_defaults = _greedy(dict(model_defaults)) if model_defaults else None
    for key in sorted(k for k in evaluated if k in VLLM_DEFAULTS):
        want = evaluated[key]

        def observe(inst: Instance, key: str = key) -> Obs:
            if not _is_vllm(inst):
                return Obs(unverifiable="only vLLM's generation-config flags are modelled")
            defaults, source = _serving_defaults(inst, model_defaults)
            if defaults is None:
                return Obs(unverifiable=source)
            return Obs(value=defaults.get(key), note=f"from {source}")

        d = compare(ctx, f"spec.validation.sampling.{key}", want, "float", observe, what=f"default {key}")
        if d.status == Status.DRIFT:
            d = dataclasses.replace(d, message=d.message + " (clients that do not set it get another value than "
                                    "was evaluated)")
        yield d
