"""Helpers shared by the CLI verbs: an argparse that prints ``error: …``, error handling."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from typing import Callable, List, Optional, Sequence

from omegaconf import DictConfig

from actdiff.config import compose, to_yaml
from actdiff.errors import ActDiffError

log = logging.getLogger("actdiff")


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are one ``error: …`` line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        raise SystemExit(2)


def cli_entry(fn: Callable[[Sequence[str]], int]) -> Callable[[Optional[Sequence[str]]], int]:
    """Wrap a verb's ``main`` so user errors print one line and return exit code 2."""

    @functools.wraps(fn)
    def wrapper(argv: Optional[Sequence[str]] = None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        try:
            return int(fn(argv) or 0)
        except ActDiffError as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            sys.stderr.write(f"error: {msg}\n")
            return 2
        except KeyboardInterrupt:
            sys.stderr.write("error: interrupted\n")
            return 130

    return wrapper


#: Decoder options of ``decode`` and ``evaluate`` (argparse ``dest`` = key of the ``codec.decoder`` section).
DECODER_OPTIONS = ("weights", "sampler", "steps", "strength", "noise_mode", "temporal_blend", "device", "depth")


def add_decoder_args(p: argparse.ArgumentParser) -> None:
    """``--decoder --no-bidirectional`` and the diffusion options ``--weights --sampler --steps
    --strength --noise-mode --temporal-blend --device``: each sets a key of the ``codec.decoder``
    config section (unset: the config's value; diffusion options left null there take the
    defaults stored with the weights, ``default_sampler`` in their config)."""
    p.add_argument("--decoder", default=None, help="warp | diffusion (default: codec.decoder.name, warp)")
    p.add_argument("--no-bidirectional", action="store_true",
                   help="decoder ignores the end keyframe of each segment (ablation)")
    g = p.add_argument_group("diffusion decoder (default: the values stored with the weights)")
    g.add_argument("--weights", default=None, help="weights folder (save_pretrained, safetensors)")
    g.add_argument("--sampler", default=None, help="ddim | dpmsolver++ | unipc")
    g.add_argument("--steps", type=int, default=None, help="sampling steps")
    g.add_argument("--strength", type=float, default=None,
                   help="fraction of the schedule run from the noised warp prediction, (0, 1]")
    g.add_argument("--noise-mode", default=None, help="shared | per_frame | warped (along the decoded motion)")
    g.add_argument("--temporal-blend", type=float, default=None,
                   help="residual filter along the decoded motion, [0, 1) (0 = off)")
    g.add_argument("--device", default=None, help="torch device (cpu, cuda; default: cuda when available)")
    g.add_argument("--depth-model", dest="depth", default=None,
                   help="video decoders: local transformers depth model folder for the tracking video's depth")


def decoder_section(args: argparse.Namespace, cfg: Optional[DictConfig] = None) -> dict:
    """The ``codec.decoder`` section of ``cfg`` (default: ``{"name": "warp"}``) with the options
    given on the command line (see :func:`add_decoder_args`) applied; ``name`` always set."""
    from omegaconf import OmegaConf

    node = OmegaConf.select(cfg, "codec.decoder") if cfg is not None else None
    section = dict(OmegaConf.to_container(node, resolve=True)) if node is not None else {}
    section.setdefault("name", "warp")
    if getattr(args, "decoder", None):
        section["name"] = args.decoder
    if getattr(args, "no_bidirectional", False):
        section["bidirectional"] = False
    section.update({k: getattr(args, k) for k in DECODER_OPTIONS if getattr(args, k, None) is not None})
    return section


def add_config_args(p: argparse.ArgumentParser, default: str) -> None:
    """``--config FILE``, ``--print-config`` and trailing ``key=value`` overrides."""
    p.add_argument("--config", default=None, help=f"config YAML or group/name (default: {default})")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("overrides", nargs="*", default=[], metavar="key=value",
                   help="config overrides (dotlist), group swaps (codec=fixed_gop), +new.key=value")


def split_overrides(args: argparse.Namespace, extra: List[str]) -> List[str]:
    """Overrides may be mixed with options; argparse puts stray ones in ``extra``."""
    bad = [e for e in extra if "=" not in e]
    if bad:
        raise ActDiffError(f"unrecognised arguments: {' '.join(bad)}")
    return list(getattr(args, "overrides", [])) + list(extra)


def load_cfg(args: argparse.Namespace, extra: List[str], default: str) -> DictConfig:
    return compose(args.config, split_overrides(args, extra), default=default)


def maybe_print_config(args: argparse.Namespace, cfg: DictConfig) -> bool:
    if getattr(args, "print_config", False):
        sys.stdout.write(to_yaml(cfg))
        return True
    return False


def setup_logging(verbose: int = 0) -> None:
    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def parse_size(text: str, order: str = "HxW") -> tuple:
    """Parse ``"256x384"`` into ``(256, 384)``; ``order`` only names the fields in errors."""
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ActDiffError(f"size {text!r} is not of the form {order} (e.g. 256x384)") from None
    if a <= 0 or b <= 0:
        raise ActDiffError(f"size {text!r} must be positive")
    return a, b
