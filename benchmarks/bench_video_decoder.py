"""A video generator (tiny-video) vs the warp decoder on the SAME bitstreams, against issue 13's targets.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_video_decoder.py CLIP [CLIP ...] --video DIR \\
        [--video-set strength=0.6 overlap=4 ...] [--frame-weights DIR | none] [--rates r0 r1 r2 r3 r4] \\
        [--frames 96] [--crf 51 48 45 42 38 34 30] [--cache DIR] [--png-dir DIR] [-o out.json]

Each clip is read with the cpu protocol (256x384, first ``--frames`` frames), encoded ONCE per rate
point of ``configs/rates/default.yaml`` with the default codec, and every bitstream is decoded by the
warp decoder, the frame-by-frame 2D diffusion decoder (``--frame-weights``, default the shipped
weights; ``none`` skips it) and the video decoder (``--video`` weights, ``--video-set`` overriding its
sampling settings). x265 (medium, no B-frames) is run at ``--crf`` for the same clip. Metrics: PSNR,
coarse-scale PSNR (``psnr_lowres``, frames area-downsampled 8x), MS-SSIM, VMAF NEG, NIQE, warping
error, tOF; and the source's own warping error (the metric needs no reference), with, per point,
whether the source itself would meet the two warping-error checks (``source_meets``).

Targets (issue 13), checked per clip and rate point for the video decoder:

* ``lowres``: coarse-scale PSNR >= the warp decoder's;
* ``vmaf``: VMAF NEG >= the warp decoder's - 2;
* ``tof_x265`` / ``warp_err_x265``: tOF / warping error <= x265's at the same bpp (linear in log bpp
  on x265's CRF curve; below x265's lowest rate, x265's lowest-rate point, which has MORE bits);
* ``tof_warp`` / ``warp_err_warp``: <= 1.2x the warp decoder's;
* ``niqe``: NIQE at least :data:`NIQE_MARGIN` below the warp decoder's ("clearly better");
* speed (reported, not a pass/fail per point): decoded frames/s, with the machine's load average.

The checks are for the video decoder when ``--video`` is given, else for the 2D decoder (the
default decoder; ``checked`` in each clip's results names the one).

``--cache DIR`` keeps every (clip, point, decoder) row keyed by the bitstream's SHA-256 and the
decoder (weights hash + settings), and every x265 row, so runs resume and the warp/2D rows are
computed once. ``--png-dir`` writes, per clip and point, the frames around the one the warp decoder
gets most wrong: source | warp | 2D | video, one row per frame. The JSON holds every row, the
verdicts and the machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path

import numpy as np
import yaml

from actdiff.data import load_protocol
from actdiff.decoders import build_decoder
from actdiff.evaluation.rates import load_rates, point_configs
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.evaluation.runner import actdiff_points, baseline_point, encode_point
from actdiff.io.files import refuse_outputs
from actdiff.metrics.temporal import warping_error
from actdiff.models.loading import DEFAULT_WEIGHTS, WEIGHT_FILE
from actdiff.types import Video

METRICS = ["psnr", "psnr_lowres", "ms_ssim", "vmaf_neg", "niqe", "warping_error", "tof"]
#: NIQE points the video decoder must be below the warp decoder to count as clearly better.
NIQE_MARGIN = 0.5
#: Flicker allowance over the warp decoder (tOF, warping error).
FLICKER_RATIO = 1.2


def on_x265_curve(bpp: float, curve: list[dict], metric: str) -> tuple[float, str]:
    """x265's ``metric`` at ``bpp``: linear in log bpp between CRF points; outside, the end point."""
    pts = sorted(curve, key=lambda p: p["bpp"])
    xs = np.log([p["bpp"] for p in pts])
    ys = [p["metrics"][metric] for p in pts]
    if bpp <= pts[0]["bpp"]:
        return float(ys[0]), "below x265's lowest rate: its lowest-rate point"
    if bpp >= pts[-1]["bpp"]:
        return float(ys[-1]), "above x265's highest rate: its highest-rate point"
    return float(np.interp(np.log(bpp), xs, ys)), "interpolated"


