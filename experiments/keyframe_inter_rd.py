"""Choose how the RD mode picks its inter keyframes (``codec.rd.inter_rd``), on TRAINING clips only.

For each clip (cpu protocol: 256x384 crop, first ``--frames`` frames) and λ, one RD search, then the
stream written twice from the same decisions: inter keyframes chosen as the smallest P-frame no
worse than the intra coding (``inter_rd=false``), and as the P-frame of least RD cost
``w · D + λ · R`` when that is below the intra's (``inter_rd=true``). Both decoded by the warp
decoder and scored (VMAF NEG, MS-SSIM, PSNR); prints and writes the BD-rate of ``true`` against
``false`` per clip and on average (negative: ``true`` needs fewer bits), with the machine.

    PYTHONPATH=. python experiments/keyframe_inter_rd.py -o experiments/results_rd/keyframe_inter_rd_train.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from actdiff.codec import decode_video
from actdiff.codec.encoder import pairwise_flows
from actdiff.codec.encoding import prepare
from actdiff.codec.rdo import RDSearch, RDSettings
from actdiff.config import compose
from actdiff.data import load_dataset
from actdiff.evaluation.bdrate import bd_rate
from actdiff.evaluation.results import machine
from actdiff.io import read_video
from actdiff.metrics import compute_metrics

METRICS = ["vmaf_neg", "ms_ssim", "psnr"]
CLIPS = ["davis_dogs_jump", "sadtalker_face_a", "intel_person_room", "sttn_schoolgirls", "intel_cars_topdown",
         "pysot_bag"]  # the six of experiments/results_rd/keyframe_inter_train.json


def point(video, search: RDSearch, lam: float, inter_rd: bool) -> dict:
    search.s = dataclasses.replace(search.s, inter_rd=inter_rd)
    t0 = time.perf_counter()
    r = search.encode(lam)
    seconds = time.perf_counter() - t0
    rec = decode_video(r.data, "warp")
    m = compute_metrics(video.frames, rec.frames, METRICS)
    inter = r.stats.get("keyframe_inter", {})
    return {"lambda": lam, "inter_rd": inter_rd, "seconds_cached": seconds,
            "bpp": 8 * len(r.data) / (video.num_frames * video.height * video.width),
            "qualities": r.stats["rd"]["keyframe_qualities"], "qps": inter.get("qps"),
            **{k: float(v) for k, v in m.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=CLIPS)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--lambdas", type=float, nargs="+", default=[2.5, 8, 32])
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    out: dict = {"args": vars(args), "machine": machine(), "clips": {}}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        cfg = compose(None, ["codec.mode=rd"], default="experiment/codec")
        flows = pairwise_flows(video, cfg)
        search = RDSearch(prepare(video, cfg.codec, flows), cfg.codec, RDSettings.from_config(cfg.codec))
        curves: dict = {False: [], True: []}
        for lam in args.lambdas:
            for flag in (False, True):
                p = point(video, search, lam, flag)
                curves[flag].append(p)
                print(f"{seq.name} λ={lam:g} inter_rd={flag}: {p['bpp']:.5f} bpp vmaf_neg={p['vmaf_neg']:.2f} "
                      f"ms_ssim={p['ms_ssim']:.4f} psnr={p['psnr']:.2f} qps={p['qps']} {p['seconds_cached']:.1f}s",
                      flush=True)
        bd = {}
        for m in METRICS:
            a = (np.array([p["bpp"] for p in curves[False]]), np.array([p[m] for p in curves[False]]))
            b = (np.array([p["bpp"] for p in curves[True]]), np.array([p[m] for p in curves[True]]))
            bd[m] = bd_rate(a, b, m)
        out["clips"][seq.name] = {"false": curves[False], "true": curves[True], "bd_rate_true_vs_false": bd}
        print(f"{seq.name}: BD-rate inter_rd true vs false " + " ".join(f"{m}={v:+.1f}%" for m, v in bd.items()),
              flush=True)
    out["mean_bd_rate_true_vs_false"] = {m: float(np.mean([c["bd_rate_true_vs_false"][m]
                                                           for c in out["clips"].values()])) for m in METRICS}
    print("mean:", {m: round(v, 1) for m, v in out["mean_bd_rate_true_vs_false"].items()})
    Path(args.output).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
