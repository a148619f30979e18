"""`skewaudit bundle`: write the incident evidence bundle (Markdown + JSON)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from skewaudit.commands import _options as o


def bundle(
    specs: Annotated[Optional[list[str]], typer.Argument(help="ModelSpecs to audit into the bundle (optional).",
                                                         show_default=False)] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="File prefix: writes PREFIX.md and PREFIX.json (atomically).")] = "skewaudit-bundle",
    baseline: Annotated[Optional[str], typer.Option("--baseline", help="Include the diff against this last-good snapshot.")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(
        "--ignore", help="Baseline: extra fact path to ignore (glob, e.g. 'containers.*.env.BUILD_ID'). Repeatable.")] = None,
    manifest: o.Manifest = None,
    snapshot: o.SnapshotIn = None,
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
    data: Annotated[Optional[list[str]], typer.Option(
        "--data", help="Serving data to compare with each spec's data baseline; the bundle shows the top "
        "drifting features with histograms. Repeatable.")] = None,
    data_profile: Annotated[Optional[str], typer.Option(
        "--data-profile", help="A profile of the serving data instead of --data.")] = None,
) -> None:
    """Write the playbook's minimal evidence bundle for an incident ticket."""
    import json

    from skewaudit import audit
    from skewaudit import baseline as base
    from skewaudit import bundle as b
    from skewaudit.collect import snapshot as snap_io
    from skewaudit.fsutil import write_atomic
    from skewaudit.pipeline import collect_for, load_specs

    loaded = load_specs(list(specs)) if specs else []
    # Read the baseline before collecting: a wrong path should not cost a cluster round trip.
    last_good = base.load(baseline) if baseline else None
    for suffix in (".md", ".json"):
        # "-o incident.md" means the prefix "incident": never write incident.md.md.
        if output.endswith(suffix):
            output = output[: -len(suffix)]
    snap = snap_io.stamp(collect_for(loaded, o.source_args(locals())))
    report = audit.run(loaded, snap) if loaded else None
    if last_good is not None:
        report = base.merge(report, base.compare(last_good, snap, ignore=list(ignore or []), specs=loaded), baseline)
    data_skew = []
    if (data or data_profile) and report is not None:
        from skewaudit.dataskew.histogram import top_drifting
        from skewaudit.pipeline import data_comparisons, with_data

        comparisons = data_comparisons(loaded, list(data or []), data_profile)
        report = with_data(report, [r for c in comparisons for r in c.results])
        data_skew = [{"spec": c.spec.spec.metadata.name, "baseline": c.base.label, "serving": c.serve.label,
                      "features": top_drifting(c.base, c.serve, c.results)} for c in comparisons]
    data = b.build(snap, report, data_skew=data_skew)
    write_atomic(f"{output}.json", json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    write_atomic(f"{output}.md", b.markdown(data))
    nw, nf = len(data["workloads"]), len(data["findings"])
    typer.echo(f"wrote {output}.md and {output}.json ({nw} workload{'' if nw == 1 else 's'}, "
               f"{nf} finding{'' if nf == 1 else 's'})", err=True)
