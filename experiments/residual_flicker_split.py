"""Where does the diffusion decoder's flicker come from? The base, the model, or the filter.

Encodes the first 96 frames of CLIP (cpu protocol, the encoder's per-segment ``detail_mix``) at
POINT and scores, on the same stream: the warp decoder; the image under the 2D model's residual
(the ``detail`` base, captured inside the decoder); the model's output before the residual filter;
the shipped decode (after it); the shipped decode at each ``--blends`` value; and
``residual_from="ends"``. Metrics: PSNR, coarse PSNR, VMAF NEG, warping error, tOF, NIQE.
``--panel PATH`` writes the middle frames of the two longest segments (``detail_mix_ab.panel``;
columns: source, warp, shipped, ``ends``). A looking tool: its numbers explain, they choose nothing
(choices are made on validation files).

    ACTDIFF_OPENCV_SAMPLES_ROOT=... OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/residual_flicker_split.py \\
        data/opencv_samples/box.mp4 r2 --blends 0.98 0.995 --panel docs/figures/residual_from_box_r2.jpg
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from detail_mix_ab import panel  # noqa: E402

import actdiff.decoders.diffusion as diffusion  # noqa: E402
from actdiff.codec import decode_video  # noqa: E402
from actdiff.data import load_protocol  # noqa: E402
from actdiff.evaluation.rates import encode_at_point  # noqa: E402
from actdiff.metrics import compute_metrics  # noqa: E402
from actdiff.types import Video  # noqa: E402

METRICS = ["psnr", "psnr_lowres", "vmaf_neg", "warping_error", "tof", "niqe"]


def captured_decode(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(shipped decode, its base, its unfiltered output)``, all ``uint8 (T, H, W, 3)``."""
    caught = []
    real = diffusion.filter_residuals

    def capture(seg, out, base, a):
        raw = out.copy()
        real(seg, out, base, a)
        base = base.copy()
        base[[0, -1]] = out[[0, -1]]  # the keyframes (the decoder leaves them out of ``base``)
        caught.append((seg.segment.start, base, raw))

    diffusion.filter_residuals = capture
    try:
        final = np.asarray(decode_video(data, "diffusion", trusted=True).frames)
    finally:
        diffusion.filter_residuals = real
    base, raw = final.copy(), final.copy()
    for start, b, r in caught:
        base[start:start + len(b)], raw[start:start + len(r)] = b, r
    return final, base, raw


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("clip")
    ap.add_argument("point", help="rate point of configs/rates/default.yaml (r0 … r4)")
    ap.add_argument("--blends", type=float, nargs="*", default=[], help="other temporal_blend values to decode")
    ap.add_argument("--panel", type=Path, default=None, help="frames panel (.png or .jpg): source, warp, shipped, ends")
    args = ap.parse_args(argv)
    full = load_protocol("cpu").read(args.clip)
    video = Video(frames=full.frames[:96], fps=full.fps, source=args.clip)
    res = encode_at_point(video, args.point, overrides=["codec.send_detail_mix=true"])
    data = res.data
    final, base, raw = captured_decode(data)
    decodes = {"warp": np.asarray(decode_video(data, "warp", trusted=True).frames), "base (under the residual)": base,
               "model output, unfiltered": raw, "shipped (filtered)": final}
    for b in args.blends:
        decodes[f"temporal_blend {b:g}"] = np.asarray(decode_video(data, "diffusion", trusted=True,
                                                                   temporal_blend=b).frames)
    decodes["residual_from ends"] = np.asarray(decode_video(data, "diffusion", trusted=True,
                                                            residual_from="ends").frames)
    src = np.asarray(video.frames)
    out = {}
    for label, frames in decodes.items():
        out[label] = {k: float(v) for k, v in compute_metrics(src, frames, METRICS).items()}
        print(f"{label}: " + " ".join(f"{k}={v:.5f}" for k, v in out[label].items()), flush=True)
    if args.panel:
        columns = {k: decodes[k] for k in ("warp", "shipped (filtered)", "residual_from ends")}
        shown = panel(src, columns, res.stats["segments"], args.panel)
        print(f"segments {res.stats['segments']}; panel {args.panel}: frames {shown}, columns source, "
              f"{', '.join(columns)}")
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
