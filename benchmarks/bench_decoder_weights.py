"""Two diffusion-decoder weights (and the warp decoder) on the SAME bitstreams of unseen clips.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_decoder_weights.py CLIP [CLIP ...] \\
        --candidate DIR [--baseline DIR] [--rates r1 r3] [--frames 96] [--png-dir DIR] [-o out.json]

Each clip is read with the cpu protocol (256x384 crop, first ``--frames`` frames) and encoded ONCE
per rate point (``configs/rates/default.yaml``) with the default codec; every bitstream is decoded
by the warp decoder, the ``baseline`` weights (default: the shipped ``actdiff/assets/weights/tiny``)
and the ``candidate`` weights, each with its weights' own sampling defaults, through the evaluation
loop (:func:`actdiff.evaluation.runner.actdiff_points`). Metrics: PSNR, MS-SSIM, VMAF NEG, NIQE,
warping error (temporal flicker; lower is better).

Targets (issue 14), per clip on the mean over the rate points, and also checked at every point:
candidate MS-SSIM and VMAF NEG higher than the baseline's, warping error lower than the
baseline's, NIQE lower (better) than the warp decoder's. ``--png-dir`` writes, per clip and
point, the frame where the warp decoder errs most as source | warp | baseline | candidate.
The JSON holds every point, the verdicts and the machine.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from actdiff.data import load_protocol
from actdiff.decoders import build_decoder
from actdiff.decoders.diffusion import DEFAULT_WEIGHTS
from actdiff.evaluation.rates import load_rates, point_configs
from actdiff.evaluation.results import machine
from actdiff.evaluation.runner import actdiff_points
from actdiff.types import Video

METRICS = ["psnr", "ms_ssim", "vmaf_neg", "niqe", "warping_error"]
LABELS = ("warp", "baseline", "candidate")


def checks(row: dict[str, dict[str, float]]) -> dict[str, bool]:
    """The four targets for one clip (or point): ``row[label][metric]``."""
    c, b, w = row["candidate"], row["baseline"], row["warp"]
    return {"ms_ssim_up": c["ms_ssim"] > b["ms_ssim"], "vmaf_neg_up": c["vmaf_neg"] > b["vmaf_neg"],
            "warping_error_down": c["warping_error"] < b["warping_error"], "niqe_below_warp": c["niqe"] < w["niqe"]}


def png_writer(folder: Path, clip: str, video: Video):
    """``on_decoded`` hook: the frame the warp decoder gets most wrong, all decoders side by side."""
    from PIL import Image

    got: dict[str, dict[str, np.ndarray]] = {}

    def hook(point: str, label: str, enc, rec) -> None:
        got.setdefault(point, {})[label] = rec.frames
        if set(got[point]) != set(LABELS):
            return
        src = video.frames.astype(np.int16)
        t = int(np.argmax(np.abs(src - got[point]["warp"]).mean(axis=(1, 2, 3))))
        panel = np.concatenate([video.frames[t]] + [got[point][k][t] for k in LABELS], axis=1)
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(panel).save(folder / f"{clip}_{point}_frame{t:03d}.png")

    return hook


def run_clip(path: str, frames: int, cfgs: dict, decoders: dict, png_dir: Path | None) -> dict:
    full = load_protocol("cpu").read(path)
    video = Video(frames=full.frames[:frames], fps=full.fps, source=path)
    name = Path(path).stem
    hook = png_writer(png_dir, name, video) if png_dir else None
    log = lambda s: print(f"  {name} {s}", file=sys.stderr, flush=True)  # noqa: E731
    points = actdiff_points(video, cfgs, decoders, METRICS, on_decoded=hook, log=log)
    mean = {lab: {m: float(np.mean([p["metrics"][m] for p in pts])) for m in METRICS} for lab, pts in points.items()}
    per_point = [{lab: points[lab][i]["metrics"] for lab in LABELS} for i in range(len(cfgs))]
    return {"clip": name, "path": path, "frames": video.num_frames, "points": points, "mean": mean,
            "bpp": [p["bpp"] for p in points["warp"]], "checks": checks(mean),
            "checks_every_point": {k: all(checks(r)[k] for r in per_point) for k in checks(mean)}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--candidate", required=True, help="save_pretrained folder of the weights under test")
    p.add_argument("--baseline", default=str(DEFAULT_WEIGHTS), help="default: the shipped weights")
    p.add_argument("--rates", nargs="+", default=["r1", "r3"])
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--png-dir", type=Path, default=None)
    p.add_argument("-o", "--output")
    args = p.parse_args(argv)
    cfgs = point_configs(load_rates(names=args.rates), protocol="cpu")
    decoders = {"warp": build_decoder("warp"), "baseline": build_decoder("diffusion", weights=args.baseline),
                "candidate": build_decoder("diffusion", weights=args.candidate)}
    rows = [run_clip(c, args.frames, cfgs, decoders, args.png_dir) for c in args.clips]
    print("\n| clip | bpp | decoder | PSNR | MS-SSIM | VMAF NEG | NIQE | warping error |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        for lab in LABELS:
            m = r["mean"][lab]
            print(f"| {r['clip']} | {np.mean(r['bpp']):.4f} | {lab} | {m['psnr']:.2f} | {m['ms_ssim']:.4f} | "
                  f"{m['vmaf_neg']:.2f} | {m['niqe']:.2f} | {m['warping_error']:.4f} |")
    verdict = {k: all(r["checks"][k] for r in rows) for k in checks(rows[0]["mean"])}
    strict = {k: all(r["checks_every_point"][k] for r in rows) for k in verdict}
    print(f"\ntargets on every clip (mean over {', '.join(args.rates)}): {verdict}")
    print(f"targets on every clip and rate point: {strict}")
    mach = machine()
    print(f"machine: {mach}")
    if args.output:
        doc = {"machine": mach, "frames": args.frames, "rates": args.rates, "protocol": "cpu",
               "weights": {"baseline": args.baseline, "candidate": args.candidate},
               "settings": {lab: d.settings() for lab, d in decoders.items() if hasattr(d, "settings")},
               "metrics": METRICS, "clips": rows, "targets_met": verdict, "targets_met_every_point": strict,
               "ship": all(verdict.values())}
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(doc, indent=2) + "\n")


if __name__ == "__main__":
    main()
