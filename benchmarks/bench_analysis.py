"""Time the encoder's analysis stages (flows, segments, trajectories) per frame.

Usage: OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_analysis.py [clip.mp4]
(default clip: actdiff/assets/sample/bigbuckbunny_256x384.mp4, resized to 256×384).
"""

import argparse
import time

import av
import cv2
import numpy as np
from omegaconf import OmegaConf

from actdiff.registry import TRACKERS
from actdiff.selection import select_segments, select_trajectories
from actdiff.tracking import chain_flows


def load(path):
    with av.open(path) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return np.stack([cv2.resize(f, (384, 256), interpolation=cv2.INTER_AREA) for f in frames])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", nargs="?", default="actdiff/assets/sample/bigbuckbunny_256x384.mp4")
    frames = load(ap.parse_args(argv).clip)
    cfg = OmegaConf.load("configs/codec/default.yaml")
    tracker = TRACKERS.build("dis", **{k: v for k, v in cfg.tracker.items() if k != "name"})
    n = len(frames)
    t0 = time.perf_counter()
    fw, bw = tracker.pairwise_flows(frames)
    t1 = time.perf_counter()
    segs = select_segments(frames, tracker, cfg.keyframes, flows=(fw, bw))
    t2 = time.perf_counter()
    for s in segs:
        if s.length > 2:
            motion = chain_flows(fw, bw, s.start, s.end, tracker.fb_threshold)
            select_trajectories(frames[s.start], motion, cfg.trajectories, tracker.visibility_threshold)
    t3 = time.perf_counter()
    ms = lambda a, b: 1000 * (b - a) / n  # noqa: E731
    print(f"{n} frames {frames.shape[1]}x{frames.shape[2]}, {len(segs)} segments")
    print(f"flows {ms(t0, t1):.1f} ms/frame, segments {ms(t1, t2):.1f}, "
          f"trajectories {ms(t2, t3):.1f}, total {ms(t0, t3):.1f}")


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
