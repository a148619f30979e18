"""The public ModelSpec contract: a ``piqc.ai/v1alpha1`` document skewaudit accepts is one the public tools accept.

The public format (paralleliq/modelspec) is defined by its JSON Schema, bundled
verbatim as ``skewaudit/data/piqc-modelspec.schema.json`` (source commit in
``tests/fixtures/public-modelspec/README.md``), plus one rule of its validator:
``framework: vllm`` requires ``runtime.batch.maxSequenceLengthTokens``. Under the
piqc apiVersion every document is checked against both, with ``jsonschema`` as the
public validator does, so skewaudit is exactly as strict there (no looser); its
own, stricter rules still apply on top. ``skewaudit.io/v1alpha1`` is the superset
(extension fields, ranges, units, ``count: 0`` for CPU serving) and is not checked
here. Each problem comes back as (path parts, message, at_key) for the loader to
locate.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, Iterable

from skewaudit.model.spec import PIQC_API, SKEWAUDIT_API

_TYPE_WORDS = {"integer": "an integer", "number": "a number", "string": "a string", "boolean": "true or false",
               "object": "a mapping (key: value)", "array": "a list"}


@functools.lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # lazy: only piqc documents need it

    text = resources.files("skewaudit").joinpath("data/piqc-modelspec.schema.json").read_text(encoding="utf-8")
    return Draft202012Validator(json.loads(text))


def problems(doc: dict, describe: Any, known_key: Any) -> Iterable[tuple[list[str | int], str, bool]]:
    """What the public validator refuses in ``doc`` (a piqc.ai/v1alpha1 document, as YAML-loaded values).

    ``describe(value)`` words a value for a message; ``known_key(parent parts, key)`` says whether the
    skewaudit superset has that field (then it is an extension, and the message names the apiVersion).
    """
    for err in _validator().iter_errors(doc):
        parts = list(err.absolute_path)
        kind, want, got = err.validator, err.validator_value, err.instance
        if kind == "additionalProperties":
            allowed = err.schema.get("properties", {})
            for key in got if isinstance(got, dict) else ():
                # Keys skewaudit does not know at all get its own 'unknown field' message.
                if key not in allowed and known_key(parts, key):
                    yield (parts + [key], f"'{key}' is a skewaudit extension, not part of {PIQC_API}: set "
                           f"'apiVersion: {SKEWAUDIT_API}' to use it", True)
        elif kind == "type":
            yield parts, f"{PIQC_API} requires {_TYPE_WORDS.get(want, want)} here, got {describe(got)}", False
        elif kind == "minimum":
            yield parts, f"{PIQC_API} requires at least {want} here, got {describe(got)}", False
        elif kind == "maximum":
            yield parts, f"{PIQC_API} allows at most {want} here, got {describe(got)}", False
        elif kind == "required":
            missing = [k for k in want if isinstance(got, dict) and k not in got]
            for key in missing:
                yield parts + [key], "required field is missing", False
        elif kind == "enum":
            yield parts, f"expected one of {', '.join(map(repr, want))}, got {describe(got)}", False
        elif kind == "const":
            yield parts, f"expected {want!r}, got {describe(got)}", False
        else:  # the public schema uses no other keyword today; keep its own words if it ever does
            yield parts, f"{PIQC_API}: {err.message}", False
    yield from _semantic(doc)


def _semantic(doc: dict) -> Iterable[tuple[list[str | int], str, bool]]:
    # The public validator's semantic rule (tooling/validator/validate.py): the exact string 'vllm', and the
    # key present (a null value is then the schema's type error).
    spec = doc.get("spec")
    identity = spec.get("identity") if isinstance(spec, dict) else None
    model = identity.get("model") if isinstance(identity, dict) else None
    runtime = spec.get("runtime") if isinstance(spec, dict) else None
    if not (isinstance(model, dict) and model.get("framework") == "vllm" and isinstance(runtime, dict)):
        return
    batch = runtime.get("batch", {})
    if isinstance(batch, dict) and "maxSequenceLengthTokens" not in batch:
        yield (["spec", "runtime", "batch", "maxSequenceLengthTokens"],
               f"required when framework is 'vllm' under {PIQC_API} (the public ModelSpec validator's rule); "
               f"{SKEWAUDIT_API} does not require it", False)
