"""``actdiff decode IN.adv -o OUT``: reconstruct frames from an ``.adv`` file alone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

from actdiff.codec import decode_video
from actdiff.commands.common import (
    ArgumentParser,
    add_config_args,
    add_decoder_args,
    cli_entry,
    decoder_section,
    load_cfg,
    maybe_print_config,
    setup_logging,
)
from actdiff.decoders import build_decoder
from actdiff.errors import InputError, OutputError
from actdiff.io import write_video

DEFAULT_CONFIG = "experiment/codec"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff decode", description=__doc__)
    p.add_argument("input", help="an .adv file written by `actdiff encode`")
    p.add_argument("-o", "--output", required=True,
                   help="PNG folder (no extension), .y4m, .mp4 or .mkv (lossless)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("-v", "--verbose", action="count", default=0)
    add_decoder_args(p)
    add_config_args(p, DEFAULT_CONFIG)
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    setup_logging(args.verbose)
    cfg = load_cfg(args, extra, DEFAULT_CONFIG)  # only its codec.decoder section is used
    if maybe_print_config(args, cfg):
        return 0
    src = Path(args.input)
    if not src.is_file():
        raise InputError(f"cannot read {src}: no such file")
    if Path(args.output).exists() and not args.overwrite:
        raise OutputError(f"{args.output} exists; pass --overwrite to replace it")
    data = src.read_bytes()
    section = decoder_section(args, cfg)
    decoder = build_decoder(section)
    t0 = time.perf_counter()
    video = decode_video(data, decoder)
    seconds = time.perf_counter() - t0
    write_video(args.output, video.frames, video.fps, overwrite=args.overwrite)
    model = decoder.settings().get("model") if hasattr(decoder, "settings") else None
    print(
        f"{args.output}: {video.num_frames} frames {video.width}x{video.height} decoded with "
        f"{section['name']}{f' ({model})' if model else ''} in {seconds:.2f} s "
        f"({video.num_frames / max(seconds, 1e-9):.1f} frames/s)"
    )
    return 0
