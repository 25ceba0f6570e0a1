"""Choose ``codec.keyframe_spread`` (fast mode) on TRAINING clips: per-keyframe qualities by reuse.

For each clip (cpu protocol: 256x384 crop, first ``--frames`` frames) and each spread ``s``, the
fast mode at the default rate points r0…r4 with ``codec.keyframe_spread=s``, decoded by the warp
decoder and scored with PSNR, MS-SSIM and VMAF NEG; then the BD-rate of every spread's curve
against ``s = 0`` (one quality for all keyframes, the stream as before the option existed;
negative = fewer bits for the same score), per clip and on average, and the machine.

    PYTHONPATH=. python experiments/keyframe_spread.py -o benchmarks/results/keyframe_spread_train_cpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from actdiff.codec import decode_video, encode_video
from actdiff.codec.encoder import pairwise_flows
from actdiff.config import compose
from actdiff.data import load_dataset
from actdiff.evaluation.rates import codec_overrides, load_rates
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rd_tune import _bd as bd  # noqa: E402  (BD-rate of two point lists with "bpp")

METRICS = ["psnr", "ms_ssim", "vmaf_neg"]
#: Set A chose the spread, set B (other clips) checks it.
SET_A = ["davis_dogs_jump", "sadtalker_face_a", "intel_person_room", "sttn_schoolgirls", "intel_cars_topdown"]
SET_B = ["mmaction_basketball", "tav_snowboard", "trackanything_kitten", "intel_bottles", "videollama_stage",
         "pysot_bag"]


def curve(video, flows, spread: float) -> list[dict]:
    """The fast mode's rate points at ``spread``: bpp, metrics, keyframe qualities, seconds."""
    points = []
    for point, ovs in load_rates().items():
        cfg = compose(None, [*codec_overrides(ovs), f"codec.keyframe_spread={spread}"], default="experiment/codec")
        t0 = time.perf_counter()
        r = encode_video(video, cfg, flows=flows)
        seconds = time.perf_counter() - t0
        rec = decode_video(r.data, "warp")
        m = compute_metrics(video.frames, rec.frames, METRICS)
        points.append({"point": point, "bpp": r.stats["bpp"], "seconds": seconds,
                       "keyframes": r.stats["keyframes"], "qualities": r.stats.get("keyframe_qualities"),
                       **{k: float(v) for k, v in m.items()}})
    return points


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=SET_A + SET_B)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--spreads", type=float, nargs="+", default=[0, 4, 8, 16])
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    args.spreads = [float(s) for s in args.spreads]  # the defaults are ints; keys are "0.0", "8.0", …
    if 0 not in args.spreads:
        raise SystemExit("error: --spreads must include 0 (the anchor)")
    out = {"args": vars(args), "machine": machine(), "sets": {"a": SET_A, "b": SET_B}, "clips": {}}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        flows = pairwise_flows(video, compose(None, [], default="experiment/codec"))
        curves = {str(s): curve(video, flows, s) for s in args.spreads}
        rates = {s: {m: bd(curves["0.0"], c, m) for m in METRICS} for s, c in curves.items() if s != "0.0"}
        out["clips"][seq.name] = {"curves": curves, "bd_rate_vs_spread0": rates}
        print(seq.name, {s: {m: (round(v, 1) if v is not None else None) for m, v in d.items()}
                         for s, d in rates.items()}, flush=True)
    for name, clips in (("all", list(out["clips"])), ("a", SET_A), ("b", SET_B)):
        done = [out["clips"][c] for c in clips if c in out["clips"]]
        out.setdefault("mean_bd_rate_vs_spread0", {})[name] = {
            s: {m: float(np.mean([v for c in done if (v := c["bd_rate_vs_spread0"][s][m]) is not None]))
                for m in METRICS} for s in (str(x) for x in args.spreads if x != 0)} if done else {}
    print(json.dumps(out["mean_bd_rate_vs_spread0"], indent=1))
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
