"""Look at the frames: source | fast mode | RD mode, decoded by the warp decoder, at about one rate.

Usage::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python experiments/rd_frames.py CLIP \\
        --fast r1 --lambda 8 --frames 30 60 [--max-frames 96] -o panel.png

``CLIP`` is read with the cpu protocol (256x384 crop, first ``--max-frames`` frames) and encoded
twice: in the fast mode at the rate point ``--fast`` of ``configs/rates/default.yaml`` and in the
RD mode at ``--lambda``. Rows are the ``--frames``; columns the source, the fast decode and the RD
decode, each labelled with the stream's bpp and the frame's PSNR. Pick a fast point and a λ of
about the same rate (``benchmarks/bench_rd.py``'s results list both) and frames inside long
segments of moving content: there a ghost (two warped keyframes cross-faded) shows.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.data import load_protocol
from actdiff.evaluation.rates import codec_overrides, load_rates


def _label(img: np.ndarray, text: str) -> np.ndarray:
    out = np.ascontiguousarray(img.copy())
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    cv2.rectangle(out, (0, 0), (w + 8, h + 10), (0, 0, 0), -1)
    cv2.putText(out, text, (4, h + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255 ** 2 / max(mse, 1e-6))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip")
    ap.add_argument("--fast", default="r1", help="rate point of configs/rates/default.yaml")
    ap.add_argument("--lambda", dest="lam", type=float, default=8.0, help="λ of the RD mode")
    ap.add_argument("--frames", type=int, nargs="+", required=True)
    ap.add_argument("--max-frames", type=int, default=96)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args(argv)
    video = load_protocol({"name": "cpu", "height": 256, "width": 384, "max_frames": args.max_frames,
                           "resize_mode": "crop"}).read(args.clip)
    bad = [f for f in args.frames if not 0 <= f < video.num_frames]
    if bad:
        raise SystemExit(f"error: frames {bad} outside 0..{video.num_frames - 1}")
    fast_ovs = codec_overrides(load_rates(names=[args.fast])[args.fast])
    cols = {}
    rd_ovs = ["codec.mode=rd", f"codec.rd.lambda={args.lam}"]
    for name, ovs in (("fast " + args.fast, fast_ovs), (f"RD λ={args.lam:g}", rd_ovs)):
        enc = encode_video(video, compose(None, ovs))
        rec = decode_video(enc.data, "warp").frames
        cols[name] = (rec, enc.stats["bpp"], enc.stats["keyframes"])
        print(f"{name}: {enc.stats['bpp']:.4f} bpp, keyframes {enc.stats['keyframes']}")
    rows = []
    for f in args.frames:
        cells = [_label(video.frames[f], f"source frame {f}")]
        for name, (rec, bpp, kfs) in cols.items():
            mark = " (key)" if f in kfs else ""
            cells.append(_label(rec[f], f"{name} {bpp:.4f} bpp {_psnr(video.frames[f], rec[f]):.1f} dB{mark}"))
        rows.append(np.concatenate(cells, axis=1))
    cv2.imwrite(args.output, cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
