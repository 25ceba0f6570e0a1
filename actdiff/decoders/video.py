"""The segment-level video decoder: a :class:`~actdiff.models.generator.SegmentGenerator` over windows.

For each segment of ``L`` frames: plan windows (:func:`actdiff.models.generator.plan_windows`:
one window when the segment fits the model's longest window, else windows of that length
overlapping by ``overlap`` frames), build each window's conditions with
:func:`actdiff.conditioning.build_window_conditions` (the function training uses), pad them to
the model's size multiple, let the model generate the window from the seed
``seed_for(header seed, segment start)`` and the window's frame indices, and cross-fade the windows
linearly in their overlaps (:func:`actdiff.models.generator.window_weights`). The decoded
keyframes are returned exactly at both ends. As in the frame-by-frame decoder, the model's residual
can be moved onto another image (``base``, ``detail_mix`` — the encoder's per-segment choice where the
stream carries one —, ``residual_band``, ``residual_scale``: :mod:`actdiff.decoders.rebase`; default:
the weights' stored choice, else the model's own base), ``temporal_blend`` optionally filters what the
model added to that image along the decoded motion (:mod:`actdiff.decoders.residual_filter`), and
``coarse_lock`` then removes the 8×8 block means of what it added, so the frames' coarse scale is
that image's (:mod:`actdiff.decoders.coarse_lock`).
Deterministic: the same stream decodes to the same frames.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import astuple
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from actdiff.conditioning import segment as segment_conditions
from actdiff.conditioning.conditions import warp_blend_from_conditions
from actdiff.decoders.base import Decoder, check_step_count, keyframes_in_place, pick_device, refuse_fusion_options
from actdiff.decoders.coarse_lock import lock_coarse
from actdiff.decoders.rebase import add_residual, image_under, resolve_options, segment_mix
from actdiff.decoders.residual_filter import filter_residuals
from actdiff.errors import ConfigError
from actdiff.models.generator import GENERATOR_CLASSES, SegmentGenerator, load_generator, plan_windows, window_weights
from actdiff.models.loading import check_weights_folder
from actdiff.models.sampling import schedule_kwargs, seed_for
from actdiff.models.video_denoiser import FRAME_DECODER_OPTIONS
from actdiff.motion.fusion import FusionParams
from actdiff.motion.prediction import DETAIL_SIGMA
from actdiff.types import DecodedSegment, StreamHeader

#: Frames shared by consecutive windows of a long segment (default).
DEFAULT_OVERLAP = 4


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] → ``uint8`` [0, 255] (rounded, clamped)."""
    return np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.uint8)


def train_timesteps(model: SegmentGenerator) -> int | None:
    """The training timesteps of ``model``'s noise schedule: its scheduler part's (the pretrained
    generators), else its config's ``noise_schedule`` (:func:`actdiff.models.sampling.schedule_kwargs`);
    ``None`` for a generator with neither (nothing to bound its steps by)."""
    scheduler = getattr(model, "scheduler", None)
    if scheduler is not None and hasattr(scheduler, "config"):
        return int(scheduler.config.num_train_timesteps)
    config = getattr(model, "config", None)
    if isinstance(config, Mapping) and "noise_schedule" in config:
        return int(schedule_kwargs(model)["num_train_timesteps"])
    return None


