"""The encoder's per-segment ``detail_mix`` against the fixed one, on the SAME bitstreams.

Each clip is read with the cpu protocol (256x384 crop, first ``--frames`` frames) and encoded once
per rate point of ``configs/rates/default.yaml`` with ``codec.send_detail_mix=true``; every stream is
decoded by the warp decoder, by the diffusion decoder with the stream's ``β`` (its default) and by
the diffusion decoder with ``detail_mix`` fixed at ``--fixed`` (the value before streams carried
one). Metrics: PSNR, coarse PSNR (``psnr_lowres``), MS-SSIM, VMAF NEG, warping error, tOF, NIQE.
The encoder's choices per segment are recorded with each stream.

    OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/detail_mix_ab.py data/opencv_samples/cup.mp4 ... \\
        --rates r1 r3 -o benchmarks/results/detail_mix_ab_unseen_cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from actdiff.codec import decode_video
from actdiff.data import load_protocol
from actdiff.evaluation.rates import encode_at_point
from actdiff.evaluation.results import machine
from actdiff.metrics import compute_metrics
from actdiff.types import Video

METRICS = ["psnr", "psnr_lowres", "ms_ssim", "vmaf_neg", "warping_error", "tof", "niqe"]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clips", nargs="+", help="video files")
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--fixed", type=float, default=0.5, help="the fixed detail_mix to compare with")
    ap.add_argument("-o", "--output", default=None)
    args = ap.parse_args(argv)
    out: dict = {"args": vars(args), "machine": machine(), "rows": []}
    decoders = {"warp": ("warp", {}), "diffusion": ("diffusion", {}),
                f"diffusion mix={args.fixed:g}": ("diffusion", {"detail_mix": args.fixed})}
    for clip in args.clips:
        full = load_protocol("cpu").read(clip)
        video = Video(frames=full.frames[:args.frames], fps=full.fps, source=clip)
        src = np.asarray(video.frames)
        for point in args.rates:
            res = encode_at_point(video, point, overrides=["codec.send_detail_mix=true"])
            for label, (name, opts) in decoders.items():
                frames = np.asarray(decode_video(res.data, name, trusted=True, **opts).frames)
                m = {k: float(v) for k, v in compute_metrics(src, frames, METRICS).items()}
                out["rows"].append({"clip": Path(clip).stem, "point": point, "bpp": res.stats["bpp"],
                                    "detail_mix": res.stats["detail_mix"], "decoder": label, **m})
                print(f"{Path(clip).stem} {point} {label}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items()),
                      flush=True)
            if args.output:
                Path(args.output).write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()
