"""How much of the source's frame-to-frame motion does the decoded motion carry?

On VALIDATION files of the training corpus (never the clips results are reported on), cpu protocol
(256x384 crop, first ``--frames`` frames), fast-mode points ``--rates``: every stream is decoded to
its segments (keyframes + trajectories, what every decoder sees) and, for each pair of consecutive
frames ``(t - 1, t)`` inside a segment, the decoded backward motion ``t → t - 1`` is compared with
the source's (DIS optical flow, the warping error's flow, on its forward–backward consistent pixels):

* ``direct``: the tracks' positions at ``t`` and ``t - 1`` interpolated
  (:func:`actdiff.motion.interpolate.dense_flow_from_tracks`; what the residual filter carries along);
* ``keyflow``: the difference of the warp decoder's keyflow-refined maps of ``t`` and ``t - 1`` into
  the nearer keyframe (:func:`keyframe_map`; the motion implied by the warp decoder's frames, up to
  the map's local Jacobian);
* ``zero``: no motion (the size of the source's motion itself).

``points`` / ``points_zero``: the same end-point error read only AT the decoded trajectories
(:func:`point_steps`: each one's own coded step ``t → t - 1`` against the source's motion at its
position, on moving pixels), and no motion there: how much of the motion the coded trajectories
themselves keep, before any interpolation (``--set`` changes their temporal coding).

Reported per stream: the mean end-point error (pixels) on moving pixels (source motion at least
``--moving`` px/frame) for each, the share of those pixels, and the mean decoded motion on static
pixels (source motion below 0.25 px/frame) beside the source's there. A decoded motion no better
than ``zero`` on moving pixels does not describe them. DIS is not ground truth (it errs on
fast non-rigid motion too), so read differences, not absolute values. A looking tool: it chooses nothing.

    ACTDIFF_TRAIN_CLIPS=... OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/motion_accuracy.py \\
        --rates r1 r4 -o benchmarks/results/motion_accuracy_val_cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from actdiff.codec import decode_segments
from actdiff.evaluation.rates import training_streams
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics.temporal import _flow, _luma, consistency_mask
from actdiff.motion import fusion
from actdiff.motion.interpolate import dense_flow_from_tracks
from actdiff.motion.keyflow import KeyflowParams, cached_corrections, refine_map
from actdiff.types import DecodedSegment

#: Source motion below this (px/frame) counts as static.
STATIC = 0.25


def keyframe_map(seg: DecodedSegment, t: int, ref: int, height: int, width: int) -> np.ndarray:
    """The warp decoder's keyflow-refined backward map of frame ``t`` into keyframe ``ref``
    (``float32 (H, W, 2)`` source positions in pixels; :func:`actdiff.motion.fusion.warp_keyframe`)."""
    bw = float(seg.bandwidth)
    back, _ = dense_flow_from_tracks(seg.tracks, t, ref, height, width, bw)
    if t == ref:
        return back
    kp = KeyflowParams(**(fusion.FusionParams().keyflow_params or {}))
    corr = cached_corrections(seg, bw, kp)
    share = fusion._keyflow_share(seg, t, ref, back, corr, kp, bw)
    return refine_map(back, corr.c0 if ref == 0 else corr.c1, share)


def decoded_motions(seg: DecodedSegment, t: int, height: int, width: int) -> dict[str, np.ndarray]:
    """Backward motion ``t → t - 1`` (``float32 (H, W, 2)``, pixels) of segment frame ``t``, each way."""
    grid = np.stack(np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32)), -1)
    direct = dense_flow_from_tracks(seg.tracks, t, t - 1, height, width, float(seg.bandwidth))[0] - grid
    ref = 0 if t / (seg.segment.length - 1) <= 0.5 else seg.segment.length - 1
    keyflow = keyframe_map(seg, t, ref, height, width) - keyframe_map(seg, t - 1, ref, height, width)
    return {"direct": direct, "keyflow": keyflow, "zero": np.zeros_like(direct)}


def point_steps(seg: DecodedSegment, t: int, back: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The decoded trajectories' own steps ``t → t - 1`` (``(M, 2)`` px) of those visible at both frames
    whose position at ``t`` lies on ``mask (H, W)``, and the source's motion ``back (H, W, 2)`` there."""
    ok = seg.tracks.visible[t] & seg.tracks.visible[t - 1]
    pos, prev = seg.tracks.positions[t][ok], seg.tracks.positions[t - 1][ok]
    h, w = mask.shape
    xi, yi = np.clip(np.rint(pos[:, 0]).astype(int), 0, w - 1), np.clip(np.rint(pos[:, 1]).astype(int), 0, h - 1)
    on = mask[yi, xi]
    return (prev - pos)[on], back[yi[on], xi[on]]


