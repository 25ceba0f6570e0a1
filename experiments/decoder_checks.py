"""Issue 13's per-point checks of ``benchmarks/bench_video_decoder.py`` results, summarised and compared.

For each results JSON: how many (clip, rate point) pairs meet each check, and the range of the
diffusion (``video``) decoder's coarse PSNR minus the warp decoder's, of its VMAF NEG minus the warp
decoder's and of its warping error over the warp decoder's, on the same bitstreams; and, for each
check against x265, whether the warp decoder fails it too where the video decoder does. With two files
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
        checked = clip.get("checked", "video")  # runs with a video generator check it, others the 2D decoder
        for i, (w, v) in enumerate(zip(clip["rows"]["warp"], clip["rows"][checked])):
            verdict = clip["verdicts"][i]
            out[(clip["clip"], w["quality_param"])] = {"warp": w["metrics"], "video": v["metrics"], "bpp": v["bpp"],
                                                       "checks": verdict["checks"],
                                                       "x265": verdict.get("x265_at_bpp")}
    return out


#: The checks against x265 at the same bpp and the metric each compares.
X265_CHECKS = {"tof_x265": "tof", "warp_err_x265": "warping_error"}


def shared_with_warp(pts: dict[tuple[str, str], dict]) -> dict[str, dict[str, list[str]]]:
    """Per x265 check, the points (``clip point``) the video decoder fails, split by whether the warp
    decoder fails it too on the same stream (``shared``) or passes it (``own``); points whose
    verdict carries no ``x265_at_bpp`` are left out."""
    out = {}
    for check, metric in X265_CHECKS.items():
        failed = [(k, p) for k, p in pts.items() if p["x265"] and not p["checks"][check]]
        shared = [k for k, p in failed if p["warp"][metric] > p["x265"][metric]]
        out[check] = {"shared": [" ".join(k) for k in shared],
                      "own": [" ".join(k) for k, _ in failed if k not in shared]}
    return out


def summary(pts: dict[tuple[str, str], dict]) -> dict:
    """Checks met (of all points) and the ranges of the video decoder against the warp decoder's."""
    diff = {m: [p["video"][m] - p["warp"][m] for p in pts.values()] for m in ("psnr_lowres", "vmaf_neg")}
    ratio = [p["video"]["warping_error"] / p["warp"]["warping_error"] for p in pts.values()]
    return {"points": len(pts), "all_checks": sum(all(p["checks"].values()) for p in pts.values()),
            "checks_met": {c: sum(bool(p["checks"][c]) for p in pts.values()) for c in CHECKS},
            "coarse_psnr_minus_warp": [min(diff["psnr_lowres"]), max(diff["psnr_lowres"])],
            "vmaf_neg_minus_warp": [min(diff["vmaf_neg"]), max(diff["vmaf_neg"])],
            "warping_error_over_warp": [min(ratio), max(ratio)],
            "x265_failures": shared_with_warp(pts)}


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
        for check, split in s["x265_failures"].items():
            print(f"  {check} failed at {len(split['shared']) + len(split['own'])}: the warp decoder fails it too at "
                  f"{len(split['shared'])}, not at {len(split['own'])} ({', '.join(split['own']) or 'none'})")
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
    from actdiff.commands.common import script_entry

    script_entry(main)
