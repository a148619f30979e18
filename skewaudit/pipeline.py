"""The diff pipeline shared by ``diff`` and ``bundle``: specs → facts → report → outputs.

Kept out of the command modules so the CLI start-up path stays light and so
the same steps run identically for every source (live, manifests, snapshot,
local).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from skewaudit.errors import InputError, printable
from skewaudit.gcpause import gc_paused


def load_specs(paths: list[str]) -> list[Any]:
    """Load and validate ModelSpecs; warnings go to stderr, problems raise SpecError."""
    from skewaudit.specfile import load_paths

    # load_paths reads '-' itself, bounded in size and checked for UTF-8.
    specs, warnings = load_paths(paths)
    for w in warnings:
        sys.stderr.write(printable(w.rstrip("\n")) + "\n")
    return specs


def retarget(specs: list[Any], namespace: str | None, context: str | None) -> None:
    """``-n`` and ``--context`` override every spec's ``target.namespace`` / ``target.context``.

    Applied to the loaded specs themselves, so collection, the audit (which looks
    the workload up by the spec's target) and baseline scoping all see the same
    target; the file positions of findings are unchanged."""
    if not namespace and not context:
        return
    from skewaudit.model.spec import Target

    update = {k: v for k, v in (("namespace", namespace), ("context", context)) if v}
    for loaded in specs:
        spec = loaded.spec
        target = (spec.spec.target or Target()).model_copy(update=update)
        loaded.spec = spec.model_copy(update={"spec": spec.spec.model_copy(update={"target": target})})


def collect_for(specs: list[Any], source: dict[str, Any]):
    """Build the source request for these specs (targets, default namespace) and collect.

    ``-n``/``--context`` given here override the specs' targets (see :func:`retarget`)."""
    from skewaudit.collect import gather
    from skewaudit.commands._options import source_request
    from skewaudit.contexts import single

    source = single(source)
    retarget(specs, source.get("namespace"), source.get("context"))
    targets = tuple(t for t in (s.spec.target_request() for s in specs) if t is not None)
    if source.get("namespace") is None and not source.get("all_namespaces"):
        namespaces = {t.namespace for t in targets if t.namespace}
        if len(namespaces) > 1:
            source = {**source, "all_namespaces": True}
    return gather(source_request(**source, targets=targets, env_names=_declared_env(specs)))


def _declared_env(specs: list[Any]) -> tuple[str, ...]:
    """Env var names the specs state intent for (local mode keeps them besides serving's own)."""
    names: set[str] = set()
    for s in specs:
        rt = getattr(s.spec, "runtime", None)
        env = getattr(getattr(rt, "environment", None), "variables", None) or {}
        eng = getattr(getattr(rt, "engine", None), "env", None) or {}
        names.update(env, eng)
    return tuple(sorted(names))


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
                     baseline: str | None, ignore: list[str], save_snapshot: str | None,
                     data: list[str] | None = None, data_profile: str | None = None,
                     loaded: list[Any] | None = None) -> int:
    """Run one diff end to end and return its exit code. ``loaded``: specs already loaded (the
    in-memory intent of ``diff --intent-from-eval``), audited after those of ``spec_paths``."""
    from skewaudit import audit
    from skewaudit import contexts as multi

    specs = (load_specs(spec_paths) if spec_paths else []) + list(loaded or [])
    sides = _sides(specs, source, baseline)
    # Read the baseline first: a wrong path should fail before a slow live collection.
    base_snap = None
    if baseline:
        from skewaudit import baseline as base

        base_snap = base.load(baseline)
    if sides is not None and len(sides) > 1:
        # Several clusters (--context A --context B, or a snapshot set): one report grouped by context.
        if save_snapshot:
            multi.save(sides, save_snapshot)
        report = multi.audit(specs, sides, inline_ignores=inline_ignores, ignore=ignore)
        snapshot = None   # no single snapshot: prompt-token histograms are not compared across contexts
    else:
        if sides is not None:   # one snapshot file, already read
            retarget(specs, source.get("namespace"), None)
            if sides[0].snapshot is None:
                from skewaudit.errors import EnvironmentUnavailable

                raise EnvironmentUnavailable(f"context {sides[0].name} could not be read: {sides[0].reason}")
            snapshot = sides[0].snapshot
        else:
            snapshot = collect_for(specs, source)
        if save_snapshot:
            from skewaudit.collect import snapshot as snap_io

            snap_io.save(snapshot, save_snapshot)
        report = audit.run(specs, snapshot, audit.Options(inline_ignores=inline_ignores)) if specs else None
    if base_snap is not None:
        report = base.merge(report, base.compare(base_snap, snapshot, ignore=ignore, specs=specs), baseline)
    if (data or data_profile) and report is not None:
        report = with_data(report, data_results_for_specs(specs, data, data_profile))
    if report is not None:
        served = served_results_for_specs(specs, snapshot)
        if served:
            report = with_data(report, served)
    # The gate is decided before rendering: every format states the verdict the exit code carries.
    report = multi.gate(report, fail_on, fail_on_unpinned=fail_on_unpinned,
                        fail_on_unverifiable=fail_on_unverifiable, specs=specs)
    render_outputs(report, formats, outputs, show_matches)
    return audit.exit_code(report)


