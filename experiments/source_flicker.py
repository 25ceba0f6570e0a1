"""How steady is the source itself? Its own warping error beside issue 13's warping-error checks.

The warping error (:func:`actdiff.metrics.temporal.warping_error`) needs no reference: it scores how
much a clip changes along the source's optical flow, so the source scores it too (tOF and tLP compare
against the source and give it 0). For every clip of a ``benchmarks/bench_video_decoder.py``
results JSON this reads the same frames (its protocol, its frame count), computes the source's
warping error and, at every rate point, sets it beside the warp decoder's, the diffusion
(``video``) decoder's and x265's at the same bpp (the bench's ``x265_at_bpp``). It then asks of the
**source** the two warping-error checks the decoders are held to: at most the targets' ratio (1.2)
times the warp decoder's, and at most x265's. A check the source fails cannot tell flicker from the
texture and noise a faithful decode must keep. A looking tool: it changes no check. (The bench
records the source's warping error itself since 2026-12-04; for its older JSONs this computes it.)

    ACTDIFF_OPENCV_SAMPLES_ROOT=... OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/source_flicker.py \\
        benchmarks/results/decoder_2d_residual_fine_unseen_cpu.json -o benchmarks/results/source_flicker_unseen_cpu.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from actdiff.data import load_protocol
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics.temporal import warping_error


def source_warping_error(path: str, protocol: str, frames: int) -> float:
    """Warping error of the first ``frames`` frames of ``path`` read at ``protocol`` (as the bench reads them)."""
    video = load_protocol(protocol).read(path)
    return warping_error(np.asarray(video.frames[:frames]), np.asarray(video.frames[:frames]))


def point_rows(clip: dict, source_we: float, ratio: float) -> list[dict]:
    """One row per rate point of a bench clip entry: the four warping errors and the source's checks."""
    rows = []
    for warp, video, verdict in zip(clip["rows"]["warp"], clip["rows"]["video"], clip["verdicts"]):
        x265 = verdict["x265_at_bpp"]["warping_error"]
        w, v = warp["metrics"]["warping_error"], video["metrics"]["warping_error"]
        rows.append({"clip": clip["clip"], "point": warp["quality_param"], "bpp": video["bpp"],
                     "warping_error": {"source": source_we, "warp": w, "video": v, "x265_at_bpp": x265},
                     "source_meets": {"warp_err_warp": source_we <= ratio * w, "warp_err_x265": source_we <= x265},
                     "video_meets": {"warp_err_warp": v <= ratio * w, "warp_err_x265": v <= x265},
                     "video_over_source": v / source_we})
    return rows


def tally(rows: list[dict], who: str) -> dict[str, int]:
    """How many points ``who`` (``source_meets`` | ``video_meets``) passes each warping-error check."""
    return {check: sum(bool(r[who][check]) for r in rows) for check in ("warp_err_warp", "warp_err_x265")}


def own_failures(rows: list[dict]) -> dict[str, list[str]]:
    """Per check, the points (``clip point``) the video decoder fails while the source passes."""
    return {check: [f"{r['clip']} {r['point']}" for r in rows
                    if r["source_meets"][check] and not r["video_meets"][check]]
            for check in ("warp_err_warp", "warp_err_x265")}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", type=Path, help="a benchmarks/bench_video_decoder.py results JSON")
    ap.add_argument("-o", "--output", type=Path, default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    bench = json.loads(args.results.read_text())
    ratio = float(bench["targets"]["flicker_ratio"])
    rows = []
    for clip in bench["clips"]:
        src = clip.get("source_warping_error")  # recorded by the bench since 2026-12-04
        if src is None:
            src = source_warping_error(clip["path"], bench["protocol"], int(clip["frames"]))
        rows += point_rows(clip, src, ratio)
        for r in rows[-len(clip["rows"]["warp"]):]:
            we = r["warping_error"]
            print(f"{r['clip']} {r['point']} bpp={r['bpp']:.4f} source={we['source']:.5f} warp={we['warp']:.5f} "
                  f"video={we['video']:.5f} x265={we['x265_at_bpp']:.5f} source meets {r['source_meets']}", flush=True)
    out = {"results": str(args.results), "machine": machine(), "flicker_ratio": ratio, "rows": rows,
           "points": len(rows), "source_meets": tally(rows, "source_meets"), "video_meets": tally(rows, "video_meets"),
           "video_at_most_source": sum(r["video_over_source"] <= 1.0 for r in rows),
           "video_fails_where_source_passes": own_failures(rows)}
    print(f"of {len(rows)} points, the source meets {out['source_meets']}; the video decoder {out['video_meets']}; "
          f"the video decoder's warping error is at most the source's at {out['video_at_most_source']}; "
          f"it fails where the source passes at {out['video_fails_where_source_passes']}")
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
