"""Multi-context rows (issue 17): ``diff --context A --context B …`` and ``compare`` against N loopback clusters.

::

    python benchmarks/multicontext.py [--pods 1000] [--specs 100] [--contexts 1,2,4] [--runs 3] [--quick]

Generates one synthetic cluster (``gen.py``, as the fleet benchmark does) and serves it from N
loopback API servers (``serve.py``), each in its own process, behind one kubeconfig with a context
per server. Then measures, as whole processes, each ``--runs`` times in alternation after one
warm-up (``fleet.measure``: wall and CPU seconds and peak RSS from ``os.wait4`` of the child):

1. ``skewaudit diff SPECS -A --context c1 [--context c2 …] --format json`` for each context count
   (the same specs audited in each cluster, plus the cross-context comparison);
2. ``skewaudit compare --context c1 --context c2 -A --format json`` (every workload, no spec).

Contexts are collected one after the other; the ``per_ctx`` column (median wall / contexts) shows
what each extra cluster costs next to the start-up paid once. Prints a table and
last one line::

    RESULT pods=N specs=M ctx1_s=… ctx2_s=… ctx4_s=… ctx4_per_ctx_s=… compare_s=… ctx4_peak_mb=…

The machine may be shared: read CPU seconds next to wall seconds.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import HERE, Server, child_env, log, measure, python, report_summary, skewaudit  # noqa: E402


def kubeconfig(path: Path, urls: list[str]) -> Path:
    """One kubeconfig, a context ``cN`` per server (authentication is off in serve.py)."""
    names = [f"c{i + 1}" for i in range(len(urls))]
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": names[0],
        "clusters": [{"name": n, "cluster": {"server": u}} for n, u in zip(names, urls)],
        "users": [{"name": "bench", "user": {}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "bench", "namespace": "default"}} for n in names],
    }, sort_keys=False))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", type=int, default=None, help="pods per cluster (default 1000)")
    ap.add_argument("--specs", type=int, default=None, help="ModelSpecs audited in each cluster (default 100)")
    ap.add_argument("--contexts", default="1,2,4", help="comma-separated context counts (default 1,2,4)")
    ap.add_argument("--runs", type=int, default=None, help="measured runs per command (default 3)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 200 pods, 20 specs, 1 run")
    ap.add_argument("--workdir", help="where to generate the cluster (default: a temporary directory)")
    a = ap.parse_args(argv)
    pods = a.pods or (200 if a.quick else 1000)
    specs = a.specs or (20 if a.quick else 100)
    runs = a.runs or (1 if a.quick else 3)
    counts = sorted({int(x) for x in a.contexts.split(",") if x.strip()})
    if not counts or counts[0] < 1:
        raise SystemExit("multicontext: --contexts needs positive counts")
    n_servers = max(max(counts), 2)
    work = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix="skewaudit-multictx-"))
    data = work / f"pods-{pods}"
    log(f"generating {pods} pods, {specs} specs in {data} …")
    meta = json.loads(subprocess.run([python(), str(HERE / "gen.py"), str(data), "--pods", str(pods), "--specs",
                                      str(specs)], check=True, capture_output=True, text=True).stdout)
    servers = []
    try:
        for _ in range(n_servers):
            servers.append(Server(data))
        kc = kubeconfig(work / "kubeconfig", [s.url for s in servers])
        env = {**child_env(), "KUBECONFIG": str(kc)}
        cmds = {}
        for n in counts:
            ctx = [x for i in range(n) for x in ("--context", f"c{i + 1}")]
            cmds[f"ctx{n}"] = ([*skewaudit(), "diff", str(data / "specs"), "-A", *ctx, "--format", "json"], (0, 1))
        cmds["compare"] = ([*skewaudit(), "compare", "-A", "--context", "c1", "--context", "c2", "--format",
                            "json"], (0, 1))
        log(f"measuring {', '.join(cmds)} against {n_servers} servers ({meta['pod_kb_avg']} KiB/pod average)")
        res = measure(cmds, env, work, runs, warmup=set(cmds))
        summaries = {k: report_summary(work / f"{k}.out") for k in cmds}
    finally:
        for s in servers:
            s.close()
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)

    print(f"\nmulti-context: {pods} pods and {specs} specs per cluster, {runs} run(s), medians "
          "(wall and CPU seconds, peak MB; the machine may be shared)")
    print(f"{'command':<10} {'contexts':>8} {'wall s':>8} {'cpu s':>8} {'peak MB':>8} {'per ctx':>8} "
          f"{'vs 1 ctx':>8}  workloads  pods  drift")
    base = res[f"ctx{counts[0]}"].med("wall") / counts[0]
    for key, r in res.items():
        n = int(key[3:]) if key.startswith("ctx") else 2
        wall = r.med("wall")
        s = summaries[key]
        print(f"{key:<10} {n:>8} {wall:>8.3f} {r.med('cpu'):>8.3f} {r.med('peak'):>8.0f} {wall / n:>8.3f} "
              f"{wall / (base * counts[0]) if key.startswith('ctx') else float('nan'):>8.2f}  "
              f"{s['workloads']:>9} {s['pods']:>5} {s['drift']:>6}")
    top = f"ctx{counts[-1]}"
    fields = [f"pods={pods}", f"specs={specs}"]
    fields += [f"{k}_s={res[k].med('wall'):.3f}" for k in res if k.startswith("ctx")]
    fields += [f"{top}_per_ctx_s={res[top].med('wall') / counts[-1]:.3f}", f"{top}_cpu_s={res[top].med('cpu'):.3f}",
               f"compare_s={res['compare'].med('wall'):.3f}", f"{top}_peak_mb={res[top].med('peak'):.0f}"]
    print("RESULT " + " ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
