"""Two diffusion-decoder weights (and the warp decoder) on the SAME bitstreams of unseen clips.

Usage::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_decoder_weights.py CLIP [CLIP ...] \\
        --candidate DIR [--baseline DIR] [--rates r1 r3] [--frames 96] [--png-dir DIR] \\
        [--cache DIR] [-o out.json]

Each clip is read with the cpu protocol (256x384 crop, first ``--frames`` frames) and encoded ONCE
per rate point (``configs/rates/default.yaml``) with the default codec; every bitstream is decoded
by the warp decoder, the ``baseline`` weights (default: the shipped ``actdiff/assets/weights/tiny``)
and the ``candidate`` weights, each with its weights' own sampling defaults, through the evaluation
loop (:func:`actdiff.evaluation.runner.actdiff_points`). Metrics: PSNR, MS-SSIM, VMAF NEG, NIQE,
warping error (temporal flicker; lower is better).

Targets (issue 14), per clip on the mean over the rate points, and also checked at every point:
candidate MS-SSIM and VMAF NEG higher than the baseline's, warping error lower than the
baseline's, NIQE lower (better) than the warp decoder's. ``--png-dir`` writes, per clip and
point, the frame where the warp decoder errs most as source | warp | baseline | candidate.
The JSON holds every point, the verdicts and the machine.

``--cache DIR`` keeps every (clip, rate point, decoder) result as a JSON file keyed by the
clip, the frames, the point's config, the bitstream's SHA-256 and the decoder (weights file hash +
settings), so a long run can be resumed or split: e.g. the warp and baseline rows while the
candidate is still training (``--candidate`` omitted), the candidate rows later. A cached row is
used only for the very same bitstream (the encoder is deterministic; a changed encoder misses).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from actdiff.data import load_protocol
from actdiff.decoders import build_decoder
from actdiff.decoders.diffusion import DEFAULT_WEIGHTS
from actdiff.evaluation.rates import load_rates, point_configs
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.evaluation.runner import actdiff_points, encode_point
from actdiff.io.files import refuse_outputs
from actdiff.types import Video

METRICS = ["psnr", "ms_ssim", "vmaf_neg", "niqe", "warping_error"]
LABELS = ("warp", "baseline", "candidate")


def checks(row: dict[str, dict[str, float]]) -> dict[str, bool]:
    """The four targets for one clip (or point): ``row[label][metric]``."""
    c, b, w = row["candidate"], row["baseline"], row["warp"]
    return {"ms_ssim_up": c["ms_ssim"] > b["ms_ssim"], "vmaf_neg_up": c["vmaf_neg"] > b["vmaf_neg"],
            "warping_error_down": c["warping_error"] < b["warping_error"], "niqe_below_warp": c["niqe"] < w["niqe"]}


def png_writer(folder: Path, clip: str, video: Video, labels: tuple[str, ...] = LABELS):
    """``on_decoded`` hook: the frame the warp decoder gets most wrong, all decoders side by side.

    Each freshly decoded stream leaves ``{clip}_{point}_{label}.png`` (that frame; the frame index
    in ``{clip}_{point}_t.txt``, chosen when the warp decoder ran), so rows read from ``--cache``
    in a later run still complete the panel ``{clip}_{point}_frameT.png`` (source | labels...).
    """
    from PIL import Image

    def hook(point: str, label: str, enc, rec) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"{clip}_{point}"
        if label == "warp":
            t = int(np.argmax(np.abs(video.frames.astype(np.int16) - rec.frames).mean(axis=(1, 2, 3))))
            Path(f"{stem}_t.txt").write_text(str(t))
            Image.fromarray(video.frames[t]).save(f"{stem}_source.png")
        if not Path(f"{stem}_t.txt").is_file():
            return
        t = int(Path(f"{stem}_t.txt").read_text())
        Image.fromarray(rec.frames[t]).save(f"{stem}_{label}.png")
        parts = [Path(f"{stem}_{k}.png") for k in ("source",) + tuple(labels)]
        if all(q.is_file() for q in parts):
            panel = np.concatenate([np.asarray(Image.open(q)) for q in parts], axis=1)
            Image.fromarray(panel).save(f"{stem}_frame{t:03d}.png")

    return hook


def _decoder_id(dec) -> str:
    """Weights file hash + sampling settings (``warp`` for the warp decoder)."""
    if not hasattr(dec, "settings"):
        return "warp"
    from actdiff.decoders.diffusion import WEIGHT_FILE

    folder = Path(getattr(dec, "weights_dir", "") or "")
    blob = json.dumps(dec.settings(), sort_keys=True, default=str)
    if (folder / WEIGHT_FILE).is_file():
        blob += hashlib.sha256((folder / WEIGHT_FILE).read_bytes()).hexdigest()
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_points(video: Video, name: str, cfgs: dict, decoders: dict, cache: Path | None, hook, log) -> dict:
    """:func:`actdiff_points` per decoder, reusing rows cached for the same bitstream and decoder."""
    from omegaconf import OmegaConf

    encoded: dict = {}
    out: dict = {}
    for label, dec in decoders.items():
        rows = []
        for point, cfg in cfgs.items():
            blob = json.dumps([name, video.num_frames, OmegaConf.to_container(cfg, resolve=True)], sort_keys=True)
            key = hashlib.sha256(blob.encode()).hexdigest()[:16]
            f = cache / f"{name}_{point}_{key}_{label}_{_decoder_id(dec)}.json" if cache else None
            if point not in encoded:
                encoded[point] = encode_point(video, cfg)
            if f is not None and f.is_file():
                row = json.loads(f.read_text())
                if row["bitstream_sha256"] == hashlib.sha256(encoded[point].data).hexdigest():
                    rows.append(row)
                    continue
            row = actdiff_points(video, {point: cfg}, {label: dec}, METRICS, encoded=encoded,
                                 on_decoded=hook, log=log)[label][0]
            row["bitstream_sha256"] = hashlib.sha256(encoded[point].data).hexdigest()
            if f is not None:
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(json.dumps(row))
            rows.append(row)
        out[label] = rows
    return out


def run_clip(path: str, frames: int, cfgs: dict, decoders: dict, png_dir: Path | None,
             cache: Path | None = None) -> dict:
    full = load_protocol("cpu").read(path)
    video = Video(frames=full.frames[:frames], fps=full.fps, source=path)
    name = Path(path).stem
    hook = png_writer(png_dir, name, video, tuple(decoders)) if png_dir else None
    log = lambda s: print(f"  {name} {s}", file=sys.stderr, flush=True)  # noqa: E731
    points = cached_points(video, name, cfgs, decoders, cache, hook, log)
    if "candidate" not in decoders:
        return {"clip": name, "path": path, "frames": video.num_frames, "points": points}
    mean = {lab: {m: float(np.mean([p["metrics"][m] for p in pts])) for m in METRICS} for lab, pts in points.items()}
    per_point = [{lab: points[lab][i]["metrics"] for lab in LABELS} for i in range(len(cfgs))]
    return {"clip": name, "path": path, "frames": video.num_frames, "points": points, "mean": mean,
            "bpp": [p["bpp"] for p in points["warp"]], "checks": checks(mean),
            "checks_every_point": {k: all(checks(r)[k] for r in per_point) for k in checks(mean)}}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("clips", nargs="+")
    p.add_argument("--candidate", help="save_pretrained folder of the weights under test (omitted: only "
                   "the warp and baseline rows, to fill --cache)")
    p.add_argument("--baseline", default=str(DEFAULT_WEIGHTS), help="default: the shipped weights")
    p.add_argument("--rates", nargs="+", default=["r1", "r3"])
    p.add_argument("--frames", type=int, default=96)
    p.add_argument("--png-dir", type=Path, default=None)
    p.add_argument("--cache", type=Path, default=None, help="folder of cached rows (resumable runs)")
    p.add_argument("-o", "--output")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args(argv)
    refuse_outputs(p, [args.output], args.overwrite)
    cfgs = point_configs(load_rates(names=args.rates), protocol="cpu")
    decoders = {"warp": build_decoder("warp"), "baseline": build_decoder("diffusion", weights=args.baseline)}
    decoders["baseline"].weights_dir = args.baseline
    if args.candidate:
        decoders["candidate"] = build_decoder("diffusion", weights=args.candidate)
        decoders["candidate"].weights_dir = args.candidate
    rows = [run_clip(c, args.frames, cfgs, decoders, args.png_dir, args.cache) for c in args.clips]
    if not args.candidate:
        print("warp and baseline rows cached; pass --candidate for the comparison", file=sys.stderr)
        return
    print("\n| clip | bpp | decoder | PSNR | MS-SSIM | VMAF NEG | NIQE | warping error |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        for lab in LABELS:
            m = r["mean"][lab]
            print(f"| {r['clip']} | {np.mean(r['bpp']):.4f} | {lab} | {m['psnr']:.2f} | {m['ms_ssim']:.4f} | "
                  f"{m['vmaf_neg']:.2f} | {m['niqe']:.2f} | {m['warping_error']:.4f} |")
    verdict = {k: all(r["checks"][k] for r in rows) for k in checks(rows[0]["mean"])}
    strict = {k: all(r["checks_every_point"][k] for r in rows) for k in verdict}
    print(f"\ntargets on every clip (mean over {', '.join(args.rates)}): {verdict}")
    print(f"targets on every clip and rate point: {strict}")
    mach = machine()
    print(f"machine: {mach}")
    if args.output:
        doc = {"machine": mach, "frames": args.frames, "rates": args.rates, "protocol": "cpu",
               "weights": {"baseline": args.baseline, "candidate": args.candidate},
               "settings": {lab: d.settings() for lab, d in decoders.items() if hasattr(d, "settings")},
               "metrics": METRICS, "clips": rows, "targets_met": verdict, "targets_met_every_point": strict,
               "ship": all(verdict.values())}
        atomic_write_text(args.output, json.dumps(doc, indent=2) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
