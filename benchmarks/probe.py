"""The probe benchmark: what ``--probe`` adds to a live run, through the loopback pod proxy.

    python benchmarks/probe.py [--pods 1000] [--runs 3] [--workers 4] [--engines 4]

A separate server process runs the tests' loopback API server (``tests/kube_server.py``)
with N vLLM pods (Deployments of 10) and ``--engines`` fake vLLM servers
(``tests/fake_engines.py``, the recorded vLLM 0.6.3 bodies) that every pod's proxy
path forwards to. Then, as whole child processes, each ``--runs`` times after one
warm-up: ``skewaudit collect -A --format json`` without and with ``--probe``
(``--workers`` as given; 4 is the default). Each probed pod costs three GETs through
the proxy (``/v1/models``, ``/version``, ``/metrics``).

Figures are medians: wall seconds (monotonic clock around the child), peak RSS and CPU
seconds (user + system) of the child (``os.wait4``). MB are 10^6 bytes. The last line is
machine-readable::

    RESULT pods=N workers=W plain_s=… probe_s=… added_s=… per_pod_ms=… plain_mb=… probe_mb=…
           client_cpu_ms_per_pod=… proxied=…
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TESTS = ROOT / "tests"


def _objects(n_pods: int) -> list[dict]:
    out: list[dict] = []
    per = 10
    for d in range((n_pods + per - 1) // per):
        name = f"llm-{d:04d}"
        labels = {"app": name}
        c = {"name": "vllm", "image": "vllm/vllm-openai:v0.6.3.post1",
             "args": ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--max-model-len", "8192", "--port", "8000"],
             "ports": [{"name": "http", "containerPort": 8000}], "resources": {"limits": {"nvidia.com/gpu": "1"}}}
        tmpl = {"metadata": {"labels": labels}, "spec": {"containers": [c]}}
        out.append({"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": name, "namespace": "ml", "uid": f"uid-{name}", "labels": labels},
                    "spec": {"replicas": per, "selector": {"matchLabels": labels}, "template": tmpl}})
        for i in range(min(per, n_pods - d * per)):
            out.append({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": f"{name}-7f9c-{i}", "namespace": "ml",
                                     "labels": {**labels, "pod-template-hash": "7f9c"},
                                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                          "name": f"{name}-7f9c", "uid": f"uid-rs-{name}",
                                                          "controller": True}]},
                        "spec": {**tmpl["spec"], "nodeName": f"gpu-{i}"},
                        "status": {"phase": "Running", "containerStatuses": [
                            {"name": "vllm", "ready": True, "restartCount": 0, "image": c["image"],
                             "imageID": ""}]}})
    return out


def serve(n_pods: int, n_engines: int, ready_file: str) -> None:
    """Child process: the loopback API server and the fake engines, until stdin closes."""
    sys.path.insert(0, str(TESTS))
    from fake_engines import FakeEngine
    from kube_server import FakeKube

    engines = [FakeEngine("vllm-0.6.3").start() for _ in range(n_engines)]
    kube = FakeKube(token=None)
    objs = _objects(n_pods)
    kube.add(*objs)
    pods = [o["metadata"]["name"] for o in objs if o["kind"] == "Pod"]
    for i, name in enumerate(pods):
        kube.route_pod("ml", name, engines[i % n_engines].url)
    kube.start()
    kc = Path(ready_file).with_suffix(".kubeconfig")
    kube.write_kubeconfig(kc, token="")
    Path(ready_file).write_text(json.dumps({"kubeconfig": str(kc)}))
    sys.stdin.read()
    print(json.dumps({"proxied": sum(1 for _, p, _ in kube.requests if "/proxy/" in p)}), flush=True)


def run(cmd: list[str], env: dict) -> tuple[float, float, float]:
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {p.stderr.read().decode()[-500:]}")
    return wall, ru.ru_maxrss * 1024 / 1e6, ru.ru_utime + ru.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--engines", type=int, default=4)
    ap.add_argument("--serve", nargs=3, metavar=("PODS", "ENGINES", "READY"), help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve:
        serve(int(a.serve[0]), int(a.serve[1]), a.serve[2])
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        ready = Path(tmp) / "ready.json"
        server = subprocess.Popen([sys.executable, __file__, "--serve", str(a.pods), str(a.engines), str(ready)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while not ready.exists():
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the loopback server did not start")
            time.sleep(0.1)
        kc = json.loads(ready.read_text())["kubeconfig"]
        env = {**os.environ, "KUBECONFIG": kc, "SKEWAUDIT_DEADLINE": "0"}
        base = [sys.executable, "-m", "skewaudit", "collect", "-A", "--format", "json", "--workers", str(a.workers)]
        figures: dict[str, list[tuple[float, float, float]]] = {"plain": [], "probe": []}
        for i in range(a.runs + 1):
            for case, extra in (("plain", []), ("probe", ["--probe"])):
                wall, mb, cpu = run(base + extra, env)
                if i:   # the first round warms caches
                    figures[case].append((wall, mb, cpu))
        server.stdin.close()
        proxied = json.loads(server.stdout.read().strip().splitlines()[-1])["proxied"]
        server.wait(timeout=30)
    med = {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in figures.items()}
    added = med["probe"][0] - med["plain"][0]
    per_pod_ms = added / a.pods * 1000
    cpu_ms = (med["probe"][2] - med["plain"][2]) / a.pods * 1000
    print(f"{'case':<8} {'wall s':>8} {'peak MB':>8} {'CPU s':>8}")
    for k, (w, m, c) in med.items():
        print(f"{k:<8} {w:8.2f} {m:8.0f} {c:8.2f}")
    print(f"skewaudit's own CPU for probing: {cpu_ms:.2f} ms per pod (the rest of the wall time is the loopback "
          f"server and fake engines, Python on the same cores)")
    print(f"probing {a.pods} pods with --workers {a.workers} adds {added:.2f} s ({per_pod_ms:.2f} ms per pod; "
          f"{proxied // (a.runs + 1)} proxied GETs per run); linear extrapolation to 10,000 pods: "
          f"{per_pod_ms * 10:.1f} s")
    print(f"RESULT pods={a.pods} workers={a.workers} plain_s={med['plain'][0]:.3f} probe_s={med['probe'][0]:.3f} "
          f"added_s={added:.3f} per_pod_ms={per_pod_ms:.3f} plain_mb={med['plain'][1]:.0f} "
          f"probe_mb={med['probe'][1]:.0f} client_cpu_ms_per_pod={cpu_ms:.3f} proxied={proxied // (a.runs + 1)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
