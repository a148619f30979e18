"""The fleet benchmark: skewaudit against the raw-parse floor, the default client and kubectl.

One command (``make bench`` runs it with the defaults)::

    python benchmarks/fleet.py [--pods 1000,10000] [--specs 100,1000] [--runs 3] [--quick]

For each pod count it generates a synthetic cluster (``gen.py``: pods of
10-20 KB, Deployments, ReplicaSets, Nodes, HPAs, Services, ConfigMaps, and
ModelSpecs, some drifted), serves it from the tests' loopback API server in a
separate process (``serve.py``), and measures, each ``--runs`` times after one
warm-up, as whole processes:

1. ``skewaudit diff SPECS_DIR -A --format json`` end to end (``KUBECONFIG``
   pointing at the loopback server), once per spec count;
2. the floor (``floor.py``): the same pages decoded by msgspec into structs of
   only the needed fields, nothing else;
3. the default client path (``default_client.py``):
   ``list_pod_for_all_namespaces()`` building model objects;
4. ``kubectl get pods -A -o json`` (skipped when kubectl is not installed).

Then the offline rows (issue 17): the same cluster written as files (``dumps.py``) and audited
with ``skewaudit diff SPECS --manifest FILE`` by the smallest spec count: one ``kind: List``
YAML document (``kubectl get -A -o yaml``), the same objects as a JSON List
(``kubectl get -o json``) and as multi-document YAML (``helm template``).

At the largest pod count it also runs the linear-cost probe: the same
workloads, pods and results audited by a tenth as many specs (one label
selector per group of ten identical Deployments, ``specs-grouped/``). Matching
through indexes, the extra specs cost only their own loading; a specs x pods
scan would show up there first.

Then cold start: ``skewaudit --help`` against ``python -c "import typer"``, and
``skewaudit validate`` of one spec against
``python -c "import typer, pydantic, yaml"``, run in alternation.

Each figure is the median over the runs: wall seconds (monotonic clock around
the child), CPU seconds (user + system of the child and anything it waited
for) and peak RSS (the largest resident set among them), both from the
operating system's accounting of the reaped child (``os.wait4``, the per-child
form of ``getrusage(RUSAGE_CHILDREN)``). MB are 10^6 bytes.

Prints a table, the targets of issue 7 met or missed, and last one line per
case::

    RESULT pods=N specs=M skewaudit_s=… raw_floor_s=… default_client_s=… kubectl_s=… skewaudit_peak_mb=… cold_help_s=… cold_floor_s=… yaml_dump_s=… json_dump_s=… multi_yaml_s=… yaml_dump_peak_mb=…
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

KUBECTL = shutil.which("kubectl")
OFFLINE = ("yaml_dump", "json_dump", "multi_yaml")


@dataclass
class Runs:
    """Every run of one command: wall, cpu, peak (MB)."""

    label: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak: list[float] = field(default_factory=list)

    def med(self, what: str) -> float:
        return statistics.median(getattr(self, what))

    def spread(self, what: str) -> str:
        v = getattr(self, what)
        return f"{statistics.median(v):.3f} [{min(v):.3f}-{max(v):.3f}]" if len(v) > 1 else f"{v[0]:.3f}"


def run_once(cmd: list[str], env: dict[str, str], out: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float, float]:
    """Run ``cmd`` as a child; (wall s, cpu s, peak MB) from the kernel's accounting of that child."""
    with open(out, "wb") as fh, open(out.with_suffix(".err"), "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=err, env=env, cwd=ROOT)
        _pid, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        tail = out.with_suffix(".err").read_text(errors="replace")[-2000:]
        raise SystemExit(f"fleet: {' '.join(cmd)} exited {code}:\n{tail}")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024 / 1e6


def measure(cmds: dict[str, tuple[list[str], tuple[int, ...]]], env: dict[str, str], work: Path, runs: int,
            warmup: set[str]) -> dict[str, Runs]:
    """Run every command ``runs`` times, in alternation (A B C A B C …) so drift hits all alike."""
    for key in warmup:
        cmd, ok = cmds[key]
        run_once(cmd, env, work / f"{key}.out", ok)
    res = {key: Runs(key) for key in cmds}
    for i in range(runs):
        for key, (cmd, ok) in cmds.items():
            w, c, p = run_once(cmd, env, work / f"{key}.out", ok)
            res[key].wall.append(w)
            res[key].cpu.append(c)
            res[key].peak.append(p)
            log(f"  run {i + 1}/{runs} {key}: {w:.2f} s wall, {c:.2f} s cpu, {p:.0f} MB")
    return res


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


class Server:
    """``serve.py`` in its own process, so its CPU is not the client's."""

    def __init__(self, data: Path):
        self.proc = subprocess.Popen([sys.executable, str(HERE / "serve.py"), str(data)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise SystemExit(f"fleet: serve.py failed: {self.proc.stderr.read()[-2000:]}")
        self.url, self.kubeconfig = line[1], line[2]

    def close(self) -> None:
        self.proc.stdin.close()   # serve.py stops when its stdin closes
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def skewaudit() -> list[str]:
    exe = Path(python()).parent / "skewaudit"
    return [str(exe)] if exe.exists() else [python(), "-m", "skewaudit"]


def bench_pods(pods: int, spec_counts: list[int], runs: int, work: Path, clients: bool, probe: bool,
               offline: bool = True) -> dict:
    """One cluster of ``pods`` pods; skewaudit per spec count, the other paths once."""
    data = work / f"pods-{pods}"
    top = max(spec_counts)
    log(f"generating {pods} pods, {top} specs in {data} …")
    # In a child process: the kernel counts the spawning process's resident memory into each
    # measured child's peak (it is the child's until exec), so this process must stay small.
    meta = json.loads(subprocess.run([python(), str(HERE / "gen.py"), str(data), "--pods", str(pods), "--specs",
                                      str(top)], check=True, capture_output=True, text=True).stdout)
    # Smaller spec counts audit the first M specs of the same cluster.
    spec_dirs = {}
    for m in spec_counts:
        d = data / f"specs-{m}"
        d.mkdir(exist_ok=True)
        for f in sorted((data / "specs").glob("*.yaml"))[:m]:
            shutil.copyfile(f, d / f.name)
        spec_dirs[m] = d
    offline_cmds: dict[str, tuple[list[str], tuple[int, ...]]] = {}
    if offline:
        log(f"writing the offline dumps of {pods} pods …")
        subprocess.run([python(), str(HERE / "dumps.py"), str(data)], check=True, capture_output=True)
        dumps = data / "dumps"
        for key, f in (("yaml_dump", "list.yaml"), ("json_dump", "list.json"), ("multi_yaml", "multi.yaml")):
            offline_cmds[key] = ([*skewaudit(), "diff", str(spec_dirs[min(spec_counts)]), "--manifest", str(dumps / f),
                                  "--format", "json"], (0, 1))
    server = Server(data)
    try:
        env = {**child_env(), "KUBECONFIG": server.kubeconfig}
        cmds: dict[str, tuple[list[str], tuple[int, ...]]] = {}
        for m in spec_counts:
            cmds[f"skewaudit/{m}"] = ([*skewaudit(), "diff", str(spec_dirs[m]), "-A", "--format", "json"], (0, 1))
        if probe:
            # The same workloads, pods and results as the largest spec count, audited by a
            # tenth as many specs (one label selector per group of identical workloads).
            cmds["skewaudit/grouped"] = ([*skewaudit(), "diff", str(data / "specs-grouped"), "-A", "--format",
                                          "json"], (0, 1))
        cmds["floor"] = ([python(), str(HERE / "floor.py"), "--server", server.url], (0,))
        if clients:
            cmds["default_client"] = ([python(), str(HERE / "default_client.py")], (0,))
            if KUBECTL:
                cmds["kubectl"] = ([KUBECTL, "get", "pods", "-A", "-o", "json", "--cache-dir", str(work / "kcache")],
                                   (0,))
        log(f"measuring {pods} pods ({meta['pod_kb_avg']} KiB/pod average, {meta['bytes']['Pod'] / 1e6:.0f} MB of pod "
            f"JSON) at {server.url}")
        # Warm up everything but the default client (30 s at 10,000 pods; the 1,000-pod case warms its imports).
        res = measure(cmds, env, work, runs, warmup={k for k in cmds if k != "default_client" or pods <= 2000})
        if offline_cmds:
            # dumps of 10,000 pods pass the default --max-input-bytes (256 MiB) as YAML: raise it
            # and the default --deadline (300 s) could cut a YAML run short on a loaded machine: off
            big = {**child_env(), "SKEWAUDIT_MAX_INPUT_BYTES": str(4 * 2**30), "SKEWAUDIT_DEADLINE": "0"}
            log(f"measuring the offline dumps ({', '.join(f'{p.name} {p.stat().st_size / 1e6:.0f} MB' for p in sorted((data / 'dumps').glob('*.*')))})")
            res |= measure(offline_cmds, big, work, runs, warmup=set())   # the dumps were just written: cached
        # The last run's report: proof the audit did its work (workloads, pods, drift found).
        summaries = {m: report_summary(work / f"skewaudit/{m}.out") for m in [*spec_counts, *(["grouped"] if probe else [])]}
    finally:
        server.close()
        shutil.rmtree(data, ignore_errors=True)
    return {"meta": meta, "runs": res, "summaries": summaries}


def report_summary(path: Path) -> dict:
    """The ``summary`` of a JSON report, read from its head: parsing the whole report (tens of MB)
    would grow this process, and with it every later child's measured peak."""
    with open(path, encoding="utf-8") as fh:
        head = fh.read(64 * 1024)
    start = head.index('"summary":') + len('"summary":')
    return json.JSONDecoder().raw_decode(head[start:].lstrip())[0]


def bench_cold(runs: int, work: Path, spec: Path) -> dict[str, Runs]:
    py = python()
    cmds = {
        "cold_help": ([*skewaudit(), "--help"], (0,)),
        "cold_floor": ([py, "-c", "import typer"], (0,)),
        "cold_validate": ([*skewaudit(), "validate", str(spec)], (0,)),
        "cold_validate_floor": ([py, "-c", "import typer, pydantic, yaml"], (0,)),
    }
    log(f"measuring cold start ({runs} runs each)")
    return measure(cmds, child_env(), work, runs, warmup=set(cmds))


def child_env() -> dict[str, str]:
    """The environment of measured commands: as a user's shell has it, with bytecode caching on
    (an installed package ships its .pyc; the warm-up run writes them for a source checkout)."""
    env = dict(os.environ)
    for var in ("PYTHONDONTWRITEBYTECODE", "SKEWAUDIT_DEBUG", "PYTHONPROFILEIMPORTTIME", "PYTHONTRACEMALLOC"):
        env.pop(var, None)
    return env


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pods", default=None, help="comma-separated pod counts (default 1000,10000)")
    ap.add_argument("--specs", default=None, help="comma-separated ModelSpec counts (default 100,1000)")
    ap.add_argument("--runs", type=int, default=None, help="measured runs per command (default 3)")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 1 run, and 1000 pods / 100 specs unless --pods/--specs say otherwise")
    ap.add_argument("--no-clients", action="store_true", help="skip the default client and kubectl rows")
    ap.add_argument("--no-offline", action="store_true", help="skip the offline dump rows (YAML/JSON files)")
    ap.add_argument("--json", help="also write every measured run here")
    ap.add_argument("--workdir", help="where to generate the clusters (default: a temporary directory)")
    a = ap.parse_args(argv)
    pods_list = [int(x) for x in (a.pods or ("1000" if a.quick else "1000,10000")).split(",")]
    spec_list = [int(x) for x in (a.specs or ("100" if a.quick else "100,1000")).split(",")]
    runs = a.runs or (1 if a.quick else 3)
    cold_runs = max(5, 3 * runs)
    work = Path(a.workdir or tempfile.mkdtemp(prefix="skewaudit-bench-"))
    (work / "skewaudit").mkdir(parents=True, exist_ok=True)
    try:
        cold = bench_cold(cold_runs, work, ROOT / "specs" / "examples" / "llama-3.1-70b-vllm.yaml")
        cases = {p: bench_pods(p, spec_list, runs, work, not a.no_clients, probe=p == max(pods_list) and not a.quick,
                            offline=not a.no_offline)
                 for p in sorted(pods_list)}
    finally:
        if not a.workdir:
            shutil.rmtree(work, ignore_errors=True)
    report(cases, cold, spec_list, runs, cold_runs)
    if a.json:
        dump = {"cold": {k: vars(v) for k, v in cold.items()},
                "cases": {p: {"meta": c["meta"], "summaries": c["summaries"],
                              "runs": {k: vars(v) for k, v in c["runs"].items()}} for p, c in cases.items()}}
        Path(a.json).write_text(json.dumps(dump, indent=2), encoding="utf-8")
    return 0


def _fmt(x: float | None, nd: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{nd}f}"


def report(cases: dict, cold: dict[str, Runs], spec_list: list[int], runs: int, cold_runs: int) -> None:
    out = sys.stdout.write
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    out(f"\nskewaudit fleet benchmark: medians of {runs} run(s); wall and cpu in seconds, peak RSS in MB (10^6 B)\n"
        f"(a peak cannot read below this measuring process's own, {own:.0f} MB: the kernel counts it into each child)\n\n")
    head = f"{'pods':>6} {'specs':>5}  {'command':<40} {'wall s [min-max]':>24} {'cpu s':>8} {'peak MB':>8} {'x floor':>8}"
    out(head + "\n" + "-" * len(head) + "\n")
    names = {"floor": "floor (msgspec typed partial decode)", "default_client": "default client (model objects)",
             "kubectl": "kubectl get pods -A -o json", "yaml_dump": "diff --manifest List YAML (kubectl -o yaml)",
             "json_dump": "diff --manifest List JSON (kubectl -o json)",
             "multi_yaml": "diff --manifest multi-doc YAML (helm)"}
    for pods, c in cases.items():
        r = c["runs"]
        floor = r["floor"].med("wall")
        for key, runs_ in r.items():
            specs = key.split("/")[1] if key.startswith("skewaudit/") else (
                str(min(spec_list)) if key in OFFLINE else "-")
            label = "skewaudit diff -A --format json" if key.startswith("skewaudit/") else names[key]
            if specs == "grouped":
                specs, label = str(c["summaries"]["grouped"]["specs"]), "  same, specs by label selector"
            out(f"{pods:>6} {specs:>5}  {label:<40} {runs_.spread('wall'):>24} {runs_.med('cpu'):>8.3f} "
                f"{runs_.med('peak'):>8.0f} {runs_.med('wall') / floor:>8.2f}\n")
        m = c["meta"]
        out(f"{'':>13}  cluster: {m['pods']} pods ({m['pod_kb_avg']} KiB avg, {m['bytes']['Pod'] / 1e6:.0f} MB), "
            f"{m['deployments']} Deployments, {m['nodes']} nodes, {m['namespaces']} namespaces\n")
        for specs, s in c["summaries"].items():
            out(f"{'':>13}  {s['specs']} specs{' (grouped)' if specs == 'grouped' else ''}: {s['workloads']} "
                f"workloads, {s['pods']} pods audited; {s['drift']} drift, {s['unpinned']} unpinned, "
                f"{s['match']} match\n")
    if not KUBECTL:
        out("note: kubectl not found on PATH: its row is skipped\n")
    out(f"\ncold start, medians of {cold_runs} alternating runs:\n")
    for key, label in (("cold_help", "skewaudit --help"), ("cold_floor", 'python -c "import typer"'),
                       ("cold_validate", "skewaudit validate ONE_SPEC"),
                       ("cold_validate_floor", 'python -c "import typer, pydantic, yaml"')):
        out(f"  {label:<44} {cold[key].spread('wall'):>24} s  cpu {cold[key].med('cpu'):.3f}  "
            f"peak {cold[key].med('peak'):.0f} MB\n")
    targets(cases, cold, spec_list)
    for pods, c in cases.items():
        r = c["runs"]
        for m in spec_list:
            s = r[f"skewaudit/{m}"]
            dc = r.get("default_client")
            kc = r.get("kubectl")
            out(f"RESULT pods={pods} specs={m} skewaudit_s={s.med('wall'):.3f} raw_floor_s={r['floor'].med('wall'):.3f} "
                f"default_client_s={_fmt(dc.med('wall') if dc else None)} kubectl_s={_fmt(kc.med('wall') if kc else None)} "
                f"skewaudit_peak_mb={s.med('peak'):.0f} cold_help_s={cold['cold_help'].med('wall'):.3f} "
                f"cold_floor_s={cold['cold_floor'].med('wall'):.3f}"
                + "".join(f" {k}_s={_fmt(r[k].med('wall') if k in r else None)}" for k in OFFLINE)
                + f" yaml_dump_peak_mb={_fmt(r['yaml_dump'].med('peak') if 'yaml_dump' in r else None, 0)}\n")


def targets(cases: dict, cold: dict[str, Runs], spec_list: list[int]) -> None:
    """Issue 7's targets, each with its measured ratio."""
    out = sys.stdout.write
    out("\ntargets (issues 7 and 17):\n")

    def line(ok: bool, text: str) -> None:
        out(f"  [{'met' if ok else 'MISSED'}] {text}\n")

    big, small = max(cases), min(cases)
    top = max(spec_list)
    r = cases[big]["runs"]
    s = r[f"skewaudit/{top}"]
    # issue 17's targets (issue 7 asked <= 2 x the floor, >= 15 x the client, <= 400 MB)
    for m in spec_list:
        sm = r[f"skewaudit/{m}"]
        ratio = sm.med("wall") / r["floor"].med("wall")
        bound = 1.5 if m == top else 1.3
        line(ratio <= bound, f"{big} pods, {m} specs: skewaudit {sm.med('wall'):.2f} s = {ratio:.2f} x the floor "
                             f"({r['floor'].med('wall'):.2f} s; CPU {sm.med('cpu') / r['floor'].med('cpu'):.2f} x); "
                             f"target <= {bound}")
    if "default_client" in r:
        speed = r["default_client"].med("wall") / s.med("wall")
        line(speed >= 20, f"{big} pods, {top} specs: {speed:.1f} x faster than the default client "
                          f"({r['default_client'].med('wall'):.2f} s); target >= 20")
    for m in spec_list:
        peak_big = cases[big]["runs"][f"skewaudit/{m}"].med("peak")
        line(peak_big <= 250, f"{big} pods, {m} specs: peak RSS {peak_big:.0f} MB; target <= 250")
        if big != small:
            peak_small = cases[small]["runs"][f"skewaudit/{m}"].med("peak")
            line(peak_big <= 1.25 * peak_small, f"{m} specs: peak at {big} pods / peak at {small} pods = "
                                                f"{peak_big / peak_small:.3f}; target <= 1.25")
    if "skewaudit/grouped" in r:
        # Same workloads, pods audited and results; only the number of specs differs. Matching
        # through indexes, the extra specs cost their loading; a specs x pods scan would cost
        # (extra specs) x (pods) comparisons and show here first.
        g, named = r["skewaudit/grouped"], r[f"skewaudit/{top}"]
        n_g = cases[big]["summaries"]["grouped"]["specs"]
        extra = named.med("wall") - g.med("wall")
        line(named.med("wall") <= 1.25 * g.med("wall"),
             f"linear cost: {top} specs take {named.med('wall'):.2f} s, {n_g} specs auditing the same "
             f"{cases[big]['summaries']['grouped']['workloads']} workloads and {big} pods {g.med('wall'):.2f} s: "
             f"{1000 * extra / max(1, top - n_g):.2f} ms per extra spec; target: <= 1.25 x")
    for pods in cases:
        r = cases[pods]["runs"]
        if "yaml_dump" not in r:
            continue
        j, jc = r["json_dump"].med("wall"), r["json_dump"].med("cpu")
        for key, what in (("yaml_dump", "kind: List YAML"), ("multi_yaml", "multi-document YAML")):
            y = r[key]
            # wall is the target; CPU beside it, steadier on a shared machine
            line(y.med("wall") <= 3 * j, f"{pods} pods offline: {what} {y.med('wall'):.2f} s = {y.med('wall') / j:.2f} x "
                                         f"the JSON List ({j:.2f} s; CPU {y.med('cpu'):.2f} s = "
                                         f"{y.med('cpu') / jc:.2f} x); target <= 3 (issue 17)")
            line(y.med("peak") <= 1500, f"{pods} pods offline: {what} peak RSS {y.med('peak'):.0f} MB; "
                                        "target <= 1500 (issue 17)")
        live = r[f"skewaudit/{min(spec_list)}"]
        line(j <= 1.5 * live.med("wall"), f"{pods} pods offline: JSON List {j:.2f} s = {j / live.med('wall'):.2f} x the "
                                          f"live path ({live.med('wall'):.2f} s, {min(spec_list)} specs; CPU "
                                          f"{jc / live.med('cpu'):.2f} x); target <= 1.5 (issue 17)")
    h = cold["cold_help"].med("wall") / cold["cold_floor"].med("wall")
    line(h <= 2.0, f"cold skewaudit --help = {h:.2f} x python -c 'import typer'; target <= 2")
    v = cold["cold_validate"].med("wall") / cold["cold_validate_floor"].med("wall")
    line(v <= 2.5, f"cold skewaudit validate = {v:.2f} x python -c 'import typer, pydantic, yaml'; target <= 2.5")
    out("\n")


if __name__ == "__main__":
    sys.exit(main())
