"""Library versions at evaluation against what the serving image implies (``runtime.library-versions``).

The evaluation record names the versions it ran with (``spec.validation.libraries``: lm-eval's
``transformers_version`` and ``pretty_env_info``, an MLflow model's ``requirements.txt`` pins). The
serving side is read from the engine release: the version the engine reports (``--probe``) or the tag
of its official image, then what that release installs, from the table below. A release pins a
library exactly (``==``: the version in the image is known), sets only a floor (``>=``: the image
holds whatever was newest when it was built, so the floor proves a difference only when it lies above
the evaluated minor), or is not in the table: then the version is unverifiable, with the reason.

Versions are compared by major.minor: a patch release rarely changes numerics, a minor one may
(kernels, tokenizer fixes, default dtypes). The finding names both versions and where each came from.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from skewaudit.checks._base import Ctx, Instance, Obs, check, compare, runtime_fact
from skewaudit.checks.runtime import ENGINE_IMAGES  # images whose tag is the engine's own release
from skewaudit.model.finding import Status

# What each engine release installs. ("==", v): pinned; (">=", v): a floor only.
# vLLM and SGLang: the Requires-Dist of the release's wheel on PyPI (read with
# `pip install --dry-run --no-deps --report`); the official images install the same requirements
# (vLLM requirements/cuda.txt; SGLang `pip install python[all]`, the `srt` extra pins torch).
# TGI: server/uv.lock at the release tag, which the image installs with `uv sync --frozen` from
# v3.1.1 on (huggingface/text-generation-inference v3.1.1 c34bd9d8 … v3.3.7 dfb3fbe7); v3.0.0/v3.0.1
# install server/requirements_cuda.txt over the Dockerfile's PYTORCH_VERSION (8f326c97, bb9095aa).
PINS: dict[tuple[str, str], dict[str, tuple[str, str]]] = {
    ("vllm", "0.7.3"): {"transformers": (">=", "4.48.2"), "tokenizers": (">=", "0.19.1"), "torch": ("==", "2.5.1")},
    ("vllm", "0.8.5"): {"transformers": (">=", "4.51.1"), "tokenizers": (">=", "0.21.1"), "torch": ("==", "2.6.0")},
    ("vllm", "0.9.2"): {"transformers": (">=", "4.51.1"), "tokenizers": (">=", "0.21.1"), "torch": ("==", "2.7.0")},
    ("vllm", "0.10.0"): {"transformers": (">=", "4.53.2"), "tokenizers": (">=", "0.21.1"), "torch": ("==", "2.7.1")},
    ("vllm", "0.11.0"): {"transformers": (">=", "4.55.2"), "tokenizers": (">=", "0.21.1"), "torch": ("==", "2.8.0")},
    ("sglang", "0.4.6.post5"): {"transformers": ("==", "4.51.1"), "torch": ("==", "2.6.0")},
    ("sglang", "0.5.1.post3"): {"transformers": ("==", "4.55.2"), "torch": ("==", "2.8.0")},
    ("sglang", "0.5.3"): {"transformers": ("==", "4.57.0"), "torch": ("==", "2.8.0")},
    ("tgi", "3.0.0"): {"transformers": ("==", "4.46.3"), "tokenizers": ("==", "0.20.3"), "torch": ("==", "2.4.0")},
    ("tgi", "3.0.1"): {"transformers": ("==", "4.46.3"), "tokenizers": ("==", "0.20.3"), "torch": ("==", "2.4.0")},
    ("tgi", "3.1.1"): {"transformers": ("==", "4.48.3"), "tokenizers": ("==", "0.21.0"), "torch": ("==", "2.6.0")},
    **{("tgi", v): {"transformers": ("==", "4.49.0"), "tokenizers": ("==", "0.21.0"), "torch": ("==", "2.6.0")}
       for v in ("3.2.0", "3.2.1", "3.2.2")},
    **{("tgi", v): {"transformers": ("==", "4.51.0"), "tokenizers": ("==", "0.21.0"), "torch": ("==", "2.6.0")}
       for v in ("3.2.3", "3.3.0")},
    **{("tgi", v): {"transformers": ("==", "4.51.0"), "tokenizers": ("==", "0.21.0"), "torch": ("==", "2.7.0")}
       for v in ("3.3.1", "3.3.2", "3.3.3", "3.3.4", "3.3.5", "3.3.6", "3.3.7")},
}
ENGINE_LIBRARIES = {"vllm": "vllm", "sglang": "sglang"}      # pip name -> engine, for the engine's own version
_NAMES = {"vllm": "vLLM", "sglang": "SGLang", "tgi": "TGI"}
_RELEASE = re.compile(r"^v?(\d+(?:\.\d+){1,3}(?:\.post\d+)?)")


def release(text: str | None) -> str | None:
    """The release a version string or image tag names, post suffix kept (``v0.4.6.post5-cu124`` -> ``0.4.6.post5``)."""
    m = _RELEASE.match(text or "")
    return m.group(1) if m else None


def engine_release(inst: Instance) -> tuple[str | None, str | None, str]:
    """(engine, release, where it was read) for one instance; release None and the reason when unknown."""
    c = inst.container
    engine = c.engine.engine if c is not None and c.engine is not None else None
    if engine is None:
        return None, None, (c.argv_note if c is not None and c.argv_note else "no serving engine recognised")
    rt = runtime_fact(inst, "engine_version")
    if rt is not None and release(str(rt.value)):
        return engine, release(str(rt.value)), f"reported by the engine ({rt.value})"
    official = ENGINE_IMAGES.get(engine)
    repo = (c.image.repository or "").rsplit("/", 1)[-1]
    if not official or repo not in official:
        return engine, None, (f"image {c.image.ref} is not an official {_NAMES.get(engine, engine)} image: its tag "
                              "does not say the engine release (--probe asks the engine)")
    version = release(c.image.tag)
    if version is None:
        return engine, None, f"image {c.image.ref} has no version tag (a digest or 'latest' hides the release)"
    return engine, version, f"image tag {c.image.tag}"


def minor(version: Any) -> str:
    """``4.46.3`` -> ``4.46``; ``2.5.1+cu124`` -> ``2.5``; what is not a version stays as written."""
    m = re.match(r"^v?(\d+)\.(\d+)", str(version))
    return f"{m.group(1)}.{m.group(2)}" if m else str(version)


def _key(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", minor(version)))


def _serving(lib: str, evaluated: str, inst: Instance) -> Obs:
    engine, rel, where = engine_release(inst)
    name = _NAMES.get(engine or "", engine or "?")
    if lib in ENGINE_LIBRARIES:
        if engine is None:
            return Obs(unverifiable=where)
        if engine != ENGINE_LIBRARIES[lib]:
            return Obs(unverifiable=f"evaluated with {lib} {evaluated}; serving runs {name}: versions of different "
                       "engines do not compare (runtime.engine compares the engine)")
        if rel is None:
            return Obs(unverifiable=f"the {name} release is not known: {where}")
        return Obs(value=rel, note=f"{name} {rel} ({where})")
    if engine is None:
        return Obs(unverifiable=where)
    if rel is None:
        return Obs(unverifiable=f"which {lib} the image holds depends on the {name} release, which is not known: "
                   f"{where}")
    pins = PINS.get((engine, rel))
    if pins is None:
        known = ", ".join(r for e, r in PINS if e == engine) or "none"
        return Obs(unverifiable=f"skewaudit has no record of the {lib} {name} {rel} installs ({where}; recorded "
                   f"{name} releases: {known})")
    if lib not in pins:
        return Obs(unverifiable=f"{name} {rel} does not pin {lib}: the image holds whatever its build resolved")
    op, version = pins[lib]
    if op == "==":
        return Obs(value=version, note=f"{name} {rel} pins {lib}=={version} ({where})")
    if _key(version) > _key(evaluated):
        return Obs(value=f">={version}", note=f"{name} {rel} requires {lib}>={version} ({where}): the image holds "
                   "that or newer")
    return Obs(unverifiable=f"{name} {rel} requires only {lib}>={version} ({where}): the image holds whatever was "
               f"newest when it was built, so whether it matches {evaluated} cannot be told from the tag")


@check("runtime.library-versions")
def library_versions(ctx: Ctx):
    """The library versions the serving image implies (engine release, the transformers/torch it pins) are
    the major.minor versions the evaluation ran with."""
    libraries = ctx.want("spec.validation.libraries")
    if not libraries:
        return
    for lib in sorted(libraries):
        entry = libraries[lib]
        evaluated, source = str(entry.version), entry.source or "the spec"
        path = f"spec.validation.libraries.{lib}.version"

        def observe(inst: Instance, lib: str = lib, evaluated: str = evaluated) -> Obs:
            return _serving(lib, evaluated, inst)

        d = compare(ctx, path, evaluated, "str", observe, normalize=lambda v: minor(str(v).lstrip(">=")),
                    what=f"{lib} version", as_written=True)
        if d.status == Status.DRIFT:
            seen = "; ".join(f"{e.value} ({e.note})" for e in d.observed if e.value is not None)
            d = dataclasses.replace(d, message=f"{lib} {evaluated} at evaluation ({source}), serving {seen}: "
                                    "another minor version can change numerics and tokenization")
        elif d.status == Status.MATCH:
            d = dataclasses.replace(d, message=f"{d.message} (evaluated, from {source})")
        yield d
