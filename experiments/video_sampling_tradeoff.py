"""Can sampling settings alone buy the diffusion decoders a better NIQE than the warp decoder's
while keeping their flicker near it? (issue 13's perception and temporal targets together.)

On VALIDATION files of the training corpus (held out of every training run; never the clips
results are reported on), cpu protocol (256x384 crop, first ``--frames`` frames), fast-mode points
r1 and r3: decodes each stream with the warp decoder and with each diffusion model (the shipped 2D
decoder and, with ``--video``, a segment-level video generator) at every ``strength`` ×
``temporal_blend`` (× ``--bases``: what the residual is added to) of the grid, and scores PSNR,
MS-SSIM, coarse-scale PSNR, VMAF NEG, warping
error, tOF and NIQE. ``--anchor-sigma S`` also scores each diffusion output with its coarse band
replaced by the warp decoder's (``out + G_S * (warp − out)``, a Gaussian of S pixels; computed
here, not a decoder option), to see whether the flicker sits in the coarse band.
``--residual-bands``, ``--residual-from``, ``--residual-scales`` and ``--coarse-locks`` add the
diffusion decoder's ``residual_band``, ``residual_from``, ``residual_scale`` and ``coarse_lock`` to
the grid (every combination); ``--video-bases``, ``--video-residual-bands`` and ``--video-coarse-locks``
the video decoder's ``base``, ``residual_band`` and ``coarse_lock``.
``--send-detail-mix`` encodes every stream with ``codec.send_detail_mix=true`` (the encoder
chooses the ``detail_mix`` of each segment, :mod:`actdiff.codec.detail_mix`); ``stream`` in
``--detail-mixes`` then decodes with the stream's choice (no ``detail_mix`` option), a number
with that fixed value on the same stream.

    OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/video_sampling_tradeoff.py \\
        --video runs/train_video_cpu/export --anchor-sigma 4 \\
        -o benchmarks/results/video_sampling_tradeoff_val_cpu.json
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from actdiff.codec import decode_video
from actdiff.decoders.diffusion import MIX_OF
from actdiff.decoders.rebase import BASES
from actdiff.decoders.residual_filter import RESIDUAL_FROM
from actdiff.evaluation.rates import training_streams
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics

METRICS = ["psnr", "ms_ssim", "psnr_lowres", "vmaf_neg", "warping_error", "tof", "niqe"]


def anchor_coarse(frames: np.ndarray, warp: np.ndarray, sigma: float) -> np.ndarray:
    """``frames`` with their coarse band (Gaussian blur of ``sigma`` pixels) taken from ``warp``;
    both ``uint8 (T, H, W, 3)``."""
    out = [x + cv2.GaussianBlur(y - x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
           for x, y in zip(frames.astype(np.float32), warp.astype(np.float32))]
    return np.clip(np.round(np.stack(out)), 0, 255).astype(np.uint8)


def _bases(args: argparse.Namespace) -> list[tuple[str | None, float | str | None]]:
    """``(base, detail_mix)`` pairs of the grid (``detail`` once per ``--detail-mixes`` value, a
    number or ``stream``)."""
    out: list[tuple[str | None, float | None]] = []
    for base in args.bases or [None]:
        mixes = args.detail_mixes if base == "detail" and args.detail_mixes else [None]
        out += [(base, m) for m in mixes]
    return out


def _decodes(data: bytes, args: argparse.Namespace) -> dict[str, np.ndarray]:
    """Every decode of one stream, by label."""
    warp = np.asarray(decode_video(data, "warp").frames)
    out = {"warp": warp}
    models = {"2d": {"weights": args.weights}, **({"video": {"weights": args.video}} if args.video else {})}
    for name, kw in models.items():
        for s in args.strengths:
            for b in args.blends:
                for base, mix in _bases(args) if name == "2d" else [(None, None)]:  # the video decoder has no base
                    label = f"{name} strength={s:g} blend={b:g}" + ("" if base is None else f" base={base}")
                    opts = {"base": base} if base is not None else {}
                    if mix == "stream":  # the encoder's per-segment choice
                        label = f"{label} mix=stream"
                    elif mix is not None:
                        label, opts = f"{label} mix={mix:g}", {**opts, "detail_mix": mix}
                    if mix is not None and args.mix_of:
                        label, opts = f"{label} of={args.mix_of}", {**opts, "detail_mix_of": args.mix_of}
                    if args.noise:
                        label, opts = f"{label} noise={args.noise}", {**opts, "noise_mode": args.noise}
                    for one, o in _residual_variants(label, opts, args, FRAME_FLAGS if name == "2d" else VIDEO_FLAGS):
                        # the residual filter runs with residual_from frames only (the decoder refuses a blend
                        # it would not use); the label keeps the grid's blend
                        blend = {} if o.get("residual_from") not in (None, "frames") else {"temporal_blend": b}
                        out[one] = np.asarray(decode_video(data, "diffusion", strength=s, **blend, **o, **kw).frames)
                        if args.anchor_sigma > 0:
                            out[f"{one} anchored"] = anchor_coarse(out[one], warp, args.anchor_sigma)
    return out


#: ``(argument, decoder option, label)`` of the grid's option flags: the 2D decoder's, the video decoder's.
FRAME_FLAGS = (("residual_bands", "residual_band", "band"), ("residual_from", "residual_from", "from"),
               ("residual_scales", "residual_scale", "scale"), ("coarse_locks", "coarse_lock", "lock"))
VIDEO_FLAGS = (("video_bases", "base", "base"), ("video_residual_bands", "residual_band", "band"),
               ("video_coarse_locks", "coarse_lock", "lock"))


def _residual_variants(label: str, opts: dict, args: argparse.Namespace,
                       flags: tuple = FRAME_FLAGS) -> list[tuple[str, dict]]:
    """``(label, options)`` of every combination of the ``flags``' values (default: ``--residual-bands``
    × ``--residual-from`` × ``--residual-scales`` × ``--coarse-locks``; an option left unset adds
    nothing to the label)."""
    out = [(label, opts)]
    for flag, key, short in flags:
        values = getattr(args, flag, None) or [None]
        out = [(one if v is None else f"{one} {short}={v:g}" if isinstance(v, float) else f"{one} {short}={v}",
                o if v is None else {**o, key: v}) for one, o in out for v in values]
    return out


def _mix(text: str) -> float | str:
    """A ``--detail-mixes`` value: a number or ``stream``."""
    return text if text == "stream" else float(text)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=["udacity_highway", "mmaction_makeup"])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--rates", nargs="+", default=["r1", "r3"])
    ap.add_argument("--strengths", type=float, nargs="+", default=[0.3, 0.5])
    ap.add_argument("--blends", type=float, nargs="+", default=[0.8, 0.95])
    ap.add_argument("--bases", nargs="+", default=None, choices=BASES,
                    help="what the 2D model's residual is added to (the diffusion decoder's `base`; "
                         "default: the one it was trained on, not in the labels)")
    ap.add_argument("--detail-mixes", type=_mix, nargs="+", default=None,
                    help="with base detail: the share of the blend in the coarse band (`detail_mix`) to try, "
                         "or `stream` (the stream's per-segment choice, with --send-detail-mix)")
    ap.add_argument("--send-detail-mix", action="store_true",
                    help="encode with codec.send_detail_mix=true (the encoder chooses detail_mix per segment)")
    ap.add_argument("--mix-of", default=None, choices=MIX_OF,
                    help="with --detail-mixes: what the mix takes the coarse band of (`detail_mix_of`; default: "
                         "the weights' own, not in the labels)")
    ap.add_argument("--noise", default=None, choices=["shared", "per_frame", "warped"],
                    help="noise mode of every diffusion decode (default: the weights' own)")
    ap.add_argument("--residual-bands", nargs="+", default=None, choices=["all", "fine"],
                    help="the diffusion decoder's residual_band of each decode (default: the weights' own, "
                         "not in the labels)")
    ap.add_argument("--residual-from", nargs="+", default=None, choices=list(RESIDUAL_FROM),
                    help="the diffusion decoder's residual_from of each decode (default: the weights' own, "
                         "not in the labels)")
    ap.add_argument("--residual-scales", type=float, nargs="+", default=None,
                    help="the diffusion decoder's residual_scale of each decode (default: the weights' own, "
                         "not in the labels)")
    ap.add_argument("--coarse-locks", type=int, nargs="+", default=None, choices=[0, 1],
                    help="the diffusion decoder's coarse_lock (0/1) of each decode (default: the weights' own, "
                         "not in the labels)")
    ap.add_argument("--video-bases", nargs="+", default=None, choices=BASES,
                    help="with --video: what the video decoder adds the model's residual to (`base`; detail: with "
                         "the stream's detail_mix where sent, else the weights'; default: the weights' own, not in "
                         "the labels)")
    ap.add_argument("--video-residual-bands", nargs="+", default=None, choices=["all", "fine"],
                    help="with --video: the video decoder's residual_band (default: the weights' own, "
                         "not in the labels)")
    ap.add_argument("--video-coarse-locks", type=int, nargs="+", default=None, choices=[0, 1],
                    help="with --video: the video decoder's coarse_lock (0/1) of each decode (default: its weights' "
                         "own, not in the labels)")
    ap.add_argument("--weights", default=None, help="weights folder of the 2D decoder (default: the shipped ones)")
    ap.add_argument("--video", default=None, help="weights folder of a segment-level video generator")
    ap.add_argument("--anchor-sigma", type=float, default=0.0)
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    out = {"args": vars(args), "machine": machine(), "rows": []}
    overrides = ["codec.send_detail_mix=true"] if args.send_detail_mix else []
    for name, src, point, res in training_streams(args.clips, args.rates, args.frames, overrides):
        bpp = res.stats["bpp"]
        for label, frames in _decodes(res.data, args).items():
            m = {k: float(v) for k, v in compute_metrics(src, frames, METRICS).items()}
            out["rows"].append({"clip": name, "point": point, "bpp": bpp, "decoder": label, **m})
            print(f"{name} {point} {label}: " + " ".join(f"{k}={v:.4f}" for k, v in m.items()), flush=True)
        if args.output:
            atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
