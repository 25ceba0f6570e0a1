"""The decoder interface every decoder (warp, diffusion) implements."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Callable, Optional

import numpy as np

from actdiff.errors import ConfigError
from actdiff.types import DecodedSegment, StreamHeader

#: Every option a decoder built by :func:`actdiff.decoders.build_decoder` may be given (the keys of
#: :class:`actdiff.codec.schema.DecoderSchema` and the diffusion decoders' Python-only ones; kept equal to
#: them by tests/test_decoder_options.py). One ``codec.decoder`` section serves all decoders: the warp
#: decoder leaves the diffusion decoders' options; a key outside this set is a typo, refused by all.
SECTION_OPTIONS = frozenset({
    "bidirectional", "prediction", "prediction_params",                                      # warp
    "weights", "model", "sampler", "steps", "strength", "noise_mode", "temporal_blend", "base",  # diffusion
    "detail_mix", "detail_sigma", "detail_mix_of", "residual_band", "residual_from", "residual_scale",
    "coarse_lock", "batch_size", "device", "overlap", "depth"})


#: Torch device types the diffusion decoders run on (``meta`` holds no data, others are untested).
DEVICE_TYPES = ("cpu", "cuda", "mps")
_DEVICE_NAME = re.compile(rf"({'|'.join(DEVICE_TYPES)})(:[0-9]{{1,4}})?")
#: Frames the frame-by-frame diffusion decoder denoises together: the range of ``codec.decoder.batch_size``
#: (:class:`actdiff.codec.schema.DecoderSchema`, which encode and decode check).
BATCH_SIZE_RANGE = (1, 1 << 16)


def check_device_name(device: Any) -> str:
    """``device`` (a string or ``torch.device``) as a string when it names a device of :data:`DEVICE_TYPES`
    (``cuda:N`` included), whether or not this machine has one (no torch needed: a config that another
    machine decodes can be checked), else a one-line :class:`ConfigError`."""
    name = str(device)
    if isinstance(device, (bool, int, float)) or not _DEVICE_NAME.fullmatch(name):
        raise ConfigError(f"device {name!r} is not one the diffusion decoders run on "
                          f"({', '.join(DEVICE_TYPES)}, or cuda:N)")
    return name


def check_device(device: Any) -> str:
    """``device`` as a string when it names a device of :data:`DEVICE_TYPES` (:func:`check_device_name`)
    that this machine has, else a one-line :class:`ConfigError`, before any model is loaded."""
    import torch

    name = check_device_name(device)
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: no CUDA GPU is available on this machine (use --device cpu)")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r}: Apple MPS is not available on this machine (use --device cpu)")
    return name


def pick_device(device: Any, model: Any = None) -> str:
    """The device a diffusion decoder runs on: ``device`` checked (:func:`check_device`), else the
    given ``model``'s (it stays where it is), else ``cuda`` when available, else ``cpu``."""
    import torch

    if device is not None:
        return check_device(device)
    if model is not None:
        return str(next(model.parameters()).device)
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_batch_size(value: Any) -> int:
    """``value`` as an int in :data:`BATCH_SIZE_RANGE`, else a one-line :class:`ConfigError`."""
    lo, hi = BATCH_SIZE_RANGE
    try:
        ok = not isinstance(value, bool) and float(value).is_integer() and lo <= int(float(value)) <= hi
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ConfigError(f"batch_size {value!r} must be a whole number in [{lo}, {hi}]")
    return int(float(value))


def check_step_count(steps: int, train_timesteps: int, weights: str) -> int:
    """``steps`` unless it exceeds the ``train_timesteps`` of the noise schedule of ``weights``
    (a sampler cannot take more steps than there are timesteps): a one-line :class:`ConfigError`."""
    if steps > train_timesteps:
        raise ConfigError(f"sampling steps {steps} exceed the {train_timesteps} training timesteps of the "
                          f"noise schedule of {weights} (use at most {train_timesteps})")
    return steps


def refuse_unknown_options(decoder: str, given: dict) -> None:
    """A one-line :class:`ConfigError` for keys of ``given`` that no decoder takes (:data:`SECTION_OPTIONS`)."""
    unknown = sorted(set(given) - SECTION_OPTIONS)
    if unknown:
        raise ConfigError(f"unknown decoder option(s) {', '.join(unknown)} for the {decoder} decoder")


def refuse_fusion_options(decoder: str, prediction: Optional[str], prediction_params: Optional[dict]) -> None:
    """The warp decoder's ``prediction`` / ``prediction_params`` (``codec.decoder``) given to a
    generative decoder: a one-line :class:`ConfigError`, not ignored. Its model refines the default
    fusion it was trained on (``prediction: select`` with no overrides passes)."""
    if prediction_params or prediction not in (None, "select"):
        given = f"prediction_params {prediction_params}" if prediction_params else f"prediction {prediction!r}"
        raise ConfigError(f"{given}: an option of the warp decoder; the {decoder} decoder refines the default "
                          "fusion its model was trained on (decode with --decoder warp to use it)")


def keyframes_in_place(seg: DecodedSegment) -> np.ndarray:
    """``uint8 (L, H, W, 3)`` for ``seg`` with its decoded keyframes at both ends (the in-between
    frames uninitialised): what every decoder starts from."""
    length = seg.segment.length
    h, w = seg.key_start.shape[:2]
    out = np.empty((length, h, w, 3), np.uint8)
    out[0] = seg.key_start
    if length > 1:
        out[-1] = seg.key_end
    return out


class Decoder(ABC):
    """Reconstructs the frames of one segment from its decoded conditions only.

    ``decode_segment`` returns ``uint8 (L, H, W, 3)`` RGB at the coded size for all
    ``L = segment.length`` frames of the segment, keyframes included (a decoder should
    return the decoded keyframes unchanged at both ends).
    """

    name: str = "base"
    #: Set by :func:`actdiff.codec.decode_video` while it runs: called with the number of frames a
    #: slow decoder has just produced inside a segment (progress within long segments).
    progress_hook: Optional[Callable[[int], None]] = None

    def report_frames(self, n: int) -> None:
        """Tell :attr:`progress_hook` (if any) that ``n`` more frames of the segment are done."""
        if self.progress_hook is not None:
            self.progress_hook(n)

    @abstractmethod
    def decode_segment(self, header: StreamHeader, seg: DecodedSegment) -> np.ndarray:
        """Frames ``uint8 (L, H, W, 3)`` for ``seg`` (coded size)."""

    def decode_frames(self, header: StreamHeader, seg: DecodedSegment, frames: Sequence[int]) -> np.ndarray:
        """Frames ``uint8 (len(frames), H, W, 3)`` at the segment-relative indices ``frames``,
        exactly as :meth:`decode_segment` returns them there (this default decodes the whole
        segment; a decoder whose frames are independent of each other may decode only these)."""
        return self.decode_segment(header, seg)[list(frames)]
