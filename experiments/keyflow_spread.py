"""How keyflow's correction is spread over a segment, on a synthetic that separates the choices.

A textured square rests for the first half of a segment, then moves fast, over a static textured
background; the decoded trajectories are exact (a 3x3 grid on the square, a sparse static grid on
the background), so the tracks' interpolated field leaks the square's later motion into the
background beside it. Each in-between frame is decoded by the warp decoder with the tracks alone
(``keyflow: false``), with keyflow spread linearly in time (``spread: time``, the first version) and
with keyflow spread along the tracks' own progress (``spread: progress``, the default) and with
the end keyframe's share tied to the start's (``spread: shared``, an ablation); printed
and written: the mean absolute error (grey levels, [0, 255]) of each frame against the truth.

    PYTHONPATH=$PWD .venv/bin/python experiments/keyflow_spread.py [--out FILE.json]

``tests/test_keyflow.py`` builds its test on :func:`rest_then_move` and :func:`frame_errors`.
"""

from __future__ import annotations

import argparse
import json
from typing import Dict, Sequence, Tuple

import numpy as np

from actdiff.decoders import build_decoder
from actdiff.evaluation.results import atomic_write_text
from actdiff.io.files import refuse_outputs
from actdiff.training.synthetic import moving_texture
from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks

H, W = 96, 128
DECODERS = {
    "tracks": {"name": "warp", "prediction_params": {"keyflow": False}},
    "time": {"name": "warp", "prediction_params": {"keyflow_params": {"spread": "time"}}},
    "progress": {"name": "warp"},
    "shared": {"name": "warp", "prediction_params": {"keyflow_params": {"spread": "shared"}}},
}


def rest_then_move(length: int = 17, rest: int = 8, speed: int = 3) -> Tuple[DecodedSegment, StreamHeader, np.ndarray]:
    """The segment (exact trajectories, lossless keyframes), its header and the true frames
    ``uint8 (L, H, W, 3)``: a 32-px square at rest for ``rest`` frames, then ``speed`` px/frame right."""
    bg = moving_texture(1, H, W, seed=0, speed=0.0)[0]
    obj = moving_texture(1, 32, 32, seed=1, speed=0.0)[0]
    xpos = [24 + speed * max(0, t - rest) for t in range(length)]
    frames = np.repeat(bg[None], length, 0)
    for t, x in enumerate(xpos):
        frames[t, 32:64, x:x + 32] = obj
    on_square = np.stack(np.meshgrid([4.0, 16, 28], [36.0, 48, 60]), -1).reshape(-1, 2)
    gx, gy = np.meshgrid(np.linspace(8, W - 8, 5), [8.0, H - 8.0])
    background = np.stack([gx.ravel(), gy.ravel()], -1)
    pos = np.stack([np.concatenate([on_square + [x, 0], background]) for x in xpos]).astype(np.float32)
    n = pos.shape[1]
    tracks = Tracks(pos, np.ones((length, n), bool), np.ones((length, n), np.float32))
    seg = DecodedSegment(Segment(0, length - 1), frames[0], frames[-1], tracks, 16.0)
    header = StreamHeader(height=H, width=W, fps=25.0, num_frames=length, coded_height=H, coded_width=W, params={})
    return seg, header, frames


def frame_errors(ts: Sequence[int], **kw: int) -> Dict[str, np.ndarray]:
    """Mean absolute error per frame in ``ts`` for each of :data:`DECODERS`."""
    seg, header, frames = rest_then_move(**kw)
    out = {}
    for name, section in DECODERS.items():
        dec = build_decoder(section)
        out[name] = np.array([np.abs(dec.decode_frames(header, seg, [t])[0].astype(float) - frames[t]).mean()
                              for t in ts])
    return out


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-o", "--out", default=None, help="results JSON")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args(argv)
    refuse_outputs(p, [args.out], args.overwrite)
    ts = list(range(1, 16))
    err = frame_errors(ts)
    print("frame " + " ".join(f"{t:5d}" for t in ts) + "   mean")
    for name, e in err.items():
        print(f"{name:8s} " + " ".join(f"{x:5.2f}" for x in e) + f"  {e.mean():5.2f}")
    if args.out:
        doc = {"frames": ts, "rest_frames": 8, "mae": {k: [round(float(x), 4) for x in v] for k, v in err.items()}}
        atomic_write_text(args.out, json.dumps(doc, indent=1), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
