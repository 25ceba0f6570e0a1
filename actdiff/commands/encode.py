"""``actdiff encode INPUT -o OUT.adv``: compress a video into one self-contained file."""

from __future__ import annotations

import json
import sys
from argparse import Namespace
from pathlib import Path
from typing import Sequence

from actdiff.commands.common import (
    SIZE_HELP,
    ArgumentParser,
    add_config_args,
    add_output_args,
    cli_entry,
    load_cfg,
    maybe_print_config,
    parse_size,
    setup_output,
)
from actdiff.config import ENCODE_EXPERIMENT
from actdiff.errors import ConfigError

DEFAULT_CONFIG = ENCODE_EXPERIMENT


def _inter_note(stats: dict) -> str:
    """`` (N predicted from the one before)`` when the stream has inter-coded keyframes (``codec.keyframe_inter``)."""
    n = (stats.get("keyframe_inter") or {}).get("inter", 0)
    return f" ({n} predicted from the one before)" if n else ""

def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff encode", description=__doc__)
    p.add_argument("input", nargs="?", help="video file, .y4m, raw .yuv, or folder of PNG frames")
    p.add_argument("-o", "--output", help="output .adv file")
    p.add_argument("--stats", help="write encoding statistics (bpp, bit split, keyframes, …) as JSON")
    p.add_argument("--frames", type=int, default=None, help="encode at most N frames")
    p.add_argument("--start", type=int, default=0, help="first frame to encode (0-based)")
    p.add_argument("--size", default=None, help=f"resize to {SIZE_HELP} before coding")
    p.add_argument("--resize-mode", choices=["resize", "crop"], default="crop",
                   help="resize: stretch to --size; crop: keep aspect, cover and centre-crop")
    p.add_argument("--yuv-size", default=None,
                   help="raw .yuv only: its size, WxH (e.g. 1920x1080; default: from a name like X_1920x1080_50.yuv)")
    p.add_argument("--yuv-format", default=None,
                   help="raw .yuv only: its layout, as FFmpeg names it: yuv420p, yuv420p10le, yuv444p, … "
                        "(default: from the name, '10bit' and '444' in it, else yuv420p)")
    p.add_argument("--fps", type=float, default=None,
                   help="frames per second: needed for raw .yuv; a folder of PNG frames has none (default 25); "
                        "a video file's own rate is used and this is refused")
    p.add_argument("--yuv-range", choices=["limited", "full"], default=None,
                   help="raw .yuv (default: limited) or .y4m (default: its header's) only: the sample range")
    p.add_argument("--target-bpp", type=float, default=None,
                   help="rate control: choose keyframe quality, trajectory budget and max GOP so the "
                        "file lands within --tolerance of this bits per pixel (real encoded size)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="rate control, with --target-bpp only: relative tolerance, 0.1 = ±10%% (default: 0.1)")
    p.add_argument("--lambda", dest="lam", type=float, default=None,
                   help="rate-distortion-optimised mode (codec.mode=rd) at this λ (larger: smaller file); "
                        "with --target-bpp, the λ search starts here")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_output_args(p)
    add_config_args(p, DEFAULT_CONFIG)
    return p


def check_input_options(args: Namespace) -> None:
    """A ``ConfigError`` for options that do not apply to this input, instead of ignoring them."""
    from actdiff.io import detect_format

    fmt = detect_format(Path(args.input))
    for given, option in ((args.yuv_size, "--yuv-size"), (args.yuv_format, "--yuv-format")):
        if given and fmt != "yuv":
            raise ConfigError(f"{option} is for raw .yuv input only ({args.input} is not one)")
    if args.yuv_range and fmt not in ("yuv", "y4m"):
        raise ConfigError(f"--yuv-range is for raw .yuv and .y4m input only ({args.input} is neither)")
    if args.fps is not None and fmt in ("container", "y4m"):
        raise ConfigError(f"--fps: {args.input} stores its own frame rate (--fps is for raw .yuv and frame folders)")
    if args.tolerance is not None and args.target_bpp is None:
        raise ConfigError("--tolerance is the rate control's: give --target-bpp too")


def raw_yuv_options(args: Namespace) -> dict:
    """``read_video``'s size, frame rate and layout of a raw ``.yuv`` input: the options given, else
    what its name says (``NAME_1920x1080_50_10bit.yuv``), said on stderr; ``{}`` for other inputs."""
    from actdiff.io import detect_format
    from actdiff.io.rawyuv import DEFAULT_PIX_FMT, pix_fmt_from_name, yuv_from_name

    if detect_format(Path(args.input)) != "yuv":
        return {}
    named = yuv_from_name(Path(args.input)) or {}
    if not named and pix_fmt_from_name(Path(args.input).name) != DEFAULT_PIX_FMT:   # no size, a layout
        named = {"format": pix_fmt_from_name(Path(args.input).name)}
    out = {"yuv_size": parse_size(args.yuv_size) if args.yuv_size else None, "yuv_fps": args.fps,
           "yuv_format": args.yuv_format}
    taken = []
    if "width" in named and out["yuv_size"] is None:
        out["yuv_size"] = (named["width"], named["height"])
        taken.append(f"{named['width']}x{named['height']}")
    if "fps" in named and out["yuv_fps"] is None:
        out["yuv_fps"] = named["fps"]
        taken.append(f"{named['fps']:g} fps")
    if named and out["yuv_format"] is None:
        out["yuv_format"] = named["format"]
        taken.append(named["format"])
    if taken:
        print(f"{args.input}: read as {', '.join(taken)} (from its name; --yuv-size, --fps, --yuv-format to change)",
              file=sys.stderr)
    return out


@cli_entry
def main(argv: Sequence[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    if args.input and "=" in args.input and not Path(args.input).exists():
        args.overrides.insert(0, args.input)  # `actdiff encode key=value --print-config`
        args.input = None
    cfg = load_cfg(args, extra, DEFAULT_CONFIG)
    if args.lam is not None:
        from actdiff.codec.rdo import use_rd

        cfg = use_rd(cfg, args.lam)
    size = parse_size(args.size) if args.size else None
    if args.print_config:  # the codec settings printed are checked as an encode checks them
        from actdiff.codec.encoding import codec_section
        from actdiff.codec.schema import check_codec_config

        check_codec_config(codec_section(cfg))
    if maybe_print_config(args, cfg):
        return 0
    if not args.input or not args.output:
        build_parser().error("INPUT and -o/--output are required")
    check_input_options(args)
    setup_output(args)
    from omegaconf import OmegaConf

    from actdiff.codec import encode_video
    from actdiff.codec.encoder import codec_section, prepare_codec
    from actdiff.io import atomic_write_bytes, prepare_outputs, read_video

    raw = raw_yuv_options(args)
    prepare_codec(cfg)  # every codec setting checked (types, ranges, the decoder's limits) before any work
    prepare_outputs([args.output, args.stats], [args.input], args.overwrite, files=True)  # before reading
    video = read_video(
        args.input,
        start=args.start,
        max_frames=args.frames,
        size=(size[1], size[0]) if size else None,  # read_video takes (H, W)
        resize_mode=args.resize_mode,
        fps=args.fps,
        yuv_range=args.yuv_range,
        pad_multiple=int(codec_section(cfg).pad_multiple),   # padded in place by the encoder: one copy, not two
        **raw,
    )
    if args.target_bpp is not None:
        from actdiff.codec.ratecontrol import describe, encode_to_target

        given = {} if args.tolerance is None else {"tolerance": args.tolerance}  # else the library's 0.1
        result = encode_to_target(video, cfg, args.target_bpp, **given)
        print(describe(result.stats))
    else:
        result = encode_video(video, cfg)
    atomic_write_bytes(args.output, result.data, overwrite=args.overwrite)
    stats = dict(result.stats, input=str(args.input), output=str(args.output),
                 config=OmegaConf.to_container(cfg, resolve=True))
    if args.stats:
        atomic_write_bytes(args.stats, (json.dumps(stats, indent=2) + "\n").encode(), overwrite=args.overwrite)
    print(
        f"{args.output}: {result.stats['frames']} frames {result.stats['width']}x{result.stats['height']}, "
        f"{len(result.data)} bytes, {result.stats['bpp']:.5f} bpp, "
        f"{len(result.stats['keyframes'])} keyframes{_inter_note(result.stats)}, "
        f"{sum(result.stats['trajectories'])} trajectories, "
        f"{result.stats['encode_seconds']:.2f} s"
    )
    return 0
