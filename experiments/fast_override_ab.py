"""A/B of one codec config override in the FAST mode, on TRAINING clips only.

For each clip (cpu protocol: 256x384 crop, first ``--frames`` frames) the fast mode at every rate
point of ``configs/rates/default.yaml`` (r0…r4) as configured ("off") and with the override added
(or several, all together) to every point ("on"), decoded by the warp decoder and scored: VMAF NEG,
MS-SSIM, PSNR and the temporal metrics (warping error, tOF); prints and writes the BD-rate of ``on`` against ``off`` per
clip and on average (negative: ``on`` needs fewer bits), and the temporal metrics' mean ratio
``on / off`` over the points (above 1: more flicker), with the machine.

    PYTHONPATH=. python experiments/fast_override_ab.py entropy.step=1.0 \\
        -o experiments/results_rd/fast_entropy_step1_train.json

The override's key is relative to the codec section, as in the rates files. Runs split by clip
(``--clips``, one process per core) are joined with ``--merge A.json B.json … -o ALL.json``: the
clips of all, the means recomputed; the runs must share the override and the frame count.
Two runs of other overrides are compared with ``--versus A.json B.json -o OUT.json``: B's ``on``
against A's ``on`` (their ``off`` curves must be the same, clip by clip), e.g. an override with and
without another one added.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from actdiff.codec import decode_video
from actdiff.data import load_dataset
from actdiff.evaluation.bdrate import bd_rate_of_points, mean_bd_rates
from actdiff.evaluation.rates import encode_at_point, load_rates
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics

QUALITY = ["vmaf_neg", "ms_ssim", "psnr"]
TEMPORAL = ["warping_error", "tof"]
CLIPS = ["davis_dogs_jump", "sadtalker_face_a", "intel_person_room", "sttn_schoolgirls", "intel_cars_topdown",
         "pysot_bag"]  # the six of experiments/rd_flag_ab.py


def curve(video, rates: dict, overrides: list[str]) -> list:
    """The fast mode's points on ``video`` (warp decoder), with ``overrides`` added to each."""
    out = []
    for name, ovs in rates.items():
        enc = encode_at_point(video, name, {name: [*ovs, *overrides]})
        rec = decode_video(enc.data, "warp").frames
        m = compute_metrics(video.frames, rec, QUALITY + TEMPORAL)
        out.append({"point": name, "bpp": float(enc.stats["bpp"]), "keyframes": enc.stats["keyframes"],
                    **{k: float(v) for k, v in m.items()}})
    return out


def fmt(v: float | None) -> str:
    return "no overlap" if v is None else f"{v:+.1f}%"


def summarize(out: dict) -> None:
    """Means over the clips so far (BD-rates over the clips where the curves overlap, with their count)."""
    clips = list(out["clips"].values())
    bds = [c["bd_rate_on_vs_off"] for c in clips]
    out["mean_bd_rate_on_vs_off"], out["bd_rate_clips"] = mean_bd_rates(bds, QUALITY)
    out["mean_temporal_ratio_on_vs_off"] = {m: float(np.mean([c["temporal_ratio_on_vs_off"][m] for c in clips]))
                                            for m in TEMPORAL}


def clip_result(name: str, off: list, on: list) -> dict:
    """One clip's two curves, the BD-rates of ``on`` against ``off`` and the temporal metrics' mean
    ratio ``on / off`` over the points (printed)."""
    bd = {m: bd_rate_of_points(off, on, m) for m in QUALITY}
    ratio = {m: float(np.mean([b[m] / a[m] for a, b in zip(off, on) if a[m] > 0])) for m in TEMPORAL}
    print(f"{name}: BD-rate on vs off " + " ".join(f"{m}={fmt(v)}" for m, v in bd.items())
          + " temporal on/off " + " ".join(f"{m}={v:.3f}" for m, v in ratio.items()), flush=True)
    return {"off": off, "on": on, "bd_rate_on_vs_off": bd, "temporal_ratio_on_vs_off": ratio}


def versus(paths: list[str], output: str) -> dict:
    """Two A/B runs of other overrides against the same baseline (their ``off`` curves identical,
    clip by clip): the second run's ``on`` against the first's, on the clips both hold."""
    missing = [p for p in paths if not Path(p).is_file()]
    if len(paths) != 2 or missing:
        raise SystemExit(f"--versus needs two results files, got {paths}" if len(paths) != 2
                         else f"{missing[0]}: no such results file")
    if Path(output).exists():
        raise SystemExit(f"{output} exists: results are never written over")
    a, b = (json.loads(Path(p).read_text()) for p in paths)
    names = [n for n in a["clips"] if n in b["clips"]]
    if not names:
        raise SystemExit(f"{paths[0]} and {paths[1]} share no clip")
    for n in names:
        if a["clips"][n]["off"] != b["clips"][n]["off"]:
            raise SystemExit(f"{n}: the two runs' baselines differ (another code version or frame count)")
    out: dict = {"args": {"versus": list(paths), "off": a["args"]["override"], "on": b["args"]["override"],
                          "clips": names}, "machine": b["machine"], "clips": {}}
    for n in names:
        out["clips"][n] = clip_result(n, a["clips"][n]["on"], b["clips"][n]["on"])
    summarize(out)
    atomic_write_text(output, json.dumps(out, indent=1) + "\n", overwrite=False)
    return out


