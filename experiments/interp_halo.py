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

    PYTHONPATH=. python experiments/interp_halo.py --edge -o benchmarks/results/interp_halo_synthetic.json

``--edge`` adds the same cases through the edge-aware field of :mod:`actdiff.motion.edge_field`
(guided by a keyframe showing the walker dark on a smooth texture), with and without its Gaussian
fallback.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.motion.edge_field import EdgeParams, guided_field
from actdiff.motion.fusion import EDGE_SIGMA_R, FusionParams
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


def keyframe() -> np.ndarray:
    """The decoded keyframe the edge-aware field is guided by, ``float32 (H, W, 3)`` in [0, 255]: a
    dark walker on a smooth random texture (grey levels 90–170)."""
    rng = np.random.default_rng(0)
    bg = cv2.GaussianBlur(rng.random((H, W, 3)).astype(np.float32), (0, 0), 3)
    img = (bg - bg.min()) / (bg.max() - bg.min()) * 80 + 90
    x0, y0, w, h = BOX
    img[y0:y0 + h, x0:x0 + w] = (40, 40, 60)
    return img


def measure(spacing: float, k: int, bandwidth: float, ring: float | None = None,
            edge: EdgeParams | None = None) -> dict:
    """``follow`` and ``spill`` (module docstring) of one case; ``edge``: with the edge-aware field
    guided by :func:`keyframe` (:mod:`actdiff.motion.edge_field`) instead of ``interpolate_sparse``."""
    pts, vals = scene(spacing, k, ring)
    if edge is None:
        u = interpolate_sparse(pts, vals, H, W, bandwidth)[0][..., 0]
    else:
        u = guided_field(keyframe(), pts, vals, bandwidth, edge)[..., 0]
    x0, y0, w, h = BOX
    inside = np.zeros((H, W), bool)
    inside[y0:y0 + h, x0:x0 + w] = True
    return {"spacing": spacing, "points_on_object": k, "bandwidth": bandwidth, "ring": ring,
            "field": "gaussian" if edge is None else f"edge (fallback {edge.fallback:g})",
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
    ap.add_argument("--edge", action="store_true",
                    help="also the edge-aware field (the warp decoder's prediction_params {edge_sigma_r: 120}), "
                         "with and without its Gaussian fallback, at every spacing, bandwidth and point count")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    rows = [measure(s, k, b) for s in args.spacing for b in args.bandwidths for k in args.points]
    rows += [measure(args.spacing[0], 4, b, d) for b in args.bandwidths for d in args.ring]
    if args.edge:
        chosen = FusionParams(edge_sigma_r=EDGE_SIGMA_R).edge()
        rows += [measure(s, k, b, edge=e) for e in (chosen, replace(chosen, fallback=0.0))
                 for s in args.spacing for b in args.bandwidths for k in args.points]
    for r in rows:
        ring = "" if r["ring"] is None else f" ring {r['ring']:g} px"
        print(f"{r['field']}: spacing {r['spacing']:g} px, bandwidth {r['bandwidth']:g} px, "
              f"{r['points_on_object']} on the walker{ring}: follow {r['follow']:.2f}, "
              f"spill {r['spill']:.2f} walker areas")
    if args.output:
        doc = {"walker": BOX, "move_px": MOVE, "frame": [W, H], "rows": rows, "machine": machine()}
        atomic_write_text(args.output, json.dumps(doc, indent=1) + "\n", overwrite=True)
    return 0


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
