"""Helpers shared by the CLI verbs: an argparse that prints ``error: …``, error handling (also the
scripts' :func:`script_entry`).

Command modules import only this and what ``--help`` needs (no torch, diffusers, lightning, av or
matplotlib at module level: ``tests/test_cli_help.py``); the work's imports live in ``main``.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, List, NoReturn, Optional, Sequence

from omegaconf import DictConfig

from actdiff.config import compose, to_yaml
from actdiff.errors import ActDiffError, ConfigError, InputError, report_fatal

log = logging.getLogger("actdiff")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions keep their paragraphs (docstrings, RST markup removed); every option with a
    default shows it, unless its help already names one."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, [], argparse.SUPPRESS)
                or action.nargs == 0 or not action.option_strings):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else "%(default)s"
        return f"{text} (default: {shown})"


def plain_text(doc: str) -> str:
    """A docstring for the terminal: ``code`` → `code`, ``Example::`` → ``Example:``."""
    text = re.sub(r"``(.+?)``", r"`\1`", doc or "")
    text = re.sub(r":(?:mod|func|class|meth|data):`~?([^`]+)`", r"\1", text)
    return re.sub(r"::$", ":", text, flags=re.M).strip()


class ArgumentParser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are one ``error: …`` line and exit code 2; help texts
    show defaults (:class:`HelpFormatter`) and no RST markup."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        if kwargs.get("description"):
            kwargs["description"] = plain_text(kwargs["description"])
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        raise SystemExit(2)


def cli_entry(fn: Callable[[Sequence[str]], int]) -> Callable[[Optional[Sequence[str]]], int]:
    """Wrap a verb's ``main`` so user errors print one line and return exit code 2."""

    @functools.wraps(fn)
    def wrapper(argv: Optional[Sequence[str]] = None) -> int:
        argv = list(sys.argv[1:] if argv is None else argv)
        return _reported(lambda: int(fn(argv) or 0))

    return wrapper


def script_entry(main: Callable[..., object], *args: object) -> NoReturn:
    """End a script under ``benchmarks/`` or ``experiments/`` as a CLI verb ends: its tail is
    ``script_entry(main)`` (or ``script_entry(main, sys.argv[1:])``).

    Calls ``main(*args)`` and exits (``SystemExit``) with its return value: an int (a bool
    included) is the exit code, anything else (``None``, or the results some scripts return to
    their tests) is 0. An :class:`~actdiff.errors.ActDiffError` prints ``error: <first line of
    its message>`` on stderr and exits 2, with no traceback; a closed stdout pipe, an interrupt
    and a ``MemoryError`` end as they do for :func:`cli_entry`. argparse's own exits (``--help``,
    usage errors) pass through; any other exception is a bug and keeps its traceback.
    """
    raise SystemExit(_reported(lambda: _exit_code(main(*args))))


def _exit_code(result: object) -> int:
    """A script's exit code from what its ``main`` returned (see :func:`script_entry`)."""
    return int(result) if isinstance(result, int) else 0


def _reported(call: Callable[[], int]) -> int:
    """``call()`` with stdout flushed after it, or, for the errors a user meets, one ``error: …``
    line on stderr and the exit code (:func:`cli_entry` and :func:`script_entry`)."""
    try:
        code = call()
        sys.stdout.flush()  # a closed pipe is met here, inside the handler below
        return code
    except ActDiffError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        sys.stderr.write(f"error: {msg}\n")
        return 2
    except BrokenPipeError:  # e.g. `actdiff info --json … | head`: the reader left early
        _silence_stdout()
        return 141
    except (KeyboardInterrupt, MemoryError) as e:  # SIGINT, or SIGTERM through actdiff.cli's handler
        return report_fatal(e)


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot raise again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (captured in tests)
        pass


#: ``actdiff.metrics.DEFAULT_METRICS``, repeated so that ``--help`` imports no metric code
#: (tests/test_cli_help.py keeps the two equal).
DEFAULT_METRICS = ("psnr", "ms_ssim", "niqe", "warping_error")

#: Decoder options of ``decode`` and ``evaluate`` (argparse ``dest`` = key of the ``codec.decoder`` section).
DECODER_OPTIONS = ("weights", "sampler", "steps", "strength", "noise_mode", "temporal_blend", "base", "detail_mix",
                   "residual_band", "residual_from", "residual_scale", "coarse_lock", "device", "depth")


