"""pre-commit hook entry points (``.pre-commit-hooks.yaml``).

``validate FILE…``: pre-commit passes every staged YAML file; only those that hold a ModelSpec are handed to
``skewaudit validate`` (manifests, values files and CI configs are not ours), which prints one
``file:line:col: path: message`` line per problem and exits 2. ``skewaudit-diff`` needs no helper: it runs
``skewaudit diff`` with the hook's args directly.
"""

from __future__ import annotations

import re
import subprocess
import sys

# A document that says it is a ModelSpec, or uses one of its apiVersions. Read as text: a file that is not
# valid YAML but says so is still handed over, so its syntax error is reported rather than skipped.
_MODELSPEC = re.compile(r"^\s*(kind:\s*[\"']?ModelSpec\b|apiVersion:\s*[\"']?(piqc\.ai|skewaudit\.io)/)", re.M)
_HEAD = 1 << 20   # a ModelSpec says so near its top; skewaudit itself bounds what it reads


def _is_modelspec(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD).decode("utf-8", "replace")
    except OSError:
        return True   # let skewaudit say what is wrong with it
    return bool(_MODELSPEC.search(head))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "validate":
        sys.stderr.write("usage: python -m skewaudit.integrations.precommit validate FILE...\n")
        return 2
    files = [f for f in args[1:] if _is_modelspec(f)]
    if not files:
        return 0
    return subprocess.run([sys.executable, "-m", "skewaudit", "validate", *files]).returncode


if __name__ == "__main__":
    raise SystemExit(main())
