"""How far apart are a video model's decoded frames and the shipped 2D model's, on the same stream?

On VALIDATION files of the training corpus (cpu protocol, first ``--frames`` frames, fast mode with
``codec.send_detail_mix=true``, as ``experiments/video_sampling_tradeoff.py`` encodes them), decodes
each stream with the warp decoder, the shipped 2D diffusion decoder and the video model ``--video``
(both at their weights' defaults, ``strength`` 0.5, with and without the temporal residual filter)
and prints the mean and largest absolute difference (grey levels) of video − 2D beside 2D − warp:
whether training the temporal layers changed the generated frames at all, measured against how much
the 2D model changes the warp decoder's.

    ACTDIFF_TRAIN_CLIPS=... OMP_NUM_THREADS=2 PYTHONPATH=. python experiments/video_vs_2d_frames.py \\
        --video runs/train_video_cpu/export --clips udacity_highway --rates r1
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

from actdiff.codec import decode_video


def _streams():
    """:func:`training_streams` of the sampling sweep (the same validation streams)."""
    path = Path(__file__).resolve().parent / "video_sampling_tradeoff.py"
    spec = importlib.util.spec_from_file_location("video_sampling_tradeoff", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.training_streams


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", required=True, help="weights folder of the video model")
    ap.add_argument("--clips", nargs="+", default=["udacity_highway"])
    ap.add_argument("--rates", nargs="+", default=["r1"])
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--blends", type=float, nargs="+", default=[0.95, 0.0], help="temporal_blend of both decoders")
    args = ap.parse_args(argv)
    rows = []
    for name, _, point, res in _streams()(args.clips, args.rates, args.frames, ["codec.send_detail_mix=true"]):
        warp = np.asarray(decode_video(res.data, "warp").frames).astype(np.int16)
        for blend in args.blends:
            kw = dict(strength=0.5, temporal_blend=blend)
            two_d = np.asarray(decode_video(res.data, "diffusion", **kw).frames).astype(np.int16)
            video = np.asarray(decode_video(res.data, "diffusion", weights=args.video, **kw).frames).astype(np.int16)
            d, dw = np.abs(video - two_d), np.abs(two_d - warp)
            row = {"clip": name, "point": point, "temporal_blend": blend, "video_2d_mean": float(d.mean()),
                   "video_2d_max": int(d.max()), "video_2d_over_2": float((d > 2).mean()),
                   "2d_warp_mean": float(dw.mean())}
            rows.append(row)
            print(f"{name} {point} temporal_blend={blend:g}: |video - 2d| mean {d.mean():.3f} max {d.max()} "
                  f"(share > 2: {(d > 2).mean():.4f}); |2d - warp| mean {dw.mean():.3f}", flush=True)
    return rows


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
