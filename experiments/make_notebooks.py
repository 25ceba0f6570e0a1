"""Write notebooks/*.ipynb from the cell sources below, with the outputs of a real run.

    python experiments/make_notebooks.py --execute  # rewrite and run them (nbclient, default parameters)
    python experiments/make_notebooks.py            # rewrite them without outputs
    python experiments/make_notebooks.py --check    # exit 1 if a stored notebook's cells differ

Every notebook imports only the public API (``import actdiff``) and starts with a parameters cell
(tagged ``parameters``, as papermill expects): tests/test_notebooks.py runs each one with a cell of
its own values inserted after it; the defaults are for a person exploring, and small enough that
``--execute`` runs all three in a few minutes on 2 CPU cores (in a temporary folder; the kernel is
this interpreter). The committed notebooks carry the outputs of such a run; their metadata
(``actdiff``) records the command, the machine and the seconds it took. ``--check`` compares the
cells' sources (outputs differ from run to run: timings).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "notebooks"

PARAMS_01 = """\
FRAMES = 24          # frames of the bundled sample clip to code (48 at most)
TARGET_BPP = None    # e.g. 0.02: rate control on the real file size (None: the default settings)
DIFFUSION = True     # also decode with the diffusion decoder (the shipped weights)
OVERRIDES = []       # codec settings as on the command line, e.g. ["codec.keyframes.max_gop=24"]
"""

SHOW = """\
def show(fig, photo=False):
    \"\"\"Display a matplotlib figure: PNG, or JPEG for pictures of frames (``photo``: a smaller notebook).\"\"\"
    fmt = "jpeg" if photo else "png"
    kw = {"pil_kwargs": {"quality": 85}} if photo else {}
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=72, bbox_inches="tight", **kw)
    plt.close(fig)
    display(Image(buf.getvalue(), format=fmt))"""


def first_cell(imports: str, body: str) -> str:
    """A notebook's first code cell: its imports (sorted, ruff-clean), ``show``, then ``body``."""
    return "\n\n\n".join([imports, SHOW, body])


NB01 = [
    ("md", "# 01 · ActDiff codec walkthrough\n\nEncode the bundled sample clip, look at what the file "
           "holds (keyframes, trajectories, bit split) and at the reconstructions. Everything goes through "
           "the public API (`import actdiff`)."),
    ("params", PARAMS_01),
    ("code", first_cell("""\
import io

import matplotlib.pyplot as plt
from IPython.display import Image, display

import actdiff""", """\
video = actdiff.sample_clip(FRAMES)
print(f"{video.num_frames} frames, {video.width}x{video.height}, {video.fps} fps")""")),
    ("md", "## Encode\n\nThe rate is the real file size; with `TARGET_BPP` rate control picks keyframe "
           "quality, trajectory budget and longest GOP to hit it."),
    ("code", """\
enc = actdiff.encode(video, target_bpp=TARGET_BPP, overrides=OVERRIDES)
print(actdiff.describe(enc))"""),
    ("md", "## Keyframes\n\nWhat the decoder rebuilds from the file alone (`actdiff.decode_segments`)."),
    ("code", """\
header, segments = actdiff.decode_segments(enc)
at = header.display_index()  # segments index the coded frames; a repeated frame is not coded
keys = [(at[segments[0].segment.start], segments[0].key_start)] + [(at[s.segment.end], s.key_end) for s in segments]
keys = [(i, k) for n, (i, k) in enumerate(keys) if n == 0 or i != keys[n - 1][0]]
fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.4), squeeze=False)
for ax, (i, key) in zip(axes[0], keys):
    ax.imshow(key[: video.height, : video.width])
    ax.set_title(f"decoded keyframe {i}")
    ax.axis("off")
show(fig, photo=True)"""),
    ("md", "## Selected trajectories\n\nEach segment's coded trajectories (as the decoder rebuilds them) drawn "
           "over its first frame; dots mark where each point ends."),
    ("code", """\
shown = [s for s in segments if s.tracks.num_points][:3]
if not shown:
    print("no segment longer than 2 frames: no trajectories to draw")
else:
    fig, axes = plt.subplots(1, len(shown), figsize=(4.5 * len(shown), 3.2), squeeze=False)
    for ax, seg in zip(axes[0], shown):
        pos = seg.tracks.positions  # (T, N, 2) pixel (x, y), segment-relative frames
        ax.imshow(video.frames[at[seg.segment.start]])
        for n in range(pos.shape[1]):
            ax.plot(pos[:, n, 0], pos[:, n, 1], "-", lw=1, color=plt.cm.hsv(n / pos.shape[1]))
        ax.plot(pos[-1, :, 0], pos[-1, :, 1], "w.", ms=3)
        ax.set_xlim(0, video.width)
        ax.set_ylim(video.height, 0)
        ax.axis("off")
        ax.set_title(f"frames {at[seg.segment.start]}-{at[seg.segment.end]}: {pos.shape[1]} trajectories")
    show(fig, photo=True)"""),
    ("md", "## Bit split"),
    ("code", """\
bits = enc.stats["bits"]
for k, v in bits.items():
    print(f"{k:>12}: {v:8d} bits ({100 * v / enc.stats['bits_total']:5.1f} %)")
fig = plt.figure(figsize=(5, 1.2))
left = 0
for k, v in bits.items():
    plt.barh(0, v, left=left, label=k)
    left += v
plt.yticks([])
plt.xlabel("bits")
plt.legend(ncol=len(bits), loc="upper center", bbox_to_anchor=(0.5, 1.8))
show(fig)"""),
    ("md", "## Reconstructions\n\nThe warp decoder (no weights) always; the diffusion decoder when asked and its "
           "weights are installed (otherwise the reason is printed)."),
    ("code", """\
recs = {"warp": actdiff.decode(enc, "warp")}
if DIFFUSION:
    try:
        recs["diffusion"] = actdiff.decode(enc, "diffusion")
    except actdiff.MissingWeightsError as e:
        print(f"note: diffusion decoder not shown: {e}")
else:
    print("note: diffusion decoder not run (DIFFUSION = False)")
for name, rec in recs.items():
    m = actdiff.score(video, rec, ["psnr", "ms_ssim"])
    print(f"{name:>9}: " + " ".join(f"{k}={v:.4g}" for k, v in m.items()))"""),
    ("code", """\
t = at[min(header.num_frames - 1, max(1, (segments[0].segment.start + segments[0].segment.end) // 2))]
panels = [("original", video.frames[t])] + [(n, r.frames[t]) for n, r in recs.items()]
fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 2.8), squeeze=False)
for ax, (name, img) in zip(axes[0], panels):
    ax.imshow(img)
    ax.set_title(f"{name}, frame {t}")
    ax.axis("off")
show(fig, photo=True)"""),
]

