"""Print the README's Markdown tables from a folder of results JSONs (experiments/results/):
ranges per clip and codec, NIQE BD-rates of ActDiff against each baseline, and the per-point
NIQE savings of the diffusion decoder over x265 (with bounds where the curves do not meet).

The BD-rates and savings are recomputed here with ``actdiff.evaluation.bdrate.compare`` (the code
behind ``actdiff bdrate``): BD-rate of ActDiff against the baseline as anchor, negative = ActDiff
needs fewer bits (JVET/CompressAI/DCVC convention); saving = 1 - bpp_ActDiff / bpp_x265 at matched
NIQE, positive = ActDiff needs fewer bits. A row that it flags (a curve not monotonic in rate, or better than the
source's own NIQE) is marked "(unreliable)".

Usage: python experiments/summarize_results.py [RESULTS_DIR] [--holdout DIR ...]
"""

import argparse
from pathlib import Path

from actdiff.evaluation.bdrate import compare
from actdiff.evaluation.results import load_results

CODECS = {"ActDiff diffusion": "actdiff_diffusion", "ActDiff warp": "actdiff_warp", "x265": "x265",
          "x264": "x264", "SVT-AV1": "svt-av1"}


def _span(values: list[float], fmt: str) -> str:
    return f"{min(values):{fmt}}–{max(values):{fmt}}"


def ranges(results: Path) -> str:
    rows = ["| clip | codec | bpp range | NIQE range | PSNR range | warping error range |",
            "|---|---|---|---|---|---|"]
    data = {label: load_results(results / f"{name}.json") for label, name in CODECS.items()}
    for seq in data["ActDiff warp"]["sequences"]:
        for label, d in data.items():
            pts = d["sequences"][seq]
            col = {k: [p["metrics"][k] for p in pts] for k in ("niqe", "psnr", "warping_error")}
            rows.append(f"| {seq} | {label} | {_span([p['bpp'] for p in pts], '.4f')} | "
                        f"{_span(col['niqe'], '.2f')} | {_span(col['psnr'], '.1f')} | "
                        f"{_span(col['warping_error'], '.4f')} |")
    return "\n".join(rows)


def _cell(row: dict) -> str:
    if row.get("bd_rate") is None:
        return "no overlap"
    return f"{row['bd_rate']:+.1f}%" + (" (unreliable)" if row.get("warnings") else "")


def bdrates(results: Path) -> str:
    seqs = list(load_results(results / "actdiff_warp.json")["sequences"])
    rows = ["| ActDiff decoder | baseline | " + " | ".join(seqs) + " |", "|---|---|" + "---|" * len(seqs)]
    for dec in ("diffusion", "warp"):
        a = load_results(results / f"actdiff_{dec}.json")
        for base in ("x265", "x264", "svt-av1"):
            rep = compare(a, load_results(results / f"{base}.json"), "niqe")["sequences"]
            rows.append(f"| {dec} | {base} | " + " | ".join(_cell(rep[s]) if s in rep else "n/a" for s in seqs) + " |")
    return "\n".join(rows)


def _point(p: dict) -> str:
    mark = {"lower": "≥ ", "upper": "≤ "}.get(p["bound"], "")
    return f"{p['bpp']:.4f} ({p['quality']:.2f}): {mark}{p['saving']:.0f} %"


def savings(actdiff_json: Path, x265_json: Path, label: str) -> list[str]:
    """Rows: clip | model | source NIQE | per point 'bpp (NIQE): saving' of ActDiff over x265."""
    rep = compare(load_results(actdiff_json), load_results(x265_json), "niqe")["sequences"]
    out = []
    for seq, row in rep.items():
        if seq == "mean":
            continue
        src = row.get("source")  # the source's own NIQE, as compare() found it in either file
        pts = ", ".join(_point(p) for p in sorted(row.get("points", []), key=lambda p: p["bpp"]))
        out.append(f"| {seq} | {label} | {'n/a' if src is None else f'{src:.2f}'} | {pts} |")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="?", default="experiments/results")
    ap.add_argument("--holdout", nargs="*", default=[], help="folders written by experiments/holdout_cpu.sh")
    args = ap.parse_args(argv)
    folder = Path(args.results)
    print(ranges(folder))
    print()
    print("BD-rate of ActDiff against each baseline on NIQE (negative = ActDiff needs fewer bits):")
    print()
    print(bdrates(folder))
    print()
    print("| clip | model | source NIQE | ActDiff bpp (NIQE): saving over x265 at matched NIQE |")
    print("|---|---|---|---|")
    rows = savings(folder / "actdiff_diffusion.json", folder / "x265.json", "shipped")
    for d in map(Path, args.holdout):
        rows += savings(d / "actdiff_diffusion_holdout.json", folder / "x265.json", f"held out ({d.name})")
    print("\n".join(rows))


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
