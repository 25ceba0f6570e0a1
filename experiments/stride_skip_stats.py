"""What the trajectory stride loses, per stream, on TRAINING clips: the fast mode's streams at every
rate point (``configs/rates/default.yaml``; cpu protocol: 256x384 crop, first ``--frames`` frames)
and the interpolation loss of their selected, smoothed trajectories at the configured stride
(``stats["trajectory_stride"]["skip"]``, :mod:`actdiff.codec.stride_choice`): the statistic a
``codec.trajectories.stride_tolerance`` is set against. No decoding, no scores.

    PYTHONPATH=. python experiments/stride_skip_stats.py -o experiments/results_rd/stride_skip_stats_train.json
"""

from __future__ import annotations

import argparse
import json

from actdiff.evaluation.rates import load_rates, training_streams
from actdiff.evaluation.results import atomic_write_text, machine
from actdiff.io.files import refuse_outputs

CLIPS = ["davis_dogs_jump", "sadtalker_face_a", "intel_person_room", "sttn_schoolgirls", "intel_cars_topdown",
         "pysot_bag"]  # the six of experiments/fast_override_ab.py


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=CLIPS)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    out: dict = {"args": vars(args), "machine": machine(), "clips": {}}
    for clip, _, point, enc in training_streams(args.clips, list(load_rates()), args.frames):
        skip = enc.stats["trajectory_stride"]["skip"]
        out["clips"].setdefault(clip, {})[point] = {"bpp": float(enc.stats["bpp"]), **skip}
        print(f"{clip} {point}: {enc.stats['bpp']:.5f} bpp, skip loss mean {skip['mean_px']:.2f} px "
              f"rms {skip['rms_px']:.2f} p90 {skip['p90_px']:.2f} >0.5px {skip['over_half_px']:.2f} "
              f"({skip['count']} point-frames)", flush=True)
    atomic_write_text(args.output, json.dumps(out, indent=1) + "\n", overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
