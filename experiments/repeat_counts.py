"""How often do clips repeat frames? The repeats ``codec.repeat_psnr`` would leave out, per clip.

For each clip (cpu protocol: 256x384 crop, first ``--frames`` frames): the display frames
:func:`actdiff.codec.repeats.find_repeats` marks at each ``--psnr`` threshold, and the PSNR of
every consecutive pair binned (how the copies and the slow motion of a clip separate). A looking
tool: it chooses nothing (the default was chosen by ``experiments/fast_override_ab.py
repeat_psnr=50`` on training clips, docs/repeated_frames.md).

    ACTDIFF_TRAIN_CLIPS=... PYTHONPATH=. python experiments/repeat_counts.py --dataset train_clips \\
        -o experiments/results_rd/repeat_counts_train.json
    PYTHONPATH=. python experiments/repeat_counts.py --files data/opencv_samples/*.* ../shared/data/clips/*.mp4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from actdiff.codec.repeats import find_repeats, frame_psnr
from actdiff.data import load_dataset, load_protocol
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs

BINS = [0, 30, 35, 40, 45, 50, 55, 60, 70, 201]


def clip_row(name: str, frames: np.ndarray, thresholds: list[float]) -> dict:
    """Repeats at each threshold and the binned PSNR of consecutive pairs of ``uint8 (T, H, W, 3)``."""
    pairs = [frame_psnr(a, b) for a, b in zip(frames[1:], frames[:-1])]
    counts, _ = np.histogram(pairs, bins=BINS)
    return {"clip": name, "frames": int(len(frames)),
            "repeats": {f"{p:g}": list(find_repeats(frames, p)) for p in thresholds},
            "pair_psnr_histogram": {f"{lo}-{hi}": int(c) for lo, hi, c in zip(BINS[:-1], BINS[1:], counts)}}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="a dataset name (train_clips: the training corpus)")
    src.add_argument("--files", nargs="+", type=Path)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--psnr", nargs="+", type=float, default=[45.0, 50.0, 55.0])
    ap.add_argument("-o", "--output", type=Path)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    protocol = load_protocol({"name": "cpu", "height": 256, "width": 384, "max_frames": args.frames,
                              "resize_mode": "crop"})
    paths = [(s.name, s.path) for s in load_dataset(args.dataset)] if args.dataset else \
        [(p.stem, p) for p in args.files]
    out = {"args": {"dataset": args.dataset, "files": [str(p) for p in args.files or []], "frames": args.frames,
                    "psnr": args.psnr}, "machine": machine(), "clips": []}
    for name, path in paths:
        row = clip_row(name, np.asarray(protocol.read(str(path)).frames), args.psnr)
        out["clips"].append(row)
        print(f"{name:28s} " + "  ".join(f"{p} dB: {len(r):2d}" for p, r in row["repeats"].items()), flush=True)
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
