"""``make fuzz``: run every property of tests/test_fuzz.py for ``FUZZ_MINUTES`` (default 30).

``FUZZ_TARGETS=redaction,manifest`` keeps only the targets whose names contain one of those words.
The time is shared equally between the targets; each target's property runs in
batches of the ``fuzz`` profile (random, no example database) until its share
is spent. At the end: per target, the examples tried and the distinct failures
found, each with its falsifying example. Exit 1 when anything failed.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path

os.environ["SKEWAUDIT_FUZZ_PROFILE"] = "fuzz"
sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_fuzz as tf  # noqa: E402


def _signature(e: BaseException) -> str:
    """Type, message head and innermost skewaudit frame: failures with one cause count once."""
    if isinstance(e, BaseExceptionGroup):
        return " | ".join(sorted({_signature(x) for x in e.exceptions}))
    frames = [f for f in traceback.extract_tb(e.__traceback__) if "/skewaudit/" in f.filename]
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}{where}"


def _example(e: BaseException) -> str:
    notes = [n for n in getattr(e, "__notes__", []) if n.strip()]
    if isinstance(e, BaseExceptionGroup):
        notes += [n for x in e.exceptions for n in getattr(x, "__notes__", [])]
    return "\n".join(notes)[:4000]


def main() -> int:
    minutes = float(os.environ.get("FUZZ_MINUTES") or 30)
    targets = [(n, f) for n, f in vars(tf).items() if n.startswith("test_") and callable(f)]
    wanted = [w.strip() for w in os.environ.get("FUZZ_TARGETS", "").split(",") if w.strip()]
    if wanted:   # a confirmation run of the targets a long run failed on: names containing one of these
        targets = [(n, f) for n, f in targets if any(w in n for w in wanted)]
    share = minutes * 60 / len(targets)
    report = []
    for name, fn in targets:
        failures: dict[str, str] = {}
        batches, end = 0, time.monotonic() + share
        before = dict(tf.TRIED)
        while time.monotonic() < end:
            batches += 1
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - a failure is what we are looking for
                failures.setdefault(_signature(e), _example(e))
        tried = sum(tf.TRIED.values()) - sum(before.values())
        report.append((name, tried, batches, failures))
        print(f"{name}: {tried} examples in {batches} batches, {len(failures)} distinct failure(s)", flush=True)
    print(f"\nfuzz summary ({minutes:g} min, {len(targets)} targets)")
    print(f"{'target':40} {'examples':>9} {'failures':>9}")
    for name, tried, _, failures in report:
        print(f"{name:40} {tried:>9} {len(failures):>9}")
    for name, _, _, failures in report:
        for sig, example in failures.items():
            print(f"\n--- {name}: {sig}\n{example}")
    return 1 if any(f for *_, f in report) else 0


if __name__ == "__main__":
    sys.exit(main())
