"""Look at the frames: source | fast mode | RD mode at about one rate, with the metrics beside them.

Usage::

    PYTHONPATH=$PWD OMP_NUM_THREADS=2 .venv/bin/python experiments/rd_frames.py CLIP \\
        --fast r1 --lambda 8 [--frames 30 60] [--decoders warp diffusion] [--max-frames 96] \\
        [--fast-variant spread0=keyframe_spread=0] [--rd-variant step1=entropy.step=1.0] \\
        -o panel.png [--metrics-json m.json]

A ``--decoders`` entry is a decoder name or ``LABEL=JSON``, a ``codec.decoder``-style section, e.g.
``'tracks-only={"name": "warp", "prediction_params": {"keyflow": false}}'``.

``CLIP`` is read with the cpu protocol (256x384 crop, first ``--max-frames`` frames) and encoded
twice: in the fast mode at the rate point ``--fast`` of ``configs/rates/default.yaml`` and in the
RD mode at ``--lambda``; each stream is decoded by every ``--decoders`` entry. Rows are frames:
``--frames``, or by default the middle frame of the two longest segments of each stream (where a
ghost — two warped keyframes cross-faded — shows). Columns are the source and every
(stream, decoder), labelled with the stream's bpp, the frame's PSNR and its place in its segment
(``t/L``). ``--metrics-json`` writes, per (stream, decoder), full-reference (PSNR, MS-SSIM, VMAF
NEG), coarse-scale (``psnr_lowres``), temporal (warping error, tOF) and no-reference (NIQE) metrics
over the whole clip, and the source's own warping error and NIQE for reference.
"""

from __future__ import annotations

import argparse
import json

import cv2
import numpy as np

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.data import load_protocol
from actdiff.decoders import build_decoder
from actdiff.evaluation.rates import encode_at_point, load_rates
from actdiff.io.files import atomic_output, atomic_write_bytes, refuse_outputs
from actdiff.metrics import compute_metrics


