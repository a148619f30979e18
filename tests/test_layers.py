"""The import contract: layers import downwards only, each heavy library has one owner,
and nothing heavy is imported on the CLI start-up path.

Parsed with ``ast`` so the contract is checked without importing anything.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "skewaudit"

# Which skewaudit modules each part may import (prefix match on dotted names).
ALLOWED = {
    "skewaudit.model": ("skewaudit.model", "skewaudit.constraints", "skewaudit.units", "skewaudit.collect.request",
                        "skewaudit.gpus", "skewaudit.normalize"),
    # render.facts shows GPU classes from node labels through the one naming table.
    "skewaudit.render": ("skewaudit.model", "skewaudit.render", "skewaudit.errors", "skewaudit.gpus",
                         "skewaudit.accelerators"),
    "skewaudit.runtimes": ("skewaudit.model", "skewaudit.runtimes", "skewaudit.redact", "skewaudit.shellargv",
                           "skewaudit.units", "skewaudit.normalize"),
    "skewaudit.checks": ("skewaudit.model", "skewaudit.checks", "skewaudit.constraints", "skewaudit.normalize",
                         "skewaudit.units", "skewaudit.redact", "skewaudit.gpus", "skewaudit.accelerators"),
    "skewaudit.collect": ("skewaudit.model", "skewaudit.collect", "skewaudit.runtimes", "skewaudit.redact",
                          "skewaudit.errors", "skewaudit.gpus", "skewaudit.fsutil", "skewaudit.units",
                          "skewaudit.normalize", "skewaudit.__version__", "skewaudit.gcpause", "skewaudit.yamlsafe",
                          "skewaudit.yamlfast", "skewaudit.deadline", "skewaudit.limits"),
    # Integrations (GitHub Action, pre-commit) run the skewaudit command line as a user would; they only
    # share its file-writing helper.
    "skewaudit.integrations": ("skewaudit.fsutil",),
    "skewaudit.units": (),
    "skewaudit.constraints": ("skewaudit.units",),
    "skewaudit.normalize": (),
    "skewaudit.sides": (),          # the wording of two-sided comparisons: plain text, imports nothing
    "skewaudit.redact": ("skewaudit.redact", "skewaudit.fsutil", "skewaudit.errors", "skewaudit.shellargv"),
    "skewaudit.shellargv": (),      # where the script is in `sh -c SCRIPT`: standard library only
    "skewaudit.errors": (),
    "skewaudit.deadline": ("skewaudit.errors",),
    "skewaudit.limits": ("skewaudit.errors", "skewaudit.deadline"),
    "skewaudit.gpus": ("skewaudit.model", "skewaudit.units"),
    # Intent from the validation run reads local records and renders spec text; it never collects.
    # It loads that spec in memory (specfile) with findings located in the record (model.finding.Location).
    "skewaudit.evalintent": ("skewaudit.evalintent", "skewaudit.errors", "skewaudit.normalize", "skewaudit.units",
                             "skewaudit.playbook", "skewaudit.specfile", "skewaudit.model", "skewaudit.constraints"),
    # the accelerator table of other vendors (AMD, TPU, Gaudi, Neuron), beside gpus
    "skewaudit.accelerators": ("skewaudit.model", "skewaudit.units"),
    # Data skew is an engine of its own beside the checks: it produces the same findings and
    # borrows the audit's stamping (suppression, hint templates) and the playbook.
    # It reads profile files within the one input limit (skewaudit.limits).
    "skewaudit.dataskew": ("skewaudit.model", "skewaudit.dataskew", "skewaudit.errors", "skewaudit.fsutil",
                           "skewaudit.playbook", "skewaudit.audit", "skewaudit.__version__", "skewaudit.limits"),
}
# Third-party libraries and the only modules that may import them.
OWNERS = {
    "kubernetes": ("skewaudit.collect.kube", "skewaudit.collect.kubehttp", "skewaudit.collect.exec_gpu"),
    "pynvml": ("skewaudit.collect.nvml",),
    "deepdiff": ("skewaudit.baseline",),
    "rich": ("skewaudit.render.table",),
    "jsonschema": ("skewaudit.specpublic",),
    "datasketches": ("skewaudit.dataskew.sketches",),
    "pyarrow": ("skewaudit.dataskew.readers", "skewaudit.dataskew.profile", "skewaudit.dataskew.run",
                "skewaudit.dataskew.distributed"),
    "dask": ("skewaudit.dataskew.distributed",),
    "tokenizers": ("skewaudit.dataskew.tokens",),
    "numpy": ("skewaudit.dataskew.profile", "skewaudit.dataskew.run", "skewaudit.dataskew.metrics",
              "skewaudit.dataskew.quantiles"),
    # serve.metrics: the exposition of `skewaudit serve` (its registry and generate_latest).
    "prometheus_client": ("skewaudit.collect.probe.metrics", "skewaudit.serve.metrics"),
}


def modules():
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts).removesuffix(".__init__")
        yield name, ast.parse(path.read_text(), str(path))


def imports(tree: ast.AST, top_level_only: bool = False):
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            for a in node.names:
                yield f"{node.module}.{a.name}"


def test_layers_import_downwards_only():
    bad = []
    for name, tree in modules():
        rule = next((v for k, v in ALLOWED.items() if name == k or name.startswith(k + ".")), None)
        if rule is None:
            continue
        for imp in imports(tree):
            if imp.startswith("skewaudit") and imp != "skewaudit" and not any(
                    imp == a or imp.startswith(a + ".") for a in rule + (name,)):
                bad.append(f"{name} imports {imp}")
    assert bad == []


def test_nothing_imports_the_cli():
    assert [n for n, t in modules() if n != "skewaudit.__main__" and any(i.startswith("skewaudit.cli")
                                                                         for i in imports(t))] == []


def test_each_heavy_library_has_one_owner_and_is_imported_lazily():
    bad = []
    for name, tree in modules():
        for imp in imports(tree):
            lib = imp.split(".")[0]
            if lib in OWNERS and name not in OWNERS[lib]:
                bad.append(f"{name} imports {lib}")
        for imp in imports(tree, top_level_only=True):
            if imp.split(".")[0] in OWNERS:
                bad.append(f"{name} imports {imp} at module level")
    assert bad == []


def test_command_modules_import_only_typer_and_stdlib_at_top_level():
    bad = []
    for name, tree in modules():
        if not name.startswith("skewaudit.commands") and name != "skewaudit.cli":
            continue
        for imp in imports(tree, top_level_only=True):
            root = imp.split(".")[0]
            if root in ("typer", "__future__", "typing", "os", "sys"):
                continue
            if imp.startswith(("skewaudit.commands", "skewaudit.errors")):
                continue
            bad.append(f"{name}: {imp}")
    assert bad == []


def test_help_does_not_load_heavy_libraries():
    code = ("import sys, skewaudit.cli; heavy = [m for m in ('kubernetes', 'deepdiff', 'pynvml', 'pydantic', "
            "'skewaudit.model.spec', 'msgspec', 'yaml', 'prometheus_client', 'pyarrow', 'numpy', 'datasketches', "
            "'dask') if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