PARAMS_02 = """\
RESULTS = []                 # results JSONs (comma-join the shard files of one run); [] = run a small example
ANCHOR = None                # the BD-rate anchor (default: the last of RESULTS)
METRICS = ["niqe", "psnr"]
FRAMES = 24                  # frames of the sample clip in the small example
"""

NB02 = [
    ("md", "# 02 · Rate curves and BD-rate\n\nLoad results JSONs (`actdiff evaluate` / `actdiff bench`, schema "
           "in docs/results_schema.md), draw rate–quality curves and a BD-rate table. Without `RESULTS` a small "
           "ActDiff and x265 run on the sample clip is made first."),
    ("params", PARAMS_02),
    ("code", first_cell("""\
import io

import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

import actdiff""", """\
if RESULTS:
    results = [actdiff.load_results(p) for p in RESULTS]
else:
    clip = actdiff.sample_clip(FRAMES)
    print(f"no RESULTS: ActDiff (warp decoder) and x265 on the sample clip ({FRAMES} frames)")
    # thumbnails in ./frames; overwrite=True: a re-run of this cell replaces its own
    results = [actdiff.evaluate(clip, rates=["r0", "r2", "r4"], metrics=["psnr", "niqe"], name="sample",
                                frames_dir="frames", overwrite=True),
               actdiff.bench(clip, "x265", crf=[40, 45, 51], metrics=["psnr", "niqe"], name="sample",
                             frames_dir="frames", overwrite=True)]
for r in results:
    print(f"{r.codec:>20}: {len(r['sequences'])} sequences, metrics {', '.join(r.metric_names())}")
results[0].to_dataframe().head()""")),
    ("md", "## Curves"),
    ("code", """\
for metric in METRICS:
    if not all(metric in r.metric_names() for r in results):
        print(f"skipping {metric}: not in every results file")
        continue
    show(results[0].plot(metric, *results[1:], title=metric))"""),
    ("md", "## Pictures\n\nThe decoded frames next to the source, each row with its bpp and metrics (a "
           "contact sheet: `actdiff compare A.json B.json`); frames from the middle of the clip's longest "
           "segments, farthest from any keyframe. Needs results written with `frames_dir` (`--frames-dir`)."),
    ("code", """\
if len(results) >= 2 and all(r.get("source_frames") for r in results[:2]):
    show(actdiff.contact_sheet(results[0], results[1]), photo=True)
else:
    print("no thumbnails in these results: evaluate/bench them with --frames-dir to see the frames")"""),
    ("md", "## BD-rate\n\nEach codec against the anchor (negative: the codec needs fewer bits than the anchor "
           "for the same quality, as in JVET, CompressAI and DCVC; see `actdiff bdrate`)."),
    ("code", """\
anchor = actdiff.load_results(ANCHOR) if ANCHOR else results[-1]
for metric in METRICS:
    for r in results:
        if r is anchor or metric not in r.metric_names() or metric not in anchor.metric_names():
            continue
        display(Markdown(r.bdrate_table(anchor, metric)))"""),
]

