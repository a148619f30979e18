"""Report renderers: a registry of modules, each turning a ``Report`` into text.

A renderer is one module in this package exporting ``NAME`` (its module name,
the ``--format`` value), ``SUFFIX`` (the file ending used for goldens and
default output names) and ``render(report, **opts) -> str``. Modules are found
with :mod:`pkgutil`; names starting with ``_`` are helpers and ``facts`` renders
observed facts rather than reports, so both are skipped, as is any other
module without those three names (``checklist`` renders the check registry).
Renderers import only the model and the standard library at top level (rich
is imported inside the table renderer), so listing them is cheap.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache
from types import ModuleType
from typing import BinaryIO

from skewaudit.errors import InputError
from skewaudit.model.finding import Report

# Modules in this package that are not report renderers.
_NOT_RENDERERS = {"facts"}


@cache
def _renderers() -> dict[str, ModuleType]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in _NOT_RENDERERS or info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if all(hasattr(module, attr) for attr in ("NAME", "SUFFIX", "render")):
            found[module.NAME] = module
    return found


def names() -> list[str]:
    """Available report formats, sorted: ``['json', 'junit', 'markdown', 'sarif', 'table']``."""
    return sorted(_renderers())


def _module(name: str) -> ModuleType:
    try:
        return _renderers()[name]
    except KeyError:
        raise InputError(f"unknown format {name!r}: choose one of {', '.join(names())}") from None


def suffix(name: str) -> str:
    """File ending for format ``name`` (``.sarif.json``, ``.junit.xml`` …)."""
    return _module(name).SUFFIX


def render(report: Report, name: str, *, width: int | None = None, color: bool | None = None,
           show_matches: bool = False) -> str:
    """Render ``report`` as format ``name``.

    ``width`` and ``color`` only affect the table (``color=None``: colour on a
    terminal unless ``NO_COLOR`` is set); ``show_matches`` adds matched and
    not-applicable results to the human formats. Machine formats always carry
    everything they define. Raises ``InputError`` for an unknown format.
    """
    return _module(name).render(report, width=width, color=color, show_matches=show_matches)


def write(report: Report, name: str, fh: BinaryIO, *, width: int | None = None, color: bool | None = None,
          show_matches: bool = False) -> None:
    """Write format ``name`` of ``report`` to the binary file ``fh``: exactly ``render(...)`` in UTF-8.

    A renderer with its own ``write`` streams it (JSON writes a chunk of results
    at a time, so a fleet report is never held whole as text); the others are
    rendered, then written.
    """
    module = _module(name)
    opts = dict(width=width, color=color, show_matches=show_matches)
    if hasattr(module, "write"):
        module.write(report, fh, **opts)
    else:
        fh.write(module.render(report, **opts).encode("utf-8"))
