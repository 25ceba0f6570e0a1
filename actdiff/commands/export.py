"""``actdiff export CKPT -o DIR``: write a checkpoint's EMA weights as safetensors (save_pretrained).

A learned-selector checkpoint (``actdiff fit`` with ``task: *_selector``) is written the same way,
its net in float32 (``--dtype`` applies to the diffusion decoder only). An existing output is
replaced only with ``--overwrite``, and the folder appears whole or not at all.
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
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    args = p.parse_args(argv)
    from actdiff.io.files import prepare_outputs
    from actdiff.training.export import export_checkpoint
    from actdiff.training.selectors import check_export_folder, checkpoint_task, export_selector_checkpoint

    selector = checkpoint_task(args.checkpoint)
    if selector:
        check_export_folder(args.output)
    prepare_outputs([args.output], [args.checkpoint], overwrite=args.overwrite)
    if selector:  # both write the folder whole, or leave what was there
        export_selector_checkpoint(args.checkpoint, args.output)
    else:
        export_checkpoint(args.checkpoint, args.output, args.dtype)
    sys.stdout.write(f"{args.output}\n")
    return 0
