"""`skewaudit validate` (placeholder until implemented)."""

import typer


def validate() -> None:
    raise typer.Exit(70)
