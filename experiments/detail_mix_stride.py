"""How many frames must the encoder score to choose the diffusion decoder's ``detail_mix``?

The encoder's choice (:mod:`actdiff.codec.detail_mix`, ``codec.send_detail_mix``) fuses every
in-between frame of every segment once more, which cost 4–5 s per 96 frames at 256x384 on two
cores (issue 18's speed target). This script scores the choice on every ``stride``-th in-between
frame, at least a few per segment (:func:`~actdiff.codec.detail_mix.scored_frames`), and
measures, on ALL in-between frames, the mean coarse PSNR (``psnr_lowres`` of the unrounded
base) of the ``β`` so chosen, against the choice made on every frame (``1/1``) and against the
fixed ``β = 0.5``. Fast-mode streams of TRAINING-corpus files only (never the clips results are
reported on; the default clips are neither ``coarse_hedge.py``'s nor the validation files of
docs/video_interface.md), cpu protocol. Each frame is fused once; the variants reuse its terms.

    OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/detail_mix_stride.py \\
        -o benchmarks/results/detail_mix_stride_train_cpu.json
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np
import torch

from actdiff.codec.detail_mix import best_mix, frame_terms, mean_coarse_psnr, scored_frames
from actdiff.evaluation.rates import training_streams
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.io.geometry import pad_to_multiple

CLIPS = ["askanything_baseball", "davis_dolphins", "davis_rollercoaster", "intel_cars_topdown",
         "mmaction_armwrestling", "mmaction_pool", "sttn_schoolgirls", "tav_surfing", "trackanything_kitten",
         "videollama_skate_dog"]


def stream_row(src: np.ndarray, res, variants: list[tuple[int, int]]) -> dict:
    """Per-stride mean coarse PSNR (dB, over every in-between frame of the stream) of the chosen ``β``."""
    h, w = src.shape[1:3]
    frames, _ = pad_to_multiple(src, 16)
    segs = [s for s in res.debug["decoded_segments"] if s.segment.length > 2]
    t0 = time.perf_counter()
    terms = [[frame_terms(s, t, frames[s.segment.start + t], h, w) for t in range(1, s.segment.length - 1)]
             for s in segs]
    seconds = time.perf_counter() - t0
    n = sum(len(t) for t in terms)

    def score(betas: list[float]) -> float:  # frame-weighted mean over the stream
        return float(sum(mean_coarse_psnr(t, b) * len(t) for t, b in zip(terms, betas)) / n)

    full = [best_mix(t) for t in terms]
    row = {"frames_in_between": n, "segments": len(segs), "fusion_seconds": seconds,
           "fixed_0.5": score([0.5] * len(segs)), "variants": {}}
    for stride, least in variants:
        picks = [scored_frames(s.segment.length, stride, least) for s in segs]
        betas = [best_mix([t[i - 1] for i in p]) for p, t in zip(picks, terms)]
        row["variants"][f"{stride}/{least}"] = {
            "coarse_psnr": score(betas), "same_choice": sum(a == b for a, b in zip(betas, full)),
            "frames_scored": sum(map(len, picks)), "betas": betas}
    return row


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", default=CLIPS, help="names of training-corpus files")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("--variants", nargs="+", default=["1/1", "2/1", "3/1", "4/1", "2/3", "3/3", "4/3", "3/5", "4/5",
                                                      "6/5"],
                    help="STRIDE/MIN_FRAMES: every STRIDE-th in-between frame, at least MIN_FRAMES per segment")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    torch.set_num_threads(2)
    cv2.setNumThreads(2)
    out = {"args": vars(args), "machine": machine(), "rows": []}
    for clip, src, point, res in training_streams(args.clips, args.rates, args.frames,
                                                   ["codec.send_detail_mix=false"]):
        variants = [tuple(int(x) for x in v.split("/")) for v in args.variants]
        row = {"clip": clip, "point": point, "bpp": res.stats["bpp"], **stream_row(src, res, variants)}
        out["rows"].append(row)
        base = row["variants"]["1/1"]["coarse_psnr"]
        print(clip, point, f"fixed0.5 {row['fixed_0.5'] - base:+.3f}",
              *(f"s{k} {v['coarse_psnr'] - base:+.3f} ({v['same_choice']}/{row['segments']})"
                for k, v in row["variants"].items()), flush=True)
    rows = out["rows"]

    def deltas(key: str) -> list[float]:  # dB against the choice on every frame, per stream
        return [(r[key] if key == "fixed_0.5" else r["variants"][key]["coarse_psnr"])
                - r["variants"]["1/1"]["coarse_psnr"] for r in rows]

    out["summary"] = {k: {"mean_delta_db": float(np.mean(deltas(k))), "worst_delta_db": float(min(deltas(k))),
                          "share_scored": sum(r["variants"][k]["frames_scored"] for r in rows)
                          / sum(r["frames_in_between"] for r in rows)} for k in rows[0]["variants"]} if rows else {}
    if rows:
        out["summary"]["fixed_0.5"] = {"mean_delta_db": float(np.mean(deltas("fixed_0.5"))),
                                       "worst_delta_db": float(min(deltas("fixed_0.5")))}
    print(json.dumps(out["summary"], indent=1))
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
