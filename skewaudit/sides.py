"""How a comparison of two observed states words its findings.

The baseline differ (:mod:`skewaudit.baseline`) compares *before* with *after*.
Read against a last-good snapshot that is "changed since the baseline: a -> b";
read across two clusters (``skewaudit compare``, or the cross-context pass of
``diff --context A --context B``) the same change is a difference between two
places that both run now: "dtype of container vllm: prod-eu runs fp8, prod-us
runs bfloat16". One differ, two wordings: the findings, checks, levels and exit
codes are the same either way.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Wording:
    """The baseline wording; :class:`Across` overrides it for two sides that both run now."""

    unowned = "(baseline)"    # the spec column of a result no spec targets

    def changed(self, subject: str, before: str, after: str) -> str:
        return f"{subject} changed since the baseline: {before} -> {after}"

    def grouped(self, subject: str, parts: list[str]) -> str:
        return f"{subject} changed since the baseline: {'; '.join(parts)}"

    def added(self, subject: str, after: str) -> str:
        return f"{subject} added since the baseline: {after}"

    def removed(self, subject: str, before: str) -> str:
        return f"{subject} removed since the baseline (was {before})"

    def gone(self, key: str) -> str:
        return f"{key} ran in the baseline and is not found now"

    def new(self, key: str) -> str:
        return f"{key} is new since the baseline"

    def symptoms(self) -> str:
        return "symptoms changed since the baseline"

    def hint(self) -> str:
        return "Changed since the last-good snapshot."


@dataclass(frozen=True)
class Across(Wording):
    """Two sides that both run now, named (two kube contexts, or a context and a snapshot)."""

    before: str = "before"
    after: str = "after"
    unowned = "(compare)"

    def changed(self, subject: str, before: str, after: str) -> str:
        return f"{subject}: {self.before} runs {before}, {self.after} runs {after}"

    def grouped(self, subject: str, parts: list[str]) -> str:
        return f"{subject} differs ({self.before} -> {self.after}): {'; '.join(parts)}"

    def added(self, subject: str, after: str) -> str:
        return f"{subject}: only {self.after} has it ({after})"

    def removed(self, subject: str, before: str) -> str:
        return f"{subject}: only {self.before} has it ({before})"

    def gone(self, key: str) -> str:
        return f"{key} runs in {self.before} and is not found in {self.after}"

    def new(self, key: str) -> str:
        return f"{key} runs in {self.after} and is not found in {self.before}"

    def symptoms(self) -> str:
        return f"symptoms differ ({self.before} -> {self.after})"

    def hint(self) -> str:
        return f"Differs between {self.before} and {self.after}."


BASELINE = Wording()
