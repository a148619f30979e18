"""Shared pytest fixtures: a loopback Kubernetes API server and a kubeconfig for it.

``kube`` is a started :class:`kube_server.FakeKube` (empty; tests add objects),
``kubeconfig`` a real kubeconfig file pointing at it with its bearer token, and
``fixture_path("kube", "x.yaml")`` the path of a file under ``tests/fixtures``.
Nothing here registers options or markers, so no other test can trip on it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from kube_server import FakeKube

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# skewaudit keeps its redaction key under the XDG config home: tests (and the CLI processes
# they start) use a private one, never the real home. Set before any test imports skewaudit.
_CONFIG_HOME = tempfile.mkdtemp(prefix="skewaudit-test-config-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG_HOME
# ... and its parsed-spec cache under the XDG cache home: a private one too.
os.environ["XDG_CACHE_HOME"] = os.path.join(_CONFIG_HOME, "cache")
os.environ.pop("SKEWAUDIT_REDACTION_KEY", None)
atexit.register(shutil.rmtree, _CONFIG_HOME, True)


@pytest.fixture
def kube() -> Iterator[FakeKube]:
    """A running loopback API server, stopped when the test ends."""
    with FakeKube() as server:
        yield server


@pytest.fixture
def kubeconfig(kube: FakeKube, tmp_path: Path) -> Path:
    """A kubeconfig (context ``loopback``, namespace ``default``) for ``kube``."""
    return kube.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def fixture_path() -> Callable[..., Path]:
    """``fixture_path(*parts)`` → ``tests/fixtures/<parts>`` (not checked for existence)."""
    return lambda *parts: FIXTURES.joinpath(*parts)


@pytest.fixture(autouse=True)
def _fresh_input_limit() -> Iterator[None]:
    """Each test starts with the default byte limit: it is process state that an in-process CLI
    run with ``--max-input-bytes`` sets, and a later test reading files directly would inherit it."""
    from skewaudit import limits

    yield
    limits.set_max_input_bytes(limits.DEFAULT_MAX_INPUT_BYTES)
