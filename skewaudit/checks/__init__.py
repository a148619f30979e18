"""The check registry: every module here registers checks with ``@check``.

Modules are discovered with ``pkgutil`` (names starting with ``_`` skipped)
and imported in sorted order, so adding a check is adding a function to the
category's module (or a new module) plus its playbook entry in
``skewaudit/data/playbook.yaml``; ``tests/test_registry.py`` fails when either
side is missing.
"""

from __future__ import annotations

import importlib
import pkgutil

from skewaudit.checks._base import REGISTRY, CheckFn

_loaded = False


def all_checks() -> dict[str, CheckFn]:
    """Every registered check, by ID, sorted."""
    global _loaded
    if not _loaded:
        for mod in sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")):
            importlib.import_module(f"{__name__}.{mod}")
        _loaded = True
    return dict(sorted(REGISTRY.items()))
