"""Issue 13's per-point checks of ``benchmarks/bench_video_decoder.py`` results, summarised and compared.

For each results JSON: how many (clip, rate point) pairs meet each check, and the range of the
diffusion (``video``) decoder's coarse PSNR minus the warp decoder's, of its VMAF NEG minus the warp
decoder's and of its warping error over the warp decoder's, on the same bitstreams. With two files
(``OLD NEW``, the same clips and points), also the per-point change of the ``video`` rows.

    .venv/bin/python experiments/decoder_checks.py benchmarks/results/decoder_2d_detail_mix_unseen_cpu.json \\
        benchmarks/results/decoder_2d_detail_mix_sent_unseen_cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

CHECKS = ("lowres", "vmaf", "tof_x265", "warp_err_x265", "tof_warp", "warp_err_warp", "niqe")
METRICS = ("psnr", "psnr_lowres", "ms_ssim", "vmaf_neg", "warping_error", "tof", "niqe")


def points(path: Path) -> dict[tuple[str, str], dict]:
    """``(clip, point) → {"warp": metrics, "video": metrics, "checks": {...}, "bpp": ...}``."""
    out = {}
    for clip in json.loads(path.read_text())["clips"]:
        for i, (w, v) in enumerate(zip(clip["rows"]["warp"], clip["rows"]["video"])):
            out[(clip["clip"], w["quality_param"])] = {"warp": w["metrics"], "video": v["metrics"], "bpp": v["bpp"],
                                                       "checks": clip["verdicts"][i]["checks"]}
    return out


def summary(pts: dict[tuple[str, str], dict]) -> dict:
    """Checks met (of all points) and the ranges of the video decoder against the warp decoder's."""
    diff = {m: [p["video"][m] - p["warp"][m] for p in pts.values()] for m in ("psnr_lowres", "vmaf_neg")}
    ratio = [p["video"]["warping_error"] / p["warp"]["warping_error"] for p in pts.values()]
    return {"points": len(pts), "all_checks": sum(all(p["checks"].values()) for p in pts.values()),
            "checks_met": {c: sum(bool(p["checks"][c]) for p in pts.values()) for c in CHECKS},
            "coarse_psnr_minus_warp": [min(diff["psnr_lowres"]), max(diff["psnr_lowres"])],
            "vmaf_neg_minus_warp": [min(diff["vmaf_neg"]), max(diff["vmaf_neg"])],
            "warping_error_over_warp": [min(ratio), max(ratio)]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path, help="one or two bench_video_decoder.py JSONs (OLD NEW)")
    args = ap.parse_args(argv)
    runs = [points(f) for f in args.files]
    out: dict = {"files": [str(f) for f in args.files], "summaries": [summary(r) for r in runs]}
    for f, s in zip(args.files, out["summaries"]):
        print(f"{f}: all checks at {s['all_checks']} of {s['points']}; " + ", ".join(
            f"{c} {n}" for c, n in s["checks_met"].items()))
        print("  coarse PSNR − warp {:+.2f} … {:+.2f} dB, VMAF NEG − warp {:+.2f} … {:+.2f}, warping error "
              "{:.2f} … {:.2f}× warp".format(*s["coarse_psnr_minus_warp"], *s["vmaf_neg_minus_warp"],
                                           *s["warping_error_over_warp"]))
    if len(runs) == 2:
        old, new = runs
        common = [k for k in new if k in old]
        out["change"] = {f"{c} {p}": {m: new[(c, p)]["video"][m] - old[(c, p)]["video"][m] for m in METRICS}
                         for c, p in common}
        for key, ch in out["change"].items():
            print(f"  {key}: " + " ".join(f"{m} {v:+.4f}" for m, v in ch.items()))
        out["mean_change"] = {m: float(np.mean([ch[m] for ch in out["change"].values()])) for m in METRICS}
        print("  mean: " + " ".join(f"{m} {v:+.4f}" for m, v in out["mean_change"].items()))
    return out


if __name__ == "__main__":
    main()
