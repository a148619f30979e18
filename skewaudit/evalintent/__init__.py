"""Intent from the validation run: read what was evaluated (lm-evaluation-harness results, a Hugging Face
model snapshot, an MLflow model), write or check a ModelSpec from it, and audit serving against it.

``record`` reads the files into an ``EvalRecord`` (each value with the field it came from), ``spec``
renders a ModelSpec from it (``init --from-eval``, ``diff --intent-from-eval``), ``against`` warns where a
hand-written spec claims what was never evaluated (``validate --against-eval``).
"""
