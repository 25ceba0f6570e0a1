"""Loading weights folders: their ``config.json`` checked first, one line instead of a traceback.

A weights folder may come from anywhere: :func:`read_weights_config` reads its ``config.json`` as
JSON only (nothing in it runs) and refuses, in one line, a ``_class_name`` that is not the model
expected, a section that is not a JSON object and a noise schedule without a sane number of
training timesteps, before any model is built. :func:`readable_weights` turns what building and
loading the model still raise into one line; :func:`load_denoiser` loads the frame-by-frame
decoder's model.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from actdiff.errors import ConfigError, InputError, MissingWeightsError, shorten

if TYPE_CHECKING:
    from actdiff.models.denoiser import ControlledDenoiser

#: Weights shipped with the package (written by experiments/train_default_cpu.sh).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "weights" / "tiny"
WEIGHT_FILE = "diffusion_pytorch_model.safetensors"
#: Keys of a weights config that hold a JSON object (or null) when present.
SECTIONS = ("unet_config", "vae_config", "vision_config", "default_sampler", "noise_schedule")
#: Most training timesteps a weights folder's ``noise_schedule`` may have (trained ones use 1000).
MAX_TRAIN_TIMESTEPS = 1 << 20
#: Keys of a weights config's ``default_sampler`` that hold a number when present (ranges: the decoders').
SAMPLER_NUMBERS = ("steps", "strength", "temporal_blend", "detail_mix", "residual_scale")


@contextmanager
def readable_weights(folder: str | Path) -> Iterator[None]:
    """Turn what a damaged or mismatched weights folder raises while its model is built and its
    weights loaded (a bad ``config.json`` value, a shape that does not fit, an unreadable file)
    into a one-line :class:`~actdiff.errors.ConfigError` naming the folder."""
    try:
        yield
    except (ValueError, TypeError, KeyError, OSError, RuntimeError) as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise ConfigError(f"weights in {folder} cannot be loaded: {first}") from None



def _check_class(name: Any, path: Path, classes: Collection[str]) -> None:
    """One-line ``InputError`` unless ``name`` (a ``_class_name``; absent: passes) is one of ``classes``."""
    if name is not None and (not isinstance(name, str) or name not in classes):
        raise InputError(f"{path}: _class_name {shorten(repr(name))} is not a model actdiff reads here "
                         f"(known: {', '.join(sorted(classes))})")


def _check_schedule(schedule: dict[str, Any], path: Path) -> None:
    """One-line ``InputError`` unless ``num_train_timesteps`` (when given) is a whole number in range."""
    n = schedule.get("num_train_timesteps", 1000)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TRAIN_TIMESTEPS:
        raise InputError(f"{path}: noise_schedule.num_train_timesteps = {shorten(repr(n))} must be a whole number "
                         f"in [1, {MAX_TRAIN_TIMESTEPS}]")


def _check_sampler(defaults: dict[str, Any], path: Path) -> None:
    """One-line ``InputError`` when a key of :data:`SAMPLER_NUMBERS` in ``defaults`` is not a number."""
    for key in SAMPLER_NUMBERS:
        value = defaults.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{path}: default_sampler.{key} = {shorten(repr(value))} must be a number")


def read_weights_config(folder: str | Path, classes: Collection[str]) -> dict[str, Any]:
    """The ``config.json`` of the weights folder ``folder``, checked: a one-line ``InputError`` when it
    is not a readable JSON object, its ``_class_name`` is not one of ``classes``, a key of
    :data:`SECTIONS` is neither an object nor null, a ``default_sampler`` value of :data:`SAMPLER_NUMBERS`
    is not a number, or ``noise_schedule.num_train_timesteps`` is not a whole number in
    [1, :data:`MAX_TRAIN_TIMESTEPS`]."""
    folder = Path(folder).expanduser()
    path = folder / "config.json"
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"{folder} is not a weights folder (no readable config.json: {type(e).__name__})") from None
    if not isinstance(cfg, dict):
        raise InputError(f"{path} is not a JSON object")
    _check_class(cfg.get("_class_name"), path, classes)
    for key in SECTIONS:
        if cfg.get(key) is not None and not isinstance(cfg[key], dict):
            raise InputError(f"{path}: {key} = {shorten(repr(cfg[key]))} must be a JSON object or null")
    _check_sampler(cfg.get("default_sampler") or {}, path)
    _check_schedule(cfg.get("noise_schedule") or {}, path)
    return cfg


def check_weights_folder(folder: str | Path, classes: Collection[str]) -> None:
    """:func:`read_weights_config` of ``folder`` when it holds a ``config.json`` (without one, its
    loader says what is missing)."""
    if (Path(folder).expanduser() / "config.json").is_file():
        read_weights_config(folder, classes)


def _find_denoiser(path: str | Path | None) -> Path:
    """The weights folder of :func:`load_denoiser` (``None``: :data:`DEFAULT_WEIGHTS`), or a one-line
    ``MissingWeightsError`` saying what is missing and how to make it."""
    folder = Path(path).expanduser() if path else DEFAULT_WEIGHTS
    if folder.is_file() and folder.suffix == ".ckpt":
        raise MissingWeightsError(
            f"{folder} is a training checkpoint; the decoder reads exported weights: "
            f"run `actdiff export {folder} -o WEIGHTS_DIR` and pass --weights WEIGHTS_DIR"
        )
    if path and not folder.exists():
        raise MissingWeightsError(f"diffusion decoder weights folder {folder} does not exist: pass --weights DIR "
                                  f"with an `actdiff export` folder (config.json + {WEIGHT_FILE}), or train "
                                  "one with experiments/train_default_cpu.sh")
    if not (folder / "config.json").is_file() or not (folder / WEIGHT_FILE).is_file():
        advice = (f"run experiments/train_default_cpu.sh (it exports to {DEFAULT_WEIGHTS}) or pass --weights DIR"
                  if not path else "export one with `actdiff export CKPT -o DIR` (a checkpoint of `actdiff fit`)")
        raise MissingWeightsError(
            f"diffusion decoder weights not found in {folder} (need config.json + {WEIGHT_FILE}): {advice}"
        )
    return folder


def load_denoiser(path: str | Path | None = None, device: str = "cpu") -> ControlledDenoiser:
    """The ``ControlledDenoiser`` saved (``save_pretrained``, safetensors) in ``path`` (default:
    :data:`DEFAULT_WEIGHTS`) on ``device``, in eval mode; a one-line ``MissingWeightsError`` (no
    folder or files), ``InputError`` (a ``config.json`` failing :func:`read_weights_config` or naming
    another model) or ``ConfigError`` (a model that cannot be built or loaded from it)."""
    import torch

    from actdiff.models.denoiser import ControlledDenoiser

    folder = _find_denoiser(path)
    read_weights_config(folder, (ControlledDenoiser.__name__,))
    with readable_weights(folder):
        model = ControlledDenoiser.from_pretrained(
            str(folder), use_safetensors=True, low_cpu_mem_usage=False, torch_dtype=torch.float32)
    return model.to(device).eval()