def add_decoder_args(p: argparse.ArgumentParser) -> None:
    """``--decoder --no-bidirectional`` and the diffusion options ``--weights --sampler --steps
    --strength --noise-mode --temporal-blend --base --detail-mix --residual-band --residual-from
    --residual-scale --coarse-lock --device``: each sets a key of the ``codec.decoder`` config section (unset:
    the config's value; diffusion options left null there take the defaults stored with the
    weights, ``default_sampler`` in their config)."""
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
    g.add_argument("--base", default=None,
                   help="2D model: what its residual is added to: blend | prediction | detail")
    g.add_argument("--detail-mix", type=float, default=None,
                   help="base detail: share of the blend in the coarse band, [0, 1] (0: the warp decoder's)")
    g.add_argument("--residual-band", default=None,
                   help="2D model: all | fine: the whole residual, or its fine band only (coarse band: the base's)")
    g.add_argument("--residual-from", default=None,
                   help="2D model: frames | ends | keyframes: run it at every inner frame, at the first and last "
                        "only, or at the keyframes only, and carry their residuals along the decoded motion")
    g.add_argument("--residual-scale", type=float, default=None,
                   help="2D model: share of its residual that is added, [0, 1] (0: the base alone)")
    g.add_argument("--coarse-lock", action=argparse.BooleanOptionalAction, default=None,
                   help="2D model: remove the 8x8 block means of what it adds (the coarse scale stays the base's)")
    g.add_argument("--device", default=None, help="torch device (cpu, cuda; default: cuda when available)")
    g.add_argument("--depth-model", dest="depth", default=None,
                   help="video decoders: local transformers depth model folder for the tracking video's depth")


def decoder_section(args: argparse.Namespace, cfg: Optional[DictConfig] = None) -> dict:
    """The ``codec.decoder`` section of ``cfg`` (default: ``{"name": "warp"}``) with the options
    given on the command line (see :func:`add_decoder_args`) applied; ``name`` always set.
    Diffusion options given for the warp decoder are an error, not ignored."""
    from omegaconf import OmegaConf

    node = OmegaConf.select(cfg, "codec.decoder") if cfg is not None else None
    section = dict(OmegaConf.to_container(node, resolve=True)) if node is not None else {}
    section.setdefault("name", "warp")
    if getattr(args, "decoder", None):
        section["name"] = args.decoder
    if getattr(args, "no_bidirectional", False):
        section["bidirectional"] = False
    given = {k: getattr(args, k) for k in DECODER_OPTIONS if getattr(args, k, None) is not None}
    if given and section["name"] == "warp":  # every DECODER_OPTIONS key is the diffusion decoder's
        flags = ", ".join("--depth-model" if k == "depth" else "--" + k.replace("_", "-") for k in given)
        raise ConfigError(f"{flags}: diffusion decoder options, the warp decoder has none; "
                          "add --decoder diffusion or drop them")
    section.update(given)
    return section


def max_pixels_arg(text: str):
    """``--max-pixels``: ``auto`` or a positive number of pixels (``4e9`` allowed)."""
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of pixels or 'auto'") from None
    if not (value >= 1 and value == int(value)):
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive whole number")
    return int(value)


def add_stream_args(p: argparse.ArgumentParser) -> None:
    """``--max-pixels`` and ``--keyframe-weights``: what a stream read from a file may ask for."""
    p.add_argument("--max-pixels", type=max_pixels_arg, default="auto", metavar="N",
                   help="refuse streams decoding to more than N pixels, frames and keyframes at the coded size "
                        "(default auto: what decodes in 80%% of the memory available, and at most 2**22 per "
                        "byte of the stream)")
    p.add_argument("--keyframe-weights", action="append", default=[], metavar="DIR",
                   help="folder the keyframe weights a stream names may be read from (repeatable; "
                        "besides the package's own)")


def add_config_args(p: argparse.ArgumentParser, default: str) -> None:
    """``--config FILE``, ``--print-config`` and trailing ``key=value`` overrides."""
    p.add_argument("--config", default=None, help=f"config YAML or group/name (default: {default})")
    p.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    p.add_argument("overrides", nargs="*", default=[], metavar="key=value",
                   help="config overrides (dotlist), group swaps (codec=fixed_gop), +new.key=value")


def add_dataset_args(p: argparse.ArgumentParser) -> None:
    """What a dataset run reads and scores (``evaluate``, ``bench``): ``--data``, ``--protocol``,
    ``--metrics``, ``--sequences``, ``--shard`` and ``--merge``."""
    p.add_argument("--data", help="dataset name/YAML (configs/data), a folder of videos, or one video")
    p.add_argument("--protocol", default=None, help="cpu | paper | native | YAML (default: the config's, cpu)")
    p.add_argument("--metrics", nargs="+", default=list(DEFAULT_METRICS), help="metric names (actdiff.metrics)")
    p.add_argument("--sequences", nargs="+", default=None, help="only these sequences")
    p.add_argument("--shard", default=None, help="i/n: process sequences i, i+n, …")
    p.add_argument("--merge", nargs="+", default=None, metavar="SHARD_JSON",
                   help="merge these shard results into --output and exit")


