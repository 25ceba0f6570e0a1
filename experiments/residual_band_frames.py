"""Look at the frames ``residual_band`` changes: one unseen clip, one rate point, three decoders.

Encodes the first 96 frames of CLIP (cpu protocol, 256x384, the encoder's per-segment ``detail_mix``)
at POINT, decodes the stream with the warp decoder and the diffusion decoder with
``residual_band`` ``all`` and ``fine``, prints PSNR, coarse PSNR, VMAF NEG, warping error, tOF and
NIQE of each, and writes a panel (``experiments/detail_mix_ab.py: panel``): rows are the middle
frames of the two longest segments, columns the source, warp, all, fine.

    ACTDIFF_OPENCV_SAMPLES_ROOT=... OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/residual_band_frames.py \\
        data/opencv_samples/box.mp4 r2 -o docs/figures/residual_band_box_r2.jpg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detail_mix_ab import panel  # noqa: E402

from actdiff.codec import decode_video  # noqa: E402
from actdiff.data import load_protocol  # noqa: E402
from actdiff.evaluation.rates import encode_at_point  # noqa: E402
from actdiff.io.files import atomic_output, refuse_outputs  # noqa: E402
from actdiff.metrics import compute_metrics  # noqa: E402
from actdiff.types import Video  # noqa: E402

METRICS = ["psnr", "psnr_lowres", "vmaf_neg", "warping_error", "tof", "niqe"]


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip")
    ap.add_argument("point", help="rate point of configs/rates/default.yaml (r0 … r4)")
    ap.add_argument("-o", "--output", type=Path, required=True, help="panel image (.png or .jpg)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    full = load_protocol("cpu").read(args.clip)
    video = Video(frames=full.frames[:96], fps=full.fps, source=args.clip)
    res = encode_at_point(video, args.point, overrides=["codec.send_detail_mix=true"])
    decoded = {"warp": np.asarray(decode_video(res.data, "warp", trusted=True).frames)}
    for band in ("all", "fine"):
        decoded[f"band={band}"] = np.asarray(decode_video(res.data, "diffusion", trusted=True,
                                                          residual_band=band).frames)
    src = np.asarray(video.frames)
    out = {}
    for label, frames in decoded.items():
        out[label] = {k: float(v) for k, v in compute_metrics(src, frames, METRICS).items()}
        print(f"{label}: " + " ".join(f"{k}={v:.4f}" for k, v in out[label].items()), flush=True)
    with atomic_output(args.output, overwrite=True) as tmp:
        shown = panel(src, decoded, res.stats["segments"], tmp)
    print(f"segments {res.stats['segments']}; panel {args.output}: frames {shown}, columns source, "
          f"{', '.join(decoded)}")
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
