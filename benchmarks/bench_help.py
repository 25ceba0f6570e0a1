"""Wall time of ``actdiff VERB --help`` in a fresh process, for every verb (target: under 1 s).

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_help.py [--repeats 5] [--out benchmarks/results/help_cpu.json]

Each verb's help runs ``--repeats`` times as ``python -m actdiff VERB --help`` (interpreter start
included); the median and the fastest run are reported, beside ``python -c pass`` (the floor of
any Python command) and ``python -c "import torch"`` (what a heavy import used to add).
``tests/test_cli_help.py`` checks that no heavy module is imported by ``--help``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from actdiff.cli import EXTRA_VERBS, VERBS


def seconds(cmd: list[str], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return {"median": round(statistics.median(times), 3), "min": round(min(times), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("-o", "--out", default=None, help="write the times as JSON")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args()
    from actdiff.io.files import refuse_outputs

    refuse_outputs(ap, [args.out], args.overwrite)
    py = sys.executable
    rows = {"python -c pass": seconds([py, "-c", "pass"], args.repeats),
            "python -c 'import torch'": seconds([py, "-c", "import torch"], args.repeats)}
    for verb in sorted({**VERBS, **EXTRA_VERBS}):
        rows[f"actdiff {verb} --help"] = seconds([py, "-m", "actdiff", verb, "--help"], args.repeats)
    width = max(map(len, rows))
    print(f"{'command':<{width}}  median s  min s")
    for name, t in rows.items():
        print(f"{name:<{width}}  {t['median']:>8.3f}  {t['min']:>5.3f}")
    slow = [n for n, t in rows.items() if n.startswith("actdiff") and t["median"] >= 1.0]
    print("all verbs under 1 s" if not slow else f"over 1 s: {', '.join(slow)}")
    if args.out:
        from actdiff.evaluation.results import atomic_write_text, machine

        doc = {"repeats": args.repeats, "seconds": rows, "over_1s": slow, "machine": machine()}
        atomic_write_text(args.out, json.dumps(doc, indent=2) + "\n", overwrite=True)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
