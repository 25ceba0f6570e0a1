"""Print the README's table: the shipped diffusion decoder against x265 on the clips it never saw.

Per clip (cpu protocol, 384x256 (WxH), first 96 frames): ActDiff's rate range; BD-rate of ActDiff
against x265 (the anchor) on a no-reference metric (NIQE) and on full-reference ones (MS-SSIM,
HaarPSI, VMAF NEG) — negative = ActDiff needs fewer bits for the same score (JVET/CompressAI/DCVC
convention); the temporal warping error of the diffusion decoder divided by the warp decoder's on
the same bitstreams, and its tOF (flicker against the source's own motion) divided likewise; ActDiff's
NIQE range beside the source's own. Every number is recomputed from
the committed results JSONs with the code behind ``actdiff bdrate``.

Usage: python experiments/readme_table.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from actdiff.evaluation.bdrate import compare
from actdiff.evaluation.results import load_results, source_value

ROOT = Path(__file__).resolve().parent
#: clip → (folder with actdiff_diffusion/x265 JSONs holding FR metrics, folder with actdiff_warp + warping error)
CLIPS = {"carphone": ("results_fr_carphone", "results_fr_carphone"),
         **{c: ("results_opencv_samples", "results_opencv_samples") for c in ("vtest", "megamind", "cup", "box")}}
METRICS = {"niqe": "NIQE", "ms_ssim": "MS-SSIM", "haarpsi": "HaarPSI", "vmaf_neg": "VMAF NEG"}


def cell(a, b, metric: str, clip: str) -> str:
    row = compare(a, b, metric)["sequences"][clip]
    if row.get("bd_rate") is None:
        pts = row.get("points", [])
        if pts and all(p["bound"] == "lower" for p in pts):
            return "beats x265's best"
        if pts and all(p["bound"] == "upper" for p in pts):
            return "below x265's worst"
        return "no overlap"
    return f"{row['bd_rate']:+.0f} %"


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    cols = " | ".join(f"BD-rate {m}" for m in METRICS.values())
    print(f"| clip | ActDiff bpp | {cols} | warping error ÷ warp decoder | tOF ÷ warp decoder | NIQE (source) |")
    print("|---|---|" + "---|" * len(METRICS) + "---|---|---|")
    for clip, (fr, tmp) in CLIPS.items():
        a = load_results(ROOT / fr / "actdiff_diffusion.json")
        b = load_results(ROOT / fr / "x265.json")
        pts = a["sequences"][clip]
        bd = " | ".join(cell(a, b, m, clip) for m in METRICS)
        diff = load_results(ROOT / tmp / "actdiff_diffusion.json")["sequences"][clip]
        warp = load_results(ROOT / tmp / "actdiff_warp.json")["sequences"][clip]
        niqe = [p["metrics"]["niqe"] for p in pts]
        src = source_value(b, clip, "niqe")
        print(f"| {clip} | {min(p['bpp'] for p in pts):.4f}–{max(p['bpp'] for p in pts):.4f} | {bd} | "
              f"{ratio_range(diff, warp, 'warping_error')} | {ratio_range(diff, warp, 'tof')} | "
              f"{min(niqe):.2f}–{max(niqe):.2f} ({src:.2f}) |")
    print()
    print(against_warp())


def ratio_range(diff: list[dict], warp: list[dict], metric: str) -> str:
    """``min–max`` over the points of diffusion ÷ warp decoder for ``metric``; ``–`` when a file lacks it."""
    pairs = [(d["metrics"].get(metric), w["metrics"].get(metric)) for d, w in zip(diff, warp)]
    if not pairs or any(a is None or b is None for a, b in pairs):
        return "–"
    ratios = [a / b for a, b in pairs]
    return f"{min(ratios):.2f}–{max(ratios):.2f}"


def against_warp(metrics: tuple[str, ...] = ("psnr", "psnr_lowres", "ms_ssim", "vmaf_neg", "tof", "niqe")) -> str:
    """One line: at how many points of all clips the diffusion decoder scores below the warp
    decoder on the same bitstreams, per metric (NIQE and tOF: lower is better), with the range of the
    differences; a metric missing from either file is left out."""
    diffs: dict[str, list[float]] = {m: [] for m in metrics}
    for clip, (_, tmp) in CLIPS.items():
        diff = load_results(ROOT / tmp / "actdiff_diffusion.json")["sequences"][clip]
        warp = load_results(ROOT / tmp / "actdiff_warp.json")["sequences"][clip]
        for d, w in zip(diff, warp):
            if d["bpp"] != w["bpp"]:
                raise SystemExit(f"error: {clip}: the two decoders' results are not of the same streams")
            for m in metrics:
                if m in d["metrics"] and m in w["metrics"]:
                    diffs[m].append(d["metrics"][m] - w["metrics"][m])
    parts = [f"{m} below at {sum(v < 0 for v in vals)}/{len(vals)} ({min(vals):+.3g} … {max(vals):+.3g})"
             for m, vals in diffs.items() if vals]
    return "Diffusion minus warp decoder, same bitstreams: " + "; ".join(parts) + "."


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
