"""Prometheus text from an engine's ``/metrics``: info labels and the symptom block.

The only importer of ``prometheus_client`` (its text parser, imported when a
probe reads ``/metrics``; not on the CLI start-up path). Each engine module
names its metrics in a :class:`Names`; what the names mean is the same for
all: latency percentiles interpolated in the cumulative histogram buckets (as
PromQL's ``histogram_quantile``), gauges summed over label sets (one engine
can export one series per model or per data-parallel rank), counters turned
into an average rate over the process's uptime.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from skewaudit.model.observed import Symptoms, TokenHistogram


@dataclass(frozen=True)
class Names:
    """Which metric (first present wins) feeds each symptom."""

    ttft: tuple[str, ...] = ()
    tpot: tuple[str, ...] = ()
    queue: tuple[str, ...] = ()
    running: tuple[str, ...] = ()
    kv_usage: tuple[str, ...] = ()
    preemptions: tuple[str, ...] = ()
    prompt_tokens: tuple[str, ...] = ()
    generation_tokens: tuple[str, ...] = ()
    prompt_histogram: tuple[str, ...] = ()   # request prompt lengths in tokens (a histogram)


class Samples:
    """Parsed samples by sample name (``x_bucket``, ``x_total``, ``x``)."""

    def __init__(self, by_name: dict[str, list[tuple[dict[str, str], float]]]):
        self.by_name = by_name

    def labels(self, name: str) -> dict[str, str] | None:
        """The labels of the first sample of an info-style gauge (``vllm:cache_config_info``)."""
        got = self.by_name.get(name)
        return dict(got[0][0]) if got else None

    def total(self, *names: str) -> float | None:
        for n in names:
            got = self.by_name.get(n)
            if got:
                return sum(v for _, v in got if not math.isnan(v))
        return None

    def quantile(self, q: float, *names: str) -> float | None:
        for n in names:
            buckets = self.by_name.get(n + "_bucket")
            if buckets:
                return _histogram_quantile(q, buckets)
        return None


def wanted(text: str, families: tuple[str, ...]) -> str:
    """Only the lines of ``families`` (and their HELP/TYPE lines): a busy engine's page has
    hundreds of series, and the parser's time follows the lines it is given."""
    keep = []
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[2].startswith(families):
                keep.append(line)
        elif line.startswith(families):
            keep.append(line)
    return "\n".join(keep) + "\n"


def families(names: Names, *extra: str) -> tuple[str, ...]:
    """Every metric name (prefix) a :class:`Names` reads, plus ``extra``."""
    out = {"process_start_time_seconds", *extra}
    for group in (names.ttft, names.tpot, names.queue, names.running, names.kv_usage, names.preemptions,
                  names.prompt_tokens, names.generation_tokens, names.prompt_histogram):
        out.update(group)
    return tuple(sorted(out))


def parse(text: str) -> Samples:
    """Samples of a Prometheus text page; ValueError (one line) when it is not one."""
    from prometheus_client.parser import text_string_to_metric_families

    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    try:
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                by_name.setdefault(s.name, []).append((s.labels, float(s.value)))
    except (ValueError, TypeError, IndexError) as e:
        raise ValueError(f"not Prometheus text: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}") \
            from None
    return Samples(by_name)


def histogram(samples: Samples, *names: str) -> TokenHistogram | None:
    """The first of ``names`` present as a histogram, its buckets summed over label sets (replicas
    behind one page, data-parallel ranks): what ``sum by (le)`` gives in PromQL."""
    for n in names:
        buckets = samples.by_name.get(n + "_bucket")
        if not buckets:
            continue
        acc = _by_le(buckets)
        finite = sorted((le, c) for le, c in acc.items() if not math.isinf(le))
        total = acc.get(math.inf, finite[-1][1] if finite else 0.0)
        return TokenHistogram(metric=n, bounds=[le for le, _ in finite], cumulative=[c for _, c in finite],
                              count=total, sum=samples.total(n + "_sum"))
    return None


