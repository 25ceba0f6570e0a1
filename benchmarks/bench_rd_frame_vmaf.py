"""Where does ActDiff lose VMAF NEG — keyframes or the frames between them — and does the RD
encoder's distortion D follow VMAF NEG frame by frame?

For each TRAINING clip (cpu protocol: 256x384 crop, first ``--frames`` frames) this codes two
fast-mode rate points and two RD points, decodes them with the warp decoder, scores every frame
with VMAF NEG (libvmaf, per frame) and with D (:class:`actdiff.codec.distortion.Distortion`), and
reports per stream the mean VMAF NEG and D of the keyframes and of the in-between frames, and over
all frames the correlation of D with VMAF NEG and VMAF NEG in bins of D. If D follows VMAF NEG
closely frame by frame, a gap at matched rate comes from what the decoder makes of the in-between
frames, not from what the search minimises.

    OMP_NUM_THREADS=2 PYTHONPATH=. python benchmarks/bench_rd_frame_vmaf.py \\
        -o benchmarks/results/rd_frame_vmaf_cpu.json
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from scipy.stats import spearmanr

from actdiff.codec import decode_video, encode_video
from actdiff.codec.distortion import Distortion
from actdiff.codec.encoder import pairwise_flows
from actdiff.codec.encoding import prepare
from actdiff.codec.rdo import RDSearch, RDSettings
from actdiff.config import compose
from actdiff.data import load_dataset
from actdiff.evaluation.rates import codec_overrides, load_rates
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.metrics.vmaf import vmaf_frames

CLIPS = ["davis_dogs_jump", "mmaction_basketball", "sadtalker_face_a"]


def _streams(video, fast_points: list[str], lambdas: list[float]) -> list[tuple[str, object]]:
    """The clip coded at ``fast_points`` of configs/rates/default.yaml and RD at ``lambdas``."""
    cfg = compose(None, [], default="experiment/codec")
    flows = pairwise_flows(video, cfg)
    rates = load_rates()
    out = [(p, encode_video(video, compose(None, codec_overrides(rates[p]), default="experiment/codec"),
                            flows=flows)) for p in fast_points]
    rcfg = compose(None, ["codec.mode=rd"], default="experiment/codec")
    search = RDSearch(prepare(video, rcfg.codec, flows), rcfg.codec, RDSettings.from_config(rcfg.codec))
    return out + [(f"rd_lambda{lam:g}", search.encode(lam)) for lam in lambdas]


def _frame_rows(video, name: str, result, dist: Distortion) -> list[dict]:
    """One row per frame: VMAF NEG, D, keyframe or not."""
    ref = np.asarray(video.frames)
    rec = np.asarray(decode_video(result.data, "warp").frames)
    neg = vmaf_frames(ref, rec, "vmaf_v0.6.1neg")
    keys = set(result.stats["keyframes"])
    bpp = 8 * len(result.data) / (video.num_frames * video.height * video.width)
    return [{"stream": name, "bpp": bpp, "t": t, "keyframe": t in keys, "vmaf_neg": float(neg[t]),
             "d": dist.frame(ref[t], rec[t])} for t in range(len(ref))]


def _summary(rows: list[dict]) -> dict:
    """Keyframe / in-between means per stream; correlation and bins over all frames."""
    per_stream = {}
    for name in dict.fromkeys(r["stream"] for r in rows):
        s = [r for r in rows if r["stream"] == name]
        part = {k: [r for r in s if r["keyframe"] == k] for k in (True, False)}
        per_stream[name] = {"bpp": s[0]["bpp"], "keyframes": len(part[True]), **{
            f"{m}_{label}": float(np.mean([r[m] for r in part[k]])) if part[k] else None
            for m in ("vmaf_neg", "d") for k, label in ((True, "keyframes"), (False, "between"))}}
    d, v = np.array([r["d"] for r in rows]), np.array([r["vmaf_neg"] for r in rows])
    edges = np.arange(0.0, 0.6, 0.05)
    bins = [{"d_from": float(a), "d_to": float(b), "frames": int(m.sum()), "vmaf_neg": float(v[m].mean())}
            for a, b in zip(edges[:-1], edges[1:]) if (m := (d >= a) & (d < b)).sum() >= 5]
    return {"streams": per_stream, "frames": len(rows), "pearson_d_vmaf_neg": float(np.corrcoef(d, v)[0, 1]),
            "spearman_d_vmaf_neg": float(spearmanr(d, v).statistic), "vmaf_neg_by_d": bins}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=CLIPS)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--fast", nargs="+", default=["r1", "r3"], help="fast-mode points of configs/rates/default.yaml")
    ap.add_argument("--lambdas", type=float, nargs="+", default=[4.0, 16.0])
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    dist, out = Distortion(), {"args": vars(args), "machine": machine(), "clips": {}}
    all_rows = []
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        streams = _streams(video, args.fast, args.lambdas)
        rows = [r for name, res in streams for r in _frame_rows(video, name, res, dist)]
        out["clips"][seq.name] = _summary(rows)
        all_rows += rows
        for name, s in out["clips"][seq.name]["streams"].items():
            print(f"{seq.name} {name}: {s['bpp']:.4f} bpp, {s['keyframes']} keyframes, VMAF NEG keyframes "
                  f"{s['vmaf_neg_keyframes']:.1f} between {s['vmaf_neg_between']:.1f}; D {s['d_keyframes']:.3f} / "
                  f"{s['d_between']:.3f}", flush=True)
    out["all"] = _summary(all_rows)
    print(f"all {len(all_rows)} frames: Pearson(D, VMAF NEG) {out['all']['pearson_d_vmaf_neg']:.3f}, "
          f"Spearman {out['all']['spearman_d_vmaf_neg']:.3f}")
    for b in out["all"]["vmaf_neg_by_d"]:
        print(f"  D in [{b['d_from']:.2f}, {b['d_to']:.2f}): {b['frames']} frames, VMAF NEG {b['vmaf_neg']:.1f}")
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
