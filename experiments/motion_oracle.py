"""Where do the frames between keyframes lose? The warp decoder's in-between frames against oracles.

The RD search measures (benchmarks/bench_rd_frame_vmaf.py) that the frames between keyframes
score far below the keyframes. This script splits that loss on TRAINING-corpus files (never the
clips results are reported on), fast mode, cpu protocol, per in-between frame ``t`` of every
segment, using the keyframe nearer in time (the start keyframe for ``τ = t/(L-1) ≤ 0.5``, else the
end keyframe) so that each row warps ONE image:

* ``decoded``: the warp decoder's output (both keyframes fused) — what ships;
* ``tracks``: the nearer decoded keyframe warped along the motion interpolated from the decoded
  trajectories (``dense_flow_from_tracks``) — the decoder's one-keyframe prediction;
* ``endpoint_linear``: the nearer decoded keyframe warped along ``τ`` (or ``1-τ``) times the dense
  DIS flow between the two SOURCE keyframes — a perfect endpoint motion, linear in time; what a
  decoder-side flow between the decoded keyframes could at best add to the tracks;
* ``oracle_flow``: the nearer decoded keyframe warped along the dense DIS flow from the SOURCE
  frame ``t`` to the source keyframe — a dense per-frame motion, the ceiling of a better motion
  description with these keyframes;
* ``oracle_flow_source_key``: the same flow warping the SOURCE keyframe — what keyframe coding
  costs on top;
* ``tracks_colour`` (``--colour``): like ``tracks``, but each trajectory's displacement reaches a
  pixel of frame ``t`` only as far as the pixel's colour in the ``tracks`` prediction matches the
  trajectory's colour in the nearer decoded keyframe (a joint-bilateral normalised convolution,
  spatial sigma = the stream's bandwidth, colour sigma ``--colour`` grey levels, falling back to
  the ``tracks`` field where no trajectory matches) — decoded data only, so a candidate decoder
  interpolation that can draw motion boundaries the smooth one blurs;
* ``tracks_key`` (``--key-colour``): the same idea drawn FORWARD on the decoded keyframe's own
  grid, where the guide's colours are right at motion boundaries: the trajectories' displacements
  spread from their keyframe positions by that joint-bilateral convolution over the smooth forward
  field, then inverted by splatting (:func:`key_guided`); ``tracks_key_z`` (``--z-gain``) lets what
  moves against the global trend win where splats collide;
* ``grid<N>`` (``--grids``): that dense flow read at about ``N`` points on a regular grid of frame
  ``t`` and interpolated back with the decoder's interpolator (:func:`interpolate_sparse`,
  bandwidth = the grid spacing) — what ``N`` exactly known, evenly spread points per frame give,
  against the segment's budget of decoded trajectories.

Reported per clip and rate point: mean PSNR and coarse-scale PSNR (``psnr_lowres``) over the
in-between frames. Oracles read the source, so they are measurements, never decoder options.

    OMP_NUM_THREADS=2 PYTHONPATH=. .venv/bin/python experiments/motion_oracle.py \\
        --clips davis_dogs_jump mmaction_basketball tav_snowboard sadtalker_face_a \\
        --grids 48 192 768 -o benchmarks/results/motion_oracle_train_cpu.json
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import torch

from actdiff.codec import decode_video
from actdiff.codec.decoder import decode_segments
from actdiff.evaluation.rates import training_streams
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics.full_reference import psnr, psnr_lowres
from actdiff.motion.interpolate import dense_flow_from_tracks, eval_trend, interpolate_sparse, interpolation_trend
from actdiff.motion.warp import backward_warp, pixel_grid, splat_bilinear

ROWS = ("decoded", "tracks", "endpoint_linear", "oracle_flow", "oracle_flow_source_key")


def _scores(ref: np.ndarray, rec: np.ndarray) -> tuple[float, float]:
    """(PSNR, coarse PSNR) in dB of one ``(H, W, 3)`` frame in [0, 255] against the source's."""
    x, y = (torch.from_numpy(np.clip(np.asarray(a, np.float32), 0, 255) / 255.0).permute(2, 0, 1)[None]
            for a in (ref, rec))
    return float(psnr(x, y)), float(psnr_lowres(x, y))


