"""Where does one warp prediction fail locally where another does not? Block-wise, on the same streams.

Whole-clip metrics average a visible local failure (a background patch dragged into a smear) with
small gains everywhere else. This script decodes the SAME bitstream with two warp-decoder
settings, ``base`` and ``new`` (``FusionParams`` overrides as JSON), and compares them block by
block: every ``--block`` x ``--block`` block of every in-between frame gets its PSNR against the
source under both, and a block counts as a **local failure of new** when its PSNR is ``--drop`` dB
or more below base's (and as a **local fix** the other way round). Per stream it writes the counts,
the excess squared error of those blocks, and the worst blocks; ``--panels DIR`` draws, per stream,
the worst failures and the best fixes (rows: source | base | new, 3 blocks of context each side).

Usage (2 CPU cores; about 1 min per clip and rate point)::

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 .venv/bin/python experiments/local_failures.py \\
        --clips /work/shared/data/train_clips/{a,b}.mp4 --base '{"edge_sigma_r": 0}' --new '{}' \\
        --out experiments/results_prediction/local_failures_X.json [--panels DIR] [--cache DIR]

Streams as :mod:`experiments.prediction_eval` (``cpu`` protocol, rates ``default`` and ``low``),
so its ``--cache`` folders are shared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from prediction_eval import RATES, bitstream  # noqa: E402

from actdiff.codec import decode_video  # noqa: E402
from actdiff.codec.bitstream import read_bitstream  # noqa: E402
from actdiff.decoders import build_decoder  # noqa: E402
from actdiff.evaluation.results import atomic_write_text  # noqa: E402
from actdiff.io.files import refuse_outputs  # noqa: E402


def block_psnr(src: np.ndarray, rec: np.ndarray, block: int) -> np.ndarray:
    """PSNR (dB, capped at 60) of every ``block`` x ``block`` block, ``(T, H // block, W // block)``,
    of ``uint8 (T, H, W, 3)`` frames."""
    t, h, w = src.shape[:3]
    hb, wb = h // block, w // block
    d = (src[:, :hb * block, :wb * block].astype(np.float32) - rec[:, :hb * block, :wb * block]) ** 2
    mse = d.reshape(t, hb, block, wb, block, 3).mean(axis=(2, 4, 5))
    return np.minimum(60.0, 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10)))


def in_between(data: bytes, frames: int) -> np.ndarray:
    """``bool (T,)``: the frames that are not keyframes (the only ones a prediction makes)."""
    mask = np.ones(frames, bool)
    for s in read_bitstream(data).sections:  # the stream's structure only: no keyframe decoded
        mask[[s.segment.start, s.segment.end]] = False
    return mask


def _distinct(order: np.ndarray, shape: tuple, n: int, frames: int = 8) -> list:
    """The first ``n`` flat indices of ``order`` into ``(T, Hb, Wb)`` that are not within
    ``frames`` frames and one block of one already taken (one failure, not its neighbours)."""
    taken: list = []
    for i in order:
        f, y, x = np.unravel_index(i, shape)
        if all(abs(f - g) > frames or abs(y - v) > 1 or abs(x - u) > 1 for g, v, u in taken):
            taken.append((f, y, x))
            if len(taken) == n:
                break
    return [int(np.ravel_multi_index(t, shape)) for t in taken]


def compare(src: np.ndarray, base: np.ndarray, new: np.ndarray, mask: np.ndarray, block: int,
            drop: float, worst: int) -> dict:
    """Counts and worst blocks of ``new`` against ``base`` (see the module docstring)."""
    pb, pn = block_psnr(src, base, block), block_psnr(src, new, block)
    diff = np.where(mask[:, None, None], pn - pb, 0.0)
    mse = lambda p: 255.0**2 / 10 ** (p / 10)  # noqa: E731
    fail, fix = diff <= -drop, diff >= drop
    order = np.argsort(diff, axis=None)
    pick = lambda idx: [dict(zip(("frame", "by", "bx"), map(int, np.unravel_index(i, diff.shape))),  # noqa: E731
                             base_db=float(pb.flat[i]), new_db=float(pn.flat[i]))
                        for i in _distinct(idx, diff.shape, worst)]
    return {"blocks": int(mask.sum() * diff[0].size), "fail": int(fail.sum()), "fix": int(fix.sum()),
            "fail_excess_sse": float((mse(pn) - mse(pb))[fail].sum() * block * block),
            "fix_excess_sse": float((mse(pb) - mse(pn))[fix].sum() * block * block),
            "frames_with_fail": int(fail.any(axis=(1, 2)).sum()),
            "worst": pick(order[diff.flat[order] <= -drop]),
            "best": pick(order[::-1][diff.flat[order[::-1]] >= drop])}


def panel(src: np.ndarray, base: np.ndarray, new: np.ndarray, picks: list, block: int, title: str) -> np.ndarray:
    """Rows of ``source | base | new`` crops around each picked block, 7 blocks wide."""
    h, w = src.shape[1:3]
    rows = []
    for p in picks:
        y = int(np.clip((p["by"] - 3) * block, 0, h - 7 * block))
        x = int(np.clip((p["bx"] - 3) * block, 0, w - 7 * block))
        cells = [v[p["frame"], y:y + 7 * block, x:x + 7 * block].copy() for v in (src, base, new)]
        for c, text in zip(cells, (f"{title} f{p['frame']}", f"base {p['base_db']:.1f}", f"new {p['new_db']:.1f}")):
            cv2.rectangle(c, (3 * block, 3 * block), (4 * block - 1, 4 * block - 1), (255, 255, 0), 1)
            cv2.putText(c, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        rows.append(np.concatenate(cells, 1))
    return np.concatenate(rows, 0) if rows else np.zeros((1, 3 * 7 * block, 3), np.uint8)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", required=True)
    ap.add_argument("--rates", nargs="+", default=list(RATES), choices=list(RATES))
    ap.add_argument("--base", default='{"edge_sigma_r": 0}', help="JSON FusionParams overrides")
    ap.add_argument("--new", default="{}", help="JSON FusionParams overrides")
    ap.add_argument("--block", type=int, default=32)
    ap.add_argument("--drop", type=float, default=3.0, help="dB")
    ap.add_argument("--worst", type=int, default=4, help="blocks kept (and drawn) per direction and stream")
    ap.add_argument("--cache", default=None)
    ap.add_argument("--panels", default=None)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.out], args.overwrite)
    try:
        decs = {k: build_decoder("warp", prediction="select", prediction_params=json.loads(getattr(args, k)))
                for k in ("base", "new")}
    except (json.JSONDecodeError, TypeError, ValueError) as e:
        raise SystemExit(f"error: --base/--new: {e}") from None
    cv2.setNumThreads(1)
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent).stdout.strip()
    out = {"rev": rev, "base": args.base, "new": args.new, "block": args.block, "drop": args.drop, "results": []}
    for clip in args.clips:
        for rate in args.rates:
            data, src, stats = bitstream(Path(clip), rate, Path(args.cache) if args.cache else None)
            recs = {k: decode_video(data, d).frames for k, d in decs.items()}
            row = {"clip": Path(clip).name, "rate": rate, "bpp": stats["bpp"],
                   **compare(src, recs["base"], recs["new"], in_between(data, len(src)), args.block, args.drop,
                             args.worst)}
            out["results"].append(row)
            print(f"{Path(clip).stem[:22]:22s} {rate:7s} fail {row['fail']:4d} ({row['fail_excess_sse']:.3g}) "
                  f"fix {row['fix']:4d} ({row['fix_excess_sse']:.3g}) of {row['blocks']}", flush=True)
            if args.panels:
                Path(args.panels).mkdir(parents=True, exist_ok=True)
                img = np.concatenate([panel(src, recs["base"], recs["new"], row[k], args.block, k)
                                      for k in ("worst", "best")], 0)
                name = str(Path(args.panels) / f"{Path(clip).stem}_{rate}.jpg")
                cv2.imwrite(name, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    tot = {k: sum(r[k] for r in out["results"]) for k in ("fail", "fix", "fail_excess_sse", "fix_excess_sse")}
    print(f"total: fail {tot['fail']} fix {tot['fix']}, excess SSE fail {tot['fail_excess_sse']:.4g} "
          f"fix {tot['fix_excess_sse']:.4g}")
    atomic_write_text(args.out, json.dumps(out, indent=1) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
