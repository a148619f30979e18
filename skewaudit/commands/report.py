"""`skewaudit report` (placeholder until implemented)."""

import typer


def bundle() -> None:
    raise typer.Exit(70)
