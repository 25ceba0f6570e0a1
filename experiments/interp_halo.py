"""How the sparse-to-dense interpolation draws a small moving object: how much of it follows its
points, and how much background it drags along (a synthetic scene, no clip).

A 384×256 frame of static trajectories on a regular grid (``--spacing`` px, those that would fall on
the object removed) and a 16×40 px "walker" carrying ``k`` trajectories down its middle, all moving
12 px to the right; :func:`actdiff.motion.interpolate.interpolate_sparse` (the function the encoder's
selection, the warp decoder and the diffusion decoder's conditions all use) fills in the field at
each bandwidth. Per case it reports

* ``follow``: the share of the walker's pixels whose interpolated motion is above 75 % of its own;
* ``spill``: the background pixels moved by more than half of it, in walker areas (a halo that moves
  with the object: on a real clip, background carried along as a blob with a sharp edge).

``--ring D`` adds static points D px outside the walker's outline (what a selection that could place
points next to the object would send), to see how far nearby static points confine the halo.

    PYTHONPATH=. python experiments/interp_halo.py -o benchmarks/results/interp_halo_synthetic.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from actdiff.evaluation.results import machine
from actdiff.motion.interpolate import interpolate_sparse

H, W = 256, 384
BOX = (180, 108, 16, 40)  # walker: x0, y0, width, height (pixels)
MOVE = 12.0               # its displacement, pixels


def scene(spacing: float, k: int, ring: float | None) -> tuple[np.ndarray, np.ndarray]:
    """``(points (N, 2) px, values (N, 2) px)``: static grid, optional static ring, ``k`` moving points."""
    x0, y0, w, h = BOX
    gx, gy = np.meshgrid(np.arange(spacing / 2, W, spacing), np.arange(spacing / 2, H, spacing))
    bg = np.stack([gx.ravel(), gy.ravel()], 1)
    near = ((np.abs(bg[:, 0] - (x0 + w / 2)) < w / 2 + spacing / 2)
            & (np.abs(bg[:, 1] - (y0 + h / 2)) < h / 2 + spacing / 2))
    parts = [bg[~near]]
    if ring is not None:
        ys = np.arange(y0, y0 + h + 1, 10.0)
        parts += [np.stack([np.full(len(ys), x0 - ring), ys], 1),
                  np.stack([np.full(len(ys), x0 + w + ring + MOVE), ys], 1),  # ahead of the motion
                  np.array([[x0 + w / 2, y0 - ring], [x0 + w / 2, y0 + h + ring]])]
    ys = np.linspace(y0 + 5, y0 + h - 5, k) if k > 1 else np.array([y0 + h / 2])
    parts.append(np.stack([np.full(k, x0 + w / 2), ys], 1))
    pts = np.concatenate(parts)
    vals = np.zeros((len(pts), 2))
    vals[-k:, 0] = MOVE
    return pts, vals


def measure(spacing: float, k: int, bandwidth: float, ring: float | None = None) -> dict:
    """``follow`` and ``spill`` (module docstring) of one case."""
    pts, vals = scene(spacing, k, ring)
    u = interpolate_sparse(pts, vals, H, W, bandwidth)[0][..., 0]
    x0, y0, w, h = BOX
    inside = np.zeros((H, W), bool)
    inside[y0:y0 + h, x0:x0 + w] = True
    return {"spacing": spacing, "points_on_object": k, "bandwidth": bandwidth, "ring": ring,
            "follow": round(float((u[inside] > 0.75 * MOVE).mean()), 3),
            "spill": round(float(((u > 0.5 * MOVE) & ~inside).sum() / inside.sum()), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spacing", type=float, nargs="+", default=[28.0, 40.0], help="static grid spacing, px")
    ap.add_argument("--points", type=int, nargs="+", default=[1, 2, 4, 8], help="trajectories on the walker")
    ap.add_argument("--bandwidths", type=float, nargs="+", default=[3.9, 8.0], help="interpolation bandwidths, px")
    ap.add_argument("--ring", type=float, nargs="+", default=[4.0, 8.0, 12.0],
                    help="ring distances, px (with 4 points on the walker, the first spacing)")
    ap.add_argument("-o", "--output", type=Path, help="results JSON")
    args = ap.parse_args(argv)
    rows = [measure(s, k, b) for s in args.spacing for b in args.bandwidths for k in args.points]
    rows += [measure(args.spacing[0], 4, b, d) for b in args.bandwidths for d in args.ring]
    for r in rows:
        ring = "" if r["ring"] is None else f" ring {r['ring']:g} px"
        print(f"spacing {r['spacing']:g} px, bandwidth {r['bandwidth']:g} px, {r['points_on_object']} on the walker"
              f"{ring}: follow {r['follow']:.2f}, spill {r['spill']:.2f} walker areas")
    if args.output:
        args.output.write_text(json.dumps({"walker": BOX, "move_px": MOVE, "frame": [W, H], "rows": rows,
                                           "machine": machine()}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
