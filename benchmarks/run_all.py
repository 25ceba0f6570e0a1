"""``make bench``: the benchmarks that need only what ships with the repository, one after another.

    python benchmarks/run_all.py            # run them, writing benchmarks/results/*_bundled.json
    python benchmarks/run_all.py --list     # print the commands only

The benchmarks on the shared or downloaded clips (rate curves, flicker, selectors, trajectory
coding, …) take their clips as arguments; their exact commands are in README.md and
docs/benchmarks.md next to their numbers. Each command here runs in a fresh interpreter with
``OMP_NUM_THREADS=2``; the machine is recorded in every results JSON.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = "actdiff/assets/sample/bigbuckbunny_256x384.mp4"

#: (name, arguments after the python interpreter)
BENCHMARKS = [
    ("codec", ["benchmarks/bench_codec.py", SAMPLE, "-o", "benchmarks/results/codec_bundled.json", "--overwrite"]),
    ("decoder", ["benchmarks/bench_decoder.py", "--out", "benchmarks/results/decoder_bundled.json"]),
    ("warp_speed", ["benchmarks/bench_warp_speed.py", SAMPLE, "-o", "benchmarks/results/warp_speed_bundled.json",
                    "--overwrite"]),
    ("config", ["benchmarks/bench_config.py", "--runs", "3"]),
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--list", action="store_true", help="print the commands and exit")
    p.add_argument("names", nargs="*", help=f"only these ({', '.join(n for n, _ in BENCHMARKS)})")
    args = p.parse_args(argv)
    unknown = set(args.names) - {n for n, _ in BENCHMARKS}
    if unknown:
        print(f"error: unknown benchmark(s) {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")}
    failed = []
    for name, cmd in BENCHMARKS:
        if args.names and name not in args.names:
            continue
        print(f"== {name}: {' '.join(['python'] + cmd)}", flush=True)
        if args.list:
            continue
        if subprocess.run([sys.executable, *cmd], cwd=ROOT, env=env).returncode != 0:
            failed.append(name)
    if failed:
        print(f"error: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
