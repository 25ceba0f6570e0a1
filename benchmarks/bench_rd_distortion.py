"""Which per-frame distortion should the RD encoder minimise? Candidates against VMAF NEG.

The RD encoder (``codec.mode=rd``) compares decisions — a longer segment or a keyframe, a higher
keyframe quality or a downscaled keyframe, more trajectories — by a distortion it can compute in
milliseconds on every candidate. This benchmark decodes each TRAINING clip (cpu protocol,
256x384, first ``--frames`` frames) coded in several ways that differ in exactly those decisions
(fast-mode rate points, fixed GOPs, downscaled keyframes, trajectory budgets), with the warp
decoder, and reports for each candidate measure how often it prefers the same of two variants
of a clip at about the same rate (log-rate ratio < 0.3, VMAF NEG differing by more than 1) as
VMAF NEG does — the decision the encoder has to get right — and how well its clip mean ranks all
variants of a clip like VMAF NEG (Spearman's ρ and Kendall's τ within each clip, averaged).
Candidates: PSNR (full, half, quarter resolution, their mean), single-scale SSIM, 3-scale SSIM,
GMSD, the mixes ``w · (1 − SSIM_ms) + (1 − w) · GMSD`` and ``w · (1 − PSNR_ms / 50) + (1 − w) · GMSD``
for several ``w``, pixel-domain VIF at half resolution (the feature VMAF is built on; ~10 ms a
frame) and its mixes ``w · (1 − PSNR_ms / 50) + (1 − w) · (1 − VIF)``, and the RD encoder's
default (:class:`actdiff.codec.distortion.Distortion`).

    PYTHONPATH=. python benchmarks/bench_rd_distortion.py -o benchmarks/results/rd_distortion_cpu.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform

import numpy as np
from scipy.stats import kendalltau, spearmanr

from actdiff.codec import decode_video, encode_video
from actdiff.codec.distortion import Distortion, gmsd, ssim
from actdiff.codec.encoder import pairwise_flows
from actdiff.config import compose
from actdiff.data import load_dataset
from actdiff.evaluation.results import atomic_write_text
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics

CLIPS = ["davis_dogs_jump", "tav_snowboard", "mmaction_basketball", "udacity_highway", "sadtalker_face_a",
         "intel_person_room", "videocomposer_fish", "tav_surfing"]
#: Codec variants: name → overrides (full keys).
VARIANTS = {
    "r0": ["codec.keyframe_codec.quality=5", "codec.trajectories.budget_points=12", "codec.keyframes.max_gop=96"],
    "r2": ["codec.keyframe_codec.quality=22", "codec.trajectories.budget_points=36", "codec.keyframes.max_gop=48"],
    "r4": ["codec.keyframe_codec.quality=42", "codec.trajectories.budget_points=64", "codec.keyframes.max_gop=24"],
    "gop8_q10": ["codec=fixed_gop", "codec.keyframes.fixed_gop=8", "codec.keyframe_codec.quality=10"],
    "gop16_q20": ["codec=fixed_gop", "codec.keyframes.fixed_gop=16", "codec.keyframe_codec.quality=20"],
    "gop48_q40": ["codec=fixed_gop", "codec.keyframes.fixed_gop=48", "codec.keyframe_codec.quality=40"],
    "scale2_q40": ["codec.keyframe_codec.scale=2", "codec.keyframe_codec.quality=40"],
    "scale3_q60": ["codec.keyframe_codec.scale=3", "codec.keyframe_codec.quality=60"],
    "pts8": ["codec.trajectories.budget_points=8"],
    "pts128": ["codec.trajectories.budget_points=128"],
    "gop24_pts8_q5": ["codec=fixed_gop", "codec.keyframes.fixed_gop=24", "codec.keyframe_codec.quality=5",
                      "codec.trajectories.budget_points=8"],
    "rd_lam3": ["codec.mode=rd", "codec.rd.lambda=3"],
    "rd_lam3_gop16": ["codec.mode=rd", "codec.rd.lambda=3", "codec.rd.max_gop=16", "codec.rd.scales=[1]"],
    "rd_lam1.5": ["codec.mode=rd", "codec.rd.lambda=1.5", "codec.rd.max_gop=24"],
}
MIX_WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)
#: The RD encoder's default measure (``codec.rd.distortion``).
RD_DISTORTION = Distortion()
#: Variant pairs within this log-rate ratio count as "matched rate".
MATCHED = 0.3


def _vif(x: np.ndarray, y: np.ndarray) -> float:
    """Pixel-domain VIF (piq, the information-fidelity feature VMAF is built on) of two lumas in [0, 255]."""
    import piq
    import torch

    t = [torch.from_numpy(np.ascontiguousarray(v, np.float32))[None, None] / 255 for v in (x, y)]
    return float(piq.vif_p(t[0], t[1], data_range=1.0))


def measures(ref: np.ndarray, rec: np.ndarray) -> dict[str, float]:
    """Clip means of every candidate (higher = worse), frames ``uint8 (T, H, W, 3)``."""
    rows = []
    three = Distortion(scale_weights=(1.0, 1.0, 1.0))
    for a, b in zip(ref, rec):
        pa, pb = three.prepare(a), three.prepare(b)
        psnrs = [10 * np.log10(255 ** 2 / max(float(np.mean((x - y) ** 2)), 1e-3)) for x, y in zip(pa, pb)]
        psnr_ms = float(np.mean(psnrs))
        s_ms = sum(w * ssim(x, y) for w, x, y in zip((0.2, 0.3, 0.5), pa, pb))
        row = {"neg_psnr": -psnrs[0], "neg_psnr_half": -psnrs[1], "neg_psnr_quarter": -psnrs[2],
               "neg_psnr_3scale": -psnr_ms, "1-ssim": 1 - ssim(pa[0], pb[0]),
               "1-ssim_3scale": 1 - s_ms, "gmsd_half": gmsd(pa[1], pb[1]), "gmsd_full": gmsd(pa[0], pb[0])}
        for w in MIX_WEIGHTS:
            row[f"mix_w{w:g}"] = w * (1 - s_ms) + (1 - w) * row["gmsd_half"]
        for w in MIX_WEIGHTS[1:-1]:
            row[f"psnrmix_w{w:g}"] = w * (1 - psnr_ms / 50) + (1 - w) * row["gmsd_half"]
        row["1-vif_half"] = 1 - _vif(pa[1], pb[1])
        for w in MIX_WEIGHTS[1:-1]:
            row[f"vifmix_w{w:g}"] = w * (1 - psnr_ms / 50) + (1 - w) * row["1-vif_half"]
        row["rd_distortion"] = RD_DISTORTION.frame(a, b)
        rows.append(row)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=CLIPS)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args()
    refuse_outputs(ap, [args.output], args.overwrite)
    per_clip = {}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        name = seq.name
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        flows = pairwise_flows(video, compose(None, [], default="experiment/codec"))
        rows = {}
        for var, ovs in VARIANTS.items():
            enc = encode_video(video, compose(None, ovs, default="experiment/codec"), flows=flows)
            rec = decode_video(enc.data, "warp").frames
            m = compute_metrics(video.frames, rec, ["vmaf_neg"])
            rows[var] = {"bpp": enc.stats["bpp"], "vmaf_neg": float(m["vmaf_neg"]), **measures(video.frames, rec)}
            print(name, var, {k: round(v, 4) for k, v in rows[var].items()}, flush=True)
        per_clip[name] = rows
    names = [k for k in next(iter(next(iter(per_clip.values())).values())) if k not in ("bpp", "vmaf_neg")]
    summary = {}
    for k in names:
        rho, tau = [], []
        for rows in per_clip.values():
            v = [r["vmaf_neg"] for r in rows.values()]
            d = [-r[k] for r in rows.values()]
            rho.append(spearmanr(v, d).statistic)
            tau.append(kendalltau(v, d).statistic)
        summary[k] = {"spearman_within_clip": float(np.mean(rho)), "kendall_within_clip": float(np.mean(tau)),
                      "spearman_min": float(np.min(rho))}
        agree = total = 0
        for rows in per_clip.values():
            for (_, ra), (_, rb) in itertools.combinations(rows.items(), 2):
                if abs(np.log(ra["bpp"] / rb["bpp"])) < MATCHED and abs(ra["vmaf_neg"] - rb["vmaf_neg"]) > 1:
                    total += 1
                    agree += (ra["vmaf_neg"] > rb["vmaf_neg"]) == (ra[k] < rb[k])
        summary[k]["matched_rate_agreement"] = agree / max(total, 1)
        summary[k]["matched_rate_pairs"] = total
    for k, s in sorted(summary.items(), key=lambda kv: -kv[1]["matched_rate_agreement"]):
        print(f"{k:16s} agreement at matched rate {s['matched_rate_agreement']:.3f} ({s['matched_rate_pairs']} "
              f"pairs) spearman {s['spearman_within_clip']:.3f} (min {s['spearman_min']:.3f}) "
              f"kendall {s['kendall_within_clip']:.3f}")
    if args.output:
        machine = {"platform": platform.platform(), "processor": platform.machine(), "cpu_count": os.cpu_count(),
                   "omp_num_threads": os.environ.get("OMP_NUM_THREADS")}
        doc = {"machine": machine, "frames": args.frames, "variants": VARIANTS, "summary": summary, "clips": per_clip}
        atomic_write_text(args.output, json.dumps(doc, indent=1) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
