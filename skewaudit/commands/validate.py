"""`skewaudit validate PATH...`: check ModelSpec files without touching a cluster.

Prints ``file: ok (N specs: a, b)`` per file that holds specs, warnings as
``file:line:col: warning: …`` on stderr, and exits 0; any problem is raised as a
``SpecError`` (one ``file:line:col: path: message`` line each) and ``cli.py``
exits 2.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer


def validate(
    paths: Annotated[list[str], typer.Argument(
        metavar="PATH", show_default=False,
        help="ModelSpec files, directories (every *.yaml/*.yml inside, recursively) or '-' for stdin.")],
    against_eval: Annotated[Optional[str], typer.Option(
        "--against-eval", help="Also warn where the spec claims what the validation run did not evaluate "
        "(an lm-evaluation-harness results JSON).")] = None,
    model_dir: Annotated[Optional[str], typer.Option(
        "--model-dir", help="With --against-eval: the evaluated model's snapshot directory.")] = None,
    mlflow_model: Annotated[Optional[str], typer.Option(
        "--mlflow-model", help="With --against-eval (or alone): the evaluated MLflow model directory (MLmodel, "
        "requirements.txt pins).")] = None,
) -> None:
    """Check ModelSpec files: YAML, schema, units and cross-field rules. Exit 0 valid, 2 invalid."""
    from skewaudit.specfile import load_paths

    specs, warnings = load_paths(paths)
    by_file: dict[str, list[str]] = {}
    for s in specs:
        by_file.setdefault(s.file, []).append(s.spec.metadata.name)
    from skewaudit.errors import printable

    for file, names in by_file.items():
        noun = "spec" if len(names) == 1 else "specs"
        typer.echo(printable(f"{file}: ok ({len(names)} {noun}: {', '.join(names)})"))
    if against_eval or model_dir or mlflow_model:
        from skewaudit.evalintent import record as eval_record
        from skewaudit.evalintent.against import warnings as eval_warnings

        rec = eval_record.read(against_eval, model_dir, mlflow_model)
        warnings = list(warnings) + [w for s in specs for w in eval_warnings(s, rec)]
    for w in warnings:
        typer.echo(printable(w), err=True)