def verdict(video: dict, warp: dict, curve: list[dict], source_we: float | None = None) -> dict:
    """Issue 13's targets for one clip and rate point (``video``/``warp``: result rows). With the
    source's own warping error ``source_we``, also whether the source itself meets the two
    warping-error checks (``source_meets``; recorded beside the checks, it changes none)."""
    v, w = video["metrics"], warp["metrics"]
    tof_x, note = on_x265_curve(video["bpp"], curve, "tof")
    we_x, _ = on_x265_curve(video["bpp"], curve, "warping_error")
    checks = {"lowres": v["psnr_lowres"] >= w["psnr_lowres"], "vmaf": v["vmaf_neg"] >= w["vmaf_neg"] - 2,
              "tof_x265": v["tof"] <= tof_x, "warp_err_x265": v["warping_error"] <= we_x,
              "tof_warp": v["tof"] <= FLICKER_RATIO * w["tof"],
              "warp_err_warp": v["warping_error"] <= FLICKER_RATIO * w["warping_error"],
              "niqe": v["niqe"] <= w["niqe"] - NIQE_MARGIN}
    out = {"checks": checks, "x265_at_bpp": {"tof": tof_x, "warping_error": we_x, "how": note},
           "met": all(checks.values())}
    if source_we is not None:
        out["source_meets"] = {"warp_err_x265": source_we <= we_x,
                               "warp_err_warp": source_we <= FLICKER_RATIO * w["warping_error"]}
    return out


def _decoder_id(dec) -> str:
    if not hasattr(dec, "settings"):
        return "warp"
    blob = json.dumps(dec.settings(), sort_keys=True, default=str)
    folder = Path(getattr(dec, "weights", "") or "")
    if (folder / WEIGHT_FILE).is_file():
        blob += hashlib.sha256((folder / WEIGHT_FILE).read_bytes()).hexdigest()
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def png_hook(folder: Path, clip: str, video: Video, labels: tuple[str, ...]):
    """``on_decoded`` hook: frames t-1, t, t+1 around the warp decoder's worst frame, all decoders."""
    from PIL import Image

    got: dict[str, dict[str, np.ndarray]] = {}

    def hook(point: str, label: str, enc, rec) -> None:
        got.setdefault(point, {})[label] = rec.frames
        if set(got[point]) != set(labels):
            return
        src = video.frames.astype(np.int16)
        t = int(np.argmax(np.abs(src - got[point]["warp"]).mean(axis=(1, 2, 3))))
        rows = [np.concatenate([video.frames[k]] + [got[point][lab][k] for lab in labels], axis=1)
                for k in range(max(t - 1, 0), min(t + 2, video.num_frames))]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate(rows, axis=0)).save(folder / f"{clip}_{point}_frame{t:03d}.png")

    return hook


def cached_rows(video: Video, name: str, cfgs: dict, decoders: dict, cache: Path | None, hook, log) -> dict:
    """:func:`actdiff_points` per decoder, reusing rows cached for the same bitstream and decoder."""
    from omegaconf import OmegaConf

    encoded: dict = {}
    out: dict = {label: [] for label in decoders}
    for point, cfg in cfgs.items():
        blob = json.dumps([name, video.num_frames, OmegaConf.to_container(cfg, resolve=True)], sort_keys=True)
        key = hashlib.sha256(blob.encode()).hexdigest()[:16]
        for label, dec in decoders.items():
            f = cache / f"{name}_{point}_{key}_{label}_{_decoder_id(dec)}.json" if cache else None
            if point not in encoded:
                encoded[point] = encode_point(video, cfg)
            sha = hashlib.sha256(encoded[point].data).hexdigest()
            if f is not None and f.is_file() and json.loads(f.read_text())["bitstream_sha256"] == sha:
                out[label].append(json.loads(f.read_text()))
                continue
            row = actdiff_points(video, {point: cfg}, {label: dec}, METRICS, encoded=encoded, on_decoded=hook,
                                 log=log)[label][0]
            row.update(bitstream_sha256=sha, load_average=os.getloadavg()[0],
                       frames_per_second=video.num_frames / max(row["decode_seconds"], 1e-9))
            if f is not None:
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(json.dumps(row))
            out[label].append(row)
    return out


def x265_curve(video: Video, name: str, crfs: list[int], cache: Path | None, log) -> list[dict]:
    rows = []
    for crf in sorted(crfs):
        f = cache / f"{name}_{video.num_frames}_x265_crf{crf}.json" if cache else None
        if f is not None and f.is_file():
            rows.append(json.loads(f.read_text()))
            continue
        row = baseline_point(video, "x265", crf, METRICS)
        log(f"x265 crf={crf} bpp={row['bpp']:.5f} tof={row['metrics']['tof']:.3f}")
        if f is not None:
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(row))
        rows.append(row)
    return rows


