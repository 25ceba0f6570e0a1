"""Look at inter-coded keyframes: one keyframe and one in-between frame, with and without them.

Encodes a clip (cpu protocol: 256x384 crop, first 96 frames) in the fast mode at a rate point with
``codec.keyframe_inter`` off and on, finds the first keyframe the encoder sent inter, and writes one
image: top row the source keyframe, the intra keyframe, the inter keyframe; bottom row the frame
``--offset`` frames later, source, decoded from each stream (warp decoder). Prints the stream sizes.

    PYTHONPATH=. python experiments/keyframe_inter_frames.py data/opencv_samples/vtest.avi \\
        -o docs/figures/keyframe_inter_vtest_r2.jpg
"""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.evaluation.rates import codec_overrides, load_rates
from actdiff.io import read_video
from actdiff.io.files import atomic_output, refuse_outputs


def keyframe_of(result, frame: int) -> np.ndarray:
    """The decoded keyframe at ``frame`` (as the encoder's closed loop rebuilt it)."""
    for s in result.debug["decoded_segments"]:
        if s.segment.start == frame:
            return s.key_start
        if s.segment.end == frame:
            return s.key_end
    raise ValueError(f"frame {frame} is not a keyframe")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip")
    ap.add_argument("--point", default="r2")
    ap.add_argument("--offset", type=int, default=8)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    video = read_video(args.clip, max_frames=96, size=(256, 384), resize_mode="crop")
    results = {}
    for inter in (False, True):
        overrides = codec_overrides(load_rates()[args.point]) + [f"codec.keyframe_inter={str(inter).lower()}",
                                                                 "codec.repeat_psnr=null"]  # frames one to one
        results[inter] = encode_video(video, compose(None, overrides, default="experiment/codec"))
        print(f"keyframe_inter={inter}: {len(results[inter].data)} bytes, keyframes {results[inter].stats['keyframes']}"
              f", {results[inter].stats.get('keyframe_inter')}")
    on = results[True].stats
    k = next((f for f, q in zip(on["keyframes"], on["keyframe_inter"]["qps"]) if q is not None), None)
    if k is None:
        raise SystemExit("no keyframe went inter on this clip")
    t = min(k + args.offset, video.num_frames - 1)
    decoded = {i: decode_video(r.data).frames for i, r in results.items()}
    top = np.concatenate([video.frames[k], keyframe_of(results[False], k), keyframe_of(results[True], k)], 1)
    bottom = np.concatenate([video.frames[t], decoded[False][t], decoded[True][t]], 1)
    with atomic_output(args.output, overwrite=True) as tmp:
        Image.fromarray(np.concatenate([top, bottom], 0)).save(tmp)
    print(f"keyframe {k}, frame {t} -> {args.output}")


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
