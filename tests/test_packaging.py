"""The package as users get it: sdist and wheel from ``python -m build``, installed into a fresh venv (not
editable, dependencies from requirements.lock with --require-hashes), run from outside the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from clirun import main_inprocess as run

ROOT = Path(__file__).resolve().parent.parent
DATA = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "skewaudit" / "data").iterdir() if p.is_file())


def test_version_names_each_engines_flag_table(monkeypatch, capsys):
    from skewaudit import __version__
    from skewaudit.runtimes import _modules

    code, out, err = run(monkeypatch, capsys, "--version")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == [f"skewaudit {__version__}", "engine flag tables:"]
    shown = {line.split()[0]: line.split(None, 1)[1] for line in lines[2:]}
    assert shown == {m.ENGINE: m.FLAGS_VERSION for m in _modules()}
    for engine, follows in shown.items():
        # an engine release, not just a name (llama.cpp numbers its releases as builds: b4000)
        assert re.search(r"\d+\.\d+|\bb\d{3,}\b", follows), (engine, follows)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_lock(dest: Path) -> Path:
    """The requirements.lock entries (with their hashes) of skewaudit's runtime dependencies only: the direct
    ones from pyproject.toml, then every locked package the lock's own ``# via`` lines say one of them pulls in
    (from the lock, not from this environment, which may hold other versions). The wheel must run with these."""
    import tomllib

    entries: dict[str, tuple[list[str], set[str]]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line and not line[0].isspace():
            name = _norm(re.split(r"[=<>;\s]", line, maxsplit=1)[0])
            entries[name] = ([line], set())
        elif name is not None:
            entries[name][0].append(line)
            via = re.sub(r"^\s*#\s*(via\b)?\s*", "", line) if line.lstrip().startswith("#") else ""
            if via and not via.startswith("-"):
                entries[name][1].add(_norm(via.split()[0]))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_norm(re.split(r"[=<>!~\[;\s]", d, maxsplit=1)[0]) for d in project["dependencies"]}
    assert wanted <= set(entries), sorted(wanted - set(entries))
    while True:
        more = {n for n, (_, vias) in entries.items() if n not in wanted and vias & wanted}
        if not more:
            break
        wanted |= more
    dest.write_text("\n".join(line for n in sorted(wanted) for line in entries[n][0]) + "\n")
    return dest


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    return {**env, "NO_COLOR": "1", "COLUMNS": "200", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.mark.slow
def test_built_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    dist = tmp_path / "dist"
    # sdist first, then the wheel built from the unpacked sdist (build's default): a file missing from the
    # sdist is then missing from the wheel too. --no-isolation: the backend comes from the lock, not the index.
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=600, env=_clean_env())
    (wheel,), (sdist,) = dist.glob("*.whl"), dist.glob("*.tar.gz")
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert DATA and all(f in in_wheel for f in DATA), sorted(set(DATA) - in_wheel)
    top = sdist.name.removesuffix(".tar.gz")
    in_sdist = {n.removeprefix(top + "/") for n in tarfile.open(sdist).getnames()}
    wanted = DATA + ["requirements.lock", "README.md", "specs/modelspec.schema.json",
                     "specs/examples/llama-3.1-70b-vllm.yaml", "specs/examples/manifests/llama-3.1-70b-vllm-drifted.yaml"]
    assert all(f in in_sdist for f in wanted), sorted(set(wanted) - in_sdist)

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["--require-hashes", "--no-deps", "-r", str(runtime_lock(tmp_path / "runtime.lock"))], check=True,
                   capture_output=True, timeout=900, env=_clean_env())
    subprocess.run(pip + ["--no-deps", "--no-index", str(wheel)], check=True, capture_output=True, timeout=300,
                   env=_clean_env())

    work = tmp_path / "elsewhere"
    work.mkdir()

    def sk(*args: str | Path) -> subprocess.CompletedProcess:
        return subprocess.run([str(venv / "bin" / "skewaudit"), *map(str, args)], capture_output=True, text=True,
                              cwd=work, env=_clean_env(), timeout=300)

    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import skewaudit; print(skewaudit.__file__)"],
                           capture_output=True, text=True, cwd=work, env=_clean_env(), check=True).stdout
    assert where.startswith(str(venv)), where          # the installed copy, not the checkout
    version = sk("--version")
    assert version.returncode == 0 and version.stdout.startswith("skewaudit 0.1.0\nengine flag tables:\n  ")
    checks = sk("checks")
    assert checks.returncode == 0 and "runtime.dtype" in checks.stdout
    # The README's example, from copies outside the checkout: drift found, exit 1.
    spec, manifest = work / "spec.yaml", work / "drifted.yaml"
    spec.write_bytes((ROOT / "specs/examples/llama-3.1-70b-vllm.yaml").read_bytes())
    manifest.write_bytes((ROOT / "specs/examples/manifests/llama-3.1-70b-vllm-drifted.yaml").read_bytes())
    diff = sk("diff", spec, "--manifest", manifest)
    assert diff.returncode == 1 and "drifted" in diff.stdout and diff.stderr == "", diff.stderr
    # piqc specs need the bundled public schema (package data).
    piqc = work / "piqc.yaml"
    piqc.write_bytes((ROOT / "specs/examples/minimal-piqc.yaml").read_bytes())
    assert sk("validate", piqc).returncode == 0
    piqc.write_text(piqc.read_text().replace("count: 1", "count: 0"))
    bad = sk("validate", piqc)
    assert bad.returncode == 2 and "piqc.ai/v1alpha1 requires at least 1 here" in bad.stderr
