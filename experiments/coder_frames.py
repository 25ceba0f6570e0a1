"""Decoded frames and metrics of one RD stream re-encoded with the old trajectory coder (``adaptive``)
against the committed stream (``adaptive_grid``), both decoders, on an unseen clip.

    ACTDIFF_OPENCV_SAMPLES_ROOT=data/opencv_samples PYTHONPATH=. python experiments/coder_frames.py \\
        megamind experiments/results_rd/streams/megamind_rd1.adv 32 25 72 \\
        -o experiments/results_rd/frames/megamind_rd1_coders

Writes ``OUT.jpg`` (rows: source, adaptive warp, adaptive diffusion, grid warp, grid diffusion;
columns: the given frames) and ``OUT.json`` (bpp, full-reference, coarse-scale, temporal and NIQE).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from PIL import Image

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.data import load_dataset, load_protocol
from actdiff.decoders import build_decoder
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import atomic_output, refuse_outputs
from actdiff.metrics import compute_metrics

METRICS = ["psnr", "ms_ssim", "vmaf_neg", "psnr_lowres", "warping_error", "tof", "niqe"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("stream")
    ap.add_argument("lam", type=float)
    ap.add_argument("frames", type=int, nargs="+")
    ap.add_argument("-o", "--out", required=True, help="writes OUT.jpg and OUT.json")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args()
    refuse_outputs(ap, [args.out + ".jpg", args.out + ".json"], args.overwrite)
    seq = next(s for s in load_dataset("opencv_samples") if s.name == args.clip)
    video = load_protocol("cpu").read(str(seq.path))
    new = open(args.stream, "rb").read()
    old = encode_video(video, compose(None, ["codec.mode=rd", f"codec.rd.lambda={args.lam}",
                                             "codec.entropy.name=adaptive"])).data
    pixels = video.frames.shape[0] * video.frames.shape[1] * video.frames.shape[2]
    rows, out = [np.concatenate([video.frames[i] for i in args.frames], 1)], {"machine": machine()}
    for tag, data in (("adaptive", old), ("grid", new)):
        for dec in ("warp", "diffusion"):
            fr = decode_video(data, build_decoder(dec)).frames
            m = compute_metrics(video.frames, fr, METRICS)
            out[f"{tag}/{dec}"] = {"bpp": 8 * len(data) / pixels, **{k: float(v) for k, v in m.items()}}
            print(tag, dec, {k: round(v, 4) for k, v in out[f"{tag}/{dec}"].items()}, flush=True)
            rows.append(np.concatenate([fr[i] for i in args.frames], 1))
    with atomic_output(args.out + ".jpg", overwrite=True) as tmp:
        Image.fromarray(np.concatenate(rows, 0)).save(tmp, quality=85)
    atomic_write_text(args.out + ".json", json.dumps(out, indent=1), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
