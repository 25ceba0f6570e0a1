"""Later keyframes as x265 P-frames of the previous decoded keyframe: a sizing on TRAINING clips.

``keyframe_chain_sizing.py`` found a low-delay x265 chain of the keyframes 7–11 % cheaper than
independent AVIF keyframes (PSNR, VMAF NEG) but 2 % dearer for MS-SSIM, held back by x265's intra
coding (16–32 % behind AVIF). This measures a design that keeps AVIF's intra coding: the first
keyframe is AVIF; each later keyframe ``k`` is the P-frame of a two-frame x265 stream whose first
frame is keyframe ``k − 1`` *as decoded*, coded near-lossless (constant QP with ``ipratio=64``:
the I-frame's QP is the P-frame's minus 36). Only the P-frame's packet would be sent; a decoder
rebuilds the I-frame by coding the keyframe it already holds with the same settings. That needs
x265 to give the same I-frame on both sides, which this script checks on its own machine
(``decoder_rebuild_identical``): the same build, run twice; another x265 build is not checked.

Curves are bytes summed over a clip's keyframes (the fast mode's keyframes at ``--point``) against
PSNR / MS-SSIM / VMAF NEG averaged over them. Both designs get the same freedom — one setting for
the first keyframe, one for all later ones — and each curve is the lower envelope of that grid,
per metric; BD-rates of ``pframe`` against ``avif`` (negative = fewer bytes). A sizing of a lead,
not an encoder option.

    ACTDIFF_TRAIN_CLIPS=../shared/data/train_clips PYTHONPATH=. python experiments/keyframe_pframe_sizing.py \\
        -o benchmarks/results/keyframe_pframe_sizing_train_cpu.json
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from actdiff.baselines import pyav_codec
from actdiff.codec import encode_video
from actdiff.codec.bitstream import bit_split
from actdiff.config import compose
from actdiff.data import load_dataset
from actdiff.evaluation.rates import codec_overrides, load_rates
from actdiff.evaluation.results import atomic_write_text
from actdiff.image_codecs import codec_from_params
from actdiff.io import read_video
from actdiff.io.files import refuse_outputs
from actdiff.metrics import compute_metrics

sys.path.insert(0, str(Path(__file__).resolve().parent))
from keyframe_chain_sizing import DEFAULT_CLIPS, METRICS  # noqa: E402
from keyframe_codec_options import bd_of_points  # noqa: E402

#: The I-frame (reference) QP is the P-frame's minus 6·log2(64) = 36: near-lossless.
X265_PARAMS = "qp={qp}:ipratio=64:bframes=0:keyint=1000:scenecut=0:rc-lookahead=0:log-level=error"


def _two_frame_packets(ref: np.ndarray, cur: np.ndarray, qp: int) -> list[bytes]:
    """Packets of ``[ref, cur]`` (``uint8 (H, W, 3)``, even sizes) coded by x265: I then P."""
    h, w = ref.shape[:2]
    enc = av.CodecContext.create("libx265", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.framerate, enc.time_base = Fraction(25), Fraction(1, 25)
    enc.options = {"preset": "medium", "x265-params": X265_PARAMS.format(qp=qp)}
    packets: list[bytes] = []
    for i, img in enumerate((ref, cur)):
        packets += [bytes(p) for p in enc.encode(pyav_codec.to_av_frame(img, i))]
    packets += [bytes(p) for p in enc.encode(None)]
    if len(packets) != 2:
        raise RuntimeError(f"x265 gave {len(packets)} packets for two frames")
    return [pyav_codec.strip_info_sei(p, "hevc") for p in packets]


def _decode(packets: list[bytes]) -> list[np.ndarray]:
    dec = av.CodecContext.create("hevc", "r")
    out = [pyav_codec.from_av_frame(f) for p in packets for f in dec.decode(av.Packet(p))]
    return out + [pyav_codec.from_av_frame(f) for f in dec.decode(None)]


def pframe(ref: np.ndarray, cur: np.ndarray, qp: int) -> tuple[int, np.ndarray, bool]:
    """Bytes sent for ``cur`` predicted from the decoded keyframe ``ref``, ``cur`` as decoded, and
    whether a decoder that re-codes ``ref`` itself rebuilds exactly that frame."""
    packets = _two_frame_packets(ref, cur, qp)
    decoded = _decode(packets)[1]
    rebuilt_ref = _two_frame_packets(ref, ref, qp)[0]     # the decoder's side: it holds ref only
    identical = rebuilt_ref == packets[0] and np.array_equal(_decode([rebuilt_ref, packets[1]])[1], decoded)
    return len(packets[1]), decoded, identical


def envelope(points: list[dict], metric: str) -> list[dict]:
    """Points that no cheaper point beats on ``metric``, by bytes."""
    out: list[dict] = []
    for p in sorted(points, key=lambda p: p["bytes"]):
        if not out or p[metric] > out[-1][metric]:
            out.append(p)
    return out


def grid_point(keys: np.ndarray, decoded: list[np.ndarray], nbytes: int, setting: list[int]) -> dict:
    m = compute_metrics(keys, np.stack(decoded), METRICS)
    return {"setting": setting, "bytes": int(nbytes), **{k: float(v) for k, v in m.items()}}


def measure(keys: np.ndarray, qualities: list[int], qps: list[int]) -> tuple[dict, bool]:
    """Both grids of one clip's keyframes ``uint8 (K, H, W, 3)``; and whether every rebuild matched."""
    codec = {q: codec_from_params({"name": "avif", "quality": q}) for q in qualities}
    h, w = keys.shape[1:3]
    avif = {}
    for q in qualities:
        payloads = [codec[q].encode(k) for k in keys]
        avif[q] = [(len(p), codec[q].decode(p, h, w)) for p in payloads]
    grids: dict[str, list[dict]] = {"avif": [], "pframe": []}
    all_identical = True
    for q0 in qualities:
        first_bytes, first = avif[q0][0]
        for q in qualities:
            rest = avif[q][1:]
            grids["avif"].append(grid_point(keys, [first] + [d for _, d in rest],
                                            first_bytes + sum(b for b, _ in rest), [q0, q]))
        for qp in qps:
            decoded, nbytes = [first], first_bytes
            for k in keys[1:]:
                b, d, same = pframe(decoded[-1], k, qp)
                decoded.append(d)
                nbytes += b
                all_identical &= same
            grids["pframe"].append(grid_point(keys, decoded, nbytes, [q0, qp]))
    return grids, all_identical


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clips", nargs="+", default=DEFAULT_CLIPS)
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--point", default="r2")
    ap.add_argument("--qualities", type=int, nargs="+", default=[5, 10, 20, 30, 40, 50])
    ap.add_argument("--qps", type=int, nargs="+", default=[30, 34, 38, 42, 46, 50])
    ap.add_argument("-o", "--output", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output], args.overwrite)
    cfg = compose(None, codec_overrides(load_rates()[args.point]), default="experiment/codec")
    out = {"args": vars(args), "pyav": av.__version__, "clips": {}}
    for seq in load_dataset("train_clips", sequences=args.clips):  # $ACTDIFF_TRAIN_CLIPS or ../shared
        video = read_video(str(seq.path), max_frames=args.frames, size=(256, 384), resize_mode="crop")
        enc = encode_video(video, cfg)
        split = bit_split(enc.data)
        keys = video.frames[enc.stats["keyframes"]]
        grids, identical = measure(keys, args.qualities, args.qps)
        env = {n: {m: envelope(g, m) for m in METRICS} for n, g in grids.items()}
        bd = {m: bd_of_points(env["avif"][m], env["pframe"][m], m) for m in METRICS}
        share = split.get("keyframes", 0) / max(1, sum(split.values()))
        out["clips"][seq.name] = {"keyframes": enc.stats["keyframes"], "keyframe_share": share, "grids": grids,
                                  "bd_rate_vs_avif": bd, "decoder_rebuild_identical": identical}
        print(seq.name, len(keys), "keyframes, share", round(share, 3), "rebuild identical", identical,
              {m: (round(v, 1) if v is not None else None) for m, v in bd.items()}, flush=True)
    clips = out["clips"].values()
    out["mean_bd_rate_vs_avif"] = {m: float(np.mean([c["bd_rate_vs_avif"][m] for c in clips
                                                     if c["bd_rate_vs_avif"][m] is not None])) for m in METRICS}
    out["decoder_rebuild_identical"] = all(c["decoder_rebuild_identical"] for c in clips)
    print(json.dumps({k: out[k] for k in ("mean_bd_rate_vs_avif", "decoder_rebuild_identical")}, indent=1))
    if args.output:
        atomic_write_text(args.output, json.dumps(out, indent=1), overwrite=True)


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
