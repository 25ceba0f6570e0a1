"""Print the README's Markdown tables from experiments/results/ (ranges per clip and codec,
and the NIQE BD-rates of ActDiff against each baseline written by rate_curves_cpu.sh; a BD-rate
that `actdiff bdrate` flagged, e.g. for a curve not monotonic in rate, is marked "(unreliable)").

Usage: python experiments/summarize_results.py [RESULTS_DIR]
"""

import json
import re
import sys
from pathlib import Path

CODECS = {"ActDiff diffusion": "actdiff_diffusion", "ActDiff warp": "actdiff_warp", "x265": "x265",
          "x264": "x264", "SVT-AV1": "svt-av1"}


def ranges(results: Path) -> str:
    rows = ["| clip | codec | bpp range | NIQE range | PSNR range | warping error range |",
            "|---|---|---|---|---|---|"]
    data = {label: json.loads((results / f"{name}.json").read_text()) for label, name in CODECS.items()}
    for seq in data["ActDiff warp"]["sequences"]:
        for label, d in data.items():
            pts = d["sequences"][seq]
            col = {k: [p["metrics"][k] for p in pts] for k in ("niqe", "psnr", "warping_error")}
            bpp = [p["bpp"] for p in pts]
            rows.append(f"| {seq} | {label} | {min(bpp):.4f}–{max(bpp):.4f} | {min(col['niqe']):.2f}–{max(col['niqe']):.2f}"
                        f" | {min(col['psnr']):.1f}–{max(col['psnr']):.1f} | "
                        f"{min(col['warping_error']):.4f}–{max(col['warping_error']):.4f} |")
    return "\n".join(rows)


def bdrates(results: Path) -> str:
    rows = ["| ActDiff decoder | baseline | carphone | bikes | bigbuckbunny |", "|---|---|---|---|---|"]
    for dec in ("diffusion", "warp"):
        for base in ("x265", "x264", "svt-av1"):
            text = (results / f"bdrate_niqe_{dec}_vs_{base}.md").read_text()
            cells = []
            for seq in ("carphone", "bikes", "bigbuckbunny"):
                m = re.search(rf"^\| {seq} \| ([^|]+) \|[^|]*\|([^|]*)\|", text, re.M)
                value = m.group(1).strip() if m else "n/a"
                flag = " (unreliable)" if m and "unreliable" in m.group(2) else ""
                cells.append("no overlap" if value == "n/a" else value + flag)
            rows.append(f"| {dec} | {base} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "experiments/results")
    print(ranges(folder))
    print()
    print(bdrates(folder))
