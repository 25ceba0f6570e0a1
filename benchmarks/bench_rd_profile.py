"""Where the RD encoder's time goes: one encode under cProfile, split into its stages.

One thread (the search's worker pool off, OpenCV and torch single-threaded), so each stage's
cumulative time is its own cost and the stages can be compared; wall clock with both cores is
``bench_rd_speed.py``'s job. Stages (cumulative seconds of these functions; they may nest, e.g.
x265 trials inside the stream's keyframes, so they do not add up to the total):

* ``flows``: the pairwise DIS flows (once per clip);
* ``avif``: every AVIF keyframe encode, the search's candidates (``codec.rd.search_speed``) and
  the stream's keyframes (the codec's preset);
* ``inter_choice``: choosing each keyframe's intra or P-frame coding, its x265 trials included
  (they run on a helper thread, which cProfile does not see: this is the main thread's wait);
* ``selection``: trajectory selection (greedy, for the search and for the stream);
* ``decode_and_distortion``: the warp decoder in the loop and the distortion of its frames;
* ``search``: the split search as a whole; ``stream_keys``: the stream's keyframes and their inter
  choices.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/bench_rd_profile.py data/opencv_samples/cup.mp4 \\
        --lambda 1.5 -o benchmarks/results/rd_profile_cup_cpu.json
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import time
from pathlib import Path

import cv2
import torch

from actdiff.codec import encode_video
from actdiff.config import compose
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs

#: stage → (file suffix, function name) pairs whose cumulative times are summed.
STAGES = {
    "flows": [("tracking/dis.py", "pairwise_flows")],
    "avif": [("image_codecs/pillow_codecs.py", "encode")],
    "inter_choice": [("codec/keyframe_inter.py", "choose")],
    "selection": [("codec/rd_segments.py", "_select")],
    "decode_and_distortion": [("codec/rd_segments.py", "distortions")],
    "search": [("codec/rdo.py", "_search")],
    "stream_keys": [("codec/rdo.py", "stream_keys")],
}


def stage_seconds(stats: pstats.Stats) -> dict[str, dict[str, float]]:
    """``{stage: {"seconds", "calls"}}`` from a profile. Where one file has several functions of
    the name (a wrapper and the codec's own ``encode``) the one of largest cumulative time counts."""
    out = {}
    for stage, keys in STAGES.items():
        seconds, calls = 0.0, 0
        for suffix, fn in keys:
            hits = [(cum, n) for (path, _, name), (_, n, _, cum, _) in stats.stats.items()  # type: ignore[attr-defined]
                    if path.endswith(suffix) and name == fn]
            cum, n = max(hits, default=(0.0, 0))
            seconds, calls = seconds + cum, calls + n
        out[stage] = {"seconds": seconds, "calls": calls}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip")
    ap.add_argument("--lambda", dest="lam", type=float, default=1.5, help="RD λ (default 1.5, the grid's highest rate)")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="more config overrides")
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    video = read_video(args.clip, max_frames=args.frames, size=(256, 384), resize_mode="crop")
    cfg = compose(None, ["codec.mode=rd", f"codec.rd.lambda={args.lam}", "codec.threads=1", "codec.rd.threads=1",
                         *args.set])
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    res = encode_video(video, cfg)
    prof.disable()
    total = time.perf_counter() - t0
    stages = stage_seconds(pstats.Stats(prof))
    out = {"clip": Path(args.clip).name, "frames": video.num_frames, "lambda": args.lam, "overrides": args.set,
           "bpp": res.stats["bpp"], "keyframes": len(res.stats["keyframes"]), "total_seconds": total,
           "stages": stages, "machine": machine()}
    print(f"{out['clip']} λ={args.lam}: {total:.1f} s under the profiler, {out['keyframes']} keyframes, "
          f"{out['bpp']:.4f} bpp")
    for k, v in stages.items():
        print(f"  {k:>22}: {v['seconds']:7.1f} s  {100 * v['seconds'] / total:5.1f} %  ({v['calls']} calls)")
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)
    return out


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
