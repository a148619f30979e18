"""Data-skew benchmark: skewaudit's profile + compare against Evidently, whylogs, NannyML and a numpy floor.

Generates a baseline and a shifted serving dataset as Parquet (``--rows`` each, 20
features: 12 numeric, 6 categorical, 2 text), then runs each tool as a whole
process on the same files, in alternation, and reports wall time, CPU time and
peak RSS (the kernel's accounting of each reaped child, ``os.wait4``), the ratio
to skewaudit, and how far each tool's per-feature drift scores agree with the
exact values numpy computes on the full data.

The other tools are installed in their own virtual environments under
``benchmarks/.work/data-venvs/`` (``--install``), never as project dependencies.
Each gets the data the way its documentation loads it: a pandas DataFrame read
from the Parquet file (text columns as their character lengths, since none of
them profiles raw text lengths by default). A tool that fails to install or
exceeds ``--timeout`` is reported as such.

    .venv/bin/python benchmarks/data_skew.py --rows 10000000 --install
    .venv/bin/python benchmarks/data_skew.py --rows 1000000 --tools skewaudit,numpy   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work" / "data-skew"
VENVS = ROOT / "benchmarks" / ".work" / "data-venvs"
NUMERIC = [f"num_{i:02d}" for i in range(12)]
CATEGORICAL = [f"cat_{i}" for i in range(6)]
TEXT = ["prompt", "response"]
# Features shifted in the serving data (the rest keep their distribution).
SHIFTED = {"num_00": "mean +0.5 sd", "num_03": "scale x1.5", "num_07": "mean +0.1 sd", "cat_1": "new category 5 %",
           "cat_4": "shares moved", "prompt": "lengths x1.6"}
# pandas < 3: the three tools' current releases use pandas APIs that pandas 3 removed.
PACKAGES = {"evidently": ["evidently==0.7.*", "pandas<3", "pyarrow"],
            "whylogs": ["whylogs[viz]==1.6.*", "pandas<3", "pyarrow"],
            "nannyml": ["nannyml==0.13.*", "pandas<3", "statsmodels", "pyarrow"]}


def generate(rows: int, path: Path, serving: bool, seed: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    pool_rng = np.random.default_rng(99)
    words = np.array(["the", "model", "serve", "token", "prompt", "cache", "batch", "reply", "why", "how"])
    pool = [" ".join(pool_rng.choice(words, int(pool_rng.lognormal(3.0, 0.6)))) for _ in range(4_000)]
    pool_long = [p + " " + p[: len(p) * 6 // 10] for p in pool]
    writer = None
    chunk = 1_000_000
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        cols: dict[str, object] = {}
        for i, name in enumerate(NUMERIC):
            x = rng.lognormal(0, 0.6, n) if i % 3 == 1 else (rng.poisson(4, n).astype("float64") if i % 3 == 2
                                                             else rng.normal(0, 1, n))
            if serving and name == "num_00":
                x = x + 0.5
            if serving and name == "num_03":
                x = x * 1.5
            if serving and name == "num_07":
                x = x + 0.1
            x[rng.random(n) < 0.01] = np.nan
            cols[name] = x
        for i, name in enumerate(CATEGORICAL):
            k = 5 + 9 * i
            p = np.arange(k, 0, -1, dtype=float)
            if serving and name == "cat_4":
                p = p[::-1].copy()
            p /= p.sum()
            values = np.array([f"{name}_v{j}" for j in range(k)] + [f"{name}_new"])
            idx = rng.choice(k, n, p=p)
            if serving and name == "cat_1":
                idx[rng.random(n) < 0.05] = k
            cols[name] = pa.DictionaryArray.from_arrays(pa.array(idx, pa.int32()), pa.array(values)).cast(pa.string())
        for name in TEXT:
            source = pool_long if (serving and name == "prompt") else pool
            cols[name] = pa.array(source).take(pa.array(rng.integers(0, len(source), n)))
        table = pa.table(cols)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=250_000)
    writer.close()


# --- the tools, each a script run in its own process -------------------------------------

# Text columns become their lengths row group by row group, so no tool holds 10M raw prompts it
# never looks at (that memory would be the loader's, not the tool's).
LOAD_TABLE = """
import pyarrow as pa, pyarrow.parquet as pq, pyarrow.compute as pc
def load_table(path):
    pf, parts = pq.ParquetFile(path), []
    for i in range(pf.num_row_groups):
        t = pf.read_row_group(i)
        for c in {text}:
            t = t.set_column(t.schema.get_field_index(c), c, pc.utf8_length(t[c]))
        parts.append(t)
    return pa.concat_tables(parts)
