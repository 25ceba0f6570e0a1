"""Where does the diffusion decoder lose coarse fidelity: in its base, or in the model's residual?

Usage::

    PYTHONPATH=$PWD OMP_NUM_THREADS=2 .venv/bin/python experiments/base_vs_decoded.py CLIP POINT

``CLIP`` is read with the cpu protocol (256x384 crop, first 96 frames) and encoded in the fast mode
at ``POINT`` of ``configs/rates/default.yaml``; the stream is decoded by the warp decoder, by the
diffusion decoder with ``residual_scale: 0`` (its base: the warp decoder's frame with the stream's
``detail_mix`` hedge, no model residual) and by the default diffusion decoder. Prints PSNR, coarse
PSNR (``psnr_lowres``) and VMAF NEG of each. The base at ``β = 0`` is the warp decoder's frame, so a
base below the warp decoder at the coarse scale means the encoder chose ``β`` badly; a decoded frame
below its base means the model's residual moved the coarse scale.
"""

from __future__ import annotations

import argparse

from actdiff.codec import decode_video
from actdiff.data import load_protocol
from actdiff.decoders import build_decoder
from actdiff.evaluation.rates import encode_at_point
from actdiff.metrics import compute_metrics

DECODERS = {"warp": "warp", "diffusion base (residual_scale 0)": {"name": "diffusion", "residual_scale": 0.0},
            "diffusion": "diffusion"}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("point", help="rate point of configs/rates/default.yaml, e.g. r3")
    args = ap.parse_args(argv)
    video = load_protocol({"name": "cpu", "height": 256, "width": 384, "max_frames": 96,
                           "resize_mode": "crop"}).read(args.clip)
    data = encode_at_point(video, args.point).data
    for name, section in DECODERS.items():
        rec = decode_video(data, build_decoder(section)).frames
        scores = compute_metrics(video.frames, rec, ["psnr", "psnr_lowres", "vmaf_neg"])
        print(args.point, name, {k: round(v, 3) for k, v in scores.items()}, flush=True)


if __name__ == "__main__":
    main()