def stream_accuracy(src: np.ndarray, segments: list[DecodedSegment], moving: float) -> dict:
    """Mean end-point errors on moving pixels and decoded motion on static ones (module docstring)."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    lum = [_luma(f) for f in src]
    h, w = src.shape[1:3]
    epe: dict[str, list[float]] = {}
    share, static_dec, static_src, pts, pts_zero = [], [], [], [], []
    for seg in segments:
        s = seg.segment.start
        for t in range(1, seg.segment.length):
            back = _flow(dis, lum[s + t], lum[s + t - 1])
            ok = consistency_mask(back, _flow(dis, lum[s + t - 1], lum[s + t]))
            size = np.linalg.norm(back, axis=-1)
            mov, still = ok & (size >= moving), ok & (size < STATIC)
            motions = decoded_motions(seg, t, h, w)
            share.append(float(mov.mean()))
            if mov.any():
                for name, d in motions.items():
                    epe.setdefault(name, []).append(float(np.linalg.norm(d - back, axis=-1)[mov].mean()))
                steps, truth = point_steps(seg, t, back, mov)
                pts += list(np.linalg.norm(steps - truth, axis=-1))
                pts_zero += list(np.linalg.norm(truth, axis=-1))
            if still.any():
                static_dec.append(float(np.linalg.norm(motions["direct"], axis=-1)[still].mean()))
                static_src.append(float(size[still].mean()))
    if pts:
        epe.update(points=[float(np.mean(pts))], points_zero=[float(np.mean(pts_zero))])
    return {"moving_epe": {k: float(np.mean(v)) for k, v in epe.items()}, "moving_share": float(np.mean(share)),
            "moving_point_steps": len(pts),
            "static_decoded_motion": float(np.mean(static_dec)) if static_dec else float("nan"),
            "static_source_motion": float(np.mean(static_src)) if static_src else float("nan")}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", nargs="+", default=["udacity_highway", "mmaction_makeup", "intel_asl_signing",
                                                   "intel_bottles", "videocomposer_field"])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--rates", nargs="+", default=["r1", "r4"])
    ap.add_argument("--moving", type=float, default=1.0, help="source motion (px/frame) from which a pixel moves")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config overrides of every encode (before the point's), e.g. "
                         "codec.trajectories.smooth_sigma=0 (recorded with each stream's bpp)")
    ap.add_argument("-o", "--output", type=Path, default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    out: dict = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                 "machine": machine(), "streams": []}
    for name, src, point, res in training_streams(args.clips, args.rates, args.frames, args.set):
        _, segments = decode_segments(res.data, trusted=True)
        row = {"clip": name, "point": point, "bpp": res.stats["bpp"],
               "points_per_segment": [s.tracks.num_points for s in segments],
               **stream_accuracy(src, segments, args.moving)}
        out["streams"].append(row)
        print(f"{name} {point} ({row['bpp']:.4f} bpp): moving pixels {row['moving_share']:.0%}, EPE " + ", ".join(
            f"{k} {v:.2f}" for k, v in row["moving_epe"].items()) + f" px; static pixels: decoded motion "
            f"{row['static_decoded_motion']:.3f} px (source {row['static_source_motion']:.3f})", flush=True)
        if args.output:
            atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