def _sides(specs: list[Any], source: dict[str, Any], baseline: str | None) -> list[Any] | None:
    """The sides of a several-cluster run (or of a ``--snapshot`` file, read once); None for one live or
    offline source."""
    from skewaudit import contexts as multi

    if multi.several(source):
        if baseline:
            raise InputError("--baseline compares one cluster with its last-good snapshot; with several --context, "
                             "run 'skewaudit compare --snapshot LAST-GOOD --context C' per cluster")
        return multi.collect_sides(multi.contexts_of(source), source, multi.spec_collector(specs, source))
    if source.get("snapshot"):
        sides = multi.snapshot_sides(source["snapshot"], source)
        if len(sides) > 1 and baseline:
            raise InputError(f"--baseline compares one cluster; {source['snapshot']} holds {len(sides)} contexts")
        return sides
    return None


# --- data skew (skewaudit.dataskew): the same findings, formats and gate ---------------------

def gated(report: Any, *, fail_on: str, fail_on_unverifiable: bool) -> Any:
    """``report`` with its gate block under these flags (validated here), for commands without specs."""
    from skewaudit import audit
    from skewaudit.model.finding import FAIL_ON

    if fail_on not in FAIL_ON:
        raise InputError(f"--fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    return audit.apply_gate(report, fail_on, fail_on_unverifiable=fail_on_unverifiable)


def data_report(results: list[Any], *, source: str, specs: list[str] | None = None) -> Any:
    """A report holding only data-skew results (``skewaudit data-diff``)."""
    from skewaudit import __version__, audit
    from skewaudit.model.finding import Report

    return Report(source=source, summary=audit.summarize(results, len(specs or []), 0, 0),
                  skewaudit_version=__version__, generated_at=_now(), specs=sorted(specs or []),
                  results=sorted(results, key=_data_key), checks=_data_checks(results))


def with_data(report: Any, results: list[Any]) -> Any:
    """``report`` with data-skew results added (``diff --data``), summary recounted."""
    import msgspec

    from skewaudit import audit

    merged = list(report.results) + sorted(results, key=_data_key)
    s = report.summary
    return msgspec.structs.replace(report, results=merged, summary=audit.summarize(merged, s.specs, s.workloads, s.pods),
                                   checks={**report.checks, **_data_checks(results)})


def data_results_for_specs(specs: list[Any], serving: list[str] | None, serving_profile: str | None) -> list[Any]:
    """Compare each spec's ``data.baseline`` with the serving data or profile (``diff --data``)."""
    return [r for c in data_comparisons(specs, serving, serving_profile) for r in c.results]


@dataclass(frozen=True)
class DataComparison:
    spec: Any
    base: Any                    # dataskew.compare.Side
    serve: Any
    results: list[Any]


def data_comparisons(specs: list[Any], serving: list[str] | None,
                     serving_profile: str | None) -> list[DataComparison]:
    """Each spec with a data block against the serving side (profiled once), with its results."""
    from skewaudit.dataskew.compare import compare
    from skewaudit.dataskew.sides import load_side

    with_block = with_data_block(specs)
    kinds = _spec_kinds(with_block)
    # Serving data is profiled once: with the specs' tokenizer when they name one (and the same one).
    toks = {_spec_tokenizer(s) for s in with_block}
    serve = load_side(list(serving or []) + ([serving_profile] if serving_profile else []), kinds=kinds,
                      tokenizer=toks.pop() if len(toks) == 1 else None)
    out: list[DataComparison] = []
    for loaded in with_block:
        base, setup = _spec_baseline(loaded, kinds)
        out.append(DataComparison(spec=loaded, base=base, serve=serve, results=compare(base, serve, setup)))
    return out


def with_data_block(specs: list[Any]) -> list[Any]:
    """The specs that declare a data baseline; none is a usage error (``--data`` has nothing to compare)."""
    with_block = [s for s in specs if getattr(s.spec.spec, "data", None) is not None]
    if not with_block:
        names = ", ".join(s.file for s in specs)
        raise InputError(f"--data/--data-profile: no spec declares a data baseline (spec.data.baseline) in {names}")
    return with_block


def _spec_kinds(with_block: list[Any]) -> dict[str, str]:
    return {n: f.kind for s in with_block for n, f in (s.spec.spec.data.features or {}).items() if f.kind}


def _spec_dir(loaded: Any) -> Any:
    from pathlib import Path

    return Path(loaded.file).resolve().parent if loaded.file not in ("-", "<stdin>") else Path.cwd()


def _spec_tokenizer(loaded: Any) -> str | None:
    """The data block's tokenizer path, relative to the spec file."""
    tok = loaded.spec.spec.data.tokenizer
    return str(_spec_dir(loaded) / tok) if tok else None   # an absolute path stays itself under '/'


def _spec_baseline(loaded: Any, kinds: dict[str, str]) -> tuple[Any, Any]:
    """The baseline side of a spec's data block (relative to the spec file) and its comparison setup."""
    from skewaudit.dataskew.compare import Setup
    from skewaudit.dataskew.sides import load_side

    block = loaded.spec.spec.data
    base = load_side([block.baseline], kinds=kinds, base_dir=_spec_dir(loaded), tokenizer=_spec_tokenizer(loaded))
    features = {n: {"thresholds": f.thresholds.model_dump(by_alias=True, exclude_none=True) if f.thresholds else {}}
                for n, f in (block.features or {}).items()}
    setup = Setup(spec_name=loaded.spec.metadata.name,
                  thresholds=block.thresholds.model_dump(by_alias=True, exclude_none=True) if block.thresholds else {},
                  features=features, only=sorted(block.features) if block.features and block.only_listed else None,
                  location=lambda f, _l=loaded: _data_location(_l, f), spec=loaded.spec)
    return base, setup


def served_from_page(path: str) -> Any:
    """The serving side of ``data-diff --serving-metrics PAGE``: a saved vLLM /metrics page."""
    from skewaudit.collect.probe import metrics, vllm
    from skewaudit.dataskew.served import Served
    from skewaudit.model.finding import TargetRef

    hist = metrics.histogram_file(path, vllm.NAMES)
    return Served(hist=hist, object=path, path=f"{hist.metric}_bucket", target=TargetRef(kind="Metrics", name=path))


def served_results_for_specs(specs: list[Any], snapshot: Any) -> list[Any]:
    """``data.prompt-length`` of each spec with a data block against the prompt-token histograms its
    engines reported to the runtime probe (``--probe``): replicas of one workload summed, as
    ``sum by (le)`` would."""
    from skewaudit.audit import WorkloadIndex
    from skewaudit.dataskew.served import Served, compare_served, summed
    from skewaudit.model.finding import TargetRef

    with_block = [s for s in specs if getattr(s.spec.spec, "data", None) is not None]
    if not with_block or snapshot is None:
        return []
    index = WorkloadIndex(snapshot.workloads)
    kinds = _spec_kinds(with_block)
    out: list[Any] = []
    for loaded in with_block:
        spec = loaded.spec
        target = spec.target_request() if hasattr(spec, "target_request") else None
        base = setup = None
        for w in index.find(target, spec.metadata.name):
            reports = [p.runtime for p in w.pods if p.runtime is not None and p.runtime.prompt_tokens is not None]
            if not reports:
                continue
            hist = summed([r.prompt_tokens for r in reports])
            groups = [(hist, reports)] if hist is not None else [(r.prompt_tokens, [r]) for r in reports]
            if base is None:
                base, setup = _spec_baseline(loaded, kinds)
            for h, rs in groups:
                where = ", ".join(r.object for r in rs)
                served = Served(hist=h, object=where, path=f"GET /metrics {h.metric}_bucket",
                                target=TargetRef(kind=w.kind, name=w.name, namespace=w.namespace))
                out.extend(compare_served(base, served, setup))
    return out


def _data_location(loaded: Any, field: str) -> Any:
    from skewaudit.model.finding import Location

    loc = loaded.location(field) or loaded.location("spec.data")
    return Location(file=loc.file, line=loc.line, col=loc.col) if loc else Location(file=loaded.file)


def _data_checks(results: list[Any]) -> dict[str, Any]:
    from skewaudit.playbook import load_playbook

    book = load_playbook()
    return {r.check: book[r.check] for r in results}


def _data_key(r: Any) -> tuple:
    return (r.spec, r.target.label(), r.field, r.check)


def _now() -> str:
    import datetime as _dt

    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
