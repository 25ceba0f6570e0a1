"""Heuristic vs learned selectors: rate (bpp), warp-decoder PSNR and encode time.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_selectors.py [CLIP ...] \\
        --keyframe-weights K_DIR --weight-map-weights W_DIR [--max-frames 48] \\
        [--rates r1 r2 r3 r4] [-o out.json]

Default clip: the bundled sample. Each clip is read with the cpu protocol (384x256 crop, first
``--max-frames`` frames) and encoded with the default codec config in four variants:
``heuristic`` (adaptive keyframes, sobel weight map), ``learned_keyframes``,
``learned_weight_map`` and ``learned_both`` (variants whose weights are not given are
skipped, with a warning). Every file is decoded with the warp decoder; PSNR is over all frames.
``select s`` is the time of the keyframe selector alone (flows precomputed) plus the weight
map of every segment's first frame — the stages the learned models replace.
``--threshold`` sets ``keyframes.threshold`` of the learned keyframe selector (repeatable: one
row per value). ``--rates`` encodes every variant at these rate points (``configs/rates/default.yaml``)
as well, and gives, per clip, each learned variant's BD-rate against ``heuristic`` on warp-decoder
PSNR (the bits it needs at equal PSNR; negative = fewer bits) and its encode-time ratio; the
learned selectors "win" (issue 14's target) when a variant needs no more bits than the heuristic
on all clips but at most one. A second table gives, per clip, the Pearson correlation of the ``sobel`` and
the learned weight maps with the training target (time-mean interpolation error of the dense
motion from 48 uniform trajectories, 16-frame windows every 8 frames).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from actdiff.codec import decode_video, encode_video
from actdiff.codec.encoder import Stages, codec_section
from actdiff.config import compose
from actdiff.data import load_protocol, sample_clip_path
from actdiff.evaluation.bdrate import bd_rate
from actdiff.evaluation.rates import codec_overrides, load_rates
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics
from actdiff.registry import KEYFRAME_SELECTORS
from actdiff.selection.learned import WEIGHT_MAP_ENV, weight_map_from_config


def variants(kf: Optional[str], wm: Optional[str],
             thresholds: Sequence[float] = (0.5,)) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {"heuristic": []}
    learned_kf = ["codec.keyframes.name=learned", f"codec.keyframes.weights={kf}"]
    learned_wm = ["codec.trajectories.weight_map=learned"]
    if kf:
        for th in thresholds:
            name = "learned_keyframes" + ("" if th == 0.5 else f"@{th:g}")
            out[name] = learned_kf + [f"codec.keyframes.threshold={th}"]
    if wm:
        out["learned_weight_map"] = learned_wm
    if kf and wm:
        out["learned_both"] = learned_kf + learned_wm
    return out


def selector_seconds(frames: np.ndarray, cfg, wm_path: Optional[str]) -> float:
    """Seconds of keyframe selection (flows given) + weight maps of the segments' first frames."""
    codec = codec_section(cfg)
    tracker = Stages.from_config(codec).tracker
    flows = tracker.pairwise_flows(frames)
    t0 = time.perf_counter()
    segs = KEYFRAME_SELECTORS.get(codec.keyframes.name)(frames, tracker, codec.keyframes, flows=flows)
    wmap = weight_map_from_config({"weight_map": codec.trajectories.weight_map, "weight_map_weights": wm_path})
    for s in segs:
        wmap(frames[s.start])
    return time.perf_counter() - t0


def weight_map_correlation(frames: np.ndarray, wm: str) -> Dict[str, float]:
    """Mean Pearson correlation of ``sobel`` / learned maps with the importance target."""
    import cv2

    from actdiff.registry import TRACKERS, WEIGHT_MAPS
    from actdiff.tracking import chain_flows
    from actdiff.training.selectors import importance_target

    tracker = TRACKERS.build("dis", preset="medium")
    fw, bw = tracker.pairwise_flows(frames)
    maps = {"sobel": WEIGHT_MAPS.get("sobel"), "learned": weight_map_from_config(
        {"weight_map": "learned", "weight_map_weights": wm})}
    corr: Dict[str, List[float]] = {k: [] for k in maps}
    for s in range(0, len(frames) - 3, 8):
        motion = chain_flows(fw, bw, s, min(len(frames) - 1, s + 15), tracker.fb_threshold)
        target = importance_target(frames[s], motion, tracker.visibility_threshold, 48)
        for k, fn in maps.items():
            m = cv2.resize(fn(frames[s]), target.shape[::-1], interpolation=cv2.INTER_AREA)
            corr[k].append(float(np.corrcoef(m.ravel(), target.ravel())[0, 1]))
    return {k: float(np.nanmean(v)) for k, v in corr.items()}


def _encode_row(video, path: str, name: str, cfg, rate: Optional[str]) -> dict:
    enc = encode_video(video, cfg)
    rec = decode_video(enc.data, "warp")
    m = compute_metrics(video.frames, rec.frames, ["psnr"])
    s = enc.stats
    return {"clip": os.path.basename(path), "variant": name, "rate": rate, "frames": s["frames"], "bpp": s["bpp"],
            "psnr": m["psnr"], "keyframes": len(s["keyframes"]), "bits": s["bits"], "encode_s": s["encode_seconds"]}


