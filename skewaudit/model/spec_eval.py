"""The ModelSpec ``validation`` block (extension): what the validation run used, for checks that need it.

``init --from-eval`` writes it from the records (``skewaudit.evalintent``): the chat template's SHA-256
as evaluated (lm-eval's ``chat_template_sha``), the sampling settings the evaluation sent (task
``generation_kwargs``), and the model's own ``generation_config.json`` defaults, which recent engines
apply to requests that do not set them.
"""

from __future__ import annotations

from typing import Annotated, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
Setting = Union[bool, int, float]


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
