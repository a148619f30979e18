"""`skewaudit schema` (placeholder until implemented)."""

import typer


def schema() -> None:
    raise typer.Exit(70)
