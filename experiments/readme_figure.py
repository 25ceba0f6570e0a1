"""Draw the README's figure: rate curves on the four unseen OpenCV clips, one panel per metric.

Mean over vtest, megamind, cup and box (cpu protocol, 384x256 (WxH), first 96 frames) of NIQE
(no-reference), MS-SSIM and VMAF NEG (full-reference) and the temporal warping error, for ActDiff
(diffusion decoder with the shipped weights, warp decoder) and x265, x264, SVT-AV1, from the
committed results JSONs of ``experiments/results_opencv_samples/``; the dotted line is the
sources' own NIQE.

Usage: python experiments/readme_figure.py [-o docs/figures/overview_opencv.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from actdiff.evaluation.results import load_results, source_value, to_curves  # noqa: E402
from actdiff.io.files import atomic_output, refuse_outputs  # noqa: E402
from actdiff.metrics import lower_is_better  # noqa: E402

FOLDER = Path(__file__).resolve().parent / "results_opencv_samples"
CODECS = {"actdiff_diffusion": "ActDiff, diffusion", "actdiff_warp": "ActDiff, warp", "x265": "x265",
          "x264": "x264", "svt-av1": "SVT-AV1"}
METRICS = {"niqe": "NIQE (no-reference)", "ms_ssim": "MS-SSIM", "vmaf_neg": "VMAF NEG",
           "warping_error": "warping error (temporal)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="docs/figures/overview_opencv.png")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args()
    refuse_outputs(ap, [args.output], args.overwrite)
    docs = {label: load_results(FOLDER / f"{name}.json") for name, label in CODECS.items()}
    import matplotlib.ticker as ticker

    fig, grid = plt.subplots(2, 2, figsize=(9.0, 6.4))
    axes = grid.ravel()
    for ax, (metric, title) in zip(axes, METRICS.items()):
        for i, (label, doc) in enumerate(docs.items()):
            x, y = to_curves(doc, metric, include_mean=True)["mean"]
            ours = label.startswith("ActDiff")
            ax.plot(x, y, "-" if ours else "--", marker="o", ms=3, lw=2 if ours else 1.2, color=f"C{i}", label=label)
        src = source_value(docs["x265"], "mean", metric)
        if src is not None:
            ax.axhline(src, color="0.45", ls=":", lw=1.2, label="sources")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("bpp")
        ax.set_title(f"{title}, {'lower' if lower_is_better(metric) else 'higher'} is better", fontsize=9)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False, fontsize=9)
    fig.suptitle("mean of 4 clips no model saw (vtest, megamind, cup, box), cpu protocol", y=0.935, fontsize=9)
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    with atomic_output(args.output, overwrite=True) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