def join_runs(paths: list[str], same: tuple[str, ...]) -> dict:
    """The clips of A/B runs split by clip (this script's or ``rd_flag_ab.py``'s results files),
    in one document without its means; the runs must agree on the ``args`` named by ``same``, and
    a clip in two runs is an error."""
    missing = [p for p in paths if not Path(p).is_file()]
    if missing:
        raise SystemExit(f"{missing[0]}: no such results file")
    runs = [json.loads(Path(p).read_text()) for p in paths]
    first = runs[0]["args"]
    out: dict = {"args": {**first, "clips": [], "merged": list(paths)}, "machine": runs[0]["machine"], "clips": {}}
    for path, run in zip(paths, runs):
        if [run["args"][k] for k in same] != [first[k] for k in same]:
            raise SystemExit(f"{path}: another {' or '.join(same)} than {paths[0]}")
        for name, clip in run["clips"].items():
            if name in out["clips"]:
                raise SystemExit(f"{path}: clip {name} is in an earlier file too")
            out["clips"][name] = clip
            out["args"]["clips"].append(name)
    return out


def merge(paths: list[str], output: str) -> dict:
    """One results file from runs split by clip (module docstring); a clip in two runs is an error."""
    out = join_runs(paths, ("override", "frames"))
    summarize(out)
    atomic_write_text(output, json.dumps(out, indent=1) + "\n", overwrite=True)  # merge_cli checked it
    return out


def merge_cli(argv: list[str], prog: str, merge_fn) -> dict | None:
    """``--merge FILES… -o OUT`` of an A/B script: ``merge_fn(files, output)``'s document, or
    ``None`` when ``argv`` is not a merge."""
    if argv[:1] != ["--merge"]:
        return None
    mp = argparse.ArgumentParser(prog=f"{prog} --merge")
    mp.add_argument("files", nargs="+")
    mp.add_argument("-o", "--output", required=True)
    mp.add_argument("--overwrite", action="store_true", help="replace an existing output")
    margs = mp.parse_args(argv[1:])
    refuse_outputs(mp, [margs.output], margs.overwrite)
    return merge_fn(margs.files, margs.output)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    argv = sys.argv[1:] if argv is None else argv
    out = merge_cli(argv, "fast_override_ab.py", merge)
    if argv[:1] == ["--versus"]:
        vp = argparse.ArgumentParser(prog="fast_override_ab.py --versus")
        vp.add_argument("files", nargs=2)
        vp.add_argument("-o", "--output", required=True)
        vargs = vp.parse_args(argv[1:])
        out = versus(vargs.files, vargs.output)
    if out is not None:
        print("mean:", {m: fmt(v) for m, v in out["mean_bd_rate_on_vs_off"].items()}, "over clips",
              out["bd_rate_clips"], {m: round(v, 3) for m, v in out["mean_temporal_ratio_on_vs_off"].items()})
        return
    ap.add_argument("override", nargs="+",
                    help="KEY=VALUE relative to the codec section, e.g. entropy.step=1.0 (several: all together)")
    ap.add_argument("--clips", nargs="+", default=CLIPS)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    bad = [o for o in args.override if "=" not in o]
    if bad:
        ap.error(f"expected KEY=VALUE, got {bad[0]!r}")
    rates = load_rates()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)  # not at the end of an hour's run
    out: dict = {"args": vars(args), "machine": machine(), "clips": {}}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        off, on = curve(video, rates, []), curve(video, rates, args.override)
        for a, b in zip(off, on):
            print(f"{seq.name} {a['point']}: " + " | ".join(
                f"{p['bpp']:.5f} bpp vmaf_neg={p['vmaf_neg']:.2f} ms_ssim={p['ms_ssim']:.4f} psnr={p['psnr']:.2f} "
                f"warp_err={p['warping_error']:.5f} tof={p['tof']:.4f}" for p in (a, b)), flush=True)
        out["clips"][seq.name] = clip_result(seq.name, off, on)
        summarize(out)
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)  # a stopped run keeps its part
    print("mean:", {m: fmt(v) for m, v in out["mean_bd_rate_on_vs_off"].items()}, "over clips", out["bd_rate_clips"],
          {m: round(v, 3) for m, v in out["mean_temporal_ratio_on_vs_off"].items()})


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
