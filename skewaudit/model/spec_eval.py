"""The ModelSpec ``validation`` block (extension): what the validation run used, for checks that need it.

``init --from-eval`` writes it from the records (``skewaudit.evalintent``): the chat template's SHA-256
as evaluated (lm-eval's ``chat_template_sha``), the sampling settings the evaluation sent (task
``generation_kwargs``), the model's own ``generation_config.json`` defaults, which recent engines
apply to requests that do not set them, and the library versions the run used (``libraries``: transformers,
torch, tokenizers, the engine), each with the record field it was read from.
"""

from __future__ import annotations

from typing import Annotated, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Setting = Union[bool, int, float]
LibraryName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class LibraryVersion(BaseModel):
    """One library's version at evaluation, and the record field it was read from."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    version: Annotated[str, StringConstraints(pattern=r"^v?\d+(\.\d+)*([.+-]?[A-Za-z0-9.+_-]*)?$", max_length=64)] = \
        Field(description="The version as installed (4.46.3, 2.5.1+cu124).")
    source: Optional[str] = Field(None, max_length=500, description="Where it was read (results.json "
                                  "transformers_version, requirements.txt torch).")


class Validation(BaseModel):
    """What was evaluated, beyond the engine settings (chat template, sampling)."""

    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)

    source: Optional[str] = Field(None, description="The validation record these values come from.")
    chat_template_sha: Optional[Sha256] = Field(
        None, description="SHA-256 of the chat template evaluated (lm-eval chat_template_sha).")
    sampling: Optional[dict[str, Setting]] = Field(
        None, description="Sampling settings the evaluation sent (temperature, top_p, top_k, repetition_penalty, "
        "do_sample).")
    model_generation_defaults: Optional[dict[str, Setting]] = Field(
        None, description="The model's generation_config.json sampling defaults (applied by vLLM >= 0.8 unless "
        "--generation-config vllm).")
    libraries: Optional[dict[LibraryName, LibraryVersion]] = Field(
        None, description="Library versions at evaluation (transformers, torch, tokenizers, vllm, sglang): "
        "runtime.library-versions compares them with what the serving image pins.")
