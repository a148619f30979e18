"""The diff pipeline shared by ``diff`` and ``bundle``: specs → facts → report → outputs.

Kept out of the command modules so the CLI start-up path stays light and so
the same steps run identically for every source (live, manifests, snapshot,
local).
"""

from __future__ import annotations

import sys
from typing import Any

from skewaudit.errors import InputError
from skewaudit.gcpause import gc_paused


def load_specs(paths: list[str]) -> list[Any]:
    """Load and validate ModelSpecs; warnings go to stderr, problems raise SpecError."""
    from skewaudit.specfile import load_paths

    # load_paths reads '-' itself, bounded in size and checked for UTF-8.
    specs, warnings = load_paths(paths)
    for w in warnings:
        sys.stderr.write(w.rstrip("\n") + "\n")
    return specs


def collect_for(specs: list[Any], source: dict[str, Any]):
    """Build the source request for these specs (targets, default namespace) and collect."""
    from skewaudit.collect import gather
    from skewaudit.commands._options import source_request

    targets = tuple(t for t in (s.spec.target_request() for s in specs) if t is not None)
    if source.get("namespace") is None and not source.get("all_namespaces"):
        namespaces = {t.namespace for t in targets if t.namespace}
        if len(namespaces) > 1:
            source = {**source, "all_namespaces": True}
    return gather(source_request(**source, targets=targets))


def render_outputs(report: Any, formats: list[str], outputs: list[str], show_matches: bool) -> None:
    """Write each requested format; formats without an --output go to stdout (one at most)."""
    from skewaudit import render
    from skewaudit.fsutil import atomic_output

    names = render.names()
    formats = formats or (["table"] if not outputs else [])
    if len(outputs) > len(formats):
        # `-o report.sarif` alone: infer the format from the file name.
        for out in outputs[len(formats):]:
            formats.append(_infer(out, names))
    for f in formats:
        if f not in names:
            raise InputError(f"unknown --format {f!r}; choose from {', '.join(names)}")
    to_stdout = formats[len(outputs):]
    if len(to_stdout) > 1:
        raise InputError(f"{len(to_stdout)} formats would go to stdout ({', '.join(to_stdout)}); give an --output for each but one")
    for fmt, path in zip(formats, outputs):
        # Streamed into the temporary file: a fleet report is never held whole as text.
        with atomic_output(path) as fh:
            render.write(report, fmt, fh, show_matches=show_matches, color=False)
    for fmt in to_stdout:
        out = getattr(sys.stdout, "buffer", None)
        if fmt != "table" and out is not None:
            # Machine formats are streamed as bytes: a fleet's JSON is never held whole as text.
            sys.stdout.flush()
            render.write(report, fmt, out, show_matches=show_matches, color=False)
            out.flush()
            continue
        text = render.render(report, fmt, show_matches=show_matches, color=None if fmt == "table" else False)
        sys.stdout.write(text)
        sys.stdout.flush()


def _infer(path: str, names: list[str]) -> str:
    from skewaudit import render

    # Longest suffix first: report.sarif.json is sarif, not json.
    for n in sorted(names, key=lambda n: -len(render.suffix(n))):
        if path.endswith(render.suffix(n)):
            return n
    for n in names:
        if path.endswith("." + n) or (n == "markdown" and path.endswith(".md")) or (n == "junit" and path.endswith(".xml")):
            return n
    raise InputError(f"cannot tell the format of --output {path}; add --format")


@gc_paused()
def audit_and_render(*, spec_paths: list[str], source: dict[str, Any], formats: list[str], outputs: list[str],
                     fail_on: str, fail_on_unverifiable: bool, inline_ignores: bool, show_matches: bool,
                     fail_on_unpinned: bool = False,
                     baseline: str | None, ignore: list[str], save_snapshot: str | None) -> int:
    """Run one diff end to end and return its exit code."""
    from skewaudit import audit

    specs = load_specs(spec_paths) if spec_paths else []
    # Read the baseline first: a wrong path should fail before a slow live collection.
    base_snap = None
    if baseline:
        from skewaudit import baseline as base

        base_snap = base.load(baseline)
    snapshot = collect_for(specs, source)
    if save_snapshot:
        from skewaudit.collect import snapshot as snap_io

        snap_io.save(snapshot, save_snapshot)
    report = audit.run(specs, snapshot, audit.Options(inline_ignores=inline_ignores)) if specs else None
    if base_snap is not None:
        report = base.merge(report, base.compare(base_snap, snapshot, ignore=ignore, specs=specs), baseline)
    # The gate is decided before rendering: every format states the verdict the exit code carries.
    report = audit.apply_gate(report, fail_on, fail_on_unpinned=fail_on_unpinned,
                              fail_on_unverifiable=fail_on_unverifiable, specs=specs)
    render_outputs(report, formats, outputs, show_matches)
    return audit.exit_code(report)
