"""Rate–quality figures from results documents (ours and the baselines').

:func:`draw` makes one subplot per sequence plus the dataset mean; x = bits per pixel on a log
axis. ActDiff results (codec name starting with ``actdiff``) are drawn solid, baselines dashed; a
dataset-average-only file (a CompressAI curve) appears in the mean panel.
Where a results file records the source clip's own score (``source``, no-reference metrics such
as NIQE), a dotted grey line marks it: a curve beyond it scores better than the original.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from actdiff.evaluation.results import check_output, source_value, to_curves
from actdiff.io.files import atomic_output
from actdiff.metrics import lower_is_better

FORMATS = (".png", ".pdf", ".svg")


def is_ours(codec: str) -> bool:
    return codec.lower().startswith("actdiff")


def draw(results: list[dict[str, Any]], metric: str, title: str = ""):
    """A matplotlib ``Figure`` of ``metric`` vs bpp: per-sequence subplots + mean."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    names: list[str] = []
    for r in results:
        names += [n for n in r["sequences"] if n not in names]
    mean_only = any(not r["sequences"] and r.get("mean") for r in results)  # e.g. a CompressAI curve
    panels = names + (["mean"] if len(names) > 1 or mean_only else [])
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for k, panel in enumerate(panels):
        ax = axes[k // cols][k % cols]
        for i, r in enumerate(results):
            curves = to_curves(r, metric, include_mean=panel == "mean")
            if panel not in curves or len(curves[panel][0]) == 0:
                continue
            x, y = curves[panel]
            ax.plot(x, y, "-" if is_ours(r["codec"]) else "--", marker="o", ms=3, color=f"C{i}",
                    label=r["codec"], lw=2 if is_ours(r["codec"]) else 1.3)
        src = next((v for r in results if (v := source_value(r, panel, metric)) is not None), None)
        if src is not None:
            ax.axhline(src, color="0.45", ls=":", lw=1.2, label="source clip")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("bpp")
        ax.set_ylabel(f"{metric} ({'lower' if lower_is_better(metric) else 'higher'} is better)")
        ax.grid(True, which="both", alpha=0.3)
    for k in range(len(panels), rows * cols):
        axes[k // cols][k % cols].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    top = 0.93 if not title else 0.93 - 0.12 / rows   # room for the title above the legend
    if handles:
        fig.legend(handles, labels, loc="upper center", ncol=min(6, len(labels)), frameon=False,
                   bbox_to_anchor=(0.5, 1.0 if not title else (1.0 + top) / 2 + 0.02))
    if title:
        fig.suptitle(title, y=1.0, va="top")
    fig.tight_layout(rect=(0, 0, 1, top))
    return fig


def save_figure(fig, path: Path, overwrite: bool) -> Path:
    """Save atomically (temporary file in the same folder, then rename)."""
    import matplotlib.pyplot as plt

    check_output(path, overwrite)
    try:
        with atomic_output(path, overwrite, "figure") as tmp:
            fig.savefig(tmp, dpi=150, bbox_inches="tight", format=path.suffix.lstrip(".") or None)
    finally:
        plt.close(fig)
    return path
