"""``actdiff fit``: train the diffusion decoder or a learned selector with Lightning.

    actdiff fit --config configs/experiment/train_tiny_cpu.yaml [key=value ...] [--resume] [--print-config]

What a run writes and how it resumes: :mod:`actdiff.training.fit`.
"""

from __future__ import annotations

from collections.abc import Sequence

from actdiff.commands.common import (
    ArgumentParser,
    add_config_args,
    cli_entry,
    load_cfg,
    maybe_print_config,
)

DEFAULT = "experiment/train_tiny_cpu"


def build_parser() -> ArgumentParser:
    p = ArgumentParser(prog="actdiff fit", description="Train the diffusion decoder or a learned selector (Lightning).")
    add_config_args(p, DEFAULT)
    p.add_argument("--resume", action="store_true", help="resume from run_dir/checkpoints/last.ckpt")
    return p


@cli_entry
def main(argv: Sequence[str]) -> int:
    args, extra = build_parser().parse_known_args(argv)
    cfg = load_cfg(args, extra, DEFAULT)
    if maybe_print_config(args, cfg):
        return 0
    from actdiff.training.fit import run_fit

    run_fit(cfg, resume=args.resume)
    return 0