def run_clip(path: str, args, cfgs: dict, decoders: dict) -> dict:
    full = load_protocol("cpu").read(path)
    video = Video(frames=full.frames[:args.frames], fps=full.fps, source=path)
    name = Path(path).stem
    log = lambda s: print(f"  {name} {s}", file=sys.stderr, flush=True)  # noqa: E731
    hook = png_hook(args.png_dir, name, video, tuple(decoders)) if args.png_dir else None
    rows = cached_rows(video, name, cfgs, decoders, args.cache, hook, log)
    curve = x265_curve(video, name, args.crf, args.cache, log)
    src = np.asarray(video.frames)
    source_we = warping_error(src, src)
    log(f"source warping error {source_we:.5f}")
    out = {"clip": name, "path": path, "frames": video.num_frames, "rows": rows, "x265": curve,
           "source_warping_error": source_we}
    add_verdicts(out)
    return out


def checked_label(rows: dict) -> str | None:
    """The decoder issue 13's checks are for: the video generator when the run has one, else the 2D
    diffusion decoder (the default decoder); ``None`` with neither."""
    return next((lab for lab in ("video", "diffusion-2d") if lab in rows), None)


def add_verdicts(clip: dict) -> None:
    """Give a clip's results (``run_clip``'s dict) the per-point verdicts of :func:`checked_label`'s
    rows and that label (``checked``), where it has none; they need only what the results hold."""
    lab = checked_label(clip["rows"])
    if lab is None or "verdicts" in clip:
        return
    clip["checked"] = lab
    clip["verdicts"] = [verdict(v, w, clip["x265"], clip["source_warping_error"])
                        for v, w in zip(clip["rows"][lab], clip["rows"]["warp"])]


def parse_settings(items: list[str]) -> dict:
    """``key=value`` strings → a dict (values parsed as YAML scalars)."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"error: --video-set takes key=value, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def print_table(clips: list[dict], labels: list[str]) -> None:
    print("\n| clip | point | decoder | bpp | PSNR | PSNR 8x | MS-SSIM | VMAF NEG | NIQE | warp err | tOF | fps |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in clips:
        print(f"| {c['clip']} | | source | | | | | | | {c['source_warping_error']:.4f} | 0 | |")
        for i in range(len(c["rows"]["warp"])):
            for lab in labels:
                r = c["rows"][lab][i]
                m = r["metrics"]
                print(f"| {c['clip']} | {r['quality_param']} | {lab} | {r['bpp']:.4f} | {m['psnr']:.2f} | "
                      f"{m['psnr_lowres']:.2f} | {m['ms_ssim']:.4f} | {m['vmaf_neg']:.2f} | {m['niqe']:.2f} | "
                      f"{m['warping_error']:.4f} | {m['tof']:.3f} | {r['frames_per_second']:.2f} |")
            if "verdicts" in c:
                v = c["verdicts"][i]
                failed = [k for k, ok in v["checks"].items() if not ok]
                print(f"| | | **targets** | | | | | | | | | {'met' if v['met'] else 'missed: ' + ', '.join(failed)} |")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--video", help="save_pretrained folder of the video generator (omitted: warp/2D/x265 rows only)")
    p.add_argument("--video-set", nargs="*", default=[],
                   help="key=value sampling/decoder settings of the video decoder")
    p.add_argument("--frame-weights", default=str(DEFAULT_WEIGHTS), help="2D decoder weights, or none")
    p.add_argument("--rates", nargs="+", default=["r0", "r1", "r2", "r3", "r4"])
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--crf", nargs="+", type=int, default=[51, 48, 45, 42, 38, 34, 30])
    p.add_argument("--png-dir", type=Path, default=None)
    p.add_argument("--cache", type=Path, default=None)
    p.add_argument("-o", "--output")
    p.add_argument("--merge", action="store_true",
                   help="CLIPS are results files of this script: write them as one to -o (nothing is run)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args(argv)
    refuse_outputs(p, [args.output], args.overwrite)
    if args.merge:
        if not args.output:
            p.error("--merge needs -o")
        merge(args.clips, args.output)
        return
    cfgs = point_configs(load_rates(names=args.rates), protocol="cpu")
    decoders = {"warp": build_decoder("warp")}
    if args.frame_weights != "none":
        decoders["diffusion-2d"] = build_decoder("diffusion", weights=args.frame_weights)
    if args.video:
        decoders["video"] = build_decoder("diffusion", weights=args.video, **parse_settings(args.video_set))
    clips = [run_clip(c, args, cfgs, decoders) for c in args.clips]
    print_table(clips, list(decoders))
    doc = {"machine": machine(), "protocol": "cpu", "frames": args.frames, "rates": args.rates, "x265_crf": args.crf,
           "metrics": METRICS, "settings": {lab: d.settings() for lab, d in decoders.items() if hasattr(d, "settings")},
           "targets": {"niqe_margin": NIQE_MARGIN, "flicker_ratio": FLICKER_RATIO}, "clips": clips}
    if all("verdicts" in c for c in clips):
        summarize(doc)
    if args.output:
        write(doc, args.output)


def summarize(doc: dict) -> None:
    """Add (and print) the summary over all of ``doc``'s clips and points: which checks hold
    everywhere, the video decoder's frames/s, whether the source meets the warping-error checks."""
    clips = doc["clips"]
    checks = clips[0]["verdicts"][0]["checks"]
    every = {k: all(v["checks"][k] for c in clips for v in c["verdicts"]) for k in checks}
    fps = [r["frames_per_second"] for c in clips for r in c["rows"][checked_label(c["rows"])]]
    doc["targets_met_every_clip_and_point"] = every
    doc["video_frames_per_second"] = {"min": min(fps), "median": float(np.median(fps))}
    doc["meets_all_targets"] = all(every.values()) and min(fps) >= 1.0
    doc["source_meets"] = {k: sum(v["source_meets"][k] for c in clips for v in c["verdicts"])
                           for k in ("warp_err_x265", "warp_err_warp")}
    print(f"\ntargets met on every clip and point: {every}")
    print(f"the source itself meets, of {sum(len(c['verdicts']) for c in clips)} points: {doc['source_meets']}")
    print(f"video decoder frames/s: min {min(fps):.2f}, median {np.median(fps):.2f} (shared machine, see "
          f"load_average per row); all targets met: {doc['meets_all_targets']}")