PARAMS_03 = """\
SWEEP = "sweeps/table1"              # folder written by `actdiff sweep`
SPEC = "ablation/bidirectional"      # spec (or YAML path) run when SWEEP holds no table yet
FRAMES = 16
"""

NB03 = [
    ("md", "# 03 · Ablations\n\nRead the table of an `actdiff sweep` folder (`SWEEP`) and plot every point "
           "against the reference. If the folder holds no table yet, the small sweep `SPEC` is run on `FRAMES` "
           "frames first."),
    ("params", PARAMS_03),
    ("code", first_cell("""\
import csv
import io
import json
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Image, Markdown, display

import actdiff""", """\
folder = Path(SWEEP)
if not (folder / "table.csv").is_file():
    print(f"no table in {folder}: running {SPEC} on {FRAMES} frames")
    actdiff.sweep(SPEC, folder, frames=FRAMES)
summary = json.loads((folder / "summary.json").read_text())
with open(folder / "table.csv") as f:
    rows = list(csv.DictReader(f))
display(Markdown((folder / "table.md").read_text()))
for r in rows:
    if r["status"] != "ok":
        print(f"point {r['point']} {r['status']}: {r['error']}")""")),
    ("md", "## Change against the reference\n\nOne panel per metric: the mean difference at matched rate "
           "points (Δ), and the BD-rate where the sweep had at least two rate points."),
    ("code", """\
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
        axes[0][k].barh(names, d)
        axes[0][k].set_title(f"Δ{m} (mean over rate points)", fontsize=9)
        axes[1][k].barh(names, bd, color="C2")
        axes[1][k].set_title(f"BD-rate {m} (%)", fontsize=9)
        for ax in (axes[0][k], axes[1][k]):
            ax.axvline(0, color="k", lw=0.8)
            ax.tick_params(labelsize=7)
    fig.tight_layout()
    show(fig)"""),
    ("md", "## Rate of each point"),
    ("code", """\
docs = [actdiff.load_results(folder / "points" / f"{r['point']}.json") for r in rows if r["status"] == "ok"]
metric = metrics[0]
if docs:
    show(docs[0].plot(metric, *docs[1:], title=f"{summary['sweep']}: {metric}"))"""),
]

NOTEBOOKS = {"01_codec_walkthrough.ipynb": NB01, "02_rate_curves.ipynb": NB02, "03_ablations.ipynb": NB03}


def build(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, src) in enumerate(cells):
        cell = nbformat.v4.new_markdown_cell(src) if kind == "md" else nbformat.v4.new_code_cell(src)
        if kind == "params":
            cell.metadata["tags"] = ["parameters"]  # papermill's convention
        cell["id"] = f"cell-{i:02d}"  # stable ids: regenerating gives identical files
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def without_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy with no outputs, execution counts or run record: what the generator writes unexecuted."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    nb.metadata.pop("actdiff", None)
    nb.metadata["language_info"] = {"name": "python"}  # the kernel adds its version, lexer, …
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    return nb


def execute(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Run ``nb`` top to bottom with its default parameters in a temporary folder (kernel: this
    interpreter) and record how (``nb.metadata["actdiff"]``)."""
    import os
    import platform
    import tempfile
    import time

    from nbclient import NotebookClient

    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="actdiff-nb-") as cwd:
        NotebookClient(nb, kernel_name="python3", timeout=1800, resources={"metadata": {"path": cwd}}).execute()
    nb.metadata["actdiff"] = {
        "executed_by": "python experiments/make_notebooks.py --execute (default parameters, a temporary folder)",
        "seconds": round(time.perf_counter() - t0, 1),
        "machine": f"{platform.platform()}, {os.cpu_count()} CPU cores, OMP_NUM_THREADS="
                   f"{os.environ.get('OMP_NUM_THREADS')}",
    }
    print(f"ran {name} in {nb.metadata['actdiff']['seconds']} s")
    return nb


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="fail if a stored notebook's cells are out of date")
    p.add_argument("--execute", action="store_true", help="run each notebook and store its outputs")
    p.add_argument("names", nargs="*", help="only these notebooks (default: all)")
    args = p.parse_args(argv)
    OUT.mkdir(exist_ok=True)
    stale = []
    for name, cells in NOTEBOOKS.items():
        if args.names and name not in args.names:
            continue
        nb = build(cells)
        path = OUT / name
        if args.check:
            stored = without_outputs(nbformat.read(path, as_version=4)) if path.is_file() else None
            if stored is None or nbformat.writes(stored) != nbformat.writes(nb):
                stale.append(name)
            continue
        if args.execute:
            nb = execute(nb, name)
        path.write_text(nbformat.writes(nb) + "\n")
        print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)} (run python experiments/make_notebooks.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