def add_results_args(p: argparse.ArgumentParser) -> None:
    """Where a dataset run writes (``evaluate``, ``bench``): ``-o``, ``--overwrite``, ``--frames`` and
    ``--frames-dir``."""
    p.add_argument("-o", "--output", required=True, help="results JSON")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output (and this codec's thumbnails in --frames-dir)")
    p.add_argument("--frames", type=int, default=None, metavar="N",
                   help="at most N frames per sequence (the override protocol.max_frames=N)")
    p.add_argument("--frames-dir", default=None, metavar="DIR",
                   help="save thumbnails of a few frames per point and a contact sheet per sequence in DIR")


def merged_shards(args: argparse.Namespace, out: Path, codec: Optional[str] = None) -> bool:
    """``--merge A.json B.json …``: the shard results merged into ``out`` (``True``: done, exit);
    refused unless they are every shard of one run (:mod:`actdiff.evaluation.merge`) and, with
    ``codec`` (``bench``'s), that codec's."""
    if not args.merge:
        return False
    from actdiff.evaluation.merge import merge_results
    from actdiff.evaluation.results import load_results, save_results
    from actdiff.io.files import check_not_input

    check_not_input([out], args.merge)
    merged = merge_results([load_results(p) for p in args.merge], args.merge)
    if codec is not None and merged["codec"] != codec:
        raise InputError(f"the shards are results of {merged['codec']!r}, not {codec!r}")
    save_results(merged, out, overwrite=args.overwrite)
    return True


def frames_override(args: argparse.Namespace) -> List[str]:
    """``["protocol.max_frames=N"]`` for ``--frames N`` (nothing without it)."""
    frames = getattr(args, "frames", None)
    if frames is None:
        return []
    if frames < 1:
        raise ConfigError("--frames must be at least 1")
    return [f"protocol.max_frames={frames}"]


def data_root(overrides: List[str]) -> tuple:
    """``(other overrides, root)``: ``data.root=/path`` sets the dataset's folder (``evaluate``,
    ``bench``; the dataset YAMLs recommend it), a relative one from the working folder as any path
    on a command line (a root written in a dataset YAML is relative to the repository); other
    ``data.*`` keys are not settable here."""
    rest, root = [], None
    for o in overrides:
        key, _, value = o.lstrip("+").partition("=")
        if key == "data.root":
            root = str(Path(value.strip("'\"")).expanduser().absolute())
        elif key.split(".")[0] == "data":
            raise ConfigError(f"{key}: only data.root can be set on the command line (or pass --data FOLDER)")
        else:
            rest.append(o)
    return rest, root


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
    """``-v``: INFO (per-segment timings, rate-control trials), ``-vv``: DEBUG; printed above any
    progress bar."""
    from actdiff.progress import LogHandler

    level = logging.DEBUG if verbose > 1 else logging.INFO if verbose == 1 else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", handlers=[LogHandler()])


def add_output_args(p: argparse.ArgumentParser) -> None:
    """``-q/--quiet``, ``-v/--verbose`` and ``--progress`` (see :func:`setup_output`)."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars and no per-point lines")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="log per-segment timings and rate-control trials (-vv: debug)")
    p.add_argument("--progress", action="store_true",
                   help="progress bars on stderr even when it is not a terminal (default: only on a terminal)")


def setup_output(args: argparse.Namespace) -> None:
    """Progress bars (stderr; on a terminal, always with ``--progress``, never with ``-q``) and logging."""
    from actdiff.progress import configure

    quiet = getattr(args, "quiet", False)
    configure("off" if quiet else "on" if getattr(args, "progress", False) else "auto")
    setup_logging(0 if quiet else getattr(args, "verbose", 0))


def progress_line(text: str) -> None:
    """One per-point line on stderr, above any progress bar."""
    from actdiff.progress import write

    write(text)


#: How every size is written on the command line and printed: width × height, as ffmpeg's ``-s``.
SIZE_HELP = "WxH (width x height, as ffmpeg's -s, e.g. 384x256)"


def parse_size(text: str) -> tuple:
    """Parse ``"384x256"`` (width × height, as ffmpeg's ``-s``) into ``(width, height)``."""
    try:
        a, b = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ActDiffError(f"size {text!r} is not of the form {SIZE_HELP}") from None
    from actdiff.codec.bitstream import MAX_SIDE

    if a <= 0 or b <= 0:
        raise ActDiffError(f"size {text!r} must be positive")
    if max(a, b) > MAX_SIDE:
        raise ActDiffError(f"size {text!r} is larger than the format's {MAX_SIDE} pixels a side")
    return a, b


def read_stream(path: Path, check: Callable[[bytes], Any]) -> tuple[bytes, Any]:
    """The bytes of the stream at ``path`` and what ``check(data)`` returned; a file that is not a stream
    but a video by its name (a container, ``.y4m``, ``.yuv``) gets a ``BitstreamError`` saying how
    to encode it instead."""
    from actdiff.errors import BitstreamError
    from actdiff.io import detect_format
    from actdiff.io.container import EXTENSIONS

    data = path.read_bytes()
    try:
        checked = check(data)
    except BitstreamError as e:
        if str(e).startswith("bad magic") and (detect_format(path) in ("y4m", "yuv")
                                               or path.suffix.lower() in EXTENSIONS):
            raise BitstreamError(f"{path} is not an ActDiff stream but a video by its name "
                                 f"(`actdiff encode {path} -o OUT.adv` codes it)") from None
        raise
    return data, checked
