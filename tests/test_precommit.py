"""The pre-commit hooks, run by the real ``pre-commit`` (``try-repo`` on this checkout's HEAD) in temporary git
repositories."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "specs" / "examples"
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    assert shutil.which("git")
    return tmp_path_factory.mktemp("pre-commit-home")


def repo_with(tmp_path: Path, files: dict[str, str | Path]) -> Path:
    repo = tmp_path / "repo"
    for name, content in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content.read_text() if isinstance(content, Path) else content)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True)
    return repo


def try_repo(home: Path, repo: Path, hook: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "PRE_COMMIT"))}
    env.update({"PRE_COMMIT_HOME": str(home), "NO_COLOR": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
                "PRE_COMMIT_COLOR": "never"})
    # try-repo builds the hook environment in a temporary store of its own (pip-installing this checkout from
    # the package index, ~1 minute), so each call costs one build: two calls cover both hooks, pass and fail.
    return subprocess.run([*PRE_COMMIT, "try-repo", str(ROOT), *([hook] if hook else []), "--all-files",
                           "--color", "never"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=900)


NOT_A_SPEC = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n"


def test_both_hooks_pass_a_clean_repository(home, tmp_path):
    repo = repo_with(tmp_path, {"specs/llama.yaml": EXAMPLES / "llama-3.1-70b-vllm.yaml",
                                "models/minimal.yaml": EXAMPLES / "minimal-piqc.yaml", "deploy/cm.yaml": NOT_A_SPEC,
                                "rendered/all.yaml": EXAMPLES / "manifests" / "llama-3.1-70b-vllm.yaml"})
    run = try_repo(home, repo, None)      # every hook the checkout defines, as a user trying it would
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^skewaudit validate\.+Passed$", run.stdout, re.M), run.stdout
    assert re.search(r"^skewaudit diff\.+Passed$", run.stdout, re.M), run.stdout


def test_a_broken_spec_and_drifted_manifests_fail_with_locations(home, tmp_path):
    broken = (EXAMPLES / "minimal-piqc.yaml").read_text().replace("count: 1", "count: 0")
    line = next(i for i, ln in enumerate(broken.splitlines(), 1) if "count: 0" in ln)
    repo = repo_with(tmp_path, {"drafts/bad.yaml": broken, "deploy/cm.yaml": NOT_A_SPEC,
                                "specs/llama.yaml": EXAMPLES / "llama-3.1-70b-vllm.yaml",
                                "rendered/all.yaml": EXAMPLES / "manifests" / "llama-3.1-70b-vllm-drifted.yaml"})
    run = try_repo(home, repo, None)
    assert run.returncode == 1
    assert re.search(r"^skewaudit validate\.+Failed$", run.stdout, re.M), run.stdout
    assert (f"drafts/bad.yaml:{line}:14: spec.runtime.accelerator.count: piqc.ai/v1alpha1 requires at least 1 "
            "here, got the number 0") in run.stdout, run.stdout
    assert re.search(r"^skewaudit diff\.+Failed$", run.stdout, re.M) and "runtime.dtype" in run.stdout
