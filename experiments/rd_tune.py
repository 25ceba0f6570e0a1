"""Develop and tune the RD encoder (``codec.mode=rd``) on TRAINING clips, never on evaluation clips.

For each clip (cpu protocol: 256x384 crop, first ``--frames`` frames): the fast mode at the
default rate points r0…r4 and the RD mode at a λ grid, decoded by the warp decoder (or
``--decoder diffusion``), scored with VMAF NEG, MS-SSIM and PSNR; prints and writes the BD-rate
of RD against fast (negative = RD needs fewer bits) per clip and on average, and the RD
encoding speed. Fast-mode points are cached in ``--cache`` (they do not change while tuning RD).

    PYTHONPATH=. python experiments/rd_tune.py --clips davis_dogs_jump tav_snowboard \\
        --frames 48 -o /tmp/rd_tune.json codec.rd.propagation=0.7

Every ``key=value`` argument is a config override applied to the RD runs; ``--fast-set`` takes
overrides for the fast-mode runs and ``--fast-rates`` another rates file for them (both part of
their cache key). ``--compare EARLIER.json`` adds, per
clip and mode, the BD-rate of this run's curve against that file's (a change that touches both
modes, e.g. the keyframe codec's settings).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from actdiff.codec import decode_video, encode_video
from actdiff.codec.encoder import pairwise_flows
from actdiff.codec.encoding import prepare
from actdiff.codec.rdo import RDSearch, RDSettings
from actdiff.config import compose
from actdiff.data import load_dataset
from actdiff.evaluation.bdrate import bd_rate
from actdiff.evaluation.rates import codec_overrides, load_rates
from actdiff.io import read_video
from actdiff.io.files import atomic_write_bytes, refuse_outputs
from actdiff.metrics import compute_metrics

METRICS = ["vmaf_neg", "ms_ssim", "psnr"]
DEFAULT_CLIPS = ["davis_dogs_jump", "tav_snowboard", "mmaction_basketball", "udacity_highway",
                 "sadtalker_face_a", "trackanything_kitten"]


def _score(video, data: bytes, decoder: str, frames: int) -> dict:
    rec = decode_video(data, decoder)
    m = compute_metrics(video.frames, rec.frames, METRICS)
    return {"bpp": 8 * len(data) / (frames * video.height * video.width), **{k: float(v) for k, v in m.items()}}


def _bd(anchor: list, test: list, metric: str) -> float | None:
    a = (np.array([p["bpp"] for p in anchor]), np.array([p[metric] for p in anchor]))
    b = (np.array([p["bpp"] for p in test]), np.array([p[metric] for p in test]))
    try:
        return float(bd_rate(a, b, metric))
    except Exception as e:  # noqa: BLE001  (too few overlapping points: reported, not fatal)
        print(f"  bd-rate {metric}: {e}")
        return None


def compare(out: dict, earlier: dict) -> None:
    """Add ``bd_rate_vs_earlier[mode][metric]`` per clip (this run's curve against ``earlier``'s)."""
    for name, clip in out["clips"].items():
        if name not in earlier["clips"]:
            continue
        clip["bd_rate_vs_earlier"] = {mode: {m: _bd(earlier["clips"][name][mode], clip[mode], m) for m in METRICS}
                                      for mode in ("fast", "rd")}
        print(f"{name}: BD-rate against {Path(out['args']['compare']).name}: " + "; ".join(
            f"{mode} " + " ".join(f"{m}={v:+.1f}%" if v is not None else f"{m}=n/a" for m, v in d.items())
            for mode, d in clip["bd_rate_vs_earlier"].items()))
    for mode in ("fast", "rd"):
        for m in METRICS:
            vals = [c["bd_rate_vs_earlier"][mode][m] for c in out["clips"].values()
                    if "bd_rate_vs_earlier" in c and c["bd_rate_vs_earlier"][mode][m] is not None]
            out.setdefault("mean_bd_rate_vs_earlier", {}).setdefault(mode, {})[m] = \
                float(np.mean(vals)) if vals else None
    print("mean BD-rate against the earlier run:", out.get("mean_bd_rate_vs_earlier"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--lambdas", type=float, nargs="+", default=[0.75, 1.5, 3, 6, 12, 24])
    ap.add_argument("--decoder", default="warp")
    ap.add_argument("--cache", default="/tmp/rd_tune_fast_cache.json")
    ap.add_argument("--fast-set", nargs="*", default=[], metavar="KEY=VALUE")
    ap.add_argument("--fast-rates", default=None, metavar="RATES.yaml",
                    help="rate points of the fast mode (default configs/rates/default.yaml; part of the cache key)")
    ap.add_argument("--compare", default=None, metavar="EARLIER.json")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    ap.add_argument("overrides", nargs="*")
    args = ap.parse_args()
    refuse_outputs(ap, [args.output], args.overwrite)
    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    rates = load_rates(args.fast_rates)
    out = {"args": vars(args), "clips": {}}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        name = seq.name
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        n = video.num_frames
        cfg = compose(None, [], default="experiment/codec")
        flows = pairwise_flows(video, cfg)
        key = ":".join([name, str(args.frames), args.decoder, *args.fast_set,
                        *([Path(args.fast_rates).name] if args.fast_rates else [])])
        if key not in cache:
            fast = []
            for point, ovs in rates.items():
                pcfg = compose(None, [*codec_overrides(ovs), *args.fast_set], default="experiment/codec")
                t0 = time.perf_counter()
                r = encode_video(video, pcfg, flows=flows)
                fast.append({"point": point, "seconds": time.perf_counter() - t0,
                             **_score(video, r.data, args.decoder, n)})
            cache[key] = fast
            cache_path.write_text(json.dumps(cache, indent=1))
        fast = cache[key]
        rcfg = compose(None, ["codec.mode=rd", *args.overrides], default="experiment/codec")
        t0 = time.perf_counter()
        search = RDSearch(prepare(video, rcfg.codec, flows), rcfg.codec, RDSettings.from_config(rcfg.codec))
        setup = time.perf_counter() - t0
        rd = []
        for lam in args.lambdas:
            t0 = time.perf_counter()
            r = search.encode(lam)
            sec = time.perf_counter() - t0
            s = r.stats["rd"]
            rd.append({"lambda": lam, "seconds_cached": sec, "keyframes": r.stats["keyframes"],
                       "qualities": s["keyframe_qualities"], "scale": s["keyframe_scale"], "budgets": s["budgets"],
                       **_score(video, r.data, args.decoder, n)})
            print(f"{name} λ={lam:g} {rd[-1]['bpp']:.5f} bpp vmaf_neg={rd[-1]['vmaf_neg']:.2f} "
                  f"ms_ssim={rd[-1]['ms_ssim']:.4f} kf={len(r.stats['keyframes'])} q={s['keyframe_qualities']} "
                  f"s={s['keyframe_scale']} b={s['budgets']} {sec:.1f}s", flush=True)
        bd = {m: _bd(fast, rd, m) for m in METRICS}
        out["clips"][name] = {"fast": fast, "rd": rd, "bd_rate_rd_vs_fast": bd, "setup_seconds": setup}
        print(f"{name}: fast {[round(p['bpp'], 4) for p in fast]} vmaf_neg {[round(p['vmaf_neg'], 1) for p in fast]}")
        print(f"{name}: BD-rate RD vs fast " + " ".join(f"{m}={v:+.1f}%" if v is not None else f"{m}=n/a"
                                                        for m, v in bd.items()), flush=True)
    if args.compare:
        compare(out, json.loads(Path(args.compare).read_text()))
    for m in METRICS:
        vals = [c["bd_rate_rd_vs_fast"][m] for c in out["clips"].values() if c["bd_rate_rd_vs_fast"][m] is not None]
        out.setdefault("mean_bd_rate", {})[m] = float(np.mean(vals)) if vals else None
    print("mean BD-rate RD vs fast:", {k: (round(v, 1) if v is not None else None)
                                       for k, v in out["mean_bd_rate"].items()})
    if args.output:
        atomic_write_bytes(args.output, json.dumps(out, indent=1).encode(), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
