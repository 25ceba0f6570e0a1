"""``actdiff export CKPT -o DIR``: write a checkpoint's EMA weights as safetensors (save_pretrained).

A learned-selector checkpoint (``actdiff fit`` with ``task: *_selector``) is written the same way,
its net in float32 (``--dtype`` applies to the diffusion decoder only).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from actdiff.commands.common import ArgumentParser, cli_entry


@cli_entry
def main(argv: Sequence[str]) -> int:
    p = ArgumentParser(prog="actdiff export", description="Export EMA weights of a training checkpoint.")
    p.add_argument("checkpoint", help="Lightning checkpoint (.ckpt) written by actdiff fit")
    p.add_argument("-o", "--output", required=True, help="output folder (config.json + safetensors)")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"],
                   help="storage precision of the decoder weights (loaded back as float32; selectors: float32)")
    args = p.parse_args(argv)
    from actdiff.training.export import export_checkpoint
    from actdiff.training.selectors import checkpoint_task, export_selector_checkpoint

    if checkpoint_task(args.checkpoint):
        out = export_selector_checkpoint(args.checkpoint, args.output)
    else:
        out = export_checkpoint(args.checkpoint, args.output, args.dtype)
    sys.stdout.write(f"{out}\n")
    return 0
