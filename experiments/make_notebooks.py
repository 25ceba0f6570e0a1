"""Write notebooks/*.ipynb (without outputs) from the cell sources below.

    python experiments/make_notebooks.py          # rewrite the notebooks
    python experiments/make_notebooks.py --check  # exit 1 if a stored notebook differs

Every notebook reads its parameters from environment variables (``ACTDIFF_NB_*``) so that
tests/test_notebooks.py can run it on tiny data; the defaults are for a person exploring.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "notebooks"

PARAMS_01 = '''\
import os
FRAMES = int(os.environ.get("ACTDIFF_NB_FRAMES", "48"))        # frames of the sample clip to code
TARGET_BPP = os.environ.get("ACTDIFF_NB_TARGET_BPP", "")        # e.g. 0.02: use rate control
DIFFUSION = os.environ.get("ACTDIFF_NB_DIFFUSION", "1") != "0"  # try the diffusion decoder
OVERRIDES = [o for o in os.environ.get("ACTDIFF_NB_OVERRIDES", "").split() if o]  # codec.key=value …
'''

NB01 = [
    ("md", "# 01 · ActDiff codec walkthrough\n\nEncode the bundled sample clip, look at what the file "
           "holds (keyframes, trajectories, bit split) and at the reconstructions. Parameters come from "
           "environment variables (`ACTDIFF_NB_FRAMES`, `ACTDIFF_NB_TARGET_BPP`, `ACTDIFF_NB_DIFFUSION`, "
           "`ACTDIFF_NB_OVERRIDES`)."),
    ("code", PARAMS_01),
    ("code", '''\
import numpy as np
import matplotlib.pyplot as plt
from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.data import load_sample_clip
from actdiff.metrics import compute_metrics
from actdiff.codec.ratecontrol import describe, encode_to_target

video = load_sample_clip(max_frames=FRAMES)
cfg = compose(None, OVERRIDES)
print(f"{video.num_frames} frames, {video.width}x{video.height}, {video.fps} fps")'''),
    ("md", "## Encode\n\nThe rate is the real file size; with `ACTDIFF_NB_TARGET_BPP` rate control picks keyframe "
           "quality, trajectory budget and longest GOP to hit it."),
    ("code", '''\
result = encode_to_target(video, cfg, float(TARGET_BPP)) if TARGET_BPP else encode_video(video, cfg)
stats = result.stats
print(f"{len(result.data)} bytes, {stats['bpp']:.5f} bpp, keyframes at {stats['keyframes']}")
print(f"segments {stats['segments']}, trajectories per segment {stats['trajectories']}")
if TARGET_BPP:
    print(describe(stats))'''),
    ("md", "## Keyframes"),
    ("code", '''\
segments = result.debug["decoded_segments"]
keys = [(segments[0].segment.start, segments[0].key_start)] + [(s.segment.end, s.key_end) for s in segments]
keys = [(i, k) for n, (i, k) in enumerate(keys) if n == 0 or i != keys[n - 1][0]]
fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.4), squeeze=False)
for ax, (i, key) in zip(axes[0], keys):
    ax.imshow(key[: video.height, : video.width]); ax.set_title(f"decoded keyframe {i}"); ax.axis("off")
plt.show()'''),
    ("md", "## Selected trajectories\n\nEach segment's coded trajectories (as the decoder rebuilds them) drawn "
           "over its first frame; dots mark where each point ends."),
    ("code", '''\
shown = [s for s in segments if s.tracks.num_points][:3]
if not shown:
    print("no segment longer than 2 frames: no trajectories to draw")
else:
    fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.2), squeeze=False)
    for ax, seg in zip(axes[0], shown):
        pos = seg.tracks.positions  # (T, N, 2) pixel (x, y), segment-relative frames
        ax.imshow(video.frames[seg.segment.start])
        for n in range(pos.shape[1]):
            ax.plot(pos[:, n, 0], pos[:, n, 1], "-", lw=1, color=plt.cm.hsv(n / pos.shape[1]))
        ax.plot(pos[-1, :, 0], pos[-1, :, 1], "w.", ms=3)
        ax.set_xlim(0, video.width); ax.set_ylim(video.height, 0); ax.axis("off")
        ax.set_title(f"frames {seg.segment.start}-{seg.segment.end}: {pos.shape[1]} trajectories")
    plt.show()'''),
    ("md", "## Bit split"),
    ("code", '''\
bits = stats["bits"]
for k, v in bits.items():
    print(f"{k:>12}: {v:8d} bits ({100 * v / stats['bits_total']:5.1f} %)")
if stats.get("bits_per_point_per_frame"):
    print(f"trajectory cost: {stats['bits_per_point_per_frame']:.2f} bits per point per frame")
plt.figure(figsize=(5, 1.2))
left = 0
for k, v in bits.items():
    plt.barh(0, v, left=left, label=k); left += v
plt.yticks([]); plt.xlabel("bits"); plt.legend(ncol=len(bits), loc="upper center", bbox_to_anchor=(0.5, 1.8))
plt.show()'''),
    ("md", "## Reconstructions\n\nThe warp decoder (no weights) always; the diffusion decoder only when its "
           "weights are installed (otherwise the reason is printed)."),
    ("code", '''\
from actdiff.decoders import build_decoder
from actdiff.errors import MissingWeightsError

recs = {"warp": decode_video(result.data, "warp")}
if DIFFUSION:
    try:
        recs["diffusion"] = decode_video(result.data, build_decoder("diffusion"))
    except MissingWeightsError as e:
        print(f"note: diffusion decoder not shown: {e}")
else:
    print("note: diffusion decoder not run (ACTDIFF_NB_DIFFUSION=0)")
for name, rec in recs.items():
    m = compute_metrics(video.frames, rec.frames, ["psnr", "ms_ssim"])
    print(f"{name:>9}: " + " ".join(f"{k}={v:.4g}" for k, v in m.items()))'''),
    ("code", '''\
t = min(video.num_frames - 1, max(1, (segments[0].segment.start + segments[0].segment.end) // 2))
panels = [("original", video.frames[t])] + [(n, r.frames[t]) for n, r in recs.items()]
fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 2.8), squeeze=False)
for ax, (name, img) in zip(axes[0], panels):
    ax.imshow(img); ax.set_title(f"{name}, frame {t}"); ax.axis("off")
plt.show()'''),
]

PARAMS_02 = '''\
import os
RESULTS = [p for p in os.environ.get("ACTDIFF_NB_RESULTS", "").split(os.pathsep) if p]  # results JSONs
ANCHOR = os.environ.get("ACTDIFF_NB_ANCHOR", "")        # JSON used as BD-rate anchor (default: the last)
METRICS = os.environ.get("ACTDIFF_NB_METRICS", "niqe psnr").split()
FRAMES = int(os.environ.get("ACTDIFF_NB_FRAMES", "24"))  # only when no results are given
WORK = os.environ.get("ACTDIFF_NB_WORKDIR", "notebook_results")
'''

NB02 = [
    ("md", "# 02 · Rate curves and BD-rate\n\nLoad results JSONs (`actdiff evaluate` / `actdiff bench`, schema "
           "in docs/results_schema.md), draw rate–quality curves and a BD-rate table. Give files with "
           "`ACTDIFF_NB_RESULTS=a.json:b.json` (comma-separate the shard files of one run); without them a small "
           "ActDiff and x265 run on the sample clip is made first."),
    ("code", PARAMS_02),
    ("code", '''\
from pathlib import Path
import io
from IPython.display import Image, Markdown, display
from actdiff.commands import bench, bdrate, evaluate, plot
from actdiff.evaluation.results import load_many, metric_names


def show(fig):
    """Display a figure as PNG (actdiff.evaluation.plotting draws with the Agg backend)."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO(); fig.savefig(buf, format="png", dpi=90, bbox_inches="tight"); plt.close(fig)
    display(Image(buf.getvalue()))