class VideoDiffusionDecoder(Decoder):
    """Decode segments with a video generator.

    Args:
        weights: a generator's ``save_pretrained`` folder (ignored when ``model`` is given).
        model: an already built :class:`SegmentGenerator` (tests, training validation).
        overlap: frames shared by consecutive windows of a segment longer than the model's window.
        temporal_blend: residual filter weight in ``[0, 1)`` (default: the weights' sampling
            defaults, else 0 = off).
        coarse_lock: at the end, remove the 8×8 block means of what the model added to the
            image under its residual (default: the weights' sampling defaults, else off).
        base, detail_mix, residual_band, residual_scale: what the residual is added to and how
            much of it (:mod:`actdiff.decoders.rebase`; default: the weights'
            :meth:`~SegmentGenerator.decoder_defaults`, else the model's own base, all of it;
            ``detail_mix`` not given: the stream's per-segment choice where sent).
        bidirectional: use K1 (default: ``header.params['bidirectional']``, else True).
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``mps``, one this machine has (default: a given model's,
            else ``cuda`` when available, else ``cpu``); checked before the weights load.
        depth: a local ``transformers`` depth-estimation model folder: the tracking video's blue
            channel gets the inverse depth of the decoded start keyframe
            (:class:`actdiff.models.depth.DepthEstimator`; default off: constant blue).
        sampling: sampler options passed to :meth:`SegmentGenerator.generate` (``steps``,
            ``sampler``, ``strength``, ``noise_mode`` …; ``None`` values keep the model's defaults).
    """

    name = "diffusion"

    def __init__(
        self,
        weights: str | None = None,
        model: SegmentGenerator | None = None,
        overlap: int = DEFAULT_OVERLAP,
        temporal_blend: float | None = None,
        coarse_lock: bool | None = None,
        base: str | None = None,
        detail_mix: float | None = None,
        residual_band: str | None = None,
        residual_scale: float | None = None,
        bidirectional: bool | None = None,
        device: str | None = None,
        batch_size: Any = None,
        depth: str | None = None,
        **sampling: Any,
    ) -> None:
        del batch_size  # the frame decoder's option; a window is the batch here
        refuse_fusion_options("video", sampling.pop("prediction", None), sampling.pop("prediction_params", None))
        frame_only = sorted(k for k in FRAME_DECODER_OPTIONS if sampling.get(k) is not None)
        if frame_only:  # refused, not ignored
            raise ConfigError(f"{', '.join(frame_only)}: options of the frame-by-frame diffusion decoder; "
                              "the segment-level video decoder has none")
        if model is None and weights is None:
            raise ConfigError("the video decoder needs weights= or model=")
        device = pick_device(device, model)  # checked before the weights load
        if model is None:
            check_weights_folder(weights, GENERATOR_CLASSES)  # its config.json, before the model is built
        self.model: SegmentGenerator = model.eval() if model is not None else load_generator(weights, device)
        self.weights = "given model" if model is not None else str(weights)
        self.device = device
        self.overlap = int(overlap)
        defaults = dict(self.model.sampling_defaults())
        self.sampling = {**defaults, **{k: v for k, v in sampling.items() if v is not None}}
        blend = temporal_blend if temporal_blend is not None else self.sampling.get("temporal_blend", 0.0)
        self.sampling.pop("temporal_blend", None)
        self.temporal_blend = float(blend)
        if not 0.0 <= self.temporal_blend < 1.0:
            raise ConfigError(f"temporal_blend must be in [0, 1), got {self.temporal_blend}")
        lock = self.sampling.pop("coarse_lock", False)
        self.coarse_lock = bool(coarse_lock if coarse_lock is not None else lock)
        steps = self.model.sampling_options(self.sampling).get("steps")  # checked now, before any decoding
        if isinstance(steps, int) and (timesteps := train_timesteps(self.model)) is not None:
            check_step_count(steps, timesteps, self.weights)
        # base None: the model's own base, nothing moved
        options = resolve_options(self.model.decoder_defaults(), base, detail_mix, residual_band, residual_scale)
        self.base, self.detail_mix, self.stream_mix, self.residual_band, self.residual_scale = astuple(options)
        spec = self.model.window_spec()
        if not 0 <= self.overlap < spec.longest():
            raise ConfigError(f"window overlap must be in [0, {spec.longest()}), got {self.overlap}")
        self.bidirectional = bidirectional
        self.depth = None
        if depth:
            from actdiff.models.depth import DepthEstimator

            self.depth = DepthEstimator(depth, device=device)

    def settings(self) -> dict:
        """The effective settings (recorded in results JSONs)."""
        return {"name": self.name, "model": f"{self.model.describe()} from {self.weights}",
                "window": self.model.window_spec().longest(), "overlap": self.overlap,
                "edge_sigma_r": FusionParams().edge_sigma_r,
                "temporal_blend": self.temporal_blend, "coarse_lock": self.coarse_lock, **self._rebase_settings(),
                "bidirectional": self.bidirectional,
                "depth": str(self.depth.folder) if self.depth is not None else None, **self.sampling}

    def _rebase_settings(self) -> dict:
        """``base`` (``None``: the model's own), and where they matter the mix, the residual's band and
        share (recorded when not the defaults, as the frame-by-frame decoder does)."""
        out: dict = {"base": self.base}
        if self.residual_band != "all":
            out["residual_band"] = self.residual_band
        if self.residual_scale != 1.0:
            out["residual_scale"] = self.residual_scale
        if self.base == "detail":
            out.update(detail_mix=self.detail_mix, detail_sigma=DETAIL_SIGMA)
            if self.stream_mix:
                out["detail_mix_per_segment"] = "from the stream where sent"
        return out

    @property
    def rebases(self) -> bool:
        """Whether the model's output is moved off its own base (:mod:`actdiff.decoders.rebase`)."""
        return self.base is not None or self.residual_band != "all" or self.residual_scale != 1.0

    def bidirectional_for(self, header: StreamHeader) -> bool:
        if self.bidirectional is not None:
            return bool(self.bidirectional)
        return bool(header.params.get("bidirectional", True))

    def _window(self, seg: DecodedSegment, frames: list[int], bidir: bool, seed: int,
                depth: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(frames, image under the residual)`` ``float32 (T, H, W, 3)`` in [-1, 1] for one window."""
        h, w = seg.key_start.shape[:2]
        mult = self.model.window_spec().size_multiple
        groups = self.model.condition_groups()
        if groups is not None and (self.temporal_blend > 0.0 or self.coarse_lock or self.rebases):
            groups = tuple(groups) + ("pred",)                  # the image under the residual
            if self.base in ("blend", "detail"):
                groups += ("frame",)                            # the two warps' blend
        cond = segment_conditions.build_window_conditions(seg, frames, bidir, depth=depth, groups=groups)
        cond = torch.from_numpy(cond)
        ph, pw = (-h) % mult, (-w) % mult
        if ph or pw:
            cond = F.pad(cond, (0, pw, 0, ph), mode="replicate")
        dtype = next(self.model.parameters()).dtype
        x = self.model.generate(cond.to(self.device, dtype), seed, frames, **self.sampling)[..., :h, :w].float().cpu()
        cond = cond[..., :h, :w].float()
        native = self.model.prediction(cond)
        under = native
        if self.rebases:
            if self.base is not None:
                blend = warp_blend_from_conditions(segment_conditions.frame_conditions(cond))
                under = image_under(self.base, cond[:, segment_conditions.video_channel_slice("pred")], blend,
                                    segment_mix(seg.detail_mix, self.detail_mix, self.stream_mix), DETAIL_SIGMA)
            x = add_residual(under, x - native, self.residual_band, self.residual_scale, DETAIL_SIGMA)
        return x.permute(0, 2, 3, 1).numpy(), under.permute(0, 2, 3, 1).numpy()

    @torch.no_grad()
    def decode_segment(self, header: StreamHeader, seg: DecodedSegment) -> np.ndarray:
        """Frames ``uint8 (L, H, W, 3)``; frame 0 = K0 and frame L-1 = K1 exactly."""
        length = seg.segment.length
        h, w = seg.key_start.shape[:2]
        out = keyframes_in_place(seg)
        if length <= 2:
            return out
        bidir = self.bidirectional_for(header)
        seed = seed_for(header.seed, seg.segment.start)
        windows = plan_windows(length, self.model.window_spec(), self.overlap)
        depth = self.depth(seg.key_start) if self.depth is not None else None
        acc = np.zeros((length, h, w, 3), np.float32)
        base = np.zeros((length, h, w, 3), np.float32)
        for frames, weight in zip(windows, window_weights(windows, length)):
            x, pred = self._window(seg, frames, bidir, seed, depth)
            for i, t in enumerate(frames):
                if weight[i] > 0:
                    acc[t] += weight[i] * x[i]
                    base[t] += weight[i] * pred[i]
        out[1:-1] = _to_uint8(acc[1:-1])
        under = _to_uint8(base) if self.temporal_blend > 0.0 or self.coarse_lock else None
        if self.temporal_blend > 0.0:
            filter_residuals(seg, out, under, self.temporal_blend)
        if self.coarse_lock:
            lock_coarse(out, under, range(1, length - 1))
        return out
