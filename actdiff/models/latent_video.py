"""Pieces shared by the latent video generators (``paper``: CogVideoX + tracking branch; ``paper-wan``).

All of them read the segment conditions :data:`actdiff.conditioning.VIDEO_CHANNELS` of a window
(``(T, 30, H, W)``) and use three groups: ``key`` + ``key_mask`` (the decoded keyframes at their
positions), ``track`` (the tracking video). The VAE latent of a ``T = 4k + 1`` frame video has
``F = (T - 1) / 4 + 1`` latent frames; the keyframes become *image latents* as in CogVideoX's
image-to-video pipeline, placed bidirectionally as the reference does: the start keyframe's latent
at latent frame 0, the end keyframe's at latent frame ``F - 1``, zeros between
(:func:`keyframe_latents`).
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from actdiff.conditioning.segment import NUM_VIDEO_CHANNELS, video_channel_slice
from actdiff.models.sampling import seed_for

#: Condition groups a latent video generator reads (resized together to the model's resolution).
USED_GROUPS = ("key", "key_mask", "track")
#: The compact layout of those groups (``C = 7``), which training items carry instead of all 30
#: channels (a 49-frame 480x720 window of 30 float channels is 2 GB; 7 uint8 channels, 0.1 GB).
LATENT_CHANNELS: dict[str, tuple[int, int]] = {"key": (0, 3), "key_mask": (3, 1), "track": (4, 3)}
NUM_LATENT_CHANNELS = 7


def compact_conditions(cond: torch.Tensor) -> torch.Tensor:
    """``(…, 30, H, W)`` segment conditions → ``(…, 7, H, W)`` in :data:`LATENT_CHANNELS` order."""
    return torch.cat([cond[..., video_channel_slice(g), :, :] for g in USED_GROUPS], dim=-3)


def quantize_compact(cond: torch.Tensor) -> torch.Tensor:
    """Compact conditions (``key``/``track`` in [-1, 1], ``key_mask`` in {0, 1}) → ``uint8`` (exact for
    the keyframes, 1/255 steps for the tracking colours)."""
    q = (cond.float() + 1.0) * 127.5
    q[..., 3, :, :] = cond[..., 3, :, :].float() * 255.0
    return q.round().clamp(0, 255).to(torch.uint8)


def dequantize_compact(q: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`quantize_compact` (``float32``)."""
    x = q.float() / 127.5 - 1.0
    x[..., 3, :, :] = q[..., 3, :, :].float() / 255.0
    return x


def latent_frame_count(frames: int, temporal_factor: int) -> int:
    """Latent frames of a ``frames``-frame video under a causal VAE compressing time ``temporal_factor``×."""
    return (frames - 1) // temporal_factor + 1


