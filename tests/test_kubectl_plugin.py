"""`kubectl skewaudit …`: the kubectl-skewaudit entry point, on its own and through a real kubectl.

kubectl runs a plugin by exec'ing ``kubectl-<name>`` from PATH with every argument after the plugin
name passed through verbatim, so kubectl's own spellings of --context, -n/--namespace and --kubeconfig
must be skewaudit's too. The kubectl tests use the real binary when one is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from clirun import EXAMPLES, MANIFESTS, ROOT
from kube_server import FakeKube

BIN = Path(sys.executable).parent
PLUGIN = BIN / "kubectl-skewaudit"
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="no kubectl binary on PATH (Debian: apt-get install "
                                   "kubernetes-client); the plugin entry point is still tested directly")
SPEC = EXAMPLES / "llama-3.1-70b-vllm.yaml"
DRIFTED = MANIFESTS / "llama-3.1-70b-vllm-drifted.yaml"


def run(argv: list[str], **env: str) -> subprocess.CompletedProcess:
    # The plugin directory first on PATH, as `pip install` into an active venv would leave it.
    full = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
            "HOME": env.pop("HOME", os.environ.get("HOME", "/")), **env}
    return subprocess.run(argv, capture_output=True, text=True, env=full, cwd=ROOT, timeout=120)


def test_entry_point_is_installed_and_runs_the_cli() -> None:
    assert PLUGIN.is_file(), "pyproject.toml [project.scripts] must declare kubectl-skewaudit (make dev)"
    r = run([str(PLUGIN), "--version"])
    assert (r.returncode, r.stderr) == (0, "") and r.stdout.splitlines()[0] == f"skewaudit {_version()}"
    assert r.stdout == run([str(BIN / "skewaudit"), "--version"]).stdout     # the same program
    r = run([str(PLUGIN), "checks", "--format", "json"])
    assert r.returncode == 0, r.stderr
    assert "runtime.dtype" in r.stdout
    # Usage lines read as the user typed the command.
    r = run([str(PLUGIN), "diff", "--help"])
    assert r.stdout.startswith("Usage: kubectl skewaudit diff ")


def _version() -> str:
    from skewaudit import __version__

    return __version__


@pytest.fixture
def cluster(tmp_path: Path):
    """The drifted example in namespace ml of a loopback cluster, reached through a second context."""
    with FakeKube() as kube:
        kube.load_yaml(DRIFTED)
        kc = kube.write_kubeconfig(tmp_path / "kc", context="elsewhere", namespace="default",
                                   extra_contexts={"prod": "ml"})
        yield kube, kc


# kubectl's own spellings of its global flags, as a user types them after the plugin name.
FLAG_SPELLINGS = [
    ["--context", "prod", "-n", "ml", "--kubeconfig", "{kc}"],
    ["--context=prod", "--namespace=ml", "--kubeconfig={kc}"],
    ["-nml", "--context", "prod", "--kubeconfig", "{kc}"],
]


@pytest.mark.parametrize("flags", FLAG_SPELLINGS, ids=["spaced", "equals", "short-joined"])
def test_plugin_honours_kubectls_flag_spellings(cluster, flags: list[str]) -> None:
    kube, kc = cluster
    argv = [str(PLUGIN), "diff", str(SPEC), "--format", "json", *(f.format(kc=kc) for f in flags)]
    r = run(argv)
    assert r.returncode == 1, r.stderr          # the drifted example drifts
    report = json.loads(r.stdout)
    assert report["context"] == "prod" and report["summary"]["drift"] == 10
    assert {(x["target"]["namespace"], x["target"]["name"]) for x in report["results"]} == {("ml", "llama-3-1-70b")}
    # A wrong context is a usage error naming it, not a silent fallback to the current one.
    bad = [a.replace("prod", "nope") for a in argv]
    r = run(bad)
    assert r.returncode == 2 and "nope" in r.stderr


@needs_kubectl
def test_real_kubectl_finds_and_runs_the_plugin(cluster, tmp_path: Path) -> None:
    kube, kc = cluster
    r = run([KUBECTL, "plugin", "list"], HOME=str(tmp_path))
    assert str(PLUGIN) in r.stdout, r.stdout + r.stderr
    r = run([KUBECTL, "skewaudit", "--version"], HOME=str(tmp_path))
    assert r.returncode == 0 and r.stdout.splitlines()[0] == f"skewaudit {_version()}", r.stderr
    r = run([KUBECTL, "skewaudit", "checks"], HOME=str(tmp_path))
    assert r.returncode == 0 and "runtime.dtype" in r.stdout, r.stderr
    # kubectl's flags after the plugin name reach skewaudit: the drift gate's exit code comes back.
    r = run([KUBECTL, "skewaudit", "diff", str(SPEC), "--context", "prod", "-n", "ml", "--kubeconfig", str(kc)],
            HOME=str(tmp_path))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "10 drifted" in r.stdout + r.stderr


def test_krew_manifest_template_names_the_entry_point() -> None:
    doc = yaml.safe_load((ROOT / "deploy" / "krew" / "skewaudit.yaml").read_text())
    assert (doc["apiVersion"], doc["kind"], doc["metadata"]["name"]) == (
        "krew.googlecontainertools.github.com/v1alpha2", "Plugin", "skewaudit")
    assert all(p["bin"] == "kubectl-skewaudit" and len(p["sha256"]) == 64 for p in doc["spec"]["platforms"])
    scripts = ROOT.joinpath("pyproject.toml").read_text()
    assert 'kubectl-skewaudit = "skewaudit.cli:main"' in scripts
