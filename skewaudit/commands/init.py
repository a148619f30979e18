"""`skewaudit init` (placeholder until implemented)."""

import typer


def init() -> None:
    raise typer.Exit(70)
