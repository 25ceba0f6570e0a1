"""Is the diffusion decoder's extra warping error flicker, or what the metric charges for fine texture?

Issue 13 holds the default decoder's warping error to at most 1.2x the warp decoder's. The
warping error (:mod:`actdiff.metrics.temporal`) warps decoded frame ``t-1`` to ``t`` along the
SOURCE's DIS flow with bilinear sampling. On static pixels that flow is sub-pixel noise, and a
bilinear resampling at a fractional offset smooths fine texture, so texture that does not change
at all from frame to frame still scores there. This script separates the two, on the same stream:

* the warping error split by the source's motion (:func:`warping_error_by_motion`: pixels whose
  source flow is under ``--still`` px against the rest) for the source, the source plus a perfectly
  steady grain (one fixed Gaussian noise image of ``--grain`` grey levels added to every frame: the
  metric's price for steady texture), the warp decoder and the diffusion decoder;
* the diffusion decoder's own texture on static pixels: what it adds, ``r_t = out_t − base_t``
  (``base``: the image under its residual, captured inside the decoder), its amplitude ``mean |r_t|``
  and its change from frame to frame ``mean |r_t − r_{t−1}|`` without any warping (grey levels).

On VALIDATION files of the training corpus (by name; held out of every training run), cpu protocol
(256x384 crop, first ``--frames`` frames), fast-mode rate points; the encoder sends its per-segment
``detail_mix`` as by default. A measurement: it chooses nothing.

    ACTDIFF_TRAIN_CLIPS=... OMP_NUM_THREADS=1 PYTHONPATH=. python experiments/steady_texture.py \\
        --clips intel_bottles mmaction_makeup --rates r1 r3 -o benchmarks/results/steady_texture_val_cpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from residual_flicker_split import captured_decode  # noqa: E402

from actdiff.codec import decode_video  # noqa: E402
from actdiff.evaluation.rates import training_streams  # noqa: E402
from actdiff.evaluation.results import atomic_write_text, machine  # noqa: E402
from actdiff.io.files import refuse_outputs  # noqa: E402
from actdiff.metrics.temporal import reference_motion, warping_error_by_motion  # noqa: E402

#: Seed of the steady grain (one noise image per clip, the same for every run).
GRAIN_SEED = 0


def steady_grain(src: np.ndarray, sigma: float, seed: int = GRAIN_SEED) -> np.ndarray:
    """``src`` ``uint8 (T, H, W, 3)`` plus ONE Gaussian noise image of ``sigma`` grey levels, the
    same at every frame (rounded, clipped)."""
    noise = np.random.default_rng(seed).normal(0.0, sigma, src.shape[1:]).astype(np.float32)
    return np.clip(np.rint(src.astype(np.float32) + noise), 0, 255).astype(np.uint8)


def residual_steadiness(src: np.ndarray, out: np.ndarray, base: np.ndarray, still: float) -> dict:
    """On the source's static pixels (flow-consistent, backward flow under ``still`` px) of each pair
    ``(t-1, t)``: ``amplitude`` = mean ``|r_t|`` and ``change`` = mean ``|r_t − r_{t−1}|`` of
    ``r = out − base`` (grey levels; all ``uint8 (T, H, W, 3)``; keyframes count too, ``r = 0``
    there, so a texture that fades in and out from the keyframes changes). The decoder rounds
    ``base + s`` onto the ``uint8`` base, so ``r`` is its added texture ``s`` rounded: a steady ``s``
    shows no change however the base moves."""
    r = out.astype(np.float32) - base.astype(np.float32)
    amp, change, n = 0.0, 0.0, 0
    for t, (back, mask) in enumerate(reference_motion(src), 1):
        static = mask & (np.hypot(back[..., 0], back[..., 1]) < still)
        amp += float(np.abs(r[t]).mean(-1)[static].sum())
        change += float(np.abs(r[t] - r[t - 1]).mean(-1)[static].sum())
        n += int(static.sum())
    return {"amplitude": amp / n if n else float("nan"), "change": change / n if n else float("nan")}


def measure(src: np.ndarray, data: bytes, grains: list[float], still: float) -> dict:
    """One stream's row (module docstring): ``warping_error`` per decode, ``residual`` steadiness."""
    final, base, _ = captured_decode(data)
    decodes = {"source": src, **{f"source + steady grain {g:g}": steady_grain(src, g) for g in grains},
               "warp": np.asarray(decode_video(data, "warp", trusted=True).frames), "diffusion": final}
    return {"warping_error": {k: warping_error_by_motion(src, v, still) for k, v in decodes.items()},
            "residual": residual_steadiness(src, final, base, still)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["intel_bottles", "mmaction_makeup"],
                    help="files of the training corpus by name (validation files)")
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--grain", type=float, nargs="+", default=[2.0, 4.0],
                    help="std (grey levels) of each steady grain added to the source")
    ap.add_argument("--still", type=float, default=0.5, help="source flow (px) under which a pixel counts as static")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    out = {"args": vars(args), "machine": machine(), "rows": []}
    for name, src, point, res in training_streams(args.clips, args.rates, args.frames, ["codec.send_detail_mix=true"]):
        row = {"clip": name, "point": point, "bpp": res.stats["bpp"], **measure(np.asarray(src), res.data,
                                                                                 args.grain, args.still)}
        out["rows"].append(row)
        print(f"{name} {point}: static share {row['warping_error']['source']['static_share']:.2f}; "
              + "; ".join(f"{k} {v['static']:.5f} / {v['moving']:.5f}" for k, v in row["warping_error"].items())
              + f"; residual on static pixels: amplitude {row['residual']['amplitude']:.3f}, "
                f"change {row['residual']['change']:.3f}", flush=True)
        if args.output:
            atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
