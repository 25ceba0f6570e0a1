"""Compare AVIF encoder settings for keyframes on TRAINING clips (never on evaluation clips).

For each clip (cpu protocol: 256x384 crop) the frames at ``--positions`` are coded as single
AVIF images over a quality grid with each setting of ``SETTINGS`` (libaom speed preset and
libaom ``advanced`` options passed through Pillow); each image is scored with PSNR, MS-SSIM and
VMAF NEG against the uncoded frame, and every setting's rate–quality curve is compared with the
shipped setting's by BD-rate (negative = fewer bytes for the same quality). Encode time is the
mean wall clock per image, one thread.

    ACTDIFF_TRAIN_CLIPS=../shared/data/train_clips PYTHONPATH=. python \\
        experiments/keyframe_codec_options.py -o benchmarks/results/keyframe_codec_options_train_cpu.json
"""

from __future__ import annotations

import argparse
import io
import json
import time

import numpy as np
from PIL import Image

from actdiff.data import load_dataset
from actdiff.evaluation.bdrate import bd_rate
from actdiff.evaluation.results import atomic_write_text
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics

METRICS = ["psnr", "ms_ssim", "vmaf_neg"]
BASE = "speed6"
SETTINGS = {
    "speed6": {"speed": 6},
    "speed4": {"speed": 4},
    "speed2": {"speed": 2},
    "speed6_tune_ssim": {"speed": 6, "advanced": {"tune": "ssim"}},
    "speed4_tune_ssim": {"speed": 4, "advanced": {"tune": "ssim"}},
    "speed6_sharpness2": {"speed": 6, "advanced": {"sharpness": "2"}},
}
DEFAULT_CLIPS = ["askanything_baseball", "cutie_singer", "davis_car_turn", "intel_bottles",
                 "mmaction_pool", "pysot_bag", "tav_rabbit", "videocomposer_fish",
                 "videollama_stage", "sadtalker_face_b"]


def encode(img: np.ndarray, quality: int, setting: dict) -> tuple[bytes, float]:
    """Code one ``(H, W, 3)`` uint8 RGB image as AVIF (4:2:0, full range, one thread)."""
    buf = io.BytesIO()
    t0 = time.perf_counter()
    Image.fromarray(img, "RGB").save(buf, "AVIF", quality=quality, max_threads=1, subsampling="4:2:0",
                                     range="full", autotiling=False, **setting)
    return buf.getvalue(), time.perf_counter() - t0


def curve(frames: np.ndarray, qualities: list[int], setting: dict) -> list[dict]:
    """Rate–quality points of one setting: bytes summed over frames, metrics averaged."""
    points = []
    for q in qualities:
        coded, secs = zip(*(encode(f, q, setting) for f in frames))
        rec = np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in coded])
        m = compute_metrics(frames, rec, METRICS)
        points.append({"quality": q, "bytes": int(sum(map(len, coded))),
                       "seconds_per_image": float(np.mean(secs)), **{k: float(v) for k, v in m.items()}})
    return points


def bd_of_points(anchor: list[dict], test: list[dict], metric: str) -> float | None:
    """BD-rate (%) of ``test`` against ``anchor``, points ``{"bytes": …, metric: …}``; ``None``
    (printed) where the curves do not overlap enough."""
    a = (np.array([p["bytes"] for p in anchor], float), np.array([p[metric] for p in anchor]))
    b = (np.array([p["bytes"] for p in test], float), np.array([p[metric] for p in test]))
    try:
        return float(bd_rate(a, b, metric))
    except Exception as e:  # noqa: BLE001  (too little overlap: reported, not fatal)
        print(f"  bd-rate {metric}: {e}")
        return None


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS)
    ap.add_argument("--positions", type=int, nargs="+", default=[0, 40])
    ap.add_argument("--qualities", type=int, nargs="+", default=[5, 10, 15, 20, 30, 40, 50])
    ap.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    names = [BASE, *[s for s in args.settings if s != BASE]]
    out = {"args": vars(args), "settings": {n: SETTINGS[n] for n in names}, "clips": {}}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        video = read_video(str(seq.path), max_frames=max(args.positions) + 1, size=(256, 384), resize_mode="crop")
        frames = np.stack([video.frames[min(p, video.num_frames - 1)] for p in args.positions])
        curves = {n: curve(frames, args.qualities, SETTINGS[n]) for n in names}
        bd = {n: {m: bd_of_points(curves[BASE], curves[n], m) for m in METRICS} for n in names if n != BASE}
        out["clips"][seq.name] = {"curves": curves, "bd_rate_vs_base": bd}
        print(seq.name, {n: {m: (round(v, 1) if v is not None else None) for m, v in d.items()}
                         for n, d in bd.items()}, flush=True)
    summary = {}
    for n in names[1:]:
        per = {m: [c["bd_rate_vs_base"][n][m] for c in out["clips"].values()] for m in METRICS}
        secs = [np.mean([p["seconds_per_image"] for p in c["curves"][n]]) for c in out["clips"].values()]
        summary[n] = {**{m: float(np.mean([v for v in vs if v is not None])) for m, vs in per.items()},
                      "worst": {m: float(max(v for v in vs if v is not None)) for m, vs in per.items()},
                      "seconds_per_image": float(np.mean(secs))}
    base_secs = [np.mean([p["seconds_per_image"] for p in c["curves"][BASE]]) for c in out["clips"].values()]
    summary[BASE] = {"seconds_per_image": float(np.mean(base_secs))}
    out["mean_bd_rate_vs_base"] = summary
    print(json.dumps(summary, indent=1))
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
