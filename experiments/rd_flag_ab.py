"""A/B of one setting of the RD search (``codec.rd.<flag>``, a field of :class:`RDSettings`), on
TRAINING clips only.

For each clip (cpu protocol: 256x384 crop, first ``--frames`` frames) and λ, the stream encoded
with the setting at its two ``--values`` ("off" and "on"; default false, true) by one
:class:`RDSearch` (its caches shared: the second encode costs only what the setting changes),
decoded by the warp decoder and scored (VMAF NEG, MS-SSIM, PSNR); prints and writes the BD-rate of
``on`` against ``off`` per clip and on average (negative: ``on`` needs fewer bits), the keyframes
and the search's cost J, with the machine.

    PYTHONPATH=. python experiments/rd_flag_ab.py endpoint_credit -o experiments/results_rd/endpoint_credit_train.json
    PYTHONPATH=. python experiments/rd_flag_ab.py propagation --values 0.5 1.0 -o ...
    PYTHONPATH=. python experiments/rd_flag_ab.py search_speed --values 6 8 -o ...
    PYTHONPATH=. python experiments/rd_flag_ab.py budgets --values 8,32,128 8,16,32,64,128 -o ...

Settings the search reads when it is built (:data:`FRESH`, e.g. ``search_speed``) get one search
per value instead (only the flows shared), and so does any other setting of the codec section named
by its full key (``codec.<key>``, e.g. the trajectory quantiser step: a config override of both
encodes, the stream's header carries it):

    PYTHONPATH=. python experiments/rd_flag_ab.py codec.entropy.step --values 0.5 1.0 -o ...
    PYTHONPATH=. python experiments/rd_flag_ab.py codec.trajectories.smooth_ends --values hold pin -o ...

A key the config files do not name yet (only its schema default) is added with ``+codec.<key>``.

``--also-score '{"edge_sigma_r": 0}'`` (repeatable) decodes every stream a second time with a warp
decoder of those ``prediction_params`` too; its rows are kept under ``also`` and its curves' BD-rates
are given against the ``off`` streams decoded by the default decoder (``bd_rate_also_vs_off``):

    PYTHONPATH=. python experiments/rd_flag_ab.py codec.rd.edge --also-score '{"edge_sigma_r": 0}' -o ...

Runs split by clip (``--clips``, one process per core) are joined with ``--merge A.json B.json …
-o ALL.json`` (the means recomputed; the runs must share the flag, its values, the frames and the λs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fast_override_ab import join_runs, merge_cli  # noqa: E402  (the sibling script)

from actdiff.codec import decode_video
from actdiff.codec.encoder import pairwise_flows
from actdiff.codec.encoding import prepare
from actdiff.codec.rdo import RDSearch, RDSettings
from actdiff.config import compose
from actdiff.data import load_dataset
from actdiff.decoders import build_decoder
from actdiff.evaluation.bdrate import bd_rate_of_points, mean_bd_rates
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics

METRICS = ["vmaf_neg", "ms_ssim", "psnr"]
CLIPS = ["davis_dogs_jump", "sadtalker_face_a", "intel_person_room", "sttn_schoolgirls", "intel_cars_topdown",
         "pysot_bag"]  # the six of experiments/keyframe_inter_rd.py
#: Settings :class:`RDSearch` reads when it is built: each value gets its own search.
FRESH = {"search_speed"}


def fmt(v: float | None) -> str:
    return "no overlap" if v is None else f"{v:+.1f}%"


def parse_value(v: str):
    """``true``/``false``, an integer, a number, or a comma-separated tuple of them (``8,32,128``)."""
    if "," in v:
        return tuple(parse_value(x) for x in v.split(",") if x)
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    if v.lstrip("-").isdigit():
        return int(v)
    try:
        return float(v)
    except ValueError:
        return v  # a name, e.g. ``pin``


def is_codec_key(flag: str) -> bool:
    """``codec.<key>``, or ``+codec.<key>`` for a key the config files do not name (schema default)."""
    return flag.lstrip("+").startswith("codec.")


def build_search(prep, codec, flag: str, value) -> RDSearch:
    """An RD search of the prepared clip with ``codec.rd.<flag>`` set to ``value``."""
    return RDSearch(prep, codec, dataclasses.replace(RDSettings.from_config(codec), **{flag: value}))


def codec_search(video, flows, flag: str, raw: str) -> RDSearch:
    """An RD search of ``video`` composed with the config override ``flag=raw`` (``codec.<key>``)."""
    cfg = compose(None, ["codec.mode=rd", f"{flag}={raw}"], default="experiment/codec")
    return RDSearch(prepare(video, cfg.codec, flows), cfg.codec, RDSettings.from_config(cfg.codec))


def scores(video, data: bytes, params: str | None = None) -> dict:
    """:data:`METRICS` of ``data`` decoded by the warp decoder (``prediction_params`` JSON ``params``)."""
    decoder = build_decoder("warp", **({"prediction_params": json.loads(params)} if params else {}))
    return {k: float(v) for k, v in compute_metrics(video.frames, decode_video(data, decoder).frames, METRICS).items()}


def point(video, search: RDSearch, lam: float, flag: str, value, also: list[str]) -> dict:
    if not is_codec_key(flag):
        search.s = dataclasses.replace(search.s, **{flag: value})
    t0 = time.perf_counter()
    r = search.encode(lam)
    seconds = time.perf_counter() - t0
    bpp = 8 * len(r.data) / (video.num_frames * video.height * video.width)
    return {"lambda": lam, flag: value, "seconds_cached": seconds, "cost": r.stats["rd"]["cost"], "bpp": bpp,
            "keyframes": r.stats["keyframes"], "qualities": r.stats["rd"]["keyframe_qualities"],
            "qps": r.stats.get("keyframe_inter", {}).get("qps"), **scores(video, r.data),
            "also": {a: {"bpp": bpp, **scores(video, r.data, a)} for a in also}}


def merge(paths: list[str], output: str) -> dict:
    """One results file from runs split by clip (module docstring), its means recomputed."""
    out = join_runs(paths, ("flag", "values", "frames", "lambdas"))
    out["mean_bd_rate_on_vs_off"], out["bd_rate_clips"] = mean_bd_rates(
        [c["bd_rate_on_vs_off"] for c in out["clips"].values()], METRICS)
    atomic_write_text(output, json.dumps(out, indent=1) + "\n", overwrite=True)  # merge_cli checked it
    return out


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    out = merge_cli(argv, "rd_flag_ab.py", merge)
    if out is not None:
        print("mean:", {m: fmt(v) for m, v in out["mean_bd_rate_on_vs_off"].items()}, "over clips",
              out["bd_rate_clips"])
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("flag", help="a field of RDSettings, e.g. endpoint_credit or propagation, or a codec "
                                 "config key, e.g. codec.entropy.step")
    ap.add_argument("--values", nargs=2, default=["false", "true"], metavar=("OFF", "ON"),
                    help="its two values (true/false or numbers; default false true)")
    ap.add_argument("--clips", nargs="+", default=CLIPS)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--lambdas", type=float, nargs="+", default=[2.5, 8, 32])
    ap.add_argument("--also-score", action="append", default=[], metavar="JSON",
                    help="also score every stream decoded with these warp prediction_params")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    for a in args.also_score:
        build_decoder("warp", prediction_params=json.loads(a))  # bad JSON or settings: fail before encoding
    if not is_codec_key(args.flag) and args.flag not in {f.name for f in dataclasses.fields(RDSettings)}:
        ap.error(f"{args.flag!r} is not a setting of the RD search")
    off, on = (parse_value(v) for v in args.values)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)  # not at the end of an hour's run
    out: dict = {"args": vars(args), "machine": machine(), "clips": {}}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        cfg = compose(None, ["codec.mode=rd"], default="experiment/codec")
        flows = pairwise_flows(video, cfg)
        if is_codec_key(args.flag):
            searches = {which: codec_search(video, flows, args.flag, raw)
                        for which, raw in zip((False, True), args.values)}
        else:
            prep = prepare(video, cfg.codec, flows)
            shared = build_search(prep, cfg.codec, args.flag, off)
            searches = {False: shared,
                        True: build_search(prep, cfg.codec, args.flag, on) if args.flag in FRESH else shared}
        curves: dict = {False: [], True: []}
        for lam in args.lambdas:
            for which, value in ((False, off), (True, on)):
                p = point(video, searches[which], lam, args.flag, value, args.also_score)
                curves[which].append(p)
                print(f"{seq.name} λ={lam:g} {args.flag}={value}: {p['bpp']:.5f} bpp vmaf_neg={p['vmaf_neg']:.2f} "
                      f"ms_ssim={p['ms_ssim']:.4f} psnr={p['psnr']:.2f} J={p['cost']:.3f} "
                      f"keyframes={p['keyframes']} qps={p['qps']} {p['seconds_cached']:.1f}s", flush=True)
        bd = {m: bd_rate_of_points(curves[False], curves[True], m) for m in METRICS}
        out["clips"][seq.name] = {"off": curves[False], "on": curves[True], "bd_rate_on_vs_off": bd}
        print(f"{seq.name}: BD-rate {args.flag} on vs off " + " ".join(f"{m}={fmt(v)}" for m, v in bd.items()),
              flush=True)
        for a in args.also_score:
            for which, name in ((False, "off"), (True, "on")):
                rows = [p["also"][a] for p in curves[which]]
                also = {m: bd_rate_of_points(curves[False], rows, m) for m in METRICS}
                out["clips"][seq.name].setdefault("bd_rate_also_vs_off", {})[f"{name} {a}"] = also
                print(f"{seq.name}: BD-rate {name} decoded with {a} vs off " +
                      " ".join(f"{m}={fmt(v)}" for m, v in also.items()), flush=True)
    out["mean_bd_rate_on_vs_off"], out["bd_rate_clips"] = mean_bd_rates(
        [c["bd_rate_on_vs_off"] for c in out["clips"].values()], METRICS)
    print("mean:", {m: fmt(v) for m, v in out["mean_bd_rate_on_vs_off"].items()}, "over clips", out["bd_rate_clips"])
    for key in (f"{name} {a}" for a in args.also_score for name in ("off", "on")) if out["clips"] else ():
        mean, n = mean_bd_rates([c["bd_rate_also_vs_off"][key] for c in out["clips"].values()], METRICS)
        out.setdefault("mean_bd_rate_also_vs_off", {})[key] = mean
        print(f"mean {key} vs off:", {m: fmt(v) for m, v in mean.items()}, "over clips", n)
    atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
