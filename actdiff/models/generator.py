"""The segment-level generator interface: conditions of a window in, the window's frames out.

Every video decoder model (``tiny-video``/``small-video`` here, the paper-scale CogVideoX model
of issue 19) implements :class:`SegmentGenerator` and is driven by ONE decoder,
:class:`actdiff.decoders.video.VideoDiffusionDecoder`, which owns everything model-agnostic:

* the conditions — :func:`actdiff.conditioning.build_window_conditions`, layout
  :data:`actdiff.conditioning.VIDEO_CHANNELS` ``(T, C, H, W)``, the same function in training;
* the windowing of long segments (:func:`plan_windows`, :func:`window_weights`): windows of the
  model's longest valid length overlapping by ``overlap`` frames, cross-faded linearly in the
  overlaps; a segment shorter than one window is one window, padded to the model's frame-count
  rule by repeating its last frame (the padding is cropped away);
* padding of ``H, W`` to the model's ``size_multiple`` (replicate) and cropping back;
* the seeds: ``seed = seed_for(header seed, segment start)`` and the window's segment-relative
  ``frame_ids``, from which a model must draw ALL its randomness (decoding is deterministic and a
  frame shared by two windows can get the same noise);
* the exact keyframes at both ends of the segment, and an optional residual filter.

A model declares what it accepts with a :class:`WindowSpec` (longest window, frame-count rule
``T ≡ r (mod m)`` — CogVideoX's 3D VAE compresses time 4× and wants ``T = 4k + 1``, at most 49 —
and the size multiple), and keeps its sampler (scheduler, steps, guidance …) inside
:meth:`SegmentGenerator.generate`, with defaults stored in its config (``sampling_defaults``).

Weights are ``save_pretrained`` folders. :func:`load_generator` reads ``config.json``'s
``_class_name`` and builds the class registered in :data:`GENERATOR_CLASSES` with its
``from_pretrained`` — a new model adds one line there.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from actdiff.conditioning.segment import video_channel_slice
from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.models.loading import readable_weights

#: ``_class_name`` in a weights folder's ``config.json`` → module defining that generator class.
GENERATOR_CLASSES: dict[str, str] = {
    "VideoControlledDenoiser": "actdiff.models.video_denoiser",
    "PaperVideoGenerator": "actdiff.models.paper_generator",
    "WanControlGenerator": "actdiff.models.wan_generator",
}


@dataclass(frozen=True)
class WindowSpec:
    """The windows a generator accepts.

    Attributes:
        max_frames: longest window (frames, keyframes included).
        min_frames: shortest window.
        frame_multiple, frame_remainder: valid lengths ``T`` satisfy
            ``T % frame_multiple == frame_remainder`` (CogVideoX: 4, 1; frame models: 1, 0).
        size_multiple: ``H`` and ``W`` must be multiples of it (the decoder pads).
    """

    max_frames: int
    min_frames: int = 1
    frame_multiple: int = 1
    frame_remainder: int = 0
    size_multiple: int = 8

    def __post_init__(self) -> None:
        if self.frame_multiple < 1 or not 0 <= self.frame_remainder < self.frame_multiple:
            raise ConfigError(f"bad frame rule: T % {self.frame_multiple} == {self.frame_remainder}")
        if self.size_multiple < 1 or self.min_frames < 1:
            raise ConfigError("size_multiple and min_frames must be >= 1")
        if self.longest() < self.min_frames:
            raise ConfigError(f"no valid window length between {self.min_frames} and {self.max_frames}")

    def is_valid(self, n: int) -> bool:
        return self.min_frames <= n <= self.max_frames and n % self.frame_multiple == self.frame_remainder

    def longest(self) -> int:
        """Largest valid length (0 if none)."""
        n = self.max_frames
        while n >= 1 and n % self.frame_multiple != self.frame_remainder:
            n -= 1
        return n

    def padded_length(self, n: int) -> int:
        """Smallest valid length ``>= n`` (``ValueError`` if ``n`` exceeds :meth:`longest`)."""
        if n > self.longest():
            raise ValueError(f"{n} frames exceed the longest window ({self.longest()})")
        m = max(n, self.min_frames)
        while not self.is_valid(m):
            m += 1
        return m


def plan_windows(length: int, spec: WindowSpec, overlap: int) -> list[list[int]]:
    """Segment-relative frame indices of each window covering ``[0, length)``.

    A segment that fits one window is one window, padded to :meth:`WindowSpec.padded_length` by
    repeating frame ``length - 1``. A longer one gets the fewest windows of
    :meth:`WindowSpec.longest` frames, evenly spread from frame 0 to frame ``length - 1``, such
    that consecutive windows share at least ``overlap`` frames.
    """
    if length < 1:
        raise ValueError("a segment has at least one frame")
    size = spec.longest()
    if length <= size:
        n = spec.padded_length(length)
        return [list(range(length)) + [length - 1] * (n - length)]
    if not 0 <= overlap < size:
        raise ConfigError(f"window overlap must be in [0, {size}), got {overlap}")
    count = -(-(length - size) // (size - overlap)) + 1            # ceil: overlaps >= overlap
    starts = np.rint(np.linspace(0, length - size, count)).astype(int)
    return [list(range(int(s), int(s) + size)) for s in starts]


def window_weights(windows: Sequence[Sequence[int]], length: int) -> list[np.ndarray]:
    """Blend weights ``float32 (len(window),)`` per window; for every frame they sum to 1.

    Inside the overlap of two consecutive windows the weights ramp linearly from one to the
    other; padded repeats of a frame get weight 0.
    """
    raw: list[np.ndarray] = []
    for k, win in enumerate(windows):
        w = np.ones(len(win), np.float32)
        first, last = win[0], win[-1]
        prev_end = windows[k - 1][-1] if k > 0 else first - 1
        next_start = windows[k + 1][0] if k + 1 < len(windows) else last + 1
        seen: set[int] = set()
        for i, t in enumerate(win):
            if t in seen:
                w[i] = 0.0
                continue
            seen.add(t)
            if t <= prev_end:   # ramp up across the overlap with the previous window
                w[i] *= (t - first + 1) / (prev_end - first + 2)
            if t >= next_start:  # ramp down across the overlap with the next window
                w[i] *= (last - t + 1) / (last - next_start + 2)
        raw.append(w)
    total = np.zeros(length, np.float32)
    for win, w in zip(windows, raw):
        np.add.at(total, np.asarray(win), w)
    if np.any(total <= 0):
        raise ValueError("windows do not cover every frame")
    return [w / total[np.asarray(win)] for win, w in zip(windows, raw)]


class SegmentGenerator:
    """Mixin of the video generators (with diffusers ``ModelMixin``/``ConfigMixin``).

    Subclasses implement :meth:`window_spec` and :meth:`generate`; ``from_pretrained`` /
    ``save_pretrained`` come from ``ModelMixin``.
    """

    def window_spec(self) -> WindowSpec:
        raise NotImplementedError

    def sampling_defaults(self) -> dict[str, Any]:
        """Sampling settings stored with the weights (overridden by the decoder's arguments)."""
        return {}

    def sampling_options(self, sampling: dict[str, Any]) -> dict[str, Any]:
        """The options :meth:`generate` runs with: ``sampling`` over :meth:`sampling_defaults`
        (``None`` keeps a default). Subclasses check them here (an unknown or bad one is a one-line
        ``ConfigError``); the decoder calls it when it is built, before any decoding."""
        return {**self.sampling_defaults(), **{k: v for k, v in sampling.items() if v is not None}}

    def decoder_defaults(self) -> dict[str, Any]:
        """What the decoder adds the model's residual to, stored with the weights (``base``,
        ``detail_mix``, ``residual_band``, ``residual_scale``: :mod:`actdiff.decoders.rebase`;
        overridden by the decoder's arguments). Default: none, the model's own base."""
        return {}

    def describe(self) -> str:
        """One line naming the model (printed by ``actdiff decode``)."""
        return type(self).__name__

    def prediction(self, cond: torch.Tensor) -> torch.Tensor:
        """``(T, 3, H, W)`` in [-1, 1]: the prediction the model refines, the base of the decoder's
        residual filter. Default: the ``pred`` channels of the window conditions."""
        return cond[:, video_channel_slice("pred")]
    def condition_groups(self) -> tuple[str, ...] | None:
        """The groups of :data:`actdiff.conditioning.VIDEO_CHANNELS` the model reads (``None``: all);
        the decoder computes only those (the ``frame`` and ``pred`` groups are the costly ones)."""
        return None

    @classmethod
    def load_pretrained(cls, folder: str | Path) -> "SegmentGenerator":
        """The model saved in ``folder``, in the dtype it runs in (default: float32; a pretrained
        model may keep its config's dtype, e.g. bfloat16). Used by :func:`load_generator`."""
        return cls.from_pretrained(str(folder), use_safetensors=True, low_cpu_mem_usage=False,
                                   torch_dtype=torch.float32)

    def generate(self, cond: torch.Tensor, seed: int, frame_ids: Sequence[int], **sampling: Any) -> torch.Tensor:
        """Frames of one window.

        Args:
            cond: ``(T, NUM_VIDEO_CHANNELS, H, W)`` window conditions (model device and dtype), ``T``
                valid for :meth:`window_spec`, ``H, W`` multiples of its ``size_multiple``.
            seed: the segment's seed; all randomness must come from ``(seed, frame_ids)``.
            frame_ids: segment-relative index of each of the ``T`` frames.
            sampling: sampler options (``steps``, ``sampler``, ``strength`` …; unknown ones are a
                ``ConfigError``), over :meth:`sampling_defaults`.

        Returns:
            ``(T, 3, H, W)`` in [-1, 1].
        """
        raise NotImplementedError


def generator_class_name(folder: str | Path) -> str | None:
    """``_class_name`` of ``folder/config.json`` (``None`` when there is no such file)."""
    cfg = Path(folder).expanduser() / "config.json"
    if not cfg.is_file():
        return None
    try:
        return json.loads(cfg.read_text()).get("_class_name")
    except (OSError, ValueError):
        return None


def is_generator(obj: Any) -> bool:
    """Whether ``obj`` (a model) or a weights folder holds a :class:`SegmentGenerator`."""
    if isinstance(obj, SegmentGenerator):
        return True
    if isinstance(obj, (str, Path)):
        return generator_class_name(obj) in GENERATOR_CLASSES
    return False


def load_generator(folder: str | Path, device: str = "cpu") -> SegmentGenerator:
    """The generator saved in ``folder`` (its :meth:`SegmentGenerator.load_pretrained`: float32 unless
    the model keeps another dtype; eval mode) or a one-line ``MissingWeightsError``."""
    folder = Path(folder).expanduser()
    name = generator_class_name(folder)
    if name not in GENERATOR_CLASSES:
        raise MissingWeightsError(f"{folder} holds no video generator (config.json _class_name {name!r}; "
                                  f"known: {', '.join(GENERATOR_CLASSES)})")
    cls = getattr(importlib.import_module(GENERATOR_CLASSES[name]), name)
    with readable_weights(folder):
        model = cls.load_pretrained(folder)
    return model.to(device).eval()