def write(doc: dict, path: str | Path) -> None:
    """Atomically; ``main`` refused an existing ``path`` without ``--overwrite`` before any work."""
    atomic_write_text(path, json.dumps(doc, indent=2, default=str) + "\n", overwrite=True)


#: A decoder's ``model`` setting names its weights folder; the shipped weights' folder inside a
#: checkout (worktrees differ) is compared from the package path on.
SHIPPED = re.compile(r" from \S*?(actdiff/assets/weights/[^/\s]+)$")


def comparable(doc: dict, key: str):
    """``doc[key]`` as :func:`merge` compares it: the shipped weights named by their package path."""
    value = doc.get(key)
    if key != "settings" or not isinstance(value, dict):
        return value
    return {lab: {k: SHIPPED.sub(r" from \1", v) if k == "model" and isinstance(v, str) else v
                  for k, v in s.items()} if isinstance(s, dict) else s for lab, s in value.items()}


def merge(paths: list[str], output: str) -> None:
    """One results file from several runs of this script (one clip each, say) made with the same
    decoders, settings, rate points and frames; the summary is recomputed over all their clips.
    The shipped weights count as the same wherever the checkout lay (:data:`SHIPPED`)."""
    docs = [json.loads(Path(q).read_text()) for q in paths]
    same = ("protocol", "frames", "rates", "x265_crf", "metrics", "settings", "targets")
    for q, d in zip(paths[1:], docs[1:]):
        diff = [k for k in same if comparable(d, k) != comparable(docs[0], k)]
        if diff:
            raise SystemExit(f"error: {q} differs from {paths[0]} in {', '.join(diff)}; not merged")
    doc = {**docs[0], "clips": [c for d in docs for c in d["clips"]], "merged_from": list(paths)}
    for clip in doc["clips"]:
        if "x265" in clip:  # runs made before the 2D decoder was checked without a video generator
            add_verdicts(clip)
    if all("verdicts" in c for c in doc["clips"]):
        summarize(doc)
    write(doc, output)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