def resize_frames(x: torch.Tensor, size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """``(T, C, H, W)`` → ``(T, C, *size)`` (unchanged when already that size; antialiased when shrinking)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    shrink = size[0] < x.shape[-2] or size[1] < x.shape[-1]
    return F.interpolate(x.float(), size=size, mode=mode, align_corners=False, antialias=shrink).to(x.dtype)


def split_conditions(cond: torch.Tensor, size: tuple[int, int] | None) -> dict[str, torch.Tensor]:
    """The groups of :data:`USED_GROUPS` of ``cond`` — ``(T, 30, H, W)`` segment conditions or their
    compact ``(T, 7, H, W)`` form — resized to ``size`` (``None``: as is).

    Returns ``key (T, 3, h, w)``, ``key_mask (T,)`` (1 where ``key`` is a keyframe) and ``track (T, 3, h, w)``.
    """
    if cond.shape[1] == NUM_LATENT_CHANNELS:
        part = {g: slice(a, a + n) for g, (a, n) in LATENT_CHANNELS.items()}
    elif cond.shape[1] == NUM_VIDEO_CHANNELS:
        part = {g: video_channel_slice(g) for g in USED_GROUPS}
    else:
        raise ValueError(f"conditions with {cond.shape[1]} channels "
                         f"(need {NUM_VIDEO_CHANNELS} or {NUM_LATENT_CHANNELS})")
    size = size or tuple(cond.shape[-2:])
    key = resize_frames(cond[:, part["key"]], size)
    track = resize_frames(cond[:, part["track"]], size)
    mask = cond[:, part["key_mask"]].flatten(1).amax(1)
    return {"key": key, "key_mask": mask, "track": track}


class LatentCache:
    """A small LRU of encoded images keyed by their content (the cached-keyframe-latents option:
    the end keyframe of a segment is the start keyframe of the next, and every window of a long
    segment shares them)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._items: OrderedDict[str, torch.Tensor] = OrderedDict()
        self.hits = 0

    @staticmethod
    def key(image: torch.Tensor) -> str:
        return hashlib.sha1(image.detach().float().cpu().numpy().tobytes()).hexdigest() + str(tuple(image.shape))

    def get(self, image: torch.Tensor, encode: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        k = self.key(image)
        if k in self._items:
            self._items.move_to_end(k)
            self.hits += 1
            return self._items[k]
        value = encode(image)
        self._items[k] = value
        if len(self._items) > self.size:
            self._items.popitem(last=False)
        return value


def keyframe_latents(images: torch.Tensor, mask: torch.Tensor, encode_image: Callable[[torch.Tensor], torch.Tensor],
                     num_latent: int, cache: LatentCache | None = None) -> torch.Tensor:
    """Image latents of a window: first, zeros, last (as the reference places the keyframes).

    Args:
        images: ``(T, 3, H, W)`` in [-1, 1]; frame 0 and frame ``T-1`` are used where ``mask`` is 1.
        mask: ``(T,)`` 1 where ``images`` holds a keyframe.
        encode_image: ``(1, 3, H, W)`` → ``(C, h, w)`` scaled image latent.
        num_latent: ``F``.

    Returns:
        ``(F, C, h, w)``: latent frame 0 = the start keyframe's latent (if ``mask[0]``), latent frame
        ``F - 1`` = the end keyframe's (if ``mask[-1]``), zeros elsewhere.
    """
    enc = (lambda im: cache.get(im, encode_image)) if cache is not None else encode_image
    slots: dict[int, torch.Tensor] = {}
    if mask[0] > 0.5:
        slots[0] = enc(images[:1])
    if mask[-1] > 0.5 and num_latent > 1:
        slots[num_latent - 1] = enc(images[-1:])
    if not slots:
        raise ValueError("a window without keyframes at either end cannot be conditioned")
    like = next(iter(slots.values()))
    out = like.new_zeros((num_latent, *like.shape))
    for i, z in slots.items():
        out[i] = z
    return out


def latent_noise(shape: tuple[int, int, int], seed: int, frame_ids: Sequence[int], temporal_factor: int,
                 num_latent: int) -> torch.Tensor:
    """Initial noise ``float32 (F, C, h, w)``: latent frame ``j`` from ``seed_for(seed, frame_ids[4 j])``
    (the segment-relative frame it starts at), so windows sharing that frame share the noise."""
    out = []
    for j in range(num_latent):
        t = int(frame_ids[min(j * temporal_factor, len(frame_ids) - 1)])
        out.append(torch.randn(shape, generator=torch.Generator().manual_seed(seed_for(seed, t))))
    return torch.stack(out)


def dynamic_guidance(scale: float, steps: int, timestep: float) -> float:
    """CogVideoX's dynamic classifier-free guidance (``use_dynamic_cfg`` of its diffusers pipelines,
    the formula as written there: ``1 + s (1 - cos(pi ((n - t) / n) ** 5)) / 2`` with ``t`` the
    timestep value and ``n`` the number of steps)."""
    return 1 + scale * ((1 - math.cos(math.pi * ((steps - timestep) / steps) ** 5.0)) / 2)