if not RESULTS:
    work = Path(WORK); work.mkdir(parents=True, exist_ok=True)
    print(f"no ACTDIFF_NB_RESULTS: evaluating the sample clip ({FRAMES} frames) into {work}")
    ours, x265, proto = work / "actdiff_warp.json", work / "x265.json", work / "protocol.yaml"
    proto.write_text(f"name: cpu{FRAMES}\\nheight: 256\\nwidth: 384\\nmax_frames: {FRAMES}\\n"
                     "resize_mode: crop\\nfit: pad\\n")
    common = ["--data", "sample", "--protocol", str(proto), "--metrics", "psnr", "niqe", "-q"]
    if not ours.exists():
        evaluate.main(common + ["--rates", "r0", "r2", "r4", "-o", str(ours)])
    if not x265.exists():
        bench.main(["x265", "--crf", "40", "45", "51", "-o", str(x265)] + common)
    RESULTS = [str(ours), str(x265)]
results = [load_many(p.split(",")) for p in RESULTS]
for r in results:
    print(f"{r['codec']:>20}: {len(r['sequences'])} sequences, metrics {', '.join(metric_names(r))}")'''),
    ("md", "## Curves"),
    ("code", '''\
import matplotlib.pyplot as plt
for metric in METRICS:
    if not all(metric in metric_names(r) for r in results):
        print(f"skipping {metric}: not in every results file"); continue
    show(plot.draw(results, metric, title=metric))'''),
    ("md", "## BD-rate\n\nEach codec against the anchor (positive: the codec is better, i.e. the anchor "
           "needs more bits for the same quality; see `actdiff bdrate`)."),
    ("code", '''\
