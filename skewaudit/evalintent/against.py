"""A hand-written spec against the validation record: where intent claims what was never evaluated.

``warnings(loaded, record)`` gives located warning lines for ``validate
--against-eval``: a served context above the evaluated ``max_length`` (and
above the model's ``max_position_embeddings`` without rope scaling), another
dtype or quantization than evaluated, another model or revision, another
tensor-parallel degree (numerics differ slightly across TP), and an engine
version the spec allows whose minor differs from the engine the evaluation ran
(an MLflow ``requirements.txt`` pin). Constraint values (a range, a set) are
compared only where they are exact, or as a constraint the evaluated version
must satisfy.
"""

from __future__ import annotations

from typing import Any

from skewaudit import constraints, normalize, units
from skewaudit.evalintent.record import EvalRecord


def _exact_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            return units.parse_tokens(v)
        except (ValueError, TypeError):
            return None
    return None


def warnings(loaded: Any, rec: EvalRecord) -> list[str]:
    spec = loaded.spec.spec
    engine = spec.runtime.engine
    out: list[str] = []

    def warn(path: str, text: str) -> None:
        loc = loaded.location(path)
        where = f"{loc.file}:{loc.line}:{loc.col}" if loc and loc.line else loaded.file
        out.append(f"{where}: warning: {path}: {text}")

    max_len = _exact_int(getattr(engine, "max_model_len", None)) if engine else None
    max_len_path = "spec.runtime.engine.maxModelLen"
    if max_len is None and spec.runtime.batch is not None:
        max_len = _exact_int(getattr(spec.runtime.batch, "max_sequence_length_tokens", None))
        max_len_path = "spec.runtime.batch.maxSequenceLengthTokens"
    evaluated = rec.values.get("max_length")
    if max_len is not None and evaluated is not None and max_len > int(evaluated.value):
        warn(max_len_path, f"spec {max_len}, evaluated with max_length {evaluated.value} ({evaluated.source}): "
             "the served context beyond it was never validated")
    mpe = rec.values.get("max_position_embeddings")
    if max_len is not None and mpe is not None and max_len > int(mpe.value) and not rec.get("rope_scaling"):
        warn(max_len_path, f"spec {max_len} is above the model's max_position_embeddings {mpe.value} ({mpe.source}) "
             "with no rope_scaling: the engine will refuse it or quality falls off")

    ev_dtype = rec.values.get("dtype") or rec.values.get("model_dtype")
    if ev_dtype is not None:
        want = normalize.dtype(ev_dtype.value)
        spec_dtype = getattr(engine, "dtype", None) if engine else None
        if isinstance(spec_dtype, str) and normalize.dtype(spec_dtype) not in (None, "auto", want):
            warn("spec.runtime.engine.dtype", f"spec dtype {spec_dtype}, evaluated {ev_dtype.value} "
                 f"({ev_dtype.source})")
        precision = spec.identity.model.precision
        if isinstance(precision, str) and normalize.dtype(precision) not in (None, want) and \
                normalize.quantization(precision) is None:
            warn("spec.identity.model.precision", f"spec precision {precision}, evaluated {ev_dtype.value} "
                 f"({ev_dtype.source})")

    ev_q = rec.values.get("quantization") or rec.values.get("model_quantization")
    spec_q = getattr(engine, "quantization", None) if engine else None
    if isinstance(spec_q, str) and normalize.quantization(spec_q) not in (None, "none"):
        if ev_q is None or normalize.quantization(ev_q.value) != normalize.quantization(spec_q):
            evaluated_q = f"{ev_q.value} ({ev_q.source})" if ev_q else "unquantized (no quantization in the record)"
            warn("spec.runtime.engine.quantization", f"spec serves {spec_q}, evaluated {evaluated_q}")

    ev_id = rec.values.get("model_id")
    if ev_id is not None and spec.identity.model.id != ev_id.value:
        warn("spec.identity.model.id", f"spec {spec.identity.model.id}, evaluated {ev_id.value} ({ev_id.source})")
    ev_rev = rec.values.get("revision")
    rev = spec.identity.model.revision
    if ev_rev is not None and rev and rev != ev_rev.value:
        warn("spec.identity.model.revision", f"spec {rev}, evaluated {ev_rev.value} ({ev_rev.source})")

    name = getattr(engine, "name", None) if engine else None
    ev_engine = rec.libraries.get(str(name).lower()) if name else None
    spec_version = getattr(engine, "version", None) if engine else None
    if ev_engine is not None and spec_version:
        try:
            allowed = constraints.compile(str(spec_version), "version")
        except ValueError:
            allowed = None  # the spec's own validation reports a malformed constraint
        if allowed is not None and not allowed.matches(str(ev_engine.value).split("+")[0]):
            warn("spec.runtime.engine.version", f"spec {name} {spec_version}, evaluated with {name} {ev_engine.value} "
                 f"({ev_engine.source}): that engine version was never validated")

    ev_tp = rec.values.get("tensor_parallel_size")
    tp = getattr(engine, "tensor_parallel_size", None) if engine else None
    if ev_tp is not None and tp is not None and tp != ev_tp.value:
        warn("spec.runtime.engine.tensorParallelSize", f"spec {tp}, evaluated with {ev_tp.value} ({ev_tp.source}); "
             "results differ slightly across tensor-parallel degrees")
    return out
