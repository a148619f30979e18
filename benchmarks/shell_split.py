"""How fast skewaudit splits ``sh -c`` scripts, and how a real bash parser (``bashlex``) compares.

Generates scripts of growing size full of redirections (``>> log 2>&1``, ``2>/dev/null``) ending
in the serving command, and times :func:`skewaudit.runtimes._shell.split_script` and the whole
:func:`skewaudit.runtimes.effective_argv` on each (median of ``--runs``). The time per KB must stay
flat (linear); a quadratic pass shows as a ratio that doubles with the size.

When ``bashlex`` is importable (``pip install bashlex`` in a scratch venv: it is GPLv3 and not a
skewaudit dependency) the same scripts and the ``sh -c`` cases of ``tests/test_argv.py`` are parsed
with it too, and the table says which ones it refuses.

``python benchmarks/shell_split.py [--sizes 8,34,136] [--runs 3]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skewaudit.runtimes import _shell, effective_argv  # noqa: E402

# The sh -c scripts of tests/test_argv.py (and two shapes seen in real manifests).
CASES = [
    "pip install -q hf_transfer && exec vllm serve m --max-model-len 8192",
    "vllm serve old & vllm serve new; sleep infinity",
    "set -e\n# start the server\nexport MODEL=Qwen/Qwen2.5-7B\npython3 -m vllm.entrypoints.openai.api_server \\\n"
    "  --model \"$MODEL\" --port ${PORT:-8001} 2>&1 | tee /tmp/log   # keep logs\n",
    "vllm serve $MODEL --served-model-name '$NAME' --dtype \"${DTYPE}\" --x $UNSET",
    'vllm serve m --chat-template "$TPL"',
    'vllm serve m $EXTRA --name "$EXTRA"',
    "vllm serve m --tensor-parallel-size $(nvidia-smi -L | wc -l) --port `echo 1`",
    "exec vllm serve $(MODEL) --api-key $(KEY)",
    "exec bash -c 'vllm serve m --port 9000'",
    "echo hi; sleep 10",
    "if [ -n \"$HF_TOKEN\" ]; then huggingface-cli login --token $HF_TOKEN; fi\nexec vllm serve m &>/var/log/v.log",
    "export P=s3cr3t; exec vllm serve org/Model-Instruct --enforce-eager --api-key $P 2>&1",
]


def script(kb: int) -> str:
    lines = ["set -e"]
    size, i = 7, 0
    while size < kb * 1024:
        line = (f'echo "warming shard {i}" >> /var/log/warm.log 2>&1 && '
                f"cp /models/s{i} /dev/shm/ 2>/dev/null || true")
        lines.append(line)
        size += len(line) + 1
        i += 1
    lines.append("exec vllm serve org/Model-Instruct --max-model-len 8192 > /var/log/vllm.log 2>&1")
    return "\n".join(lines)


def timed(fn, runs: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="8,34,136", help="script sizes in KB (default 8,34,136)")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    try:
        import bashlex  # type: ignore[import-not-found]
    except ImportError:
        bashlex = None

    print(f"{'KB':>5} {'split_script s':>15} {'ms/KB':>7} {'effective_argv s':>17} "
          + (f"{'bashlex s':>10} {'ratio':>7}" if bashlex else "(bashlex not installed)"))
    for kb in (int(x) for x in a.sizes.split(",")):
        text = script(kb)
        t_split, (cmds, _) = timed(lambda: _shell.split_script(text, {}), a.runs)
        t_eff, res = timed(lambda: effective_argv(["sh", "-c", text], None, {}, "", "c"), a.runs)
        assert res.argv == ["vllm", "serve", "org/Model-Instruct", "--max-model-len", "8192"], res.argv
        row = f"{len(text) / 1024:5.0f} {t_split:15.3f} {t_split * 1000 / (len(text) / 1024):7.2f} {t_eff:17.3f}"
        if bashlex:
            t_bl, _ = timed(lambda: bashlex.parse(text), 1)
            row += f" {t_bl:10.3f} {t_bl / t_split:6.1f}x"
        print(row)

    print(f"\n{len(CASES)} sh -c cases of tests/test_argv.py:")
    t_ours, _ = timed(lambda: [_shell.split_script(c, {"MODEL": "m"}) for c in CASES], a.runs)
    print(f"  split_script: {t_ours * 1e6 / len(CASES):8.0f} µs per script, all split")
    if bashlex:
        failed = []

        def parse_all():
            failed.clear()
            for c in CASES:
                try:
                    bashlex.parse(c)
                except Exception as e:  # noqa: BLE001 - bashlex raises its own error types
                    failed.append(f"{c[:50]!r}: {type(e).__name__}: {str(e)[:60]}")
        t_bl, _ = timed(parse_all, a.runs)
        print(f"  bashlex:      {t_bl * 1e6 / len(CASES):8.0f} µs per script (parse only, no expansion), "
              f"{len(failed)} refused")
        for f in failed:
            print(f"    refused {f}")


if __name__ == "__main__":
    main()