def _flow(dis: cv2.DISOpticalFlow, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIS flow ``float32 (H, W, 2)`` from RGB ``a`` to RGB ``b`` (``a``'s grid)."""
    return dis.calc(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), None)


def grid_flow(flow: np.ndarray, n: int) -> np.ndarray:
    """``flow (H, W, 2)`` read at about ``n`` evenly spread points (cell centres) and interpolated
    back to ``(H, W, 2)`` with :func:`interpolate_sparse` at the grid spacing."""
    h, w = flow.shape[:2]
    nx = max(1, round(np.sqrt(n * w / h)))
    ny = max(1, round(n / nx))
    xs = (np.arange(nx) + 0.5) * w / nx - 0.5
    ys = (np.arange(ny) + 0.5) * h / ny - 0.5
    px, py = np.meshgrid(xs, ys)
    pts = np.stack([px.ravel(), py.ravel()], -1).astype(np.float32)
    vals = flow[np.clip(np.rint(pts[:, 1]), 0, h - 1).astype(int), np.clip(np.rint(pts[:, 0]), 0, w - 1).astype(int)]
    dense, _ = interpolate_sparse(pts, vals, h, w, max(w / nx, h / ny))
    return dense


def _key_points(tracks, t: int, ref: int, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The trajectories visible at ``t`` and ``ref``: positions ``(N, 2)`` at each, their colours
    ``(N, 3)`` in the blurred keyframe, and that blurred keyframe ``float32 (H, W, 3)``; ``N`` may be 0."""
    ok = tracks.visible[t] & tracks.visible[ref]
    pos_t, pos_ref = tracks.positions[t][ok], tracks.positions[ref][ok]
    smooth_key = cv2.GaussianBlur(key.astype(np.float32), (0, 0), 1.5)
    if len(pos_ref) == 0:  # cv2.remap refuses an empty map
        return pos_t, pos_ref, np.zeros((0, 3), np.float32), smooth_key
    return pos_t, pos_ref, backward_warp(smooth_key, pos_ref[None].astype(np.float32))[0], smooth_key


def colour_guided(back: np.ndarray, tracks, t: int, ref: int, key: np.ndarray, guess: np.ndarray,
                  bandwidth: float, colour_sigma: float) -> np.ndarray:
    """Backward map ``(H, W, 2)`` of frame ``t`` into ``key`` (frame ``ref``): the trajectories'
    displacements spread by a joint-bilateral normalised convolution guided by ``guess`` (frame
    ``t`` as predicted along ``back``, ``(H, W, 3)`` in [0, 255]); where no trajectory is near in
    both space and colour the map stays ``back`` (prior weight 0.05 of one point's peak)."""
    h, w = back.shape[:2]
    pos_t, pos_ref, colours, _ = _key_points(tracks, t, ref, key)
    if len(pos_t) == 0:
        return back
    guide = cv2.GaussianBlur(guess.astype(np.float32), (0, 0), 1.5)
    ident = pixel_grid(h, w)
    return ident + _bilateral_points(back - ident, pos_t, pos_ref - pos_t, colours, guide, bandwidth, colour_sigma)


def _bilateral_points(prior: np.ndarray, centres: np.ndarray, values: np.ndarray, colours: np.ndarray,
                      guide: np.ndarray, bandwidth: float, colour_sigma: float,
                      prior_weight: float = 0.05) -> np.ndarray:
    """``values (N, 2)`` at ``centres (N, 2)`` spread over the grid of ``guide (H, W, 3)`` by a
    joint-bilateral normalised convolution (spatial sigma ``bandwidth`` px, colour sigma
    ``colour_sigma`` against ``colours (N, 3)``), over ``prior (H, W, 2)`` of weight ``prior_weight``."""
    h, w = prior.shape[:2]
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    num, den = prior_weight * prior, np.full((h, w, 1), prior_weight, np.float32)
    r = int(3 * bandwidth) + 1
    for (x, y), d, c in zip(centres, values, colours):
        x0, x1, y0, y1 = max(0, int(x) - r), min(w, int(x) + r + 1), max(0, int(y) - r), min(h, int(y) + r + 1)
        if x0 >= x1 or y0 >= y1:
            continue
        ws = np.exp(-((gx[y0:y1, x0:x1] - x) ** 2 + (gy[y0:y1, x0:x1] - y) ** 2) / (2 * bandwidth ** 2))
        wc = np.exp(-((guide[y0:y1, x0:x1] - c) ** 2).sum(-1) / (2 * colour_sigma ** 2))
        num[y0:y1, x0:x1] += (ws * wc)[..., None] * d
        den[y0:y1, x0:x1] += (ws * wc)[..., None]
    return num / den


def key_guided(back: np.ndarray, tracks, t: int, ref: int, key: np.ndarray, bandwidth: float,
               colour_sigma: float, z_gain: float = 0.0) -> np.ndarray:
    """Backward map ``(H, W, 2)`` of frame ``t`` into ``key`` (frame ``ref``) from a FORWARD field
    drawn on the keyframe's own grid: the trajectories' displacements ``pos_t - pos_ref`` spread
    from ``pos_ref`` by a joint-bilateral normalised convolution guided by the decoded keyframe's
    colours (which, unlike a warped guess, are right at motion boundaries), over the smooth
    interpolator's forward field; then inverted by splatting each keyframe pixel's way back at
    where it lands (``z_gain`` > 0: a landing pixel's weight grows as ``exp(z_gain · |its motion −
    the trend|)``, so what moves against the scene wins occlusions). Where fewer than one pixel
    lands, the map blends into ``back``. Decoded data only."""
    h, w = back.shape[:2]
    pos_t, pos_ref, colours, guide = _key_points(tracks, t, ref, key)
    if len(pos_t) == 0:
        return back
    smooth, _ = interpolate_sparse(pos_ref, pos_t - pos_ref, h, w, bandwidth)
    fwd = _bilateral_points(smooth, pos_ref, pos_t - pos_ref, colours, guide, bandwidth, colour_sigma)
    ident = pixel_grid(h, w)
    land = (ident + fwd).reshape(-1, 2)
    weight = np.ones(h * w)
    if z_gain > 0:
        trend = eval_trend(interpolation_trend(pos_ref, pos_t - pos_ref, h, w), h, w)
        weight = np.exp(np.minimum(z_gain * np.linalg.norm(fwd - trend, axis=-1), 30.0)).ravel()
    num, den = splat_bilinear(land[:, 0], land[:, 1], -fwd.reshape(-1, 2), weight, h, w)
    _, cover = splat_bilinear(land[:, 0], land[:, 1], np.zeros((h * w, 1)), np.ones(h * w), h, w)
    inv = (num / np.maximum(den, 1e-9)[..., None]).astype(np.float32)
    alpha = np.clip(cover, 0, 1)[..., None].astype(np.float32)
    return ident + alpha * inv + (1 - alpha) * (back - ident)


def measure(src: np.ndarray, data: bytes, grids: tuple[int, ...] = (),
            colour: float = 0.0, key_colour: float = 0.0, z_gain: float = 0.0) -> dict[str, dict[str, float]]:
    """Mean PSNR / coarse PSNR per row over the in-between frames of one stream (``grids``: the
    ``grid<N>`` rows to add; ``colour`` > 0: the ``tracks_colour`` row with that colour sigma)."""
    header, segs = decode_segments(data, trusted=True)
    decoded = np.asarray(decode_video(data, "warp").frames)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    h, w = src.shape[1:3]
    grid = pixel_grid(h, w)
    extra = (tuple(f"grid{n}" for n in grids) + (("tracks_colour",) if colour > 0 else ())
             + (("tracks_key",) if key_colour > 0 else ())
             + (("tracks_key_z",) if key_colour > 0 and z_gain > 0 else ()))
    vals: dict[str, list] = {k: [] for k in ROWS + extra}
    for seg in segs:
        s0, length = seg.segment.start, seg.segment.length
        if length < 3:
            continue
        ends = (src[s0], src[s0 + length - 1])
        endpoint = (_flow(dis, ends[1], ends[0]), _flow(dis, ends[0], ends[1]))  # on the far key's grid
        for t in range(1, length - 1):
            tau = t / (length - 1)
            near = 0 if tau <= 0.5 else 1
            ref = 0 if near == 0 else length - 1
            key, key_src, frac = (seg.key_start, ends[0], tau) if near == 0 else (seg.key_end, ends[1], 1 - tau)
            frame = src[s0 + t]
            back, _ = dense_flow_from_tracks(seg.tracks, t, ref, h, w, seg.bandwidth)
            flow = _flow(dis, frame, key_src)
            oracle = grid + flow
            preds = {
                "decoded": decoded[s0 + t],
                "tracks": backward_warp(key, back),
                # frame t's pixel p was at about p + frac * (flow far key -> near key)(p) in the near key
                "endpoint_linear": backward_warp(key, grid + frac * endpoint[near]),
                "oracle_flow": backward_warp(key, oracle),
                "oracle_flow_source_key": backward_warp(key_src, oracle),
                **{f"grid{n}": backward_warp(key, grid + grid_flow(flow, n)) for n in grids},
            }
            if colour > 0:
                guided = colour_guided(back, seg.tracks, t, ref, key, preds["tracks"], seg.bandwidth, colour)
                preds["tracks_colour"] = backward_warp(key, guided)
            if key_colour > 0:
                preds["tracks_key"] = backward_warp(key, key_guided(back, seg.tracks, t, ref, key, seg.bandwidth,
                                                                    key_colour))
                if z_gain > 0:
                    preds["tracks_key_z"] = backward_warp(key, key_guided(back, seg.tracks, t, ref, key, seg.bandwidth,
                                                                          key_colour, z_gain))
            for k, img in preds.items():
                vals[k].append(_scores(frame, img))
    return {k: {"psnr": float(np.mean([a for a, _ in v])), "psnr_lowres": float(np.mean([b for _, b in v])),
                "frames": len(v)} for k, v in vals.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", required=True, help="names of training-corpus files")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("--grids", type=int, nargs="*", default=[], help="add grid<N> rows for these N")
    ap.add_argument("--colour", type=float, default=0.0,
                    help="add the tracks_colour row with this colour sigma (grey levels, RGB distance)")
    ap.add_argument("--key-colour", type=float, default=0.0,
                    help="add the tracks_key row (forward field guided by the decoded keyframe) with this colour sigma")
    ap.add_argument("--z-gain", type=float, default=0.0,
                    help="with --key-colour: add tracks_key_z, occlusions won by motion against the trend (per px)")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    cv2.setNumThreads(1)
    out = {"args": vars(args), "machine": machine(), "rows": []}
    for name, src, point, res in training_streams(args.clips, args.rates, args.frames):
        bpp = res.stats["bpp"]
        m = measure(src, res.data, tuple(args.grids), args.colour, args.key_colour, args.z_gain)
        segs = decode_segments(res.data, trusted=True)[1]
        out["rows"].append({"clip": name, "point": point, "bpp": bpp, "segments": len(segs),
                            "trajectories": int(sum(s.tracks.num_points for s in segs)), **m})
        print(f"{name} {point} {bpp:.4f}bpp " + " ".join(
            f"{k} {v['psnr']:.2f}/{v['psnr_lowres']:.2f}" for k, v in m.items()), flush=True)
        if args.output:
            atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
