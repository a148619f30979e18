"""`skewaudit snapshot` (placeholder until implemented)."""

import typer


def snapshot() -> None:
    raise typer.Exit(70)