def bench_clip(path: str, max_frames: int, kf: Optional[str], wm: Optional[str],
               thresholds: Sequence[float] = (0.5,), rates: Sequence[str] = ()) -> List[dict]:
    video = load_protocol({"name": "bench", "height": 256, "width": 384, "max_frames": max_frames,
                           "resize_mode": "crop"}).read(path)
    encode_video(type(video)(video.frames[:3], video.fps), compose(None, []))  # warm-up (imports, threads)
    points = load_rates(names=list(rates)) if rates else {}
    rows = []
    for name, overrides in variants(kf, wm, thresholds).items():
        cfg = compose(None, overrides)
        rows.append({**_encode_row(video, path, name, cfg, None), "select_s": selector_seconds(video.frames, cfg, wm)})
        for rate, ovs in points.items():
            rows.append(_encode_row(video, path, name, compose(None, overrides + codec_overrides(ovs)), rate))
        print(f"{os.path.basename(path)} {name}: " + ", ".join(f"{r['rate'] or 'default'} {r['bpp']:.4f} bpp "
              f"{r['psnr']:.2f} dB" for r in rows if r["variant"] == name), file=sys.stderr, flush=True)
    if wm:
        rows[0]["weight_map_corr"] = weight_map_correlation(video.frames, wm)
    return rows


def rd_summary(rows: List[dict]) -> dict:
    """Per learned variant and clip: BD-rate (%) against ``heuristic`` on warp PSNR over the rate
    points, encode-time ratio; ``wins`` when no more bits on all clips but at most one."""
    out: Dict[str, dict] = {}
    clips = sorted({r["clip"] for r in rows})
    curve = {}
    for r in rows:
        if r["rate"] is not None:
            c = curve.setdefault((r["clip"], r["variant"]), {"bpp": [], "psnr": [], "enc": []})
            c["bpp"].append(r["bpp"])
            c["psnr"].append(r["psnr"])
            c["enc"].append(r["encode_s"])
    for v in sorted({r["variant"] for r in rows} - {"heuristic"}):
        per: Dict[str, dict] = {}
        for clip in clips:
            a, b = curve[(clip, "heuristic")], curve[(clip, v)]
            try:
                bd: Optional[float] = bd_rate((np.array(a["bpp"]), np.array(a["psnr"])),
                                              (np.array(b["bpp"]), np.array(b["psnr"])), "psnr", ("heuristic", v))
            except Exception as e:  # curves that do not overlap: no BD-rate
                print(f"warning: {clip} {v}: {e}", file=sys.stderr)
                bd = None
            per[clip] = {"bd_rate": bd, "encode_time_ratio": float(np.sum(b["enc"]) / np.sum(a["enc"]))}
        ok = sum(1 for d in per.values() if d["bd_rate"] is not None and d["bd_rate"] <= 0)
        out[v] = {"clips": per, "clips_not_worse": ok, "wins": ok >= len(clips) - 1 and len(clips) > 0}
    return {"metric": "psnr (warp decoder)", "variants": out}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="*")
    p.add_argument("--keyframe-weights", help="KeyframeNet weights folder (actdiff fit, task keyframe_selector)")
    p.add_argument("--weight-map-weights", help="ImportanceNet weights folder (actdiff fit, task trajectory_selector)")
    p.add_argument("--max-frames", type=int, default=48)
    p.add_argument("--threshold", type=float, action="append", help="learned keyframes.threshold (repeatable)")
    p.add_argument("--rates", nargs="*", default=[], help="rate points for BD-rates on warp PSNR (e.g. r1 r2 r3 r4)")
    p.add_argument("-o", "--output")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args()
    refuse_outputs(p, [args.output], args.overwrite)
    if args.weight_map_weights:
        os.environ[WEIGHT_MAP_ENV] = args.weight_map_weights  # the weight-map registry call only gets the frame
    if not (args.keyframe_weights and args.weight_map_weights):
        print("warning: learned variants without weights are skipped", file=sys.stderr)
    rows = [r for c in (args.clips or [str(sample_clip_path())])
            for r in bench_clip(c, args.max_frames, args.keyframe_weights, args.weight_map_weights,
                               args.threshold or [0.5], args.rates)]
    print("| clip | variant | rate | frames | keyframes | bpp | warp PSNR (dB) | encode s | select s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        sel = f"{r['select_s']:.2f}" if "select_s" in r else ""
        print(f"| {r['clip']} | {r['variant']} | {r['rate'] or 'default'} | {r['frames']} | {r['keyframes']} | "
              f"{r['bpp']:.4f} | {r['psnr']:.2f} | {r['encode_s']:.2f} | {sel} |")
    summary = rd_summary(rows) if args.rates else {}
    if summary:
        print("\n| clip | variant | BD-rate vs heuristic on warp PSNR (%) | encode time / heuristic |")
        print("|---|---|---|---|")
        for v, per in summary["variants"].items():
            for clip, d in per["clips"].items():
                bd = "n/a" if d["bd_rate"] is None else f"{d['bd_rate']:+.1f}"
                print(f"| {clip} | {v} | {bd} | {d['encode_time_ratio']:.2f} |")
            print(f"{v}: no more bits than the heuristic on {per['clips_not_worse']} of {len(per['clips'])} clips "
                  f"-> wins: {per['wins']}")
    corr = [r for r in rows if "weight_map_corr" in r]
    if corr:
        print("\n| clip | corr(sobel, target) | corr(learned, target) |\n|---|---|---|")
        for r in corr:
            c = r["weight_map_corr"]
            print(f"| {r['clip']} | {c['sobel']:.3f} | {c['learned']:.3f} |")
    mach = machine()
    print(f"\nmachine: {mach}")
    if args.output:
        doc = {"machine": mach, "rates": args.rates, "max_frames": args.max_frames,
               "keyframe_weights": args.keyframe_weights, "weight_map_weights": args.weight_map_weights,
               "thresholds": args.threshold or [0.5], "rows": rows, "rd": summary}
        atomic_write_text(args.output, json.dumps(doc, indent=2), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
