"""Config composition cost: import of ``actdiff.config`` (with its composer) and ``compose`` calls.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_config.py [--runs 5] [--repeat 20]

Each run is a fresh interpreter (so the import is cold for Python, warm for the disk cache) that
times ``import actdiff.config``, the first ``compose()`` (``experiment/codec``) and the mean of
``--repeat`` further composes of ``experiment/codec`` (with a group swap and a value override) and
of ``experiment/train_tiny_cpu``. Prints the median over runs, in milliseconds, and the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from actdiff.config import compose
t1 = time.perf_counter()
compose()
t2 = time.perf_counter()
n = int(sys.argv[1])
for _ in range(n):
    compose(None, ["codec=fixed_gop", "codec.trajectories.budget_points=64"])
t3 = time.perf_counter()
for _ in range(n):
    compose("experiment/train_tiny_cpu")
t4 = time.perf_counter()
print(json.dumps({"import_ms": 1e3 * (t1 - t0), "first_compose_ms": 1e3 * (t2 - t1),
                  "codec_compose_ms": 1e3 * (t3 - t2) / n, "train_compose_ms": 1e3 * (t4 - t3) / n}))
"""


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="fresh interpreters (median reported)")
    p.add_argument("--repeat", type=int, default=20, help="composes per timed loop")
    args = p.parse_args(argv)
    rows = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", CHILD, str(args.repeat)], check=True,
                             capture_output=True, text=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
    from actdiff.results import machine

    print(f"machine: {json.dumps(machine())}")
    for key in rows[0]:
        vals = [r[key] for r in rows]
        print(f"{key:>18}: {statistics.median(vals):8.1f} ms  (min {min(vals):.1f}, max {max(vals):.1f})")
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
