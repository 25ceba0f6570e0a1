"""How much of the blend's coarse band should sit under the diffusion decoder's residual?

The diffusion decoder's ``detail`` base (actdiff/decoders/diffusion.py) is
``prediction + β · G(blend − prediction)``: the warp decoder's fused frame (``prediction``, one
warped keyframe chosen per pixel along the refined motion) with its coarse band (Gaussian ``G`` of
4 px) moved a share ``β`` (``detail_mix``) toward the time/confidence blend of the two warped
keyframes (``blend``: a hedge where they disagree). ``β = 1`` was the shipped default until
2026-12-02. This script measures the images under the residual only (no model: the residual adds
fine texture, the coarse band is the base's), per in-between frame of fast-mode streams of
TRAINING-corpus files (never the clips results are reported on), cpu protocol, 96 frames:
PSNR / coarse PSNR (``psnr_lowres``) of ``prediction``, ``blend`` and the base at each ``β``.

``--gates`` adds per-pixel and per-frame gated hedges at ``β_max = 0.5`` and an oracle:

* ``evidence=e0``: ``prediction + G(β(x) · (blend − prediction))`` with
  ``β(x) = β_max · exp(−(ev/e0)²)``, ``ev`` the fusion's log-weight difference without its time
  term (confidence and forward–backward evidence, ``G``-blurred): hedge only where the fusion chose
  a warp by time alone (``actdiff/motion/fusion.py``);
* ``time``: ``β = β_max · 4τ(1 − τ)``, the hedge largest mid-segment;
* ``frame-oracle``: the best of the ``--mixes`` (and 0) per frame, chosen with the source: the most
  any per-frame rule over these ``β`` could gain.

``--oracles`` adds the frame oracle (without the gates) and a ``segment-oracle``: the one ``β`` of
the ``--mixes`` (and 0) per segment of best mean coarse PSNR over its in-between frames, chosen
with the source. An encoder could choose that and send it in a few bits per segment
(the decoder reads only the stream); the gap between it and ``mix=0.5`` is what such a signal would
be worth.

    OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/coarse_hedge.py \\
        --clips davis_dogs_jump sadtalker_face_a intel_person_room pysot_bag intel_bottles \\
        mmaction_two_people tav_rabbit askanything_yoga cutie_singer davis_car_turn \\
        -o benchmarks/results/coarse_hedge_train_cpu.json
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np
import torch

from actdiff.codec.decoder import decode_segments
from actdiff.evaluation.rates import training_streams
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics.full_reference import psnr, psnr_lowres
from actdiff.motion.fusion import fuse_frame
from actdiff.motion.prediction import blend_warps, warp_keyframes


def scores(ref: np.ndarray, img: np.ndarray) -> tuple[float, float]:
    """(PSNR, coarse PSNR) in dB of a ``(H, W, 3)`` image in [0, 255] (rounded to 8 bits first)."""
    x, y = (torch.from_numpy(np.clip(np.round(np.asarray(a, np.float32)), 0, 255) / 255.0).permute(2, 0, 1)[None]
            for a in (ref, img))
    return float(psnr(x, y)), float(psnr_lowres(x, y))


def coarse(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``(H, W, 3)`` by ``sigma`` px (reflected borders, as the decoder's)."""
    return cv2.GaussianBlur(np.asarray(x, np.float32), (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


#: ``e0`` of the evidence gates and ``β_max`` of every gate (``--gates``).
EVIDENCE_SCALES = (0.5, 1.0, 2.0, 4.0)
GATE_MAX = 0.5


def candidates(seg, t: int, mixes: list[float], sigma: float, gates: bool = False) -> dict[str, np.ndarray]:
    """The images under the residual at segment-relative frame ``t``, by label."""
    tau = t / (seg.segment.length - 1)
    pred, diag = fuse_frame(seg, t)
    w0, c0, w1, c1 = warp_keyframes(seg, t, float(seg.bandwidth))
    blend = blend_warps(w0, c0[..., None], w1, c1[..., None], tau)
    low = coarse(blend - pred, sigma)
    out = {"prediction": pred, "blend": blend, **{f"mix={b:g}": pred + b * low for b in mixes}}
    if gates:
        ev = np.abs(diag["ell1"] - diag["ell0"] - np.log(tau / (1.0 - tau))).astype(np.float32)
        ev = coarse(ev, sigma)[..., None]
        for e0 in EVIDENCE_SCALES:
            out[f"evidence={e0:g}"] = pred + coarse(GATE_MAX * np.exp(-(ev / e0) ** 2) * (blend - pred), sigma)
        out["time"] = pred + GATE_MAX * 4.0 * tau * (1.0 - tau) * low
    return out


def segment_choice(frames: list[dict[str, tuple[float, float]]], labels: list[str]) -> str:
    """The label of best mean coarse PSNR over a segment's frames (the reported metric is the mean
    of per-frame dB, so this, not the least squared error, bounds what a choice can gain on it);
    ties → the first of ``labels``."""
    return max(labels, key=lambda k: float(np.mean([f[k][1] for f in frames])))


def measure(src: np.ndarray, data: bytes, mixes: list[float], sigma: float,
            gates: bool = False, oracles: bool = False) -> dict[str, dict[str, float]]:
    """Mean PSNR / coarse PSNR per label over the in-between frames of one stream."""
    _, segs = decode_segments(data, trusted=True)
    vals: dict[str, list[tuple[float, float]]] = {}
    oracle = ["prediction", *(f"mix={b:g}" for b in mixes)]
    for seg in segs:
        frames = []
        for t in range(1, seg.segment.length - 1):
            frame = {label: scores(src[seg.segment.start + t], img)
                     for label, img in candidates(seg, t, mixes, sigma, gates).items()}
            if gates or oracles:  # the mix of best coarse PSNR on this frame, by the source
                frame["frame-oracle"] = frame[max(oracle, key=lambda k: frame[k][1])]
            frames.append(frame)
        if oracles and frames:  # one mix for the whole segment, by the source
            best = segment_choice(frames, oracle)
            for frame in frames:
                frame["segment-oracle"] = frame[best]
        for frame in frames:
            for label, v in frame.items():
                vals.setdefault(label, []).append(v)
    return {k: {"psnr": float(np.mean([a for a, _ in v])), "psnr_lowres": float(np.mean([b for _, b in v])),
                "frames": len(v)} for k, v in vals.items()}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", nargs="+", required=True, help="names of training-corpus files")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("--mixes", type=float, nargs="+", default=[1.0, 0.75, 0.5, 0.25])
    ap.add_argument("--sigma", type=float, default=4.0, help="the decoder's detail_sigma, px")
    ap.add_argument("--gates", action="store_true",
                    help="also the evidence and time gated hedges and the per-frame oracle (docstring)")
    ap.add_argument("--oracles", action="store_true",
                    help="also the per-frame and the per-segment oracle (the source chooses the mix)")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    cv2.setNumThreads(1)
    out = {"args": vars(args), "machine": machine(), "rows": []}
    for name, src, point, res in training_streams(args.clips, args.rates, args.frames):
        m = measure(src, res.data, args.mixes, args.sigma, args.gates, args.oracles)
        out["rows"].append({"clip": name, "point": point, "bpp": res.stats["bpp"], **m})
        print(f"{name} {point} " + " ".join(f"{k} {v['psnr']:.2f}/{v['psnr_lowres']:.2f}"
                                            for k, v in m.items()), flush=True)
    labels = [k for k in out["rows"][0] if k not in ("clip", "point", "bpp")] if out["rows"] else []
    out["mean"] = {k: {m: float(np.mean([r[k][m] for r in out["rows"]])) for m in ("psnr", "psnr_lowres")}
                   for k in labels}
    out["min_coarse_gain_over_prediction"] = {
        k: float(min(r[k]["psnr_lowres"] - r["prediction"]["psnr_lowres"] for r in out["rows"])) for k in labels}
    if "mix=0.5" in labels:  # the shipped detail_mix
        out["coarse_gain_over_mix_0.5"] = {k: {
            "mean": float(np.mean([r[k]["psnr_lowres"] - r["mix=0.5"]["psnr_lowres"] for r in out["rows"]])),
            "streams_above": int(sum(r[k]["psnr_lowres"] > r["mix=0.5"]["psnr_lowres"] for r in out["rows"]))}
            for k in labels}
    print("mean " + " ".join(f"{k} {v['psnr']:.3f}/{v['psnr_lowres']:.3f}" for k, v in out["mean"].items()))
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
