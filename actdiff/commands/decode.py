"""``actdiff decode IN.adv -o OUT``: reconstruct frames from an ``.adv`` file alone.

A per-frame progress bar goes to stderr on a terminal (``--progress``: always, ``-q``: never);
``-v`` logs each segment's decoding time; ``--json`` prints the summary as one JSON object on
stdout instead of a sentence.
"""

from __future__ import annotations

import json
import time
from argparse import Namespace
from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig

from actdiff.commands.common import (
    ArgumentParser,
    add_config_args,
    add_decoder_args,
    add_output_args,
    add_stream_args,
    cli_entry,
    decoder_section,
    load_cfg,
    maybe_print_config,
    read_stream,
    setup_output,
)
from actdiff.config import ENCODE_EXPERIMENT
from actdiff.errors import ConfigError

DEFAULT_CONFIG = ENCODE_EXPERIMENT


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff decode", description=__doc__)
    p.add_argument("input", help="an .adv file written by `actdiff encode`")
    p.add_argument("-o", "--output", required=True,
                   help="PNG folder (no extension), .y4m, .mp4 or .mkv (lossless), or raw .yuv (BT.709 limited range)")
    p.add_argument("--yuv-format", default=None,
                   help="raw .yuv output only: its layout, as FFmpeg names it (yuv420p, yuv420p10le, yuv444p, …; "
                        "default: from the output's name, '10bit' and '444' in it, else yuv420p)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    add_output_args(p)
    add_decoder_args(p)
    add_stream_args(p)
    add_config_args(p, DEFAULT_CONFIG)
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    setup_output(args)
    cfg = load_cfg(args, extra, DEFAULT_CONFIG)  # only its codec.decoder section is used
    if maybe_print_config(args, cfg):
        return 0
    check_codec_section(cfg)
    from actdiff.io.files import check_input_file

    src = check_input_file(args.input)
    from actdiff.codec.decoder import check_stream, decoded_frames
    from actdiff.decoders import build_decoder
    from actdiff.io import FrameStream, check_video_output, prepare_outputs, write_video

    raw = raw_output(args)
    prepare_outputs([args.output], [src], args.overwrite)
    data, stream = read_stream(src, lambda d: check_stream(d, args.max_pixels))  # container, header, budget
    header = stream.header
    check_video_output(args.output, args.overwrite, header.height, header.width, **raw)  # before decoding
    section = decoder_section(args, cfg)
    decoder = build_decoder(section)
    t0 = time.perf_counter()
    _, frames = decoded_frames(data, decoder, max_pixels=args.max_pixels, weights_dirs=args.keyframe_weights)
    n = header.shown_frames   # written as decoded, segment by segment: the clip is never all in memory
    write_video(args.output, FrameStream(frames, (n, header.height, header.width, 3)), header.fps,
                overwrite=args.overwrite, **raw)
    seconds = time.perf_counter() - t0
    settings = decoder.settings() if hasattr(decoder, "settings") else {}
    model = settings.get("model")
    summary = {"output": str(args.output), "frames": n, "width": header.width, "height": header.height,
               "fps": header.fps, "decoder": section["name"], "model": model, "decoder_settings": settings,
               "decode_seconds": round(seconds, 3), "frames_per_second": round(n / max(seconds, 1e-9), 3)}
    if raw:
        summary["yuv_format"] = raw["pix_fmt"]
    if args.json:
        print(json.dumps(summary, default=str))
        return 0
    how = "; ".join(x for x in (model, sampling_text(settings)) if x)
    layout = f" (raw {raw['pix_fmt']}, BT.709 limited range)" if raw else ""
    print(
        f"{args.output}{layout}: {n} frames {header.width}x{header.height} (WxH) decoded with "
        f"{section['name']}{f' ({how})' if how else ''} and written in {seconds:.2f} s "
        f"({summary['frames_per_second']:.1f} frames/s)"
    )
    return 0


def check_codec_section(cfg: DictConfig) -> None:
    """The config's ``codec`` section checked as encode checks it (:func:`actdiff.codec.schema.check_codec_config`:
    one line naming the key, before the stream is read), so that ``codec.seed=abc`` or
    ``codec.decoder.batch_size=0`` is refused here too. Keys of ``codec.decoder`` outside its schema
    (a generator's own sampling options, docs/paper_decoder.md) are left to the decoder that takes them."""
    from dataclasses import fields

    from omegaconf import OmegaConf

    from actdiff.codec.schema import DecoderSchema, check_codec_config

    if OmegaConf.select(cfg, "codec") is None:
        return
    codec = OmegaConf.to_container(cfg.codec, resolve=True)
    if isinstance(codec, dict) and isinstance(codec.get("decoder"), dict):
        known = {f.name for f in fields(DecoderSchema)}
        codec["decoder"] = {k: v for k, v in codec["decoder"].items() if k in known}
    check_codec_config(codec)


def raw_output(args: Namespace) -> dict:
    """``write_video``'s layout of a raw ``.yuv`` output (``--yuv-format``, else what the output's
    name says, else ``yuv420p``); ``{}`` for other outputs, where ``--yuv-format`` is refused."""
    from actdiff.io.rawyuv import pix_fmt_from_name
    from actdiff.io.writer import output_kind

    if output_kind(args.output) != "yuv":
        if args.yuv_format:
            raise ConfigError(f"--yuv-format is for a raw .yuv output only ({args.output} is not one)")
        return {}
    return {"pix_fmt": args.yuv_format or pix_fmt_from_name(Path(args.output).name)}


def sampling_text(settings: dict) -> str:
    """``"unipc 5 steps, strength 0.5, temporal blend 0.95"`` from a diffusion decoder's settings
    (``""`` for a decoder without sampling)."""
    if "steps" not in settings:
        return ""
    parts = [f"{settings.get('sampler', '?')} {settings['steps']} steps"]
    if settings.get("strength") is not None:
        parts.append(f"strength {settings['strength']:g}")
    if settings.get("temporal_blend") is not None:
        parts.append(f"temporal blend {settings['temporal_blend']:g}")
    if settings.get("base") is not None:
        parts.append(f"base {settings['base']}")
    if settings.get("detail_mix") is not None:
        parts.append(f"detail mix {settings['detail_mix']:g}"
                     + (" (the stream's per segment where sent)" if settings.get("detail_mix_per_segment") else ""))
    if settings.get("residual_band"):
        parts.append(f"residual band {settings['residual_band']}")
    if settings.get("residual_from"):
        parts.append(f"residual from the segment's {settings['residual_from']}")
    if settings.get("residual_scale") is not None:
        parts.append(f"residual scale {settings['residual_scale']:g}")
    if settings.get("coarse_lock"):
        parts.append("coarse scale locked to the base")
    return ", ".join(parts)