def _label(img: np.ndarray, text: str) -> np.ndarray:
    """``img`` with ``text`` drawn top left (OpenCV's font is ASCII only: λ is written out)."""
    text = text.replace("λ", "lambda")
    out = np.ascontiguousarray(img.copy())
    (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    cv2.rectangle(out, (0, 0), (w + 8, h + 10), (0, 0, 0), -1)
    cv2.putText(out, text, (4, h + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


METRICS = ["psnr", "ms_ssim", "vmaf_neg", "psnr_lowres", "warping_error", "tof", "niqe"]


def _place(frame: int, keyframes: list[int]) -> str:
    """``t/L`` of ``frame`` in its segment (``key`` for a keyframe)."""
    if frame in keyframes:
        return "key"
    start = max(k for k in keyframes if k < frame)
    end = min(k for k in keyframes if k > frame)
    return f"{frame - start}/{end - start}"


def _decoder(entry: str) -> tuple[str, object]:
    """``(label, decoder)`` of a ``--decoders`` entry: a name, or ``LABEL=JSON`` (a decoder section)."""
    label, sep, section = entry.partition("=")
    if not sep:
        return entry, build_decoder(entry)
    try:
        return label, build_decoder(json.loads(section))
    except json.JSONDecodeError as e:
        raise SystemExit(f"error: --decoders {label}: not JSON: {e}") from None


def _mid_frames(keyframes: list[int], n: int = 2) -> list[int]:
    """The middle frames of the ``n`` longest segments."""
    segs = sorted(zip(keyframes[:-1], keyframes[1:]), key=lambda s: s[0] - s[1])[:n]
    return [(a + b) // 2 for a, b in segs if b - a > 1]


def _variant(text: str, option: str) -> tuple[str, str]:
    """``LABEL=KEY=VALUE`` → ``(LABEL, "KEY=VALUE")``; a one-line error otherwise."""
    label, sep, override = text.partition("=")
    if not sep or "=" not in override:
        raise SystemExit(f"error: {option} {text!r}: expected LABEL=KEY=VALUE")
    return label, override


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip")
    ap.add_argument("--fast", default="r1", help="rate point of configs/rates/default.yaml")
    ap.add_argument("--lambda", dest="lam", type=float, default=8.0, help="λ of the RD mode")
    ap.add_argument("--frames", type=int, nargs="+", help="default: middles of the longest segments")
    ap.add_argument("--decoders", nargs="+", default=["warp"])
    ap.add_argument("--fast-variant", nargs="*", default=[], metavar="LABEL=KEY=VALUE",
                    help="one more fast-mode stream at --fast with a codec override (keys relative to the codec "
                         "section), e.g. spread0=keyframe_spread=0")
    ap.add_argument("--rd-variant", nargs="*", default=[], metavar="LABEL=KEY=VALUE",
                    help="one more RD stream at --lambda with a codec override (keys relative to the codec "
                         "section), e.g. step1=entropy.step=1.0")
    ap.add_argument("--max-frames", type=int, default=96)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--metrics-json", default=None)
    ap.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = ap.parse_args(argv)
    refuse_outputs(ap, [args.output, args.metrics_json], args.overwrite)
    video = load_protocol({"name": "cpu", "height": 256, "width": 384, "max_frames": args.max_frames,
                           "resize_mode": "crop"}).read(args.clip)
    bad = [f for f in args.frames or [] if not 0 <= f < video.num_frames]
    if bad:
        raise SystemExit(f"error: frames {bad} outside 0..{video.num_frames - 1}")
    rd_ovs = ["codec.mode=rd", f"codec.rd.lambda={args.lam}"]
    streams = {}
    streams["fast " + args.fast] = encode_at_point(video, args.fast)
    for variant in args.fast_variant:
        label, override = _variant(variant, "--fast-variant")
        point = {args.fast: [*load_rates(names=[args.fast])[args.fast], override]}
        streams[f"fast {args.fast} {label}"] = encode_at_point(video, args.fast, point)
    streams[f"RD λ={args.lam:g}"] = encode_video(video, compose(None, rd_ovs))
    for variant in args.rd_variant:
        label, override = _variant(variant, "--rd-variant")
        streams[f"RD λ={args.lam:g} {label}"] = encode_video(video, compose(None, [*rd_ovs, f"codec.{override}"]))
    for name, enc in streams.items():
        print(f"{name}: {enc.stats['bpp']:.4f} bpp, keyframes {enc.stats['keyframes']}")
    frames = args.frames or sorted({f for e in streams.values() for f in _mid_frames(e.stats["keyframes"])})
    cols, report = {}, {"clip": args.clip, "frames": video.num_frames, "rows": []}
    decoders = [_decoder(d) for d in args.decoders]
    for name, enc in streams.items():
        for dec, decoder in decoders:
            rec = decode_video(enc.data, decoder).frames
            cols[f"{name} {dec}"] = (rec, enc.stats["bpp"], enc.stats["keyframes"])
            if args.metrics_json:
                m = compute_metrics(video.frames, rec, METRICS)
                report["rows"].append({"stream": name, "decoder": dec, "bpp": enc.stats["bpp"],
                                       "keyframes": enc.stats["keyframes"], **m})
                print(name, dec, {k: round(v, 4) for k, v in m.items()}, flush=True)
    rows = []
    for f in frames:
        cells = [_label(video.frames[f], f"source frame {f}")]
        for name, (rec, bpp, kfs) in cols.items():
            psnr = compute_metrics(video.frames[f:f + 1], rec[f:f + 1], ["psnr"])["psnr"]
            cells.append(_label(rec[f], f"{name} {bpp:.4f} bpp {psnr:.1f} dB t={_place(f, kfs)}"))
        rows.append(np.concatenate(cells, axis=1))
    with atomic_output(args.output, overwrite=True) as tmp:
        cv2.imwrite(str(tmp), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    print(f"wrote {args.output} (frames {frames})")
    if args.metrics_json:
        report["source"] = compute_metrics(video.frames, video.frames, ["warping_error", "niqe"])
        atomic_write_bytes(args.metrics_json, json.dumps(report, indent=1, default=float).encode() + b"\n",
                           overwrite=True)
        print(f"wrote {args.metrics_json}")


if __name__ == "__main__":
    from actdiff.commands.common import script_entry

    script_entry(main)
