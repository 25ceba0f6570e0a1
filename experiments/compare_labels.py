"""Two decoder settings of one sweep, stream by stream: how often and by how much B beats A.

Reads a sweep of ``experiments/video_sampling_tradeoff.py`` or ``benchmarks/bench_video_decoder.py``
(labels spelt as ``choose_sampling_default.py`` prints them) and prints, for every metric both
settings have, one line over the streams both decoded: at how many B is better (higher for fidelity
metrics, lower for warping error, tOF and NIQE) and the mean, min and max of ``B − A``. Labels may
be given by a unique substring (``band=fine``).

    .venv/bin/python experiments/compare_labels.py benchmarks/results/residual_band_val_cpu.json \\
        "band=all" "band=fine"
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from choose_sampling_default import _bench_label, resolve_label  # noqa: E402

LOWER_IS_BETTER = {"warping_error", "tof", "niqe", "lpips", "dists", "fvd"}
FIELDS = {"clip", "point", "label", "bpp", "decoder"}


def load_rows(path: Path) -> list[dict]:
    """Flat records ``{clip, point, label, <every metric>: value}`` of one sweep JSON (either format)."""
    doc = json.loads(path.read_text())
    if "rows" in doc:
        return [{**r, "label": r["decoder"]} for r in doc["rows"]]
    return [{"clip": clip["clip"], "point": run["quality_param"], "label": _bench_label(name, doc.get("settings", {})),
             **run["metrics"]} for clip in doc["clips"] for name, runs in clip["rows"].items() for run in runs]


def compare(rows: list[dict], a: str, b: str) -> dict[str, list[tuple[str, float]]]:
    """``{metric: [(clip point, B − A), ...]}`` over the streams both settings decoded."""
    labels = [r["label"] for r in rows]
    a, b = resolve_label(labels, a), resolve_label(labels, b)
    by = {(r["clip"], r["point"], r["label"]): r for r in rows}
    out: dict[str, list[tuple[str, float]]] = {}
    for (clip, point, label), ra in sorted(by.items()):
        rb = by.get((clip, point, b))
        if label != a or rb is None:
            continue
        for m, va in ra.items():
            if m not in FIELDS and isinstance(va, (int, float)) and isinstance(rb.get(m), (int, float)):
                out.setdefault(m, []).append((f"{clip} {point}", float(rb[m]) - float(va)))
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("sweep", type=Path)
    ap.add_argument("a", help="the reference setting (label or unique part of it)")
    ap.add_argument("b", help="the setting compared with it")
    args = ap.parse_args(argv)
    diffs = compare(load_rows(args.sweep), args.a, args.b)
    if not diffs:
        raise SystemExit("error: no stream was decoded with both settings")
    for m, pairs in diffs.items():
        sign = -1.0 if m in LOWER_IS_BETTER else 1.0
        wins = sum(sign * d > 0 for _, d in pairs)
        ties = sum(d == 0 for _, d in pairs)
        vals = [d for _, d in pairs]
        print(f"{m:14s} B better at {wins}/{len(pairs)} (ties {ties}); B − A mean {sum(vals) / len(vals):+.3g}, "
              f"min {min(vals):+.3g}, max {max(vals):+.3g}")
    return diffs


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
