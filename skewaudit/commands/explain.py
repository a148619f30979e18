"""`skewaudit checks` (list every check) and `skewaudit explain CHECK-ID` (one in full)."""

from __future__ import annotations

from typing import Annotated

import typer

from skewaudit.commands import completion as _c


def checks(
    fmt: Annotated[str, typer.Option("--format", "-F", autocompletion=_c.choices("table", "markdown", "json"), help="table, markdown or json.")] = "table",
) -> None:
    """List every check with its ID, default severity and title."""
    from skewaudit.errors import InputError
    from skewaudit.playbook import load_playbook
    from skewaudit.render.checklist import render_checklist

    if fmt not in ("table", "markdown", "json"):
        raise InputError(f"--format must be table, markdown or json, not {fmt!r}")
    typer.echo(render_checklist(list(load_playbook().values()), fmt), nl=False)


def explain(
    check_id: Annotated[str, typer.Argument(help="A check ID such as runtime.dtype.", autocompletion=_c.check_ids)],
) -> None:
    """Show what a check compares, why it matters and how to fix it."""
    import difflib

    from skewaudit.errors import InputError
    from skewaudit.playbook import load_playbook
    from skewaudit.render.checklist import render_explain

    book = load_playbook()
    info = book.get(check_id) or next((i for i in book.values() if check_id in i.aliases), None)
    if info is None:
        near = difflib.get_close_matches(check_id, list(book), n=3)
        hint = f"; did you mean {', '.join(near)}?" if near else "; 'skewaudit checks' lists them"
        raise InputError(f"unknown check {check_id!r}{hint}")
    typer.echo(render_explain(info), nl=False)
