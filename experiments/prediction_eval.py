"""Old (time/confidence blend) vs new (motion-supported selection) warp prediction, measured.

Usage (2 CPU cores; about 1 min per clip and rate point)::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python experiments/prediction_eval.py \
        --clips /work/shared/data/clips/*.mp4 data/opencv_samples/* \
        --out experiments/results/prediction_eval.json [--cache /tmp/pred_cache] \
        [--variant '{"t_select": 0.2}' ...]
    .venv/bin/python experiments/prediction_eval.py --summarize experiments/results/prediction_eval.json

Each clip is read under the ``cpu`` protocol (256x384, first 96 frames), encoded once per rate
point (``default``: the default codec; ``low``: ``keyframe_codec.quality=5``,
``trajectories.budget_points=12``, ``keyframes.max_gop=96``; ``high``: the rate point r4, quality 42,
64 trajectories, GOP ≤ 24), and the SAME bitstream is
decoded by the warp decoder with ``prediction=blend`` (old) and ``prediction=select`` (new,
default :class:`~actdiff.motion.fusion.FusionParams`, or each ``--variant``'s
overrides). Per decode: PSNR, MS-SSIM, tOF (since 2026-12-06), PSNR of 8x area-downsampled frames (``psnr8``, coarse
fidelity, ``cv2.INTER_AREA``), VMAF NEG, warping error (all frames, keyframes included), and
decode frames/s on one core (process CPU time of ``decode_video`` with ``OMP_NUM_THREADS=1``
and ``cv2.setNumThreads(1)``: wall clock would measure the other jobs sharing the machine). Every number printed is in
the JSON written to ``--out`` (refused before any work if it exists), with the checkout it ran
from (``rev``). ``--no-old`` skips the old blend (a comparison of ``--variant`` s or ``--set`` s alone).

The fps written in the bitstream is rounded to 3 decimals before encoding: some clips' frame
rates (e.g. 29.573...) overflow ``bitstream._fps_fraction``'s numerator limit (a bug reported
separately); the rate does not affect coding or decoding.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.data.protocols import load_protocol
from actdiff.decoders import build_decoder
from actdiff.evaluation.results import atomic_write_text
from actdiff.metrics import compute_metrics

RATES = {
    "default": [],
    "low": ["codec.keyframe_codec.quality=5", "codec.trajectories.budget_points=12",
            "codec.keyframes.max_gop=96"],
    "high": ["codec.keyframe_codec.quality=42", "codec.trajectories.budget_points=64",
             "codec.keyframes.max_gop=24"],  # configs/rates/default.yaml's r4
}
METRICS = ("psnr", "ms_ssim", "vmaf_neg", "warping_error", "tof")


def psnr8(ref: np.ndarray, rec: np.ndarray) -> float:
    """Mean over frames of the PSNR (dB) of 8x INTER_AREA-downsampled ``uint8 (T, H, W, 3)`` frames."""
    vals = []
    for a, b in zip(ref, rec):
        size = (a.shape[1] // 8, a.shape[0] // 8)
        da = cv2.resize(a.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        db = cv2.resize(b.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        mse = float(np.mean((da - db) ** 2))
        vals.append(100.0 if mse == 0 else min(100.0, 10 * np.log10(255.0**2 / mse)))
    return float(np.mean(vals))


def bitstream(path: Path, rate: str, cache: Path | None, extra: list[str] = ()) -> tuple[bytes, np.ndarray, dict]:
    """(bitstream, source frames uint8 (T, H, W, 3), encode stats) of ``path`` at ``rate`` (plus the
    codec overrides ``extra``: give each set its own ``cache`` folder)."""
    video = load_protocol("cpu").read(path)
    video.fps = float(round(video.fps, 3))
    key = cache / f"{path.stem}_{rate}.adv" if cache else None
    if key is not None and key.is_file():
        return key.read_bytes(), video.frames, json.loads(key.with_suffix(".json").read_text())
    enc = encode_video(video, compose(None, RATES[rate] + list(extra)))
    stats = {k: enc.stats[k] for k in ("bpp", "segments", "trajectories")}
    if key is not None:
        cache.mkdir(parents=True, exist_ok=True)
        key.write_bytes(enc.data)
        key.with_suffix(".json").write_text(json.dumps(stats))
    return enc.data, video.frames, stats


def evaluate(data: bytes, src: np.ndarray, decoder) -> dict:
    """Decode ``data`` with ``decoder`` and score it against ``src``."""
    t0 = time.process_time()
    rec = decode_video(data, decoder).frames
    seconds = time.process_time() - t0
    out = compute_metrics(src, rec, METRICS)
    out["psnr8"] = psnr8(src, rec)
    out["decode_fps"] = len(rec) / seconds
    return out


def summarize(path: str, base: str = "old", name: str | None = None) -> None:
    """Print a markdown table (base → new per clip and rate, mean differences) of a results JSON
    (``base``: ``old`` by default; ``name``: by default the first decoder after ``old``: ``new``,
    or ``new0`` with ``--variant``)."""
    rows = json.loads(Path(path).read_text())["results"]
    name = name or [k for k in rows[0]["decoders"] if k != "old"][0]
    keys = [k for k in ("psnr", "ms_ssim", "psnr8", "vmaf_neg", "warping_error", "tof", "decode_fps")
            if k in rows[0]["decoders"][base]]  # results before 2026-12-06 have no tof
    print("| clip | rate | bpp | " + " | ".join(f"{k} {base} → {name}" for k in keys) + " |")
    print("|---" * (3 + len(keys)) + "|")
    for r in rows:
        o, n = r["decoders"][base], r["decoders"][name]
        cells = [f"{o[k]:.4f} → {n[k]:.4f}" if k in ("ms_ssim", "warping_error", "tof") else f"{o[k]:.2f} → {n[k]:.2f}"
                 for k in keys]
        print(f"| {r['clip']} | {r['rate']} | {r['bpp']:.4f} | " + " | ".join(cells) + " |")
    d = {k: np.mean([r["decoders"][name][k] - r["decoders"][base][k] for r in rows]) for k in keys}
    we = np.mean([r["decoders"][name]["warping_error"] / r["decoders"][base]["warping_error"] - 1 for r in rows])
    better = {k: sum(r["decoders"][name][k] > r["decoders"][base][k] for r in rows)
              for k in ("psnr", "ms_ssim", "vmaf_neg")}
    print(f"\nhigher with {name} than {base}: " + ", ".join(f"{k} {v}/{len(rows)}" for k, v in better.items()))
    print(f"mean {name} − {base} over {len(rows)} rows: " + ", ".join(f"{k} {v:+.4f}" for k, v in d.items())
          + f"; warping error {we:+.1%} relative")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--summarize", default=None, help="print the table of a results JSON and exit")
    p.add_argument("--base", default="old", help="with --summarize: the decoder compared against")
    p.add_argument("--new", default=None, help="with --summarize: the decoder compared (default: the first after old)")
    p.add_argument("--clips", nargs="+")
    p.add_argument("--rates", nargs="+", default=list(RATES), choices=list(RATES))
    p.add_argument("--variant", action="append", default=[], help="JSON FusionParams overrides")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="codec overrides added to every rate point (codec.tracker.fb_threshold=3)")
    p.add_argument("--cache", default=None, help="folder to keep the bitstreams in (re-used when present)")
    p.add_argument("--no-old", action="store_true",
                   help="skip the old blend's decode (summarize then with --base new0)")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.summarize:
        summarize(args.summarize, args.base, args.new)
        return
    if not args.clips:
        p.error("--clips is required")
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    if args.out and Path(args.out).exists():
        p.error(f"{args.out} exists: results are never written over (choose a new name)")
    decoders = {} if args.no_old else {"old": build_decoder("warp", prediction="blend")}
    for i, v in enumerate(args.variant or ["{}"]):
        decoders["new" if not args.variant else f"new{i}"] = build_decoder(
            "warp", prediction="select", prediction_params=json.loads(v))
    cache = Path(args.cache) if args.cache else None
    results = []
    for clip in args.clips:
        for rate in args.rates:
            data, src, stats = bitstream(Path(clip), rate, cache, args.set)
            row = {"clip": Path(clip).name, "rate": rate, **stats, "decoders": {}}
            for name, dec in decoders.items():
                row["decoders"][name] = evaluate(data, src, dec)
            results.append(row)
            line = f"{Path(clip).stem[:20]:20s} {rate:7s} {stats['bpp']:.4f}bpp"
            for name, m in row["decoders"].items():
                line += (f" | {name} {m['psnr']:.2f} {m['ms_ssim']:.4f} p8 {m['psnr8']:.2f} "
                         f"vn {m['vmaf_neg']:.1f} we {m['warping_error']:.4f} tof {m['tof']:.3f} "
                         f"{m['decode_fps']:.0f}fps")
            print(line, flush=True)
    if args.out:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent).stdout.strip()
        out = {"rev": rev, "variants": args.variant, "codec_overrides": args.set, "results": results}
        atomic_write_text(args.out, json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