"""
PANDAS_LOAD = LOAD_TABLE + """
ref = load_table({ref!r}).to_pandas(strings_to_categorical=True)
cur = load_table({cur!r}).to_pandas(strings_to_categorical=True)
"""

SCRIPTS = {
    "evidently": """
from evidently import Report
from evidently.presets import DataDriftPreset
snap = Report([DataDriftPreset()]).run(cur, ref)
scores = {{}}
for m in snap.dict().get("metrics", []):
    mid, cfg = str(m.get("metric_name", m.get("metric_id", ""))), m.get("config", {{}}) or {{}}
    col = cfg.get("column") or cfg.get("column_name")
    if "ValueDrift" in mid and col is not None:
        v = m.get("value")
        scores[col] = float(v) if isinstance(v, (int, float)) else None
print(json.dumps({{"scores": scores}}))
""",
    "whylogs": """
import whylogs as why
from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores
rv, cv = why.log(pandas=ref).view(), why.log(pandas=cur).view()
res = calculate_drift_scores(target_view=cv, reference_view=rv, with_thresholds=True)
print(json.dumps({{"scores": {{c: (r or {{}}).get("statistic") for c, r in res.items()}},
                   "algorithms": {{c: (r or {{}}).get("algorithm") for c, r in res.items()}}}}, default=float))
""",
    "nannyml": """
import nannyml as nml
cols = list(ref.columns)
calc = nml.UnivariateDriftCalculator(column_names=cols, chunk_number=1,
    continuous_methods=["kolmogorov_smirnov", "jensen_shannon"], categorical_methods=["chi2", "jensen_shannon"])
calc.fit(ref)
df = calc.calculate(cur).filter(period="analysis").to_df()
scores = {{}}
for c in cols:
    try:
        scores[c] = float(df[(c, "jensen_shannon", "value")].iloc[-1])
    except Exception:
        pass
print(json.dumps({{"scores": scores}}))
""",
    "numpy": """
import numpy as np
from skewaudit.dataskew import metrics as mx
ref, cur = load_table({ref!r}), load_table({cur!r})
scores = {{}}
for c in ref.column_names:
    col_a, col_b = ref[c], cur[c]
    if c.startswith("cat_"):
        va, vb = pc.value_counts(col_a.drop_null()), pc.value_counts(col_b.drop_null())
        da = dict(zip(va.field("values").to_pylist(), va.field("counts").to_pylist()))
        db = dict(zip(vb.field("values").to_pylist(), vb.field("counts").to_pylist()))
        m = mx.categorical_metrics(da, sum(da.values()), db, sum(db.values()))
        scores[c] = {{"psi": m["psi"], "js": m["js"], "linf": m["linf"]}}
    else:
        a = col_a.to_numpy().astype(float); b = col_b.to_numpy().astype(float)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        e = mx.exact_numeric(a, b)
        scores[c] = {{"psi": e["psi"], "js": e["js"], "ks": e["ks"], "wasserstein": e["wasserstein"]}}
