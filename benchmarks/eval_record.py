"""What reading a validation record and locating its fields costs ``diff --intent-from-eval``.

Generates lm-evaluation-harness results files of growing size (the fixture's shape, with N task configs
of ~1.5 KB each, as 0.4.x writes them: description, doc_to_text, metric_list, generation_kwargs…) and
times, median of ``--runs``: reading the record (``evalintent.record.read``), composing it for positions
(``evalintent.locate.locations``: one event pass per file for every field's key path) and the whole in-memory intent
(``evalintent.intent.audit_spec`` plus every field's location). Wall and CPU seconds are both printed
(the machine may be shared: CPU is the steadier figure); the time per MB should stay flat.

``python benchmarks/eval_record.py [--tasks 10,100,1000] [--runs 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from skewaudit.evalintent import intent, locate, record  # noqa: E402
from skewaudit.evalintent.spec import sources  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "eval" / "lm-eval-vllm-results.json"


def results(tasks: int) -> dict:
    data = json.loads(FIXTURE.read_text())
    base = data["configs"]["gsm8k"]
    for i in range(tasks):
        cfg = dict(base, task=f"task_{i:05d}", description="Answer the question step by step. " * 20,
                   doc_to_text="Question: {{question}}\\nAnswer:" * 10)
        data["configs"][f"task_{i:05d}"] = cfg
        data["results"][f"task_{i:05d}"] = {"alias": f"task_{i:05d}", "acc,none": 0.5, "acc_stderr,none": 0.01}
        data["versions"][f"task_{i:05d}"] = 3
    return data


def timed(fn, runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="10,100,1000")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    print(f"{'tasks':>6} {'MB':>6} | {'read wall/cpu s':>16} | {'locate wall/cpu s':>18} | "
          f"{'intent wall/cpu s':>18} | {'intent cpu s/MB':>15}")
    intent.audit_spec(str(FIXTURE))   # warm-up: imports (pydantic models, yaml) are not the record's cost
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.tasks.split(",")):
            path = Path(tmp) / f"results-{n}.json"
            path.write_text(json.dumps(results(n), indent=2))
            mb = path.stat().st_size / 2**20
            rec = record.read(str(path))
            where = [v.at for v in sources(rec).values() if v.at is not None]
            read = timed(lambda: record.read(str(path)), args.runs)
            loc = timed(lambda: locate.locations(where), args.runs)

            def whole() -> None:
                spec, _ = intent.audit_spec(str(path))
                for field in sources(rec):
                    spec.location(field)

            full = timed(whole, args.runs)
            print(f"{n:>6} {mb:>6.2f} | {read[0]:>7.3f}/{read[1]:<8.3f} | {loc[0]:>8.3f}/{loc[1]:<9.3f} | "
                  f"{full[0]:>8.3f}/{full[1]:<9.3f} | {full[1] / mb:>15.3f}")


if __name__ == "__main__":
    main()
