"""`skewaudit collect` (placeholder until implemented)."""

import typer


def collect() -> None:
    raise typer.Exit(70)
