"""`skewaudit checks` and `skewaudit explain` (placeholder until implemented)."""

import typer


def checks() -> None:
    raise typer.Exit(70)


def explain() -> None:
    raise typer.Exit(70)
