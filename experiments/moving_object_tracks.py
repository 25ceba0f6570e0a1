"""Do the selected trajectories land on the moving objects? A looking tool: it chooses nothing.

For each clip (cpu protocol: 256x384 crop, first ``--frames`` frames) and fast-mode rate point, the
stream is encoded as the codec does and decoded to its segments (what every decoder sees). Per
segment the encoder's own dense motion of frame-0 pixels (its pairwise flows of the coded frames,
:func:`actdiff.codec.encoding.pairwise_flows`, chained as it chains them,
:func:`actdiff.codec.encoding.segment_motion`, ``--set tracker.…`` applied) splits the
segment's first frame into *moving* pixels (displaced by at least ``--moving`` px at some frame of
the segment) and *static* ones. Reported, pooled over the segments (weighted by pixels, or by
trajectories):

* ``moving``: share of frame-0 pixels that move;
* ``visible_end_moving`` / ``visible_end_static``: share of them whose chain confidence is still at
  the tracker's visibility threshold at the segment's last frame (the encoder's selector weighs a
  pixel's error only while it is visible, :mod:`actdiff.selection.decoder_error`; a trajectory is
  coded as invisible from the first frame where its chain breaks, and the decoders ignore it there);
* ``tracks_on_moving``: share of the decoded trajectories that start on a moving pixel (to compare
  with ``moving``: a selector that ignored motion would put about that share there).

``--sheet DIR`` also writes, per clip and point, the source and the warp decoder's frame at the middle
of the longest segment side by side, the trajectories drawn on the source (red: visible there,
blue: not). Works on any clip; run it on training/validation files to choose anything, on other
clips only to look.

    ACTDIFF_TRAIN_CLIPS=... OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/moving_object_tracks.py \\
        --clips udacity_highway mmaction_makeup --rates r1 r4 -o benchmarks/results/moving_object_tracks_val_cpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from actdiff.codec import decode_segments, decode_video
from actdiff.codec.encoding import coded_frames, pairwise_flows, segment_motion
from actdiff.data import load_dataset
from actdiff.evaluation.rates import codec_overrides, compose_config, encode_at_point, load_rates
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.types import DecodedSegment, DenseMotion


def segment_counts(motion: DenseMotion, seg: DecodedSegment, moving_px: float, visibility: float) -> dict[str, int]:
    """Pixel and trajectory counts of one segment (module docstring); ``motion``: the encoder's
    dense motion of the segment's first frame (:func:`actdiff.codec.encoding.segment_motion`)."""
    moving = np.linalg.norm(motion.flow, axis=-1).max(0) >= moving_px          # (H, W)
    visible = motion.confidence[-1] >= visibility
    start = seg.tracks.positions[0] if seg.tracks.num_points else np.zeros((0, 2), np.float32)
    h, w = moving.shape
    x = np.clip(np.round(start[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.round(start[:, 1]).astype(int), 0, h - 1)
    return {"pixels": int(moving.size), "moving": int(moving.sum()),
            "visible_end_moving": int((visible & moving).sum()), "visible_end_static": int((visible & ~moving).sum()),
            "tracks": int(len(start)), "tracks_on_moving": int(moving[y, x].sum())}


def shares(counts: dict[str, int]) -> dict[str, float]:
    """The pooled shares of :func:`segment_counts`' summed counts (``nan`` where nothing to divide)."""
    def div(a: int, b: int) -> float:
        return float(a / b) if b else float("nan")
    return {"moving": div(counts["moving"], counts["pixels"]),
            "visible_end_moving": div(counts["visible_end_moving"], counts["moving"]),
            "visible_end_static": div(counts["visible_end_static"], counts["pixels"] - counts["moving"]),
            "tracks_on_moving": div(counts["tracks_on_moving"], counts["tracks"])}


def sheet(path: Path, src: np.ndarray, rec: np.ndarray, segments: list[DecodedSegment]) -> int:
    """Source (trajectories drawn) | warp decoder at the middle of the longest segment; its frame index."""
    from PIL import Image, ImageDraw

    seg = max(segments, key=lambda s: s.segment.length)
    r = seg.segment.length // 2
    t = seg.segment.start + r
    im = Image.fromarray(np.concatenate([src[t], rec[t]], 1))
    draw = ImageDraw.Draw(im)
    for (x, y), vis in zip(seg.tracks.positions[r], seg.tracks.visible[r]):
        draw.rectangle([x - 2, y - 2, x + 2, y + 2], outline=(255, 0, 0) if vis else (0, 96, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return int(t)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clips", nargs="+", default=["udacity_highway", "mmaction_makeup", "intel_asl_signing",
                                                   "intel_bottles", "videocomposer_field"],
                    help="training-corpus names (dataset train_clips) or video files")
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--rates", nargs="+", default=["r1", "r4"])
    ap.add_argument("--moving", type=float, default=4.0, help="px a frame-0 pixel must move within its segment")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="codec overrides (codec.tracker.…)")
    ap.add_argument("--sheet", default=None, help="folder for the contact sheets")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    files = [c for c in args.clips if Path(c).is_file()]
    names = [c for c in args.clips if c not in files]
    paths = [Path(f) for f in files] + ([s.path for s in load_dataset("train_clips", sequences=names)] if names else [])
    rates = load_rates(names=args.rates)
    out: dict = {"args": vars(args), "machine": machine(), "clips": {}}
    for path in paths:
        video = read_video(str(path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        for point in args.rates:
            cfg = compose_config(overrides=list(args.set) + codec_overrides(rates[point]))
            tracker_cfg = cfg.codec.tracker
            frames = coded_frames(video, cfg)
            flows = pairwise_flows(video, cfg)  # the coded frames' (repeats left out), as the encoder's
            enc = encode_at_point(video, point, rates, args.set)
            _, segments = decode_segments(enc.data, trusted=True)
            total: dict[str, int] = {}
            for seg in segments:
                if seg.segment.length > 2:
                    motion = segment_motion(frames, flows, seg.segment.start, seg.segment.end, cfg.codec)
                    for k, v in segment_counts(motion, seg, args.moving,
                                               float(tracker_cfg.visibility_threshold)).items():
                        total[k] = total.get(k, 0) + v
            row = {"bpp": float(enc.stats["bpp"]), "segments": len(segments), **total, **shares(total)}
            if args.sheet:
                rec = decode_video(enc.data, "warp").frames
                row["sheet_frame"] = sheet(Path(args.sheet) / f"{path.stem}_{point}.png", video.frames, rec, segments)
            out["clips"].setdefault(path.stem, {})[point] = row
            print(f"{path.stem} {point}: {row['bpp']:.4f} bpp, moving {row['moving']:.3f} of frame 0, visible at the "
                  f"end: moving {row['visible_end_moving']:.3f} / static {row['visible_end_static']:.3f}, "
                  f"trajectories on moving {row['tracks_on_moving']:.3f}", flush=True)
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main, sys.argv[1:])
