"""`skewaudit schema`: print the ModelSpec JSON Schema (draft 2020-12).

Generated from the pydantic model, keyed by the YAML (camelCase) names, with a
description on every field. ``specs/modelspec.schema.json`` is this output
(``make schema``); point editors at it with a first line such as
``# yaml-language-server: $schema=../modelspec.schema.json``.
"""

from __future__ import annotations

import typer


def schema() -> None:
    """Print the ModelSpec JSON Schema (draft 2020-12) for editors and other validators."""
    import json

    from skewaudit.model.spec import json_schema

    typer.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))
