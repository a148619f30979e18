"""`skewaudit data-diff BASELINE SERVING…`: data-distribution skew with no ModelSpec.

Both sides may be a profile file (``*.profile``) or data to profile now; the
served prompt lengths may also come from a saved vLLM ``/metrics`` page
(``--serving-metrics``). Findings, formats and exit codes are the same as
``diff``'s.
"""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from skewaudit.commands import _options as o
from skewaudit.commands.profile import Columns, InputFormat, Jobs, Kind, Sample, Seed, Tokenizer


def data_diff(
    baseline: Annotated[str, typer.Argument(help="The training/validation side: a profile file or data.",
                                            show_default=False)],
    serving: Annotated[Optional[list[str]], typer.Argument(
        help="The serving side: profile file(s) or data ('-' for stdin).", show_default=False)] = None,
    threshold: Annotated[Optional[list[str]], typer.Option(
        "--threshold", help="Override a metric's threshold: METRIC=VALUE or METRIC=off (psi, js-distance, ks, "
        "wasserstein, linf, unseen-share, missing-rate, prompt-over-validated). Repeatable.")] = None,
    columns: Columns = None,
    kind: Kind = None,
    sample: Sample = None,
    seed: Seed = 0,
    input_format: InputFormat = None,
    jobs: Jobs = 0,
    tokenizer: Tokenizer = None,
    serving_metrics: Annotated[Optional[str], typer.Option(
        "--serving-metrics", help="A saved vLLM /metrics page: its vllm:request_prompt_tokens histogram is the "
        "served prompt lengths, compared with the baseline's token lengths (data.prompt-length).")] = None,
    max_input_bytes: o.MaxInputBytes = "256Mi",
    formats: o.Formats = None,
    outputs: o.Outputs = None,
    fail_on: o.FailOn = "drift",
    fail_on_unverifiable: Annotated[bool, typer.Option(
        "--fail-on-unverifiable", help="Also exit 1 when a metric could not be computed.")] = False,
    show_matches: Annotated[bool, typer.Option("--show-matches", help="Table: also list metrics under threshold.")] = False,
) -> None:
    """Compare a baseline data profile with serving data, per feature (PSI, JS, KS, Wasserstein, L-infinity,
    unseen categories, missing rate, schema, prompt lengths).

    Exit codes: 0 no drift, 1 drift, 2 usage or input error.
    """
    from skewaudit.dataskew import thresholds as th
    from skewaudit.dataskew.compare import Setup, compare
    from skewaudit.dataskew.run import check_sample, parse_kinds, resolve_jobs
    from skewaudit.dataskew.sides import load_side
    from skewaudit.errors import InputError
    from skewaudit import audit
    from skewaudit.pipeline import data_report, gated, render_outputs

    o.apply_input_limit(max_input_bytes)
    if not serving and not serving_metrics:
        raise InputError("data-diff: give the serving side: data, a profile, or --serving-metrics PAGE")
    check_sample(sample)
    kinds = parse_kinds(list(kind or []))
    cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    flags = dict(th.parse_flag(t) for t in threshold or [])
    n = resolve_jobs(jobs)
    base = load_side([baseline], columns=cols, kinds=kinds, input_format=input_format, jobs=n, tokenizer=tokenizer)
    setup = Setup(flags=flags, only=cols)
    results = []
    if serving:
        serve = load_side(serving, columns=cols, kinds=kinds, sample=sample, seed=seed, input_format=input_format,
                          jobs=n, tokenizer=tokenizer)
        results += compare(base, serve, setup)
    if serving_metrics:
        from skewaudit.pipeline import served_from_page
        from skewaudit.dataskew.served import compare_served

        results += compare_served(base, served_from_page(serving_metrics), setup)
    report = gated(data_report(results, source="data"), fail_on=fail_on, fail_on_unverifiable=fail_on_unverifiable)
    render_outputs(report, list(formats or []), list(outputs or []), show_matches)
    raise typer.Exit(audit.exit_code(report))
