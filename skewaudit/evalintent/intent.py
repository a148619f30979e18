"""The intent of ``diff --intent-from-eval``: the validation record as a spec held in memory.

The spec is what ``init --from-eval`` would write (hardware checks off), loaded without a file:
every finding, and any problem with a record value the spec refuses, points at the record field
the value came from (``results.json:57:31 (config.model_args.dtype)``, ``requirements.txt:3:1``),
never at a temporary file that is gone when the report is read.
"""

from __future__ import annotations

from typing import Any

from skewaudit.evalintent import record as eval_record
from skewaudit.evalintent.locate import locations
from skewaudit.evalintent.spec import render, sources
from skewaudit.model.finding import Location


def audit_spec(results: str, model_dir: str | None = None, mlflow_model: str | None = None,
               target: str | None = None) -> tuple[Any, list[str]]:
    """(the loaded spec, warning lines) for auditing serving against ``results`` (and the model and
    MLflow directories)."""
    from skewaudit.specfile import load_text

    rec = eval_record.read(results, model_dir, mlflow_model)
    fields = {path: v.at for path, v in sources(rec).items() if v.at is not None}
    # Every result of the audit is stamped with a location: place them all now, one read per file.
    placed = locations(fields.values())

    def relocate(path: str) -> Location | None:
        at = fields.get(path)
        return placed[at] if at is not None else None

    specs, warnings = load_text(render(rec, for_audit=True, target=target), results, relocate)
    return specs[0], warnings
