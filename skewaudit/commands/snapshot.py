"""`skewaudit snapshot`: save the observed facts of the target as versioned JSON."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from skewaudit.commands import _options as o


def snapshot(
    specs: Annotated[Optional[list[str]], typer.Argument(help="ModelSpecs whose targets to record (default: every "
                                                         "serving workload in scope).", show_default=False)] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="Snapshot file to write (atomically); '-' for stdout.")] = "-",
    manifest: o.Manifest = None,
    local: o.Local = False,
    pid: o.Pid = None,
    cmdline: o.Cmdline = None,
    kubeconfig: o.Kubeconfig = None,
    context: o.Contexts = None,
    namespace: o.Namespace = None,
    all_namespaces: o.AllNamespaces = False,
    exec_gpu: o.ExecGpu = False,
    probe: o.Probe = False,
    endpoint: o.Endpoint = None,
    workers: o.Workers = 4,
    timeout: o.Timeout = 10.0,
    deadline: o.Deadline = 300.0,
    max_input_bytes: o.MaxInputBytes = "256Mi",
) -> None:
    """Record what is running now (secrets redacted, provenance kept) for later audits and baseline diffs.

    With several --context: one snapshot set (one snapshot per context); a context that cannot be read is
    recorded as such, the others are written, and the exit code is 3."""
    from skewaudit import contexts as multi
    from skewaudit.collect import snapshot as snap_io
    from skewaudit.pipeline import collect_for, load_specs

    loaded = load_specs(list(specs)) if specs else []
    source = o.source_args(locals())
    if not multi.several(source):
        snap = collect_for(loaded, source)
        snap_io.save(snap, output)
        if output != "-":
            typer.echo(f"{output}: {_counts(snap)}", err=True)
        return
    sides = multi.collect_sides(multi.contexts_of(source), source, multi.spec_collector(loaded, source))
    multi.save(sides, output)
    if output != "-":
        for side in sides:
            typer.echo(f"{output}: context {side.name}: " + (_counts(side.snapshot) if side.snapshot is not None
                                                             else "could not be read"), err=True)
    if any(side.snapshot is None for side in sides):
        raise typer.Exit(3)


def _counts(snap) -> str:
    n_pods = sum(len(w.pods) for w in snap.workloads)

    def n(count: int, word: str) -> str:
        return f"{count} {word}{'' if count == 1 else 's'}"

    return f"{n(len(snap.workloads), 'workload')}, {n(n_pods, 'pod')}, {n(len(snap.issues), 'collection issue')}"
