"""Serve a generated fleet (``benchmarks/gen.py``) from the tests' loopback API server, in its own process.

``python benchmarks/serve.py DIR`` loads ``DIR/cluster/*.jsonl`` into
``tests/kube_server.FakeKube`` byte for byte (``add_raw_json``: only each
object's metadata is parsed), starts it on 127.0.0.1, writes
``DIR/kubeconfig`` pointing at it, prints one line
``READY <url> <kubeconfig>`` and serves until its standard input closes (or
SIGTERM/SIGINT). The benchmark runs it as a separate process so that the
server's CPU time is never counted against the client being measured.

Authentication is off: kubectl (client-go) never sends a bearer token over
plain http, and every client must see the same server.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from kube_server import FakeKube  # noqa: E402  (tests/ is not a package)

KINDS = ("Node", "ConfigMap", "Deployment", "ReplicaSet", "Pod", "HorizontalPodAutoscaler", "Service")


def load(kube: FakeKube, cluster: Path) -> dict[str, int]:
    """Add every ``<Kind>.jsonl`` under ``cluster``; returns objects per kind."""
    counts = {}
    for kind in KINDS:
        path = cluster / f"{kind}.jsonl"
        if not path.exists():
            continue
        with open(path, "rb") as fh:
            items = [line.rstrip(b"\n") for line in fh if line.strip()]
        kube.add_raw_json(kind, None, items)
        counts[kind] = len(items)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="a directory written by benchmarks/gen.py")
    a = ap.parse_args(argv)
    root = Path(a.dir)
    kube = FakeKube(token=None)
    counts = load(kube, root / "cluster")
    kube.start()
    for store in kube._stores.values():   # sort each store now, not inside the first timed request
        with kube._lock:
            store.view()
    kubeconfig = kube.write_kubeconfig(root / "kubeconfig", namespace="default")
    sys.stderr.write(f"serve: {', '.join(f'{n} {k}' for k, n in counts.items())} at {kube.url}\n")
    sys.stdout.write(f"READY {kube.url} {kubeconfig}\n")
    sys.stdout.flush()

    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    kube.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
