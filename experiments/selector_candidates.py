"""Why does the greedy selector keep off (or go onto) the moving objects? A looking tool: it chooses nothing.

For one clip and fast-mode rate point, per segment of the stream (cpu protocol: 256x384 crop, first
``--frames`` frames), every candidate point set the greedy selector can return is built on the
encoder's own dense motion (:func:`actdiff.codec.encoding.segment_motion`) at the segment's point
budget: the greedy refinement from each anchor fraction of ``--fractions``
(:func:`actdiff.selection.trajectories.greedy_refine`) and the plain anchor grid. Per candidate:
its fitted bandwidth (px), its decoder error (the selector's own objective,
:meth:`actdiff.selection.decoder_error.Problem.error`, px) and how many of its points start on a
moving pixel (displaced by at least ``--moving`` px within the segment); per segment: the moving
pixels' share of the samples, of the objective's weight, and of the best candidate's residual, and
the share of the moving and of the static samples visible (chain confidence at the tracker's
threshold) in the evaluated frames and at the segment's end. With ``--decode`` each candidate is also
coded as the encoder codes trajectories (smoothing, stride, quantisation) into the stream's segment and
decoded by the warp decoder with the stream's keyframes: PSNR and coarse PSNR (8x8 means) of the
segment's in-between frames, the candidate that decodes best and how far (dB) the objective's choice
falls behind it — does the selector's objective rank the sets as the decoder does?
``--summarize FILES… [-o OUT]`` pools those answers over the segments of ``--decode`` results.

    OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/selector_candidates.py data/opencv_samples/vtest.avi \\
        --rate r1 -o benchmarks/results/selector_candidates_vtest_r1_cpu.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from actdiff.codec import decode_segments
from actdiff.codec.encoding import pairwise_flows, prepare_codec, segment_motion
from actdiff.codec.encoding import prepare as prepare_stream
from actdiff.codec.params import check_stream_params
from actdiff.codec.stride_choice import with_stride
from actdiff.decoders import build_decoder
from actdiff.evaluation.rates import codec_overrides, compose_config, encode_at_point, load_rates
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.motion.temporal import upsample_tracks
from actdiff.selection.decoder_error import prepare
from actdiff.selection.trajectories import Budget, anchor_points, greedy_refine
from actdiff.training.synthetic import moving_square
from actdiff.types import DecodedSegment, Video


def candidates(frame0: np.ndarray, motion, tcfg: dict, fractions: list[float], moving_px: float,
               visibility: float, decode=None) -> dict:
    """The candidates of one segment (module docstring); ``tcfg``: the trajectories section;
    ``decode(points, bandwidth) -> dict``: the candidate decoded (``--decode``), added to its row."""
    prob = prepare(frame0, motion, tcfg, visibility)
    budget = Budget(prob, tcfg, None)
    moving = np.linalg.norm(motion.flow, axis=-1).max(0) >= moving_px           # (H, W)
    sets = {f"greedy {f:g}": greedy_refine(prob, budget, f, 0.0, tcfg) for f in fractions}
    grid = anchor_points(prob.weight, budget.points, 0.0)
    sets["grid"] = (grid, prob.fit(grid)) if len(grid) else None
    rows = {}
    for name, got in sets.items():
        if got is None:
            continue
        pts, bw = got
        x, y = pts[:, 0].astype(int), pts[:, 1].astype(int)
        rows[name] = {"points": int(len(pts)), "bandwidth": float(bw), "error": prob.error(pts, bw),
                      "on_moving": int(moving[y, x].sum()), **(decode(prob, pts, bw) if decode else {})}
    best = min(rows, key=lambda k: rows[k]["error"])
    mv = moving[prob.centres[..., 1].astype(int), prob.centres[..., 0].astype(int)]
    weight = (prob.w0 + prob.w1).sum(0)
    residual = prob.residual(*sets[best])
    cy, cx = prob.centres[..., 1].astype(int), prob.centres[..., 0].astype(int)
    seen = motion.confidence[:, cy, cx] >= visibility                              # (T, h, w)
    during, end = seen[prob.frames].mean(0), seen[-1]
    return {"candidates": rows, "best": best, "moving_share": float(mv.mean()),
            "moving_weight_share": float((weight * mv).sum() / max(weight.sum(), 1e-9)),
            "moving_residual_share": float((residual * mv).sum() / max(residual.sum(), 1e-9)),
            "visible_moving": float(during[mv].mean()) if mv.any() else float("nan"),
            "visible_static": float(during[~mv].mean()) if (~mv).any() else float("nan"),
            "visible_end_moving": float(end[mv].mean()) if mv.any() else float("nan"),
            "visible_end_static": float(end[~mv].mean()) if (~mv).any() else float("nan")}


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over frames of the PSNR (dB) of ``uint8``-range arrays ``(T, H, W, C)``."""
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).reshape(len(a), -1).mean(1)
    return float(np.mean(10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))))


