"""Point-by-point change of a results JSON against an earlier version of the same file.

For results of the same bitstreams decoded by a changed decoder (or re-scored), print, per
sequence and rate point, the change of each metric from the version of the file at git revision
``--rev`` to the file as it is now, then the mean change and at how many points it went up. The
two versions must hold the same sequences and points at the same bpp (else: an error naming the
first mismatch: that is a different encoder, not a decoder change).

    python experiments/compare_points.py --rev 757c87c experiments/results_opencv_samples/actdiff_warp.json \\
        experiments/results_fr_carphone/actdiff_warp.json

After an encoder change (other bitstreams) ``--bd-rate`` compares the curves instead: per sequence
and metric, the BD-rate of the file as it is now against its version at ``--rev`` (negative = the
new curve needs fewer bits for the same score), and the mean over sequences.

After a lossless encoder change (the same decoded frames in fewer or more bits, e.g. a new
trajectory coder) ``--lossless`` checks that every metric is identical at every point and prints
each point's change of rate and its range (an error names the first point whose metrics differ).
``--bpp-tolerance REL`` lets the per-point mode pair points whose rates differ by up to ``REL``
(relative): the same bitstreams with a few bytes of side information added.
"""

from __future__ import annotations

import argparse
from typing import Iterator, Sequence

from actdiff.errors import InputError
from actdiff.evaluation.bdrate import bd_rate
from actdiff.evaluation.results import load_results, load_results_at, to_curves

METRICS = ("psnr", "ms_ssim", "vmaf_neg", "warping_error", "niqe")


def paired_points(old: dict, new: dict) -> Iterator[tuple[str, dict, dict]]:
    """``(sequence, new point, old point)`` for every point of ``new`` (matched by
    ``quality_param``); an error naming the first point the earlier version lacks."""
    for seq, points in new["sequences"].items():
        before = {p["quality_param"]: p for p in old["sequences"].get(seq, [])}
        for p in points:
            q = before.get(p["quality_param"])
            if q is None:
                raise SystemExit(f"error: {seq} {p['quality_param']}: not in the earlier version")
            yield seq, p, q


def changes(old: dict, new: dict, metrics: Sequence[str], bpp_tolerance: float = 0.0
            ) -> list[tuple[str, str, float, dict]]:
    """``(sequence, point, bpp, {metric: new − old})`` for every point of ``new``; the two bpp may
    differ by ``bpp_tolerance`` (relative: side information added to the same bitstreams)."""
    rows = []
    for seq, p, q in paired_points(old, new):
        if abs(q["bpp"] - p["bpp"]) > max(1e-9, bpp_tolerance * q["bpp"]):
            raise SystemExit(f"error: {seq} {p['quality_param']}: not the same bitstream in both versions")
        both = [m for m in metrics if m in p["metrics"] and m in q["metrics"]]
        rows.append((seq, p["quality_param"], p["bpp"], {m: p["metrics"][m] - q["metrics"][m] for m in both}))
    return rows


def rate_changes(old: dict, new: dict, metrics: Sequence[str]) -> list[tuple[str, str, float, float]]:
    """``(sequence, point, old bpp, new bpp)`` for every point of ``new``, whose scores in
    ``metrics`` must equal the old ones exactly (a lossless change: same frames, other bits)."""
    rows = []
    for seq, p, q in paired_points(old, new):
        differ = [m for m in metrics if p["metrics"].get(m) != q["metrics"].get(m)]
        if differ:
            raise SystemExit(f"error: {seq} {p['quality_param']}: {', '.join(differ)} changed: "
                             "not the same decoded frames")
        rows.append((seq, p["quality_param"], q["bpp"], p["bpp"]))
    return rows


def curve_changes(old: dict, new: dict, metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    """``{metric: {sequence: BD-rate (%) of new against old}}`` for the sequences where both
    versions score the metric at 2 points or more (metrics without any such sequence are left out)."""
    out: dict[str, dict[str, float]] = {}
    for m in metrics:
        before, after = to_curves(old, m), to_curves(new, m)
        both = [seq for seq in after if seq in before and min(len(after[seq][0]), len(before[seq][0])) >= 2]
        if both:
            out[m] = {seq: float(bd_rate(before[seq], after[seq], m, ("before", "after"))) for seq in both}
    return out


def _print_bd(paths: Sequence[str], rev: str, metrics: Sequence[str]) -> None:
    for path in paths:
        for m, per in curve_changes(load_results_at(rev, path), load_results(path), metrics).items():
            if per:
                mean = sum(per.values()) / len(per)
                print(f"{path} {m}: " + "  ".join(f"{s} {v:+.1f} %" for s, v in per.items()) + f"  mean {mean:+.1f} %")


def _print_rates(paths: Sequence[str], rev: str, metrics: Sequence[str]) -> None:
    changes_pct = []
    for path in paths:
        for seq, point, before, after in rate_changes(load_results_at(rev, path), load_results(path), metrics):
            changes_pct.append(100.0 * (after / before - 1.0))
            print(f"{seq:12s} {point:5s} {before:.5f} -> {after:.5f} bpp ({changes_pct[-1]:+.1f} %), metrics identical")
    if changes_pct:
        print(f"rate change {min(changes_pct):+.1f} … {max(changes_pct):+.1f} %, mean "
              f"{sum(changes_pct) / len(changes_pct):+.1f} % over {len(changes_pct)} points; every metric identical")


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", help="results JSONs (compared with their version at --rev)")
    ap.add_argument("--rev", required=True, help="git revision of the earlier version")
    ap.add_argument("--metrics", nargs="+", default=list(METRICS))
    ap.add_argument("--bd-rate", action="store_true", help="compare the rate-quality curves (other bitstreams)")
    ap.add_argument("--lossless", action="store_true",
                    help="same decoded frames, other bits: metrics must be identical; print the rate change")
    ap.add_argument("--bpp-tolerance", type=float, default=0.0, metavar="REL",
                    help="per-point mode: the bpp may differ by this share (e.g. 0.005 for a few bytes of "
                         "side information added to the same bitstreams; default 0: identical)")
    args = ap.parse_args(argv)
    try:
        if args.bd_rate:
            _print_bd(args.files, args.rev, args.metrics)
            return 0
        if args.lossless:
            _print_rates(args.files, args.rev, args.metrics)
            return 0
        rows = []
        for path in args.files:
            rows += changes(load_results_at(args.rev, path), load_results(path), args.metrics, args.bpp_tolerance)
    except InputError as e:
        raise SystemExit(f"error: {e}") from None
    for seq, point, bpp, d in rows:
        print(f"{seq:12s} {point:5s} {bpp:.4f} bpp  " + "  ".join(f"{m} {v:+.4f}" for m, v in d.items()))
    for m in args.metrics:
        vals = [d[m] for *_, d in rows if m in d]
        if vals:
            print(f"{m}: mean change {sum(vals) / len(vals):+.4f}, higher at {sum(v > 0 for v in vals)}/{len(vals)}")
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