print(json.dumps({{"scores": scores}}))
""",
}


def tool_command(tool: str, ref: Path, cur: Path, jobs: int = 0) -> list[str]:
    exe = str(Path(sys.executable).parent / "skewaudit")
    if tool == "skewaudit-profile":
        # The baseline's profile on its own: the "profile of 10M rows" figure.
        return [exe, "profile", str(ref), "-o", str(WORK / "ref.profile"), "--jobs", str(jobs)]
    if tool == "skewaudit":
        # The whole job, like the other tools: profile the baseline, then profile the serving data and compare.
        script = (f"{exe} profile {ref} -o {WORK / 'ref.profile'} --jobs {jobs} && "
                  f"exec {exe} data-diff {WORK / 'ref.profile'} {cur} --format json -o {WORK / 'skewaudit.json'} "
                  f"--fail-on never --jobs {jobs}")
        return ["sh", "-c", script]
    if tool == "numpy":
        body = ("import json\n" + LOAD_TABLE.format(text=TEXT)
                + textwrap.dedent(SCRIPTS[tool]).format(text=TEXT, ref=str(ref), cur=str(cur)))
    else:
        body = ("import json\n" + PANDAS_LOAD.format(text=TEXT, ref=str(ref), cur=str(cur))
                + textwrap.dedent(SCRIPTS[tool]).format())
    python = sys.executable if tool == "numpy" else str(VENVS / tool / "bin" / "python")
    return [python, "-c", body]


def install(tool: str) -> bool:
    venv = VENVS / tool
    print(f"installing {tool} into {venv} …", file=sys.stderr)
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *PACKAGES[tool]], capture_output=True, text=True)
    if r.returncode:
        print(f"{tool}: install failed: {r.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return False
    return True


def run_once(cmd: list[str], out: Path, timeout: float, mem_limit_gb: float | None = None) -> dict:
    def limit() -> None:   # in the child: a tool past the cap fails alone instead of starving the machine
        if mem_limit_gb:
            import resource

            cap = int(mem_limit_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    with open(out, "wb") as fh, open(out.with_suffix(".err"), "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=err, cwd=ROOT, preexec_fn=limit)
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, ru = os.wait4(proc.pid, 0)
                return {"error": f"timed out after {timeout:.0f} s"}
            time.sleep(0.05)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code:
        tail = out.with_suffix(".err").read_text(errors="replace").strip().splitlines()[-1:]
        return {"error": f"exit {code}: {' '.join(tail)[:200]}"}
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "peak_mb": ru.ru_maxrss * 1024 / 1e6}


def scores_of(tool: str) -> dict:
    if tool == "skewaudit":
        report = json.loads((WORK / "skewaudit.json").read_text())
        out: dict[str, dict] = {}
        names = {"data.psi": "psi", "data.js-distance": "js", "data.ks": "ks", "data.wasserstein": "wasserstein",
                 "data.linf": "linf", "data.prompt-length": "prompt_over", "data.unseen-categories": "unseen"}
        for r in report["results"]:
            if r["check"] in names and r.get("observed"):
                out.setdefault(r["field"].rsplit(".", 1)[1], {})[names[r["check"]]] = r["observed"][0]["value"]
        return out
    text = (WORK / f"{tool}.out").read_text().strip().splitlines()
    return json.loads(text[-1])["scores"] if text else {}


def agreement(exact: dict, ours: dict) -> dict[str, float]:
    """Largest absolute difference per metric between skewaudit's sketch values and numpy's exact ones."""
    worst: dict[str, float] = {}
    for feature, metrics in exact.items():
        for m, v in metrics.items():
            got = ours.get(feature, {}).get(m)
            if got is None or v is None or (m == "psi" and v > 0.3):
                continue   # PSI above 0.3 is compared relatively in the tests; here the decision region
            worst[m] = max(worst.get(m, 0.0), abs(got - v))
    return worst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows per side (default 10,000,000)")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--tools", default="skewaudit,numpy,evidently,whylogs,nannyml")
    ap.add_argument("--install", action="store_true", help="create the other tools' venvs if missing")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per tool run")
    ap.add_argument("--jobs", type=int, default=0, help="skewaudit --jobs (0: one worker process per core)")
    ap.add_argument("--mem-limit-gb", type=float, default=None,
                    help="cap each tool's data memory (RLIMIT_DATA): a tool past it fails alone")
    args = ap.parse_args(argv)
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if "skewaudit" in tools and "skewaudit-profile" not in tools:
        tools.insert(tools.index("skewaudit"), "skewaudit-profile")
    load_before = os.getloadavg()
    WORK.mkdir(parents=True, exist_ok=True)
    ref, cur = WORK / f"ref-{args.rows}.parquet", WORK / f"cur-{args.rows}.parquet"
    for path, serving, seed in ((ref, False, 1), (cur, True, 2)):
        if not path.exists():
            t0 = time.perf_counter()
            generate(args.rows, path, serving, seed)
            print(f"generated {path.name} ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
    results: dict[str, dict] = {}
    for tool in tools:
        if tool in PACKAGES and (args.install or not (VENVS / tool / "bin" / "python").exists()):
            if not args.install or not install(tool):
                results[tool] = {"error": "not installed (run with --install)" if not args.install else "install failed"}
                continue
    for i in range(args.runs):
        for tool in tools:
            if "error" in results.get(tool, {}) and not results[tool].get("runs"):
                continue
            r = run_once(tool_command(tool, ref, cur, args.jobs), WORK / f"{tool}.out", args.timeout,
                         args.mem_limit_gb)
            r["load1"] = round(os.getloadavg()[0], 1)
            entry = results.setdefault(tool, {"runs": []})
            entry.setdefault("runs", []).append(r)
            print(f"run {i + 1} {tool}: {r}", file=sys.stderr)
    print(f"\nData skew benchmark: {args.rows:,} rows per side, {len(NUMERIC) + len(CATEGORICAL) + len(TEXT)} "
          f"features, {os.cpu_count()} cores, median of {args.runs} run(s); load average (1 min) "
          f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after (others' work shares the cores)\n")
    print(f"{'tool':<18} {'wall s':>9} {'cpu s':>9} {'peak MB':>9} {'vs skewaudit':>13}  note (ratios: wall/cpu)")
    base = None
    table: dict[str, dict] = {}
    for tool in tools:
        runs = [r for r in results.get(tool, {}).get("runs", []) if "wall" in r]
        err = results.get(tool, {}).get("error") or next((r["error"] for r in results.get(tool, {}).get("runs", [])
                                                          if "error" in r), None)
        if not runs:
            print(f"{tool:<18} {'-':>9} {'-':>9} {'-':>9} {'-':>13}  {err}")
            continue
        med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "peak_mb", "load1")}
        table[tool] = med
        if tool == "skewaudit":
            base = med
        ratio = (f"{med['wall'] / base['wall']:.1f}x/{med['cpu'] / base['cpu']:.1f}x"
                 if base and tool != "skewaudit-profile" else "-")
        note = "baseline profile only" if tool == "skewaudit-profile" else ""
        print(f"{tool:<18} {med['wall']:>9.2f} {med['cpu']:>9.2f} {med['peak_mb']:>9.0f} {ratio:>13}  "
              f"{note} (load {med['load1']:.1f})")
    if "skewaudit" in table and "numpy" in table:
        worst = agreement(scores_of("numpy"), scores_of("skewaudit"))
        print("\nskewaudit (sketches) vs numpy (exact, full data), largest difference per metric: "
              + ", ".join(f"{m} {v:.4f}" for m, v in sorted(worst.items())))
        ours = scores_of("skewaudit")
        report = json.loads((WORK / "skewaudit.json").read_text())
        flagged = sorted({r["field"].rsplit(".", 1)[1] for r in report["results"] if r["status"] == "drift"})
        print(f"shifted on purpose: {', '.join(sorted(SHIFTED))}; skewaudit flags (default thresholds): "
              f"{', '.join(flagged)}")
    for tool in ("evidently", "whylogs", "nannyml"):
        if tool in table:
            s = scores_of(tool)
            print(f"{tool} scores: " + ", ".join(f"{k} {v:.3g}" for k, v in sorted(s.items())
                                                 if isinstance(v, (int, float))))
    sa = table.get("skewaudit")
    sp = table.get("skewaudit-profile")
    line = [f"rows={args.rows}", f"profile_s={sp['wall']:.2f} profile_cpu_s={sp['cpu']:.2f}" if sp else "profile_s=-",
            f"skewaudit_s={sa['wall']:.2f}" if sa else "skewaudit_s=-",
            f"skewaudit_peak_mb={sa['peak_mb']:.0f}" if sa else "skewaudit_peak_mb=-"]
    for tool in ("numpy", "evidently", "whylogs", "nannyml"):
        if tool in table:
            line.append(f"{tool}_s={table[tool]['wall']:.2f} {tool}_cpu_s={table[tool]['cpu']:.2f} "
                        f"{tool}_peak_mb={table[tool]['peak_mb']:.0f}")
            if sa:
                line.append(f"{tool}_ratio={table[tool]['wall'] / sa['wall']:.1f} "
                            f"{tool}_cpu_ratio={table[tool]['cpu'] / sa['cpu']:.1f}")
    print("\nRESULT " + " ".join(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())
