"""`skewaudit serve`: audit on an interval and expose Prometheus metrics (or, with --once, one run)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from skewaudit.commands import _options as o


def serve(
    specs: Annotated[list[str], typer.Argument(help="ModelSpec files or directories (e.g. a mounted ConfigMap).",
                                               show_default=False)],
    manifest: o.Manifest = None,
    snapshot: o.SnapshotIn = None,
    kubeconfig: o.Kubeconfig = None,
    context: o.Context = None,
    namespace: o.Namespace = None,
    all_namespaces: o.AllNamespaces = False,
    workers: o.Workers = 4,
    timeout: o.Timeout = 10.0,
    deadline: o.Deadline = 300.0,
    max_input_bytes: o.MaxInputBytes = "256Mi",
    interval: Annotated[float, typer.Option("--interval", min=1.0, help="Seconds between audit runs.")] = 300.0,
    listen: Annotated[str, typer.Option("--listen", help="Address to listen on; 0.0.0.0 inside a cluster (the "
                                        "pod's network namespace).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port for /metrics, /healthz, /report.")] = 9808,
    once: Annotated[bool, typer.Option("--once", help="Audit once, print the metrics (or write --textfile) and exit "
                                       "(for a CronJob).")] = False,
    textfile: Annotated[Optional[str], typer.Option(
        "--textfile", help="With --once: write the metrics to this file atomically (node-exporter textfile "
        "collector; name it *.prom).")] = None,
    pushgateway: Annotated[Optional[str], typer.Option(
        "--pushgateway", envvar="SKEWAUDIT_PUSHGATEWAY", help="With --once: push the metrics to this Prometheus "
        "Pushgateway (http://host:9091), replacing the group of --push-job; bounded by --timeout.")] = None,
    push_job: Annotated[str, typer.Option("--push-job", help="The Pushgateway job (group) to push as.")] = "skewaudit",
    data: Annotated[Optional[list[str]], typer.Option(
        "--data", help="Serving data to compare with each spec's data baseline (spec.data), re-read every run; "
        "scores appear as skewaudit_data_skew_score. Repeatable.")] = None,
    data_profile: Annotated[Optional[str], typer.Option(
        "--data-profile", help="A profile of the serving data (skewaudit profile) instead of --data.")] = None,
    fail_on: Annotated[str, typer.Option("--fail-on", envvar="SKEWAUDIT_FAIL_ON",
                                         help="Which drift sets skewaudit_gate_failed (as diff's --fail-on).")] = "drift",
    no_inline_ignores: Annotated[bool, typer.Option(
        "--no-inline-ignores", help="Ignore skewaudit.io/ignore annotations on workloads.")] = False,
) -> None:
    """Audit continuously, read-only, and serve /metrics, /healthz and /report.

    Exit codes with --once: 0 the audit ran (drift is in the metrics), 2 usage or input error,
    3 environment unavailable or the Pushgateway could not be reached (the textfile and the push still
    record a failed run).
    """
    from skewaudit.errors import InputError
    from skewaudit.model.finding import FAIL_ON
    from skewaudit.serve.loop import run_one, serve_forever
    from skewaudit.serve.state import Holder

    if fail_on not in FAIL_ON:
        raise InputError(f"--fail-on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}")
    if textfile and not once:
        raise InputError("--textfile writes one run's metrics: use it with --once")
    if pushgateway and not once:
        raise InputError("--pushgateway pushes one run's metrics: use it with --once (Prometheus scrapes the "
                         "long-running serve itself)")
    if pushgateway and not pushgateway.startswith(("http://", "https://")):
        raise InputError(f"--pushgateway must be an http:// or https:// URL, not {pushgateway!r}")
    source = o.source_args(locals())
    holder = Holder()
    extra = {"data": list(data or []), "data_profile": data_profile}
    if not once:
        from skewaudit.pipeline import load_specs, with_data_block

        loaded = load_specs(specs)   # a bad spec is a clear exit 2 at start, not a pod that serves errors
        if data or data_profile:
            with_data_block(loaded)
        serve_forever(holder, specs, source, fail_on=fail_on, inline_ignores=not no_inline_ignores, host=listen,
                      port=port, interval=interval, **extra)
        return
    err = run_one(holder, specs, source, fail_on=fail_on, inline_ignores=not no_inline_ignores, **extra)
    from skewaudit.errors import EnvironmentUnavailable
    from skewaudit.serve.metrics import exposition

    if err is not None and not isinstance(err, EnvironmentUnavailable):
        raise err   # bad input: no metrics file that looks like a run
    body = exposition(holder.get())
    if textfile:
        from skewaudit.fsutil import write_atomic

        write_atomic(textfile, body)
    if pushgateway:
        from skewaudit.serve.metrics import push

        push(holder.get(), pushgateway, job=push_job, timeout=timeout)
    if not textfile and not pushgateway:
        typer.echo(body.decode(), nl=False)
    if err is not None:
        raise err
