"""The default ``kubernetes`` client path: what most Python tools do to read every pod.

``load_kube_config()`` then ``CoreV1Api().list_pod_for_all_namespaces()``,
which asks for the whole list in one response and builds the client's model
objects (``V1Pod`` and everything under it) for every field of every pod.
The benchmark measures this against skewaudit end to end.

``python benchmarks/default_client.py [--kubeconfig FILE]`` (default: KUBECONFIG). Prints the pod count.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kubeconfig", default=None)
    a = ap.parse_args(argv)
    from kubernetes import client, config

    config.load_kube_config(config_file=a.kubeconfig)
    pods = client.CoreV1Api().list_pod_for_all_namespaces()
    sys.stdout.write(f"pods {len(pods.items)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