anchor = load_many(ANCHOR.split(",")) if ANCHOR else results[-1]
for metric in METRICS:
    for r in results:
        if r is anchor or metric not in metric_names(r) or metric not in metric_names(anchor):
            continue
        report = bdrate.compare(r, anchor, metric)
        display(Markdown(bdrate.to_markdown(report)))'''),
]

PARAMS_03 = '''\
import os
SWEEP = os.environ.get("ACTDIFF_NB_SWEEP", "sweeps/table1")   # folder written by `actdiff sweep`
SPEC = os.environ.get("ACTDIFF_NB_SPEC", "ablation/bidirectional")  # spec (or YAML path) run when SWEEP is empty
FRAMES = int(os.environ.get("ACTDIFF_NB_FRAMES", "16"))
'''

NB03 = [
    ("md", "# 03 · Ablations\n\nRead the table of an `actdiff sweep` folder (`ACTDIFF_NB_SWEEP`) and plot every "
           "point against the reference. If the folder holds no table yet, the small sweep `ACTDIFF_NB_SPEC` is "
           "run on `ACTDIFF_NB_FRAMES` frames first."),
    ("code", PARAMS_03),
    ("code", '''\
import csv, io, json
from pathlib import Path
from IPython.display import Image, Markdown, display
from actdiff.commands import sweep

folder = Path(SWEEP)
if not (folder / "table.csv").is_file():
    print(f"no table in {folder}: running {SPEC} on {FRAMES} frames")
    rc = sweep.main([SPEC, "-o", str(folder), "--frames", str(FRAMES)])
    if not (folder / "summary.json").is_file():
        raise RuntimeError(f"the sweep wrote no table (exit code {rc}); see the error above")
summary = json.loads((folder / "summary.json").read_text())
with open(folder / "table.csv") as f:
    rows = list(csv.DictReader(f))
display(Markdown((folder / "table.md").read_text()))
def show(fig):
    """Display a figure as PNG (actdiff.evaluation.plotting draws with the Agg backend)."""
    import matplotlib.pyplot as plt
    buf = io.BytesIO(); fig.savefig(buf, format="png", dpi=90, bbox_inches="tight"); plt.close(fig)
    display(Image(buf.getvalue()))


failed = [r for r in rows if r["status"] != "ok"]
for r in failed:
    print(f"point {r['point']} {r['status']}: {r['error']}")'''),
    ("md", "## Change against the reference\n\nOne panel per metric: the mean difference at matched rate "
           "points (Δ), and the BD-rate where the sweep had at least two rate points."),
    ("code", '''\
import matplotlib.pyplot as plt
from actdiff.metrics import lower_is_better

ok = [r for r in rows if r["status"] == "ok" and r["point"] != summary["reference"]]
metrics = summary["metrics"]
if not ok:
    print("no finished point besides the reference")
else:
    fig, axes = plt.subplots(2, len(metrics), figsize=(3.6 * len(metrics), 5.5), squeeze=False)
    names = [r["point"] for r in ok]
    for k, m in enumerate(metrics):
        d = [float(r[f"d_{m}"]) if r[f"d_{m}"] else float("nan") for r in ok]
        bd = [float(r[f"bd_{m}"]) if r[f"bd_{m}"] else float("nan") for r in ok]
        axes[0][k].barh(names, d, color="C3" if lower_is_better(m) else "C0")
        axes[0][k].set_title(f"Δ{m} ({'lower' if lower_is_better(m) else 'higher'} is better)", fontsize=9)
        axes[1][k].barh(names, bd, color="C2"); axes[1][k].set_title(f"BD-rate {m} (%)", fontsize=9)
        for ax in (axes[0][k], axes[1][k]):
            ax.axvline(0, color="k", lw=0.8); ax.tick_params(labelsize=7)
    fig.tight_layout(); show(fig)'''),
    ("md", "## Rate of each point"),
    ("code", '''\
from actdiff.evaluation.results import load_results
from actdiff.commands import plot

docs = [load_results(folder / "points" / f"{r['point']}.json") for r in rows if r["status"] == "ok"]
metric = metrics[0]
if docs:
    show(plot.draw(docs, metric, title=f"{summary['sweep']}: {metric}"))'''),
]

NOTEBOOKS = {"01_codec_walkthrough.ipynb": NB01, "02_rate_curves.ipynb": NB02, "03_ablations.ipynb": NB03}


def build(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, src) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives identical files
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="fail if a stored notebook is out of date")
    args = p.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    stale = []
    for name, cells in NOTEBOOKS.items():
        text = nbformat.writes(build(cells)) + "\n"
        path = OUT / name
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python experiments/make_notebooks.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
