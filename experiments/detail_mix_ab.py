"""The encoder's per-segment ``detail_mix`` against the fixed one, on the SAME bitstreams.

Each clip is read with the cpu protocol (256x384 crop, first ``--frames`` frames) and encoded once
per rate point of ``configs/rates/default.yaml`` with ``codec.send_detail_mix=true``; every stream is
decoded by the warp decoder, by the diffusion decoder with the stream's ``β`` (its default) and by
the diffusion decoder with ``detail_mix`` fixed at ``--fixed`` (the value before streams carried
one). Metrics: PSNR, coarse PSNR (``psnr_lowres``), MS-SSIM, VMAF NEG, warping error, tOF, NIQE.
The encoder's choices per segment are recorded with each stream. ``--panels DIR`` also writes, per
stream, ``DIR/CLIP_POINT.jpg``: rows are the middle frames of the two longest segments, columns the
source and each decoder (look at the frames before claiming a gain).

    OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/detail_mix_ab.py data/opencv_samples/cup.mp4 ... \\
        --rates r1 r3 [--panels DIR] -o benchmarks/results/detail_mix_ab_unseen_cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from actdiff.codec import decode_video
from actdiff.data import load_protocol
from actdiff.evaluation.rates import encode_at_point
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics
from actdiff.types import Video

METRICS = ["psnr", "psnr_lowres", "ms_ssim", "vmaf_neg", "warping_error", "tof", "niqe"]


def panel(src: np.ndarray, decoded: dict[str, np.ndarray], segments: list[list[int]], path: Path) -> list[int]:
    """Write the middle frames of the two longest ``segments`` (``[start, end]``) as rows of a JPG
    (columns: source, then ``decoded`` in order); returns the frames shown."""
    longest = sorted(segments, key=lambda s: s[0] - s[1])[:2]
    shown = sorted((a + b) // 2 for a, b in longest)
    rows = [np.concatenate([src[t], *(d[t] for d in decoded.values())], axis=1) for t in shown]
    Image.fromarray(np.concatenate(rows, axis=0)).save(path, quality=92)
    return shown


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", help="video files")
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--fixed", type=float, default=0.5, help="the fixed detail_mix to compare with")
    ap.add_argument("--panels", type=Path, default=None, help="folder for a frames panel per stream")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    out: dict = {"args": vars(args), "machine": machine(), "rows": []}
    decoders = {"warp": ("warp", {}), "diffusion": ("diffusion", {}),
                f"diffusion mix={args.fixed:g}": ("diffusion", {"detail_mix": args.fixed})}
    for clip in args.clips:
        full = load_protocol("cpu").read(clip)
        video = Video(frames=full.frames[:args.frames], fps=full.fps, source=clip)
        src = np.asarray(video.frames)
        for point in args.rates:
            res = encode_at_point(video, point, overrides=["codec.send_detail_mix=true"])
            decoded = {}
            for label, (name, opts) in decoders.items():
                frames = decoded[label] = np.asarray(decode_video(res.data, name, trusted=True, **opts).frames)
                m = {k: float(v) for k, v in compute_metrics(src, frames, METRICS).items()}
                out["rows"].append({"clip": Path(clip).stem, "point": point, "bpp": res.stats["bpp"],
                                    "detail_mix": res.stats["detail_mix"], "decoder": label, **m})
                print(f"{Path(clip).stem} {point} {label}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items()),
                      flush=True)
            if args.panels:
                args.panels.mkdir(parents=True, exist_ok=True)
                shown = panel(src, decoded, res.stats["segments"], args.panels / f"{Path(clip).stem}_{point}.jpg")
                print(f"panel {Path(clip).stem} {point}: frames {shown}, columns source, {', '.join(decoded)}")
            if args.output:
                atomic_write_text(args.output, json.dumps(out, indent=1, default=str) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
