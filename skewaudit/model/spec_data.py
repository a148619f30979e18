"""The ModelSpec ``data`` block (extension): the training/validation data baseline and drift thresholds.

``baseline`` is a profile made by ``skewaudit profile`` (``*.profile``) or data
to profile when the audit runs, relative to the spec file; ``tokenizer`` a local
``tokenizer.json`` for lengths in tokens when data is profiled. ``features`` may
force a feature's kind and override thresholds per feature; with
``onlyListed: true`` only the listed features are compared. Thresholds are
documented with their sources in ``skewaudit/dataskew/thresholds.py``; a
threshold of ``off`` turns that metric off.
"""

from __future__ import annotations

from typing import Annotated, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

Threshold = Optional[Union[Annotated[float, Strict(), Field(ge=0, le=1e6, allow_inf_nan=False)], Literal["off"]]]


class _DataModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class DataThresholds(_DataModel):
    """Drift thresholds per metric: a result drifts when its score is above the threshold."""

    psi: Threshold = Field(None, description="Population stability index (default 0.25).")
    js_distance: Threshold = Field(None, description="Jensen–Shannon distance, base 2 (default 0.1).")
    ks: Threshold = Field(None, description="Kolmogorov–Smirnov statistic (default 0.1).")
    wasserstein: Threshold = Field(None, description="Wasserstein distance / baseline standard deviation (default 0.1).")
    linf: Threshold = Field(None, description="L-infinity distance of category shares (default 0.1).")
    unseen_share: Threshold = Field(None, description="Share of serving rows in unseen categories (default 0.01).")
    missing_rate: Threshold = Field(None, description="Change of the missing share, absolute (default 0.05).")
    prompt_over_validated: Threshold = Field(
        None, description="Share of serving values longer than the longest baseline value (default 0.01).")

    @field_validator("*", mode="before")
    @classmethod
    def _unquoted_off(cls, v: object) -> object:
        # YAML 1.1 reads an unquoted `off` as false; that is what the user meant.
        return "off" if v is False else v


class DataFeature(_DataModel):
    """One feature: its kind and threshold overrides."""

    kind: Optional[Literal["numeric", "categorical", "text"]] = Field(
        None, description="numeric, categorical or text (default: from the data).")
    thresholds: Optional[DataThresholds] = Field(None, description="Overrides for this feature.")


class DataSpec(_DataModel):
    """Data-distribution skew: what the model was trained and validated on, and how far serving may move."""

    baseline: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)] = Field(
        description="A profile (skewaudit profile DATA -o FILE.profile) or data files, relative to this spec.")
    tokenizer: Optional[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]] = Field(
        None, description="A local tokenizer.json of the served model (relative to this spec): text features are "
        "also measured in tokens, and served prompt lengths (vLLM's vllm:request_prompt_tokens) can be compared.")
    features: Optional[dict[str, DataFeature]] = Field(None, description="Per-feature kinds and thresholds.")
    only_listed: bool = Field(False, description="Compare only the features listed under 'features'.")
    thresholds: Optional[DataThresholds] = Field(None, description="Thresholds for every feature.")
