"""`skewaudit diff`: intended (ModelSpec) versus running, with a CI exit code."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from skewaudit.commands import _options as o


def diff(
    specs: Annotated[Optional[list[str]], typer.Argument(
        help="ModelSpec files or directories ('-' for stdin). A directory audits a fleet.", show_default=False)] = None,
    manifest: o.Manifest = None,
    snapshot: o.SnapshotIn = None,
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
    formats: o.Formats = None,
    outputs: o.Outputs = None,
    fail_on: o.FailOn = "drift",
    fail_on_unpinned: Annotated[bool, typer.Option(
        "--fail-on-unpinned", help="Also exit 1 on any unpinned result (:latest, no revision…); "
        "spec equivalent: spec.policy.failOn.unpinned.")] = False,
    fail_on_unverifiable: Annotated[bool, typer.Option(
        "--fail-on-unverifiable", help="Also exit 1 when any intended value could not be verified; "
        "spec equivalent: spec.policy.failOn.unverifiable.")] = False,
    no_inline_ignores: Annotated[bool, typer.Option(
        "--no-inline-ignores", help="Ignore skewaudit.io/ignore annotations on workloads (CI owners).")] = False,
    show_matches: Annotated[bool, typer.Option("--show-matches", help="Table: also list what matched.")] = False,
    baseline: Annotated[Optional[str], typer.Option(
        "--baseline", help="Also compare against a last-good snapshot (skewaudit snapshot -o FILE).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(
        "--ignore", help="Baseline: extra fact path to ignore (glob, e.g. 'workloads.*.labels.version'). Repeatable.")] = None,
    save_snapshot: Annotated[Optional[str], typer.Option(
        "--save-snapshot", help="Also save the collected facts as a snapshot file.")] = None,
    data: Annotated[Optional[list[str]], typer.Option(
        "--data", help="Serving data to compare with each spec's data baseline (spec.data): Parquet, CSV, JSON "
        "Lines or '-'. Repeatable.")] = None,
    data_profile: Annotated[Optional[str], typer.Option(
        "--data-profile", help="A profile of the serving data (skewaudit profile) instead of --data.")] = None,
    intent_from_eval: Annotated[Optional[str], typer.Option(
        "--intent-from-eval", help="Audit against the validation record itself (an lm-evaluation-harness results "
        "JSON) instead of, or besides, hand-written specs.")] = None,
    eval_model_dir: Annotated[Optional[str], typer.Option(
        "--eval-model-dir", help="With --intent-from-eval: the evaluated model's snapshot directory.")] = None,
    eval_mlflow_model: Annotated[Optional[str], typer.Option(
        "--eval-mlflow-model", help="With --intent-from-eval: the evaluated MLflow model directory (MLmodel, "
        "requirements.txt pins).")] = None,
    eval_target: Annotated[Optional[str], typer.Option(
        "--eval-target", help="With --intent-from-eval: the workload serving the evaluated model, NAME or "
        "KIND/NAME (default: a workload named like the model).")] = None,
) -> None:
    """Compare ModelSpecs with what is running and print every mismatch.

    Exit codes: 0 nothing fails the gate, 1 drift found (any level by default; --fail-on narrows it;
    unpinned/unverifiable only with their switches), 2 usage or input error, 3 environment unavailable.
    """
    from skewaudit.errors import InputError, printable
    from skewaudit.model.finding import FAIL_ON
    from skewaudit.pipeline import audit_and_render

    if fail_on not in FAIL_ON:
        raise InputError(f"--fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    if not specs and not baseline and not intent_from_eval:
        raise InputError("give at least one ModelSpec (file, directory or '-'), --intent-from-eval FILE or "
                         "--baseline FILE")
    loaded = []
    if intent_from_eval:
        from skewaudit.evalintent.intent import audit_spec

        # The intent lives in memory only: its findings point into the record each value came from.
        # `skewaudit init --from-eval` writes the same spec to keep and review.
        intent, warnings = audit_spec(intent_from_eval, eval_model_dir, eval_mlflow_model, eval_target)
        for w in warnings:
            sys.stderr.write(printable(w) + "\n")
        loaded.append(intent)
    source: o.SourceArgs = {
        "manifest": manifest, "snapshot": snapshot, "local": local, "pid": pid, "cmdline": cmdline,
        "kubeconfig": kubeconfig, "context": context, "namespace": namespace, "all_namespaces": all_namespaces,
        "exec_gpu": exec_gpu, "workers": workers, "timeout": timeout, "deadline": deadline,
        "max_input_bytes": max_input_bytes, "probe": probe, "endpoint": endpoint,
    }
    code = audit_and_render(
        spec_paths=list(specs or []), loaded=loaded, source=dict(source), formats=list(formats or []),
        outputs=list(outputs or []), fail_on=fail_on, fail_on_unverifiable=fail_on_unverifiable,
        fail_on_unpinned=fail_on_unpinned, inline_ignores=not no_inline_ignores, show_matches=show_matches,
        baseline=baseline, ignore=list(ignore or []), save_snapshot=save_snapshot, data=list(data or []),
        data_profile=data_profile)
    raise typer.Exit(code)
