"""The last audit run as Prometheus metrics (text exposition format).

Label sets are bounded by what the specs name, never by values read from the
cluster: no expected/observed value, pod name, image or message is a label
(they are unbounded and may be sensitive). The README lists every series.

- ``skewaudit_findings{spec,namespace,workload,check,level,status}``: results
  of the last successful run (≤ specs × workloads they target × checks; only
  label sets with a result are exported).
- ``skewaudit_gate_failed``, ``skewaudit_gate_failing_findings{status}``: the
  verdict ``diff`` would exit 1 on, and what made it.
- ``skewaudit_collection_issues{kind,area}``: facts that could not be collected.
- ``skewaudit_last_run_*``, ``skewaudit_runs_total{result}``: run health.
- ``skewaudit_data_skew_score{spec,feature,metric}``: with ``--data``/``--data-profile`` and a spec
  ``data`` block, each feature's score (PSI, JS distance, KS, Wasserstein, L-infinity, unseen share,
  missing rate, prompt share over the validated length). Feature names come from the data, so they
  are capped: at most :data:`MAX_FEATURES` per spec (drifted features first, then by name);
  ``skewaudit_data_features_omitted{spec}`` counts the rest.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

from skewaudit.serve.state import RunState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_FEATURES = 50   # data-skew features exported per spec (label cardinality stays bounded)


def families(state: RunState) -> Iterator[object]:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    from skewaudit import __version__

    info = GaugeMetricFamily("skewaudit_build_info", "skewaudit version (always 1).", labels=["version"])
    info.add_metric([__version__], 1)
    yield info
    yield GaugeMetricFamily("skewaudit_last_run_timestamp_seconds", "Unix time the last audit run ended (0: none yet).",
                            value=state.last_run)
    yield GaugeMetricFamily("skewaudit_last_success_timestamp_seconds",
                            "Unix time the last successful audit run ended (0: none yet).", value=state.last_success)
    yield GaugeMetricFamily("skewaudit_last_run_duration_seconds", "How long the last audit run took.",
                            value=state.duration)
    yield GaugeMetricFamily("skewaudit_last_run_success",
                            "1 if the last audit run completed, 0 if it failed (the metrics below are then "
                            "from the last successful run).", value=1 if state.success else 0)
    runs = CounterMetricFamily("skewaudit_runs", "Audit runs by outcome.", labels=["result"])
    for result in ("success", "error"):
        runs.add_metric([result], state.runs.get(result, 0))
    yield runs

    report = state.report
    findings = GaugeMetricFamily(
        "skewaudit_findings", "Results of the last successful audit by spec, workload, check, level and status "
        "(match, drift, unverifiable, unpinned, suppressed, not_applicable).",
        labels=["spec", "namespace", "workload", "check", "level", "status"])
    issues = GaugeMetricFamily("skewaudit_collection_issues", "Fact areas that could not be collected, by kind "
                               "(forbidden, unreachable…) and area (hardware, pods…).", labels=["kind", "area"])
    failed = GaugeMetricFamily("skewaudit_gate_failed", "Whether the last audit fails the gate (diff would exit 1): 1 yes, 0 no.",
                               labels=[])
    failing = GaugeMetricFamily("skewaudit_gate_failing_findings", "Results that fail the gate, by status.",
                                labels=["status"])
    if report is not None:
        counts = Counter((r.spec, r.target.namespace, f"{r.target.kind}/{r.target.name}" if r.target.name else "",
                          r.check, r.level, r.status) for r in report.results)
        for labels, n in sorted(counts.items()):
            findings.add_metric(list(labels), n)
        for (kind, area), n in sorted(Counter((i.kind, i.area) for i in report.issues).items()):
            issues.add_metric([kind, area], n)
        gate = report.gate
        failed.add_metric([], 1 if gate is not None and gate.result == "fail" else 0)
        for status, n in sorted((gate.failing if gate is not None else {}).items()):
            failing.add_metric([status], n)
    yield from (findings, issues, failed, failing)
    yield from _data_families(report)


def _data_families(report) -> Iterator[object]:
    from prometheus_client.core import GaugeMetricFamily

    scores = GaugeMetricFamily("skewaudit_data_skew_score", "Data-skew score of a feature, serving data versus the "
                               "spec's data baseline, by metric (psi, js-distance, ks, wasserstein, linf, "
                               "unseen-categories, missing-rate, prompt-length).", labels=["spec", "feature", "metric"])
    omitted = GaugeMetricFamily("skewaudit_data_features_omitted", f"Features left out of skewaudit_data_skew_score "
                                f"(at most {MAX_FEATURES} per spec).", labels=["spec"])
    per_spec: dict[str, dict[str, list]] = {}
    for r in (report.results if report is not None else []):
        value = r.observed[0].value if r.category == "data" and r.observed else None
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value == value:
            feature = r.field.removeprefix("spec.data.features.")
            per_spec.setdefault(r.spec, {}).setdefault(feature, []).append((r.check.removeprefix("data."), value,
                                                                            r.status))
    for spec in sorted(per_spec):
        features = per_spec[spec]
        ranked = sorted(features, key=lambda f: (not any(st == "drift" for _, _, st in features[f]), f))
        for feature in sorted(ranked[:MAX_FEATURES]):
            for metric, value, _ in sorted(features[feature], key=lambda x: x[0]):
                scores.add_metric([spec, feature, metric], float(value))
        if len(ranked) > MAX_FEATURES:
            omitted.add_metric([spec], len(ranked) - MAX_FEATURES)
    yield from (scores, omitted)


def _registry(state: RunState):
    from prometheus_client import CollectorRegistry

    class _Last:
        def collect(self):
            return families(state)

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Last())
    return registry


def exposition(state: RunState) -> bytes:
    """The whole exposition for ``state`` (what /metrics serves and --textfile writes)."""
    from prometheus_client import generate_latest

    return generate_latest(_registry(state))


def push(state: RunState, gateway: str, *, job: str, timeout: float) -> None:
    """PUT ``state``'s metrics to a Pushgateway as group ``job`` (replacing that group's last push), within
    ``timeout`` seconds; an unreachable or refusing gateway is EnvironmentUnavailable (exit 3)."""
    import urllib.error

    from prometheus_client import push_to_gateway

    from skewaudit.errors import EnvironmentUnavailable

    try:
        push_to_gateway(gateway, job=job, registry=_registry(state), timeout=timeout)
    except urllib.error.HTTPError as e:
        body = e.read(2048).decode("utf-8", "replace").strip()
        raise EnvironmentUnavailable(f"pushgateway {gateway} answered {e.code}" + (f": {body}" if body else "")) \
            from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        why = getattr(e, "reason", None) or e
        if isinstance(why, TimeoutError) or "timed out" in str(why):
            why = f"no answer within {timeout:g} s (--timeout)"
        raise EnvironmentUnavailable(f"cannot push to pushgateway {gateway}: {why}") from None
