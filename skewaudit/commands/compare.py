"""`skewaudit compare`: two running states compared directly, with no spec.

Two live clusters (``--context staging --context prod``), two snapshots
(``--snapshot a.json --snapshot b.json``, or one snapshot set of two contexts),
or a snapshot and a cluster: the playbook's "staging OK, prod bad" in one
command. The findings, formats and gate are those of ``diff --baseline``; the
first side is the reference.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from skewaudit.commands import _options as o
from skewaudit.commands import completion as _c


def compare(
    workload: Annotated[Optional[str], typer.Argument(
        help="Only this workload: NAME or KIND/NAME (default: every serving workload in scope).",
        show_default=False)] = None,
    context: Annotated[Optional[list[str]], typer.Option(
        "--context", autocompletion=_c.kube_contexts, help="A side read live from this kubeconfig context. "
        "Repeatable.")] = None,
    snapshots: Annotated[Optional[list[str]], typer.Option(
        "--snapshot", help="A side read from a snapshot file (skewaudit snapshot -o FILE; a snapshot set of two "
        "contexts is both sides). Repeatable; snapshot sides come before --context sides.")] = None,
    kubeconfig: o.Kubeconfig = None,
    namespace: Annotated[Optional[str], typer.Option(
        "--namespace", "-n", help="Namespace to compare on both sides (default: each context's own).")] = None,
    all_namespaces: o.AllNamespaces = False,
    exec_gpu: o.ExecGpu = False,
    probe: o.Probe = False,
    workers: o.Workers = 4,
    timeout: o.Timeout = 10.0,
    deadline: o.Deadline = 300.0,
    max_input_bytes: o.MaxInputBytes = "256Mi",
    ignore: Annotated[Optional[list[str]], typer.Option(
        "--ignore", help="A fact path to leave out (glob, e.g. 'replicas' or 'containers.*.env.REGION'). "
        "Repeatable.")] = None,
    formats: Annotated[Optional[list[str]], typer.Option(
        "--format", "-F", autocompletion=_c.REPORT_FORMATS,
        help="table, json, sarif, junit or markdown. Repeat with --output to write several.")] = None,
    outputs: Annotated[Optional[list[str]], typer.Option(
        "--output", "-o", help="Write the matching --format here (atomically). Repeatable, paired in order.")] = None,
    fail_on: Annotated[str, typer.Option(
        "--fail-on", envvar="SKEWAUDIT_FAIL_ON",
        help="Which difference exits 1: drift (any level, the default) | error | warning | info | never.")] = "drift",
    fail_on_unverifiable: Annotated[bool, typer.Option(
        "--fail-on-unverifiable", help="Also exit 1 when a fact could not be read on a side.")] = False,
    show_matches: Annotated[bool, typer.Option("--show-matches", help="Table: also list what matched.")] = False,
) -> None:
    """Compare two clusters (or snapshots) directly: every serving fact that differs, no spec needed.

    Exit codes: 0 the two sides agree, 1 they differ (--fail-on narrows it), 2 usage or input error,
    3 a side could not be read.
    """
    from skewaudit import contexts as multi
    from skewaudit.pipeline import gated, render_outputs

    source = o.source_args(locals())
    report = multi.compare_sides(multi.sides_to_compare(list(snapshots or []), source, workload),
                                 workload=workload, namespace=namespace, ignore=list(ignore or []))
    report = gated(report, fail_on=fail_on, fail_on_unverifiable=fail_on_unverifiable)
    render_outputs(report, list(formats or []), list(outputs or []), show_matches)
    raise typer.Exit(report.gate.exit_code)
