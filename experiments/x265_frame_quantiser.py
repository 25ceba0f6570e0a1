"""Can PyAV set x265's quantiser per frame? Yes: through the ``addroi`` filter's side data.

The keyframe-chain lead of docs/rd_mode.md (keyframes coded as one low-delay x265 stream, each
predicted from the previous one) needs a quantiser per keyframe, and PyAV's encoder options are
per stream. FFmpeg's libx265 wrapper does read per-frame *regions of interest*
(``AV_FRAME_DATA_REGIONS_OF_INTEREST``, a QP offset of ``qoffset · 25`` in ``[-25, 25]``) when
adaptive quantisation is on, and the ``addroi`` filter attaches them; a PyAV filter graph passes the
side data through. This probe codes a small moving texture (frame 0 intra, the rest P-frames, CRF
with lookahead and cutree off so that frames do not influence each other's quantiser) with one
whole-frame ``qoffset`` on frames 1.. and prints every packet's size: a negative offset (finer
quantiser) must make frames 1.. larger, a positive one smaller, frame 0 unchanged.

    python experiments/x265_frame_quantiser.py
"""

from __future__ import annotations

import argparse
import io
import json
from fractions import Fraction

import av
import cv2
import numpy as np
from av.filter import Graph

H, W = 256, 384


def frames(n: int, seed: int = 0) -> list[np.ndarray]:
    """A smooth random texture panning 3 px a frame, ``uint8 (H, W, 3)``."""
    base = cv2.GaussianBlur((np.random.default_rng(seed).random((H, W, 3)) * 255).astype(np.uint8), (0, 0), 3)
    return [np.roll(base, 3 * i, axis=1) for i in range(n)]


def with_offset(frame: av.VideoFrame, qoffset: float) -> av.VideoFrame:
    """``frame`` with a whole-frame region of interest of ``qoffset`` (``addroi``)."""
    graph = Graph()
    src = graph.add_buffer(width=W, height=H, format="yuv420p", time_base=Fraction(1, 25))
    roi = graph.add("addroi", f"x=0:y=0:w=iw:h=ih:qoffset={qoffset}")
    sink = graph.add("buffersink")
    src.link_to(roi)
    roi.link_to(sink)
    graph.configure()
    graph.push(frame)
    return graph.pull()


def packet_sizes(images: list[np.ndarray], qoffset: float | None, crf: int) -> list[int]:
    """Bytes of each packet of ``images`` coded as one low-delay x265 stream, frames 1.. at ``qoffset``."""
    out = av.open(io.BytesIO(), "w", format="hevc")
    stream = out.add_stream("libx265", rate=25)
    stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
    stream.options = {"x265-params": f"keyint=1000:bframes=0:crf={crf}:aq-mode=1:rc-lookahead=0:cutree=0:"
                                     "log-level=error"}
    sizes = []
    for i, img in enumerate(images):
        frame = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p")
        if qoffset is not None and i > 0:
            frame = with_offset(frame, qoffset)
        frame.pts = i
        sizes += [p.size for p in stream.encode(frame)]
    sizes += [p.size for p in stream.encode(None)]
    out.close()
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--crf", type=int, default=32)
    ap.add_argument("--offsets", type=float, nargs="+", default=[-0.4, -0.2, 0.2, 0.4])
    args = ap.parse_args()
    images = frames(args.frames)
    rows = {"none": packet_sizes(images, None, args.crf)}
    rows.update({f"{q:+g}": packet_sizes(images, q, args.crf) for q in args.offsets})
    print(json.dumps({"pyav": av.__version__, "crf": args.crf, "packet_bytes": rows}, indent=1))


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
