"""Checks against what the validation run used (``spec.validation``, written by ``init --from-eval``).

- ``model.chat-template``: the template serving renders chat prompts with, against the evaluated
  template's SHA-256. vLLM ``--chat-template``: an inline template is hashed and compared, a file path
  is unverifiable (its content lives in the image or a volume). TGI has no template flag (launcher
  3.3.7): the template comes from the tokenizer config, ``--tokenizer-config-path`` /
  ``TOKENIZER_CONFIG_PATH`` replaces it. SGLang ``--chat-template`` takes a file or the name of a
  built-in conversation template (rendered in Python, not the evaluated Jinja). No override means the
  model revision's own template, whose revision ``model.tokenizer-revision`` pins.
- ``runtime.generation-defaults``: the sampling defaults serving applies to chat requests that omit
  them, against the settings the evaluation sent (``_defaults`` per engine, by release).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Callable

from skewaudit import constraints
from skewaudit.checks._base import Ctx, Instance, Obs, check, compare
from skewaudit.checks.libraries import engine_release
from skewaudit.model.finding import Status

# What engines default to when neither a request nor the model sets a value (top_k 0: off; SGLang spells it -1).
OPENAI_DEFAULTS = {"temperature": 1.0, "top_p": 1.0, "top_k": 0, "repetition_penalty": 1.0}
VLLM_DEFAULTS = OPENAI_DEFAULTS
AUTO_FROM = "0.8.0"       # vLLM's default --generation-config became "auto" here (vllm-project/vllm#12622)
# SGLang added --sampling-defaults {openai,model} (default model: the model's generation_config.json for chat
# requests) in 0.5.4 (sglang 0.5.4 server_args.py, ModelConfig.get_default_sampling_params); from
# 0.5.1.post3 to 0.5.3 a chat request defaulted to temperature 0.7 (ChatCompletionRequest in
# entrypoints/openai/protocol.py) and the model's generation_config.json was not read.
SGLANG_MODEL_FROM = "0.5.4"
SGLANG_KNOWN_FROM = "0.5.1.post3"
SGLANG_OLD_CHAT = {**OPENAI_DEFAULTS, "temperature": 0.7}
# TGI never reads generation_config.json for sampling: an OpenAI-style request without temperature samples
# (do_sample true) at temperature 1.0, top_p 1.0, no top_k (router/src/lib.rs ChatRequest::try_into_generate,
# validation.rs), verified in TGI 2.4.1, 3.0.0 and 3.3.7; its native /generate defaults to greedy.
TGI_KNOWN = (">=2.4.1", "<=3.3.7")


def _flag(inst: Instance, *names: str, env: str | None = None) -> tuple[bool, str | None]:
    """(given, value) of a flag among the engine's unparsed arguments (``--x v``, ``--x=v``, ``--x_y v``),
    else of the env var the engine reads for it (TGI's launcher reads every flag from env too)."""
    c = inst.container
    args = list(c.engine.unknown_args) if c is not None and c.engine is not None else []
    spellings = {n for name in names for n in (name, name.replace("-", "_"))}
    for i, a in enumerate(args):
        key, eq, val = a.partition("=")
        if key in spellings:
            if eq:
                return True, val
            return True, args[i + 1] if i + 1 < len(args) else None
    if env and c is not None:
        for e in c.env:
            if e.name == env:
                return True, e.value if e.value is not None else f"<{e.source} {e.ref or env}>"
    return False, None


def _engine(inst: Instance) -> str | None:
    c = inst.container
    return c.engine.engine if c is not None and c.engine is not None else None


def _template(inst: Instance, want: str) -> Obs:
    engine = _engine(inst)
    own = Obs(value=want, note="the model revision's own template (its revision is checked by "
              "model.tokenizer-revision)")
    if engine == "vllm":
        given, value = _flag(inst, "--chat-template")
        if not given:
            return dataclasses.replace(own, note="no --chat-template: " + own.note)
        if value and ("{%" in value or "{{" in value):
            return Obs(value=hashlib.sha256(value.encode("utf-8")).hexdigest(), note="inline --chat-template, hashed")
        return Obs(unverifiable=f"--chat-template {value} is a file in the image or a volume: compare its sha256 "
                   f"with the evaluated {want[:12]}…")
    if engine == "tgi":
        given, value = _flag(inst, "--tokenizer-config-path", env="TOKENIZER_CONFIG_PATH")
        if not given:
            return dataclasses.replace(own, note="TGI has no --chat-template flag: " + own.note +
                                       " from tokenizer_config.json (chat_template.json from TGI 3.2.0)")
        return Obs(unverifiable=f"--tokenizer-config-path {value} replaces the model's tokenizer config, template "
                   f"included: compare the sha256 of its chat_template with the evaluated {want[:12]}…")
    if engine == "sglang":
        given, value = _flag(inst, "--chat-template")
        if not given:
            return dataclasses.replace(own, note="no --chat-template: " + own.note)
        if value and (value.endswith((".jinja", ".json")) or "/" in value):
            return Obs(unverifiable=f"--chat-template {value} is a file in the image or a volume: compare its "
                       f"template's sha256 with the evaluated {want[:12]}…")
        return Obs(unverifiable=f"--chat-template {value} names an SGLang built-in conversation template, rendered "
                   "in Python rather than by the evaluated Jinja template: compare a rendered prompt")
    return Obs(unverifiable=f"the chat template settings of {engine or 'this engine'} are not read (vLLM, TGI and "
               "SGLang are)")


@check("model.chat-template")
def chat_template(ctx: Ctx):
    """Serving renders prompts with the chat template that was evaluated (vLLM/SGLang --chat-template, TGI
    --tokenizer-config-path)."""
    want = ctx.want("spec.validation.chatTemplateSha")
    if want is None:
        return
    yield compare(ctx, "spec.validation.chatTemplateSha", want, "str", lambda inst: _template(inst, want),
                  what="chat template sha256")


def _at_least(version: str, floor: str) -> bool:
    return constraints.compile(f">={floor}", "version").matches(version)


def _vllm(inst: Instance, model: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    given, mode = _flag(inst, "--generation-config")
    mode = mode if given else None
    if mode is None:
        _, version, where = engine_release(inst)
        if version is None:
            return None, (f"the default of --generation-config depends on the vLLM version (auto from {AUTO_FROM}) "
                          f"and the version is not known ({where})")
        mode = "auto" if _at_least(version, AUTO_FROM) else "vllm"
        origin = f"default for vLLM {version}"
    else:
        origin = f"--generation-config {mode}"
    if mode == "vllm":
        base, source = dict(VLLM_DEFAULTS), f"vLLM's own defaults ({origin})"
    elif mode == "auto":
        if model is None:
            return None, (f"serving applies the model's generation_config.json ({origin}); it was not read "
                          "(init --from-eval --model-dir DIR records it)")
        base, source = {**VLLM_DEFAULTS, **model}, f"the model's generation_config.json ({origin})"
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


def _sglang(inst: Instance, model: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    given, preferred = _flag(inst, "--preferred-sampling-params")
    if given:
        return None, (f"--preferred-sampling-params {preferred}: merged under each request's own values after the "
                      "chat endpoint filled its defaults; which wins depends on the endpoint")
    _, version, where = engine_release(inst)
    if version is None:
        return None, f"SGLang's chat defaults depend on its release, which is not known ({where})"
    if not _at_least(version, SGLANG_KNOWN_FROM):
        return None, f"SGLang {version}: chat defaults are recorded from {SGLANG_KNOWN_FROM} on"
    if not _at_least(version, SGLANG_MODEL_FROM):
        return dict(SGLANG_OLD_CHAT), f"SGLang {version}'s chat defaults (generation_config.json is not read)"
    given, mode = _flag(inst, "--sampling-defaults")
    mode, origin = (mode, f"--sampling-defaults {mode}") if given else ("model", f"default for SGLang {version}")
    if mode == "openai":
        return dict(OPENAI_DEFAULTS), f"SGLang's OpenAI defaults ({origin})"
    if model is None:
        return None, (f"serving applies the model's generation_config.json to chat requests ({origin}); it was not "
                      "read (init --from-eval --model-dir DIR records it)")
    return {**OPENAI_DEFAULTS, **model}, f"the model's generation_config.json for chat requests ({origin})"


def _tgi(inst: Instance, model: dict[str, Any] | None) -> tuple[dict[str, Any] | None, str]:
    _, version, where = engine_release(inst)
    if version is None:
        return None, f"TGI's defaults are recorded for {' '.join(TGI_KNOWN)}; the release is not known ({where})"
    if not constraints.compile(",".join(TGI_KNOWN), "version").matches(version):
        return None, f"TGI {version}: defaults are recorded for TGI {' '.join(TGI_KNOWN)}"
    return dict(OPENAI_DEFAULTS), (f"TGI {version}'s OpenAI-compatible endpoints (generation_config.json is not "
                                   "read; /generate defaults to greedy)")


_DEFAULTS: dict[str, Callable[[Instance, dict[str, Any] | None], tuple[dict[str, Any] | None, str]]] = {
    "vllm": _vllm, "sglang": _sglang, "tgi": _tgi}


def _greedy(settings: dict[str, Any]) -> dict[str, Any]:
    out = dict(settings)
    if out.pop("do_sample", None) is False:
        out["temperature"] = 0.0
    return out


def _off(key: str) -> Callable[[Any], Any]:
    # top_k: 0 (vLLM, TGI) and -1 (SGLang) both mean "off"
    return (lambda v: 0 if isinstance(v, (int, float)) and v <= 0 else v) if key == "top_k" else (lambda v: v)


@check("runtime.generation-defaults")
def generation_defaults(ctx: Ctx):
    """The sampling defaults serving applies to requests that omit them equal the settings evaluated."""
    evaluated = ctx.want("spec.validation.sampling")
    if not evaluated:
        return
    evaluated = _greedy(dict(evaluated))
    model_defaults = ctx.want("spec.validation.modelGenerationDefaults")
    model_defaults = _greedy(dict(model_defaults)) if model_defaults else None
    for key in sorted(k for k in evaluated if k in OPENAI_DEFAULTS):
        want = evaluated[key]

        def observe(inst: Instance, key: str = key) -> Obs:
            read = _DEFAULTS.get(_engine(inst) or "")
            if read is None:
                return Obs(unverifiable=f"the sampling defaults of {_engine(inst) or 'this engine'} are not modelled "
                           "(vLLM, SGLang and TGI are)")
            defaults, source = read(inst, model_defaults)
            if defaults is None:
                return Obs(unverifiable=source)
            return Obs(value=defaults.get(key), note=f"from {source}")

        d = compare(ctx, f"spec.validation.sampling.{key}", want, "float", observe, what=f"default {key}",
                    normalize=_off(key))
        if d.status == Status.DRIFT:
            d = dataclasses.replace(d, message=d.message + " (clients that do not set it get another value than "
                                    "was evaluated)")
        yield d
