"""Where in a segment does the diffusion decoder flicker? Warping error frame pair by frame pair.

On VALIDATION files of the training corpus (never the clips results are reported on), cpu protocol
(256x384 crop, first ``--frames`` frames), fast-mode points ``--rates``, streams coded with the
encoder's per-segment ``detail_mix``: decodes each stream with the warp decoder, the shipped
diffusion decoder and ``residual_from="ends"``, and computes the warping error of every
consecutive frame pair (:func:`pair_errors`: the terms of
:func:`actdiff.metrics.temporal.warping_error`, whose ratio of sums is the clip's score). Pairs are
split into those that touch a keyframe (a segment's first or last frame) and the rest; for each
diffusion decoder the summary gives the mean excess over the warp decoder's per-pair error in each
group. An excess concentrated at keyframes would point at generated detail jumping in and out there;
one spread evenly points at detail re-drawn (or mis-carried) every frame. A looking tool: it chooses
nothing.

    ACTDIFF_TRAIN_CLIPS=... OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/flicker_profile.py \\
        -o benchmarks/results/flicker_profile_val_cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from actdiff.codec import decode_video
from actdiff.evaluation.rates import training_streams
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics.temporal import _flow, _luma, _sample, consistency_mask

DECODERS = {"warp": ("warp", {}), "shipped": ("diffusion", {}), "ends": ("diffusion", {"residual_from": "ends"})}


def pair_errors(ref: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Warping error of each pair ``(t - 1, t)`` of ``rec`` along ``ref``'s flow: ``float64 (T - 1,)``,
    the mean over ``ref``'s flow-consistent pixels of ``|rec_t − warp(rec_{t-1})|`` ([0, 1] units),
    NaN for a pair with no consistent pixel (both ``uint8 (T, H, W, 3)``)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    lum = [_luma(f) for f in ref]
    recf = rec.astype(np.float32) / 255.0
    out = np.full(ref.shape[0] - 1, np.nan)
    for t in range(1, ref.shape[0]):
        back, fwd = _flow(dis, lum[t], lum[t - 1]), _flow(dis, lum[t - 1], lum[t])
        mask = consistency_mask(back, fwd)
        if mask.any():
            out[t - 1] = float(np.abs(recf[t] - _sample(recf[t - 1], back)).mean(-1)[mask].mean())
    return out


def keyframe_pairs(segments: list[list[int]], num_frames: int) -> np.ndarray:
    """``bool (T - 1,)``: pair ``(t - 1, t)`` touches a keyframe (``segments``: ``[start, end]`` frames, inclusive)."""
    keys = {f for seg in segments for f in seg}
    return np.array([t - 1 in keys or t in keys for t in range(1, num_frames)])


def excess(errors: dict[str, np.ndarray], at_key: np.ndarray) -> dict[str, dict[str, float]]:
    """Per diffusion decoder, the mean per-pair excess over the warp decoder at keyframe pairs and the rest."""
    out = {}
    for name, err in errors.items():
        if name != "warp":
            d = err - errors["warp"]
            out[name] = {"keyframe_pairs": float(np.nanmean(d[at_key])) if at_key.any() else float("nan"),
                         "other_pairs": float(np.nanmean(d[~at_key])) if (~at_key).any() else float("nan")}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", nargs="+", default=["udacity_highway", "mmaction_makeup", "intel_asl_signing",
                                                   "intel_bottles", "videocomposer_field"])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("-o", "--output", type=Path, default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    out: dict = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                 "machine": machine(), "streams": []}
    for name, src, point, res in training_streams(args.clips, args.rates, args.frames, ["codec.send_detail_mix=true"]):
        errors = {label: pair_errors(src, np.asarray(decode_video(res.data, dec, trusted=True, **opts).frames))
                  for label, (dec, opts) in DECODERS.items()}
        at_key = keyframe_pairs(res.stats["segments"], src.shape[0])
        row = {"clip": name, "point": point, "segments": res.stats["segments"],
               "pair_errors": {k: v.tolist() for k, v in errors.items()}, "excess_over_warp": excess(errors, at_key)}
        out["streams"].append(row)
        print(f"{name} {point} segments {row['segments']}: " + "; ".join(
            f"{k} excess at keyframe pairs {v['keyframe_pairs']:+.5f}, elsewhere {v['other_pairs']:+.5f}"
            for k, v in row["excess_over_warp"].items()), flush=True)
        if args.output:
            atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
