"""Decoder-side motion error of the trajectory selectors on a synthetic scene family.

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_selection.py [--bits] [--clip] [--seeds N]

Scenes (384×256, 13 frames, smooth random textures, fixed seeds, exact dense motion with
occlusions): ``pan_object`` (global pan + a small rotating object), ``zoom_rotate`` (zoom +
rotation + a little perspective), ``two_objects`` (slow pan, two objects moving differently),
``static_fg`` (static background, moving foreground). For each selector (greedy with the
Sobel weight map, uniform, motion, greedy with no weight map) and budget it prints the
weighted (Sobel + 0.05, as the method) and unweighted mean end-point error in pixels of the
backward maps the warp decoder builds (:func:`actdiff.selection.decoder_error.decoder_error`),
averaged over seeds, plus the selection time. ``--bits``: the same at equal trajectory bit
budgets (the codec's real cost: smoothing, temporal stride, entropy coder). ``--clip``: a
sanity row on the bundled sample clip (DIS motion, first segments, 48 points).
"""

import argparse
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np
from omegaconf import OmegaConf

from actdiff.registry import WEIGHT_MAPS
from actdiff.selection import select_trajectories
from actdiff.selection.decoder_error import WEIGHT_FLOOR, decoder_error
from actdiff.types import DenseMotion

H, W, T = 256, 384, 13
SELECTORS = [("greedy", "sobel"), ("uniform", "sobel"), ("motion", "sobel"), ("greedy", "none")]


def texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth random colour texture ``float32 (h, w, 3)`` in [0, 255] (two scales)."""
    fine = cv2.GaussianBlur(rng.uniform(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 2.0)
    coarse = cv2.GaussianBlur(rng.uniform(0, 1, (h, w, 3)).astype(np.float32), (0, 0), 8.0)
    img = (fine - fine.mean()) / fine.std() + 0.7 * (coarse - coarse.mean()) / coarse.std()
    return np.clip(128 + 40 * img, 0, 255).astype(np.float32)


def similarity(cx: float, cy: float, tx: float, ty: float, deg: float = 0.0, scale: float = 1.0,
               persp: Tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """3×3 map of frame-0 coords: rotate/scale about ``(cx, cy)``, translate, perspective."""
    a = np.deg2rad(deg)
    r = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    m = np.eye(3)
    m[:2, :2] = r
    m[:2, 2] = np.array([cx, cy]) - r @ np.array([cx, cy]) + [tx, ty]
    m[2, :2] = persp
    return m


@dataclass
class Layer:
    """Frame-0 mask (ellipse or box) and per-frame 3×3 maps frame 0 → frame t."""

    maps: List[np.ndarray]
    centre: Tuple[float, float] = (0.0, 0.0)
    half: Tuple[float, float] = (1e9, 1e9)
    box: bool = False
    tex: Optional[np.ndarray] = field(default=None, repr=False)

    def inside(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u, v = (x - self.centre[0]) / self.half[0], (y - self.centre[1]) / self.half[1]
        return np.maximum(abs(u), abs(v)) <= 1 if self.box else u * u + v * v <= 1


def apply(m: np.ndarray, x: np.ndarray, y: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    d = m[2, 0] * x + m[2, 1] * y + m[2, 2]
    return (m[0, 0] * x + m[0, 1] * y + m[0, 2]) / d, (m[1, 0] * x + m[1, 1] * y + m[1, 2]) / d


def scene_layers(kind: str, rng: np.random.Generator) -> List[Layer]:
    """Background first, then objects (later ones on top); small random jitter per seed."""
    j = lambda s: float(rng.uniform(1 - s, 1 + s))  # noqa: E731
    cx, cy = W / 2, H / 2
    if kind == "pan_object":
        return [Layer([similarity(cx, cy, 1.2 * j(.3) * t, 0.5 * t) for t in range(T)]),
                Layer([similarity(120, 140, -2.5 * j(.3) * t, 1.5 * t, deg=1.0 * t) for t in range(T)],
                      (120, 140), (28, 22))]
    if kind == "zoom_rotate":
        return [Layer([similarity(cx * j(.2), cy, 0, 0, deg=0.6 * j(.3) * t, scale=1 + 0.012 * t,
                                  persp=(1.5e-5 * t, -1e-5 * t)) for t in range(T)])]
    if kind == "two_objects":
        return [Layer([similarity(cx, cy, 0.5 * t, 0) for t in range(T)]),
                Layer([similarity(100, 80, 2.5 * j(.3) * t, 1.0 * t) for t in range(T)], (100, 80), (36, 28), True),
                Layer([similarity(280, 170, -2.0 * t, -1.5 * j(.3) * t, scale=1.01 ** t) for t in range(T)],
                      (280, 170), (40, 30))]
    if kind == "static_fg":
        return [Layer([np.eye(3) for _ in range(T)]),
                Layer([similarity(200, 140, 1.8 * j(.3) * t, -0.8 * t, deg=1.5 * t) for t in range(T)],
                      (200, 140), (70, 55))]
    raise ValueError(kind)


KINDS = ("pan_object", "zoom_rotate", "two_objects", "static_fg")


def make_scene(kind: str, seed: int) -> Tuple[np.ndarray, DenseMotion]:
    """Frame 0 ``uint8 (H, W, 3)`` and the exact dense motion (confidence 0 where occluded or
    out of the frame)."""
    rng = np.random.default_rng(seed)
    layers = scene_layers(kind, rng)
    gy, gx = np.mgrid[0:H, 0:W].astype(np.float64)
    owner = np.zeros((H, W), int)
    frame = texture(rng, H, W)
    for k, layer in enumerate(layers[1:], 1):
        layer.tex = texture(rng, H, W) * rng.uniform(0.5, 1.0, 3)
        m = layer.inside(gx, gy)
        owner[m] = k
        frame[m] = layer.tex[m]
    flow = np.zeros((T, H, W, 2), np.float32)
    conf = np.ones((T, H, W), np.float32)
    for t in range(1, T):
        for k, layer in enumerate(layers):
            m = owner == k
            x, y = apply(layer.maps[t], gx[m], gy[m])
            flow[t][m] = np.stack([x - gx[m], y - gy[m]], -1)
            vis = (x >= 0) & (x <= W - 1) & (y >= 0) & (y <= H - 1)
            for above in layers[k + 1:]:  # occluded by a layer on top at time t
                ux, uy = apply(np.linalg.inv(above.maps[t]), x, y)
                vis &= ~above.inside(ux, uy)
            conf[t][m] = vis
    return frame.astype(np.uint8), DenseMotion(flow, conf)


def run_selector(frame, motion, name, wmap, budget_points=None, budget_bits=None, cost=None):
    cfg = OmegaConf.load("configs/codec/default.yaml").trajectories
    cfg.name, cfg.weight_map = name, wmap
    cfg.budget_points, cfg.budget_bits = budget_points, budget_bits
    t0 = time.perf_counter()
    tracks, bw = select_trajectories(frame, motion, cfg, 0.3, cost_bits=cost)
    return tracks, bw, time.perf_counter() - t0


def evaluate(frame, motion, tracks, bw) -> Tuple[float, float]:
    weight = WEIGHT_MAPS.get("sobel")(frame) + WEIGHT_FLOOR
    return decoder_error(tracks, motion, bw, weight), decoder_error(tracks, motion, bw)


def table(scenes, budgets, mode: str, cost_for: Optional[Callable] = None) -> None:
    unit = "bits" if mode == "bits" else "pts"
    head = " | ".join(f"{n}/{w}" for n, w in SELECTORS)
    print(f"\n## budget in {unit}: weighted EPE px (unweighted) [points] — {head}")
    for kind in scenes:
        for b in budgets:
            row = []
            for name, wmap in SELECTORS:
                ew, eu, npts, secs = [], [], [], []
                for frame, motion in scenes[kind]:
                    if mode == "bits":
                        tr, bw, s = run_selector(frame, motion, name, wmap, None, b, cost_for(frame))
                    else:
                        tr, bw, s = run_selector(frame, motion, name, wmap, b)
                    a, u = evaluate(frame, motion, tr, bw)
                    ew.append(a), eu.append(u), npts.append(tr.num_points), secs.append(s)
                ms = 1000 * np.mean(secs) / T
                row.append(f"{np.mean(ew):.3f} ({np.mean(eu):.3f}) [{np.mean(npts):.0f}] {ms:.1f}ms/f")
            print(f"{kind:12s} {b:5d} | " + " | ".join(row))


def cost_function(frame):
    from actdiff.codec.encoder import TrackCoding
    from actdiff.registry import TRAJECTORY_CODERS

    codec = OmegaConf.load("configs/codec/default.yaml")
    coder = TRAJECTORY_CODERS.build(codec.entropy.name, step=float(codec.entropy.step))
    return TrackCoding(codec, coder, frame.shape[0], frame.shape[1]).cost_bits


def clip_rows(budget: int = 48, segments: int = 4) -> None:
    from bench_analysis import load  # noqa: E402  (same directory)

    from actdiff.registry import TRACKERS
    from actdiff.selection import select_segments
    from actdiff.tracking import chain_flows

    frames = load("actdiff/assets/sample/bigbuckbunny_256x384.mp4")
    cfg = OmegaConf.load("configs/codec/default.yaml")
    tracker = TRACKERS.build("dis", **{k: v for k, v in cfg.tracker.items() if k != "name"})
    fw, bwd = tracker.pairwise_flows(frames)
    segs = [s for s in select_segments(frames, tracker, cfg.keyframes, flows=(fw, bwd)) if s.length > 2][:segments]
    print(f"\n## sample clip (sanity only), {len(segs)} segments, {budget} points: weighted EPE (unweighted)")
    for name, wmap in SELECTORS:
        ew, eu = [], []
        for s in segs:
            motion = chain_flows(fw, bwd, s.start, s.end, tracker.fb_threshold)
            tr, bw, _ = run_selector(frames[s.start], motion, name, wmap, budget)
            a, u = evaluate(frames[s.start], motion, tr, bw)
            ew.append(a), eu.append(u)
        print(f"{name}/{wmap}: {np.mean(ew):.3f} ({np.mean(eu):.3f})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bits", action="store_true")
    ap.add_argument("--clip", action="store_true")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--kinds", default=",".join(KINDS))  # noqa: F821
    ap.add_argument("--budgets", default="16,48,128")
    args = ap.parse_args()
    kinds = tuple(args.kinds.split(","))
    scenes = {k: [make_scene(k, s) for s in range(args.seeds)] for k in kinds}
    budgets = [int(b) for b in args.budgets.split(",")]
    table(scenes, budgets, "points")
    if args.bits:
        table(scenes, [24 * b for b in budgets], "bits", cost_function)
    if args.clip:
        clip_rows()


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
