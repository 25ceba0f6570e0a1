"""NIQE of the source frames at a protocol (what a perfect reconstruction would score).

Usage: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/source_niqe.py [--protocol cpu] CLIP ...
"""

import argparse

from actdiff.data import load_protocol
from actdiff.metrics import compute_metrics


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--protocol", default="cpu")
    args = p.parse_args()
    for clip in args.clips:
        frames = load_protocol(args.protocol).read(clip).frames
        print(f"{clip}: NIQE {compute_metrics(frames, frames, ['niqe'])['niqe']:.2f}")


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
