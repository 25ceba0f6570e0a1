"""How many bytes would inter-coded keyframes save? A sizing measurement on TRAINING clips.

ActDiff codes every keyframe as an independent AVIF image. For each clip (cpu protocol, first
``--frames`` frames) this takes the keyframes the fast mode places at rate point ``--point`` and
codes that sequence of keyframes three ways over a quality grid:

* ``avif`` — each keyframe alone, as the stream does today (libaom, the shipped preset);
* ``x265_intra`` — x265 with every keyframe an I-frame (``keyint=1``): x265's intra coding alone;
* ``x265_chain`` — x265 low delay, the first keyframe an I-frame and each later one a P-frame
  predicted from the previous decoded keyframe (what a keyframe chain codec could send);
* ``svtav1_chain`` — the same with SVT-AV1 (the baseline's settings: preset 8, low delay), AV1's
  intra tools as in AVIF plus inter prediction.

Each curve is bytes summed over the keyframes against PSNR / MS-SSIM / VMAF NEG averaged over them;
BD-rates are against ``avif`` (negative = fewer bytes). The keyframes' share of the fast-mode
stream at that point is reported too, to turn a keyframe saving into a stream saving. This is a
measurement of a lead, not an encoder option.

    ACTDIFF_TRAIN_CLIPS=../shared/data/train_clips PYTHONPATH=. python experiments/keyframe_chain_sizing.py \\
        -o benchmarks/results/keyframe_chain_sizing_train_cpu.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from unittest import mock

import numpy as np

from actdiff.baselines import pyav_codec
from actdiff.codec import encode_video
from actdiff.codec.bitstream import bit_split
from actdiff.config import compose
from actdiff.data import load_dataset
from actdiff.evaluation.rates import codec_overrides, load_rates
from actdiff.evaluation.results import atomic_write_text
from actdiff.image_codecs import codec_from_params
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from keyframe_codec_options import bd_of_points  # noqa: E402

METRICS = ["psnr", "ms_ssim", "vmaf_neg"]
CHAINS = ("x265_intra", "x265_chain", "svtav1_chain")
DEFAULT_CLIPS = ["askanything_baseball", "cutie_singer", "davis_car_turn", "intel_bottles", "mmaction_pool",
                 "pysot_bag", "tav_rabbit", "videollama_stage"]


def x265(keys: np.ndarray, crf: int, intra: bool) -> tuple[int, np.ndarray]:
    """Bytes and decoded frames of the keyframe sequence ``uint8 (K, H, W, 3)`` through x265
    (preset medium, no B-frames; ``intra``: every frame an I-frame)."""
    if not intra:
        res = pyav_codec.encode_decode(keys, "x265", crf)
        return res.bits // 8, res.frames
    keyint = "bframes=0:keyint=1:min-keyint=1:scenecut=0:log-level=error"
    spec = dataclasses.replace(pyav_codec.BASELINES["x265"],
                               options=lambda c, n: {"crf": str(c), "preset": "medium", "x265-params": keyint})
    with mock.patch.dict(pyav_codec.BASELINES, {"x265": spec}):  # the baseline's code, intra-only options
        res = pyav_codec.encode_decode(keys, "x265", crf)
    return res.bits // 8, res.frames


def svtav1(keys: np.ndarray, crf: int) -> tuple[int, np.ndarray]:
    """Bytes and decoded frames of the keyframe sequence through SVT-AV1 (low delay)."""
    res = pyav_codec.encode_decode(keys, "svt-av1", crf)
    return res.bits // 8, res.frames


def avif(keys: np.ndarray, quality: int) -> tuple[int, np.ndarray]:
    """Bytes and decoded frames of each keyframe coded alone as in the stream."""
    codec = codec_from_params({"name": "avif", "quality": quality})
    payloads = [codec.encode(k) for k in keys]
    h, w = keys.shape[1:3]
    return sum(map(len, payloads)), np.stack([codec.decode(p, h, w) for p in payloads])


def curve(keys: np.ndarray, coder, settings: list[int]) -> list[dict]:
    out = []
    for s in settings:
        nbytes, rec = coder(keys, s)
        m = compute_metrics(keys, rec, METRICS)
        out.append({"setting": s, "bytes": int(nbytes), **{k: float(v) for k, v in m.items()}})
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--point", default="r2")
    ap.add_argument("--qualities", type=int, nargs="+", default=[5, 10, 15, 20, 30, 40, 50])
    ap.add_argument("--crfs", type=int, nargs="+", default=[30, 34, 38, 42, 46, 50])
    ap.add_argument("--av1-crfs", type=int, nargs="+", default=[35, 40, 45, 50, 55, 60])
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    cfg = compose(None, codec_overrides(load_rates()[args.point]), default="experiment/codec")
    out = {"args": vars(args), "clips": {}}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        enc = encode_video(video, cfg)
        split = bit_split(enc.data)
        keys = video.frames[enc.stats["keyframes"]]
        curves = {"avif": curve(keys, avif, args.qualities),
                  "x265_intra": curve(keys, lambda k, c: x265(k, c, True), args.crfs),
                  "x265_chain": curve(keys, lambda k, c: x265(k, c, False), args.crfs),
                  "svtav1_chain": curve(keys, svtav1, args.av1_crfs)}
        bd = {name: {m: bd_of_points(curves["avif"], curves[name], m) for m in METRICS} for name in CHAINS}
        share = split.get("keyframes", 0) / max(1, sum(split.values()))
        out["clips"][seq.name] = {"keyframes": enc.stats["keyframes"], "keyframe_share": share, "bit_split": split,
                                  "curves": curves, "bd_rate_vs_avif": bd}
        print(seq.name, len(keys), "keyframes, share", round(share, 3),
              {n: {m: (round(v, 1) if v is not None else None) for m, v in d.items()} for n, d in bd.items()},
              flush=True)
    out["mean_bd_rate_vs_avif"] = {n: {m: float(np.mean([c["bd_rate_vs_avif"][n][m] for c in out["clips"].values()
                                                         if c["bd_rate_vs_avif"][n][m] is not None]))
                                       for m in METRICS} for n in CHAINS}
    out["mean_keyframe_share"] = float(np.mean([c["keyframe_share"] for c in out["clips"].values()]))
    print(json.dumps({k: out[k] for k in ("mean_bd_rate_vs_avif", "mean_keyframe_share")}, indent=1))
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