def _by_le(buckets: list[tuple[dict[str, str], float]]) -> dict[float, float]:
    """Cumulative bucket counts by upper bound (``le``), summed across label sets."""
    acc: dict[float, float] = {}
    for labels, v in buckets:
        try:
            le = float(labels.get("le", "nan"))
        except ValueError:
            continue
        if not math.isnan(le) and not math.isnan(v):
            acc[le] = acc.get(le, 0.0) + v
    return acc


def _histogram_quantile(q: float, buckets: list[tuple[dict[str, str], float]]) -> float | None:
    """``histogram_quantile`` over cumulative buckets summed across label sets."""
    edges = sorted(_by_le(buckets).items())
    if not edges or edges[-1][1] <= 0:
        return None
    total = edges[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in edges:
        if count >= rank:
            if math.isinf(le):
                return prev_le   # the quantile is past the last finite bucket: its bound is what we know
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def symptoms(samples: Samples, names: Names, now: float | None = None) -> Symptoms | None:
    """The symptom block, or None when the page has none of the engine's metrics."""
    start = samples.total("process_start_time_seconds")
    uptime = (now if now is not None else time.time()) - start if start else None
    if uptime is not None and uptime <= 0:
        uptime = None

    def rate(ns: tuple[str, ...]) -> float | None:
        v = samples.total(*ns)
        return round(v / uptime, 3) if v is not None and uptime else None

    def r(v: float | None, nd: int = 4) -> float | None:
        return None if v is None else round(v, nd)

    s = Symptoms(
        ttft_p50_s=r(samples.quantile(0.5, *names.ttft)), ttft_p95_s=r(samples.quantile(0.95, *names.ttft)),
        tpot_p50_s=r(samples.quantile(0.5, *names.tpot)), tpot_p95_s=r(samples.quantile(0.95, *names.tpot)),
        queue_length=r(samples.total(*names.queue)), running=r(samples.total(*names.running)),
        kv_cache_usage=r(samples.total(*names.kv_usage)), preemptions=r(samples.total(*names.preemptions)),
        prompt_tokens_per_s=rate(names.prompt_tokens), generation_tokens_per_s=rate(names.generation_tokens),
        uptime_s=round(uptime, 1) if uptime else None)
    return None if s == Symptoms(uptime_s=s.uptime_s) else s


def read_symptoms(s, path: str, names: Names, *extra: str) -> Samples | None:
    """Parse ``path`` of session ``s`` (the families ``names`` and ``extra`` name) and set its
    symptom block; the samples, or None."""
    text = s.text(path)
    if text is None:
        return None
    try:
        if text and not text.endswith("\n"):
            # the format ends every line with a line feed: this page was cut off
            raise ValueError("not Prometheus text: the page ends mid-line (cut off)")
        picked = wanted(text, families(names, *extra))
        # none of ours: read it all, so a page that is not Prometheus text (an HTML error page) says so
        samples = parse(picked if any(ln and not ln.startswith("#") for ln in picked.splitlines()) else text)
    except ValueError as e:
        s.malformed(path, str(e))
        return None
    s.symptoms = symptoms(samples, names)
    s.prompt_tokens = histogram(samples, *names.prompt_histogram)
    return samples


def histogram_file(path: str, names: Names) -> TokenHistogram:
    """The prompt-token histogram of a saved ``/metrics`` page (``curl …/metrics > page.txt``),
    read within ``--max-input-bytes``; InputError (one line, naming the file) when the page is
    not Prometheus text or has no such histogram."""
    from skewaudit.errors import InputError
    from skewaudit.limits import read_input

    try:
        text = read_input(path).decode("utf-8", "replace")
    except OSError as e:
        raise InputError(f"{path}: cannot read metrics: {e.strerror}") from None
    picked = wanted(text, names.prompt_histogram)
    try:
        samples = parse(picked if any(ln and not ln.startswith("#") for ln in picked.splitlines()) else text)
    except ValueError as e:
        raise InputError(f"{path}: {e}") from None
    found = histogram(samples, *names.prompt_histogram)
    if found is None:
        raise InputError(f"{path}: no {' or '.join(names.prompt_histogram)} histogram in this metrics page "
                         "(save the engine's /metrics page: curl -s http://ENGINE:8000/metrics)")
    return found
