"""`skewaudit diff` (placeholder until implemented)."""

import typer


def diff() -> None:
    raise typer.Exit(70)
