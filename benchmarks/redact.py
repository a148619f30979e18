"""How long redaction takes per container argv (``redact.command``), in µs per argv.

Every collected container's ``command``/``args`` goes through :func:`skewaudit.redact.command`,
so its cost is paid once per container of a fleet. Cases (20 tokens each unless named):

* ``vllm``: a vLLM argv with one ``--api-key`` pair, the same list every call (a fleet's
  replicas and templates repeat their flags and values);
* ``vllm cold``: the same shape with a value no call has seen before in every position that is
  not a flag (what the first container of each template costs);
* ``env refs``: ``$(VAR)`` references, one read by ``--api-key`` (the variable scan runs);
* ``sh -c``: ``["sh", "-c", SCRIPT]`` with an exported secret and the serving command.

``--against REV`` times the redaction module of an older commit on the same cases (loaded from
``git show``; ``command`` where it has one, else ``argv``) and prints the ratio. Times are the best of
``--runs`` repeats of ``--number`` calls, CPU time of this process (``time.process_time``) and wall
time side by side: on a loaded machine CPU time is the figure to compare.

``python benchmarks/redact.py [--number 20000] [--runs 5] [--against 7923468^]``
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SKEWAUDIT_REDACTION_KEY", "benchmark-key")   # no key file written by a benchmark

from skewaudit import redact  # noqa: E402

VLLM = ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "meta-llama/Llama-3.1-8B-Instruct",
        "--tensor-parallel-size", "2", "--max-model-len", "8192", "--gpu-memory-utilization", "0.9",
        "--dtype", "bfloat16", "--port", "8000", "--api-key", "s3cr3t-value-1", "--enable-prefix-caching",
        "--served-model-name", "llama"]
ENV_REFS = ["vllm", "serve", "$(MODEL_ID)", "--tensor-parallel-size", "$(TP)", "--max-model-len", "$(MAXLEN)",
            "--api-key", "$(VLLM_API_KEY)", "--dtype", "auto", "--port", "8000", "--download-dir", "/models",
            "--served-model-name", "$(NAME)", "--seed", "0", "--trust-remote-code"]
SCRIPT = ["sh", "-c", "set -e; export P=s3cr3t; pip install -q hf_transfer && exec vllm serve org/Model-Instruct "
          "--enforce-eager --max-model-len 8192 --api-key $P --port 8000 2>&1 | tee /tmp/log"]
assert len(VLLM) == len(ENV_REFS) == 20


def _cold() -> list[list[str]]:
    """``--number`` distinct variants of VLLM: every value token unique, flags unchanged."""
    counter = itertools.count()
    return [[t if t.startswith("-") else f"{t}{next(counter)}" for t in VLLM] for _ in range(_cold.n)]


def timed(fn, argvs: list[list[str]], runs: int) -> tuple[float, float]:
    """Best µs per argv over ``runs``: (CPU, wall)."""
    cpu, wall = [], []
    for _ in range(runs):
        c, w = time.process_time(), time.perf_counter()
        for a in argvs:
            fn(a)
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return min(cpu) / len(argvs) * 1e6, min(wall) / len(argvs) * 1e6


def load_rev(rev: str):
    """The redaction module as it was at ``rev`` (a single module or the package's __init__)."""
    for path in ("skewaudit/redact/__init__.py", "skewaudit/redact.py"):
        src = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{path}"], capture_output=True, text=True)
        if src.returncode == 0:
            break
    else:
        sys.exit(f"no redaction module at {rev}")
    d = tempfile.mkdtemp(prefix="redact-rev-")
    file = Path(d) / "redact_at_rev.py"
    file.write_text(src.stdout)
    spec = importlib.util.spec_from_file_location("redact_at_rev", file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)   # type: ignore[union-attr]
    return getattr(mod, "command", None) or mod.argv


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--number", type=int, default=20000, help="calls per repeat (default 20000)")
    ap.add_argument("--runs", type=int, default=5, help="repeats, best taken (default 5)")
    ap.add_argument("--against", metavar="REV", help="also time the redaction module of this git revision")
    a = ap.parse_args()
    _cold.n = a.number
    cases = [("vllm", [VLLM] * a.number), ("vllm cold", None), ("env refs", [ENV_REFS] * a.number),
             ("sh -c", [SCRIPT] * (a.number // 10))]
    other = load_rev(a.against) if a.against else None
    assert not [t for t in redact.command(VLLM) if "s3cr3t" in t]
    head = f"{'case':10} {'µs/argv CPU':>12} {'wall':>8}"
    print(head + (f" {a.against + ' CPU':>16} {'ratio':>7}" if other else ""))
    for name, argvs in cases:
        # a fresh cold set per function: neither sees tokens the other (or a warm-up) remembered
        cpu, wall = timed(redact.command, argvs or _cold(), a.runs if argvs else 1)
        row = f"{name:10} {cpu:12.1f} {wall:8.1f}"
        if other:
            ocpu, _ = timed(other, argvs or _cold(), a.runs if argvs else 1)
            row += f" {ocpu:16.1f} {cpu / ocpu:6.2f}x"
        print(row)


if __name__ == "__main__":
    main()