def _area8(frames: np.ndarray) -> np.ndarray:
    """``(T, H, W, C)`` averaged over 8x8 blocks (the coarse scale of ``psnr8``)."""
    t, h, w, c = frames.shape
    f = frames[:, :h // 8 * 8, :w // 8 * 8].astype(np.float64)
    return f.reshape(t, h // 8, 8, w // 8, 8, c).mean((2, 4))


def decoded_scores(seg: DecodedSegment, source: np.ndarray, coding, header, decoder):
    """``decode(prob, points, bandwidth)`` for :func:`candidates`: the points' trajectories coded as the
    encoder coded the stream's (``coding``: smoothing, its stride, quantisation) into its segment ``seg``
    (its decoded keyframes), decoded by ``decoder``, scored against ``source`` ``(L, H, W, 3)``."""
    length = seg.segment.length
    stride = int(coding.codec.trajectories.temporal_stride)
    ref = source[1:length - 1]

    def decode(prob, pts: np.ndarray, bandwidth: float) -> dict:
        tracks = upsample_tracks(coding(prob.tracks(pts)), length, stride)
        dseg = DecodedSegment(seg.segment, seg.key_start, seg.key_end, tracks, float(bandwidth))
        return _scores(decoder.decode_frames(header, dseg, range(1, length - 1)), ref)
    return decode


def _scores(rec: np.ndarray, ref: np.ndarray) -> dict:
    return {"decoded_psnr": _psnr(rec, ref), "decoded_psnr8": _psnr(_area8(rec), _area8(ref))}


def _ranks(v: list[float]) -> np.ndarray:
    return np.argsort(np.argsort(v, kind="stable"), kind="stable").astype(float)


def summarize(paths: list[str]) -> dict:
    """Over the segments of ``--decode`` results files: how often the objective's choice is the
    candidate that decodes best, its mean PSNR regret (dB), the mean Spearman correlation of the
    objective's error with the decoded PSNR's loss (1: the same ranking), and how far (dB) the best
    candidate decodes above the stream's own segment (what choosing by decoding could gain)."""
    rows = []
    for path in paths:
        for seg in json.loads(Path(path).read_text())["segments"]:
            if "decoded_best" not in seg:
                raise SystemExit(f"{path}: no decoded scores (run with --decode)")
            c = seg["candidates"]
            rho = float(np.corrcoef(_ranks([v["error"] for v in c.values()]),
                                    _ranks([-v["decoded_psnr"] for v in c.values()]))[0, 1]) if len(c) > 2 else 1.0
            top = c[seg["decoded_best"]]["decoded_psnr"]
            rows.append({"file": Path(path).name, "start": seg["start"], "end": seg["end"], "best": seg["best"],
                         "decoded_best": seg["decoded_best"], "regret_psnr": seg["regret_psnr"], "spearman": rho,
                         "stream_regret_psnr": top - seg["stream"]["decoded_psnr"]})
            print(f"{Path(path).stem} {seg['start']}-{seg['end']}: objective {seg['best']}, decoded "
                  f"{seg['decoded_best']} (+{seg['regret_psnr']:.2f} dB), Spearman {rho:+.2f}")
    out = {"segments": len(rows), "agree": sum(r["best"] == r["decoded_best"] for r in rows),
           "mean_regret_psnr": float(np.mean([r["regret_psnr"] for r in rows])),
           "mean_spearman": float(np.nanmean([r["spearman"] for r in rows])),
           "mean_stream_regret_psnr": float(np.mean([r["stream_regret_psnr"] for r in rows])), "rows": rows}
    print(f"{out['agree']}/{out['segments']} segments: the objective picks the set that decodes best; mean regret "
          f"{out['mean_regret_psnr']:.2f} dB; mean Spearman {out['mean_spearman']:+.2f}; the best candidate decodes "
          f"{out['mean_stream_regret_psnr']:.2f} dB above the stream's own segment on average")
    return out


def main(argv: list[str] | None = None) -> dict:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--summarize"]:
        sp = argparse.ArgumentParser(prog="selector_candidates.py --summarize")
        sp.add_argument("files", nargs="+")
        sp.add_argument("-o", "--output", default=None)
        sp.add_argument("--overwrite", action="store_true", help="replace an existing output")
        sargs = sp.parse_args(argv[1:])
        refuse_outputs(sp, [sargs.output], sargs.overwrite)
        out = summarize(sargs.files)
        if sargs.output:
            atomic_write_text(sargs.output, json.dumps(out, indent=1) + "\n", overwrite=True)
        return out
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip", help="a video file, or 'moving_square': the synthetic clip of tests/test_fusion.py "
                    "(17 frames 128x192, a 40-px square; its own size, no crop)")
    ap.add_argument("--rate", default="r1")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--fractions", nargs="+", type=float, default=[0.33, 0.5, 0.75])
    ap.add_argument("--moving", type=float, default=4.0, help="px a frame-0 pixel must move within its segment")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="codec overrides (codec.trajectories.…), applied to the stream and the candidates")
    ap.add_argument("--decode", action="store_true",
                    help="also code each candidate as the encoder would and decode it with the warp decoder (the "
                         "stream's keyframes): PSNR and coarse PSNR (8x area) of the segment's in-between frames")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    if args.clip == "moving_square":
        video = Video(moving_square(17, 128, 192, 40)[0], 25.0, "moving_square")
    elif not Path(args.clip).is_file():
        raise SystemExit(f"{args.clip}: no such video file")
    else:
        video = read_video(args.clip, max_frames=args.frames, size=(256, 384), resize_mode="crop")
    rates = load_rates(names=[args.rate])
    cfg = compose_config(overrides=list(args.set) + codec_overrides(rates[args.rate]))
    flows = pairwise_flows(video, cfg)
    prep = prepare_stream(video, prepare_codec(cfg)[0], flows)
    frames = prep.frames
    header, segments = decode_segments(encode_at_point(video, args.rate, rates, args.set).data, trusted=True)
    decoder = build_decoder("warp")
    stride = check_stream_params(header.params)[2]   # the stream's stride (the fast mode may code every frame)
    coding = dataclasses.replace(prep.coding, codec=with_stride(prep.coding.codec, stride))
    tcfg = OmegaConf.to_container(cfg.codec.trajectories, resolve=True)
    out: dict = {"args": vars(args), "machine": machine(), "segments": []}
    for seg in segments:
        a, b = seg.segment.start, seg.segment.end
        if b - a < 2:
            continue
        motion = segment_motion(frames, flows, a, b, cfg.codec)
        visibility = float(cfg.codec.tracker.visibility_threshold)
        decode = decoded_scores(seg, frames[a:b + 1], coding, header, decoder) if args.decode else None
        row = {"start": a, "end": b, **candidates(frames[a], motion, tcfg, args.fractions, args.moving, visibility,
                                                   decode)}
        if args.decode:  # the stream's own segment: the candidate it coded should score the same
            row["stream"] = _scores(decoder.decode_frames(header, seg, range(1, b - a)), frames[a + 1:b])
            psnr = {k: c["decoded_psnr"] for k, c in row["candidates"].items()}
            row["decoded_best"] = max(psnr, key=psnr.get)
            row["regret_psnr"] = psnr[row["decoded_best"]] - psnr[row["best"]]
        out["segments"].append(row)
        print(f"segment {a}-{b}: moving {row['moving_share']:.2f} of the samples, {row['moving_weight_share']:.2f} of "
              f"the weight, {row['moving_residual_share']:.2f} of the best ({row['best']}) set's residual", flush=True)
        print(f"  visible in the evaluated frames: moving {row['visible_moving']:.2f} / static "
              f"{row['visible_static']:.2f}; at the end: {row['visible_end_moving']:.2f} / "
              f"{row['visible_end_static']:.2f}", flush=True)
        for name, c in row["candidates"].items():
            print(f"  {name:12s} {c['points']:3d} points, bandwidth {c['bandwidth']:6.2f} px, "
                  f"error {c['error']:.4f} px, {c['on_moving']} on moving pixels"
                  + (f", decoded PSNR {c['decoded_psnr']:.2f} dB, coarse {c['decoded_psnr8']:.2f} dB"
                     if args.decode else ""), flush=True)
        if args.decode:
            print(f"  the stream's own segment decodes at {row['stream']['decoded_psnr']:.2f} dB; best decoded: "
                  f"{row['decoded_best']}, {row['regret_psnr']:.2f} dB above the objective's best", flush=True)
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main, sys.argv[1:])
