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
    context: o.Context = None,
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
    """Record what is running now (secrets redacted, provenance kept) for later audits and baseline diffs."""
    from skewaudit.collect import snapshot as snap_io
    from skewaudit.pipeline import collect_for, load_specs

    loaded = load_specs(list(specs)) if specs else []
    snap = collect_for(loaded, o.source_args(locals()))
    snap_io.save(snap, output)
    if output != "-":
        n_pods = sum(len(w.pods) for w in snap.workloads)

        def n(count: int, word: str) -> str:
            return f"{count} {word}{'' if count == 1 else 's'}"

        typer.echo(f"{output}: {n(len(snap.workloads), 'workload')}, {n(n_pods, 'pod')}, "
                   f"{n(len(snap.issues), 'collection issue')}", err=True)
