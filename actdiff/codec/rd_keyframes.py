"""Keyframe decisions of the RD encoder: quality and downscale chosen by propagated distortion.

A keyframe at frame ``k`` is seen directly once and, warped, in the interior frames of the
segments on both sides of it: frame ``t`` of a segment of length ``L`` takes the start keyframe
with blend weight ``1 − τ`` and the end keyframe with ``τ = t / (L − 1)`` (the warp decoder's
blend, :mod:`actdiff.motion.prediction`). Like x265's cutree, the keyframe's own distortion is
weighted by how much of it propagates:

    ``w_k = 1 + ρ · (Σ_{left interior} τ_t + Σ_{right interior} (1 − τ_t)) = 1 + ρ · (L_left − 2 + L_right − 2) / 2``

and its quality minimises ``w_k · D(k, q, s) + λ · R(k, q, s)`` (``D`` the RD distortion of the
decoded keyframe against the source frame, :class:`actdiff.codec.distortion.Distortion`, ``R``
its payload in bits per pixel of one frame), searched by descent over the ordered quality list
(the cost is unimodal in the quality in practice), every encode cached by ``(k, q, s)``. The
downscale ``s`` is one per stream (the header's ``kr``): the one with the least total cost over
all keyframes. ``ρ`` (``codec.rd.propagation``) is how much of a keyframe's coding error
survives the warp; tuned on training clips.
"""

from __future__ import annotations

import threading
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from actdiff.codec.distortion import Distortion
from actdiff.errors import ConfigError
from actdiff.image_codecs import ImageCodec, codec_from_params

#: Keyframe codecs whose payload decodes without knowing the quality it was coded at (so that
#: every keyframe of an RD stream may have its own).
PER_KEYFRAME_QUALITY = ("avif", "webp", "jpeg")
#: Keyframe codecs with an encoder speed preset (``codec.rd.search_speed`` applies to them).
SPEED_CODECS = ("avif",)

KeyId = Tuple[int, int, float]  # (frame, quality, scale)

#: Name prefix of the RD search's worker threads: work running on one never waits on the pool.
WORKER_PREFIX = "actdiff-rd"


def on_worker() -> bool:
    """Whether the calling thread is one of the search's workers."""
    return threading.current_thread().name.startswith(WORKER_PREFIX)


@dataclass
class CodedKeyframe:
    """One keyframe coded at one setting: payload, decoded image ``uint8 (Hc, Wc, 3)``, its size
    in bits and its distortion against the source frame."""

    payload: bytes
    decoded: np.ndarray
    bits: int
    distortion: float


#: ``ρ``, the share of a keyframe's distortion counted per interior frame that reuses it
#: (``codec.rd.propagation``'s default; the fast mode's keyframe spread uses it too).
DEFAULT_PROPAGATION = 0.5


def keyframe_cost(weight: float, distortion: float, bits: float, lam: float, pixels: int) -> float:
    """The RD price of one keyframe: ``weight · D + λ · bits / pixels`` (``pixels`` of one frame)."""
    return weight * distortion + lam * bits / pixels


def propagation_weight(left: int, right: int, rho: float) -> float:
    """``w_k`` of a keyframe between segments of ``left`` and ``right`` frames (keyframes
    included; 0 where there is no segment on that side)."""
    return 1.0 + rho * (max(left - 2, 0) + max(right - 2, 0)) / 2.0


def propagation_weights(keyframes: Sequence[int], rho: float) -> List[float]:
    """``w_k`` of each of the sorted ``keyframes`` of contiguous segments (:func:`propagation_weight`)."""
    out = []
    for i, k in enumerate(keyframes):
        left = k - keyframes[i - 1] + 1 if i > 0 else 0
        right = keyframes[i + 1] - k + 1 if i + 1 < len(keyframes) else 0
        out.append(propagation_weight(left, right, rho))
    return out


class KeyframeCoder:
    """Codes and scores keyframes at any (quality, scale), each setting once (cached).

    Args:
        frames: the padded clip ``uint8 (T, Hc, Wc, 3)``.
        refs: the :meth:`Distortion.prepare`\\ d source frames (same indices).
        codec_params: the ``codec.keyframe_codec`` section as a dict (``name`` + arguments); its
            quality and scale are replaced by the candidates.
        distortion: the distortion measure.
        pool: worker threads that code candidate settings ahead of the search (:meth:`prefetch`;
            libavif and libwebp release the GIL); ``None``: everything coded when asked for.
    """

    def __init__(self, frames: np.ndarray, refs: Sequence[Any], codec_params: Mapping[str, Any],
                 distortion: Distortion, pool: Optional[Executor] = None) -> None:
        params = dict(codec_params)
        if str(params.get("name")) not in PER_KEYFRAME_QUALITY:
            raise ConfigError(f"codec.mode=rd needs a keyframe codec whose payload carries its own quality "
                              f"({', '.join(PER_KEYFRAME_QUALITY)}), got {params.get('name')!r}")
        params.pop("quality", None)
        params.pop("scale", None)
        self.frames, self.refs, self.base, self.distortion = frames, refs, params, distortion
        self.pool = pool
        self._codecs: Dict[Tuple[int, float], ImageCodec] = {}
        self._cache: Dict[KeyId, CodedKeyframe] = {}

    @property
    def encodes(self) -> int:
        """Distinct keyframe settings coded so far."""
        return len(self._cache)

    def codec(self, quality: int, scale: float) -> ImageCodec:
        key = (int(quality), float(scale))
        if key not in self._codecs:
            self._codecs[key] = codec_from_params({**self.base, "quality": int(quality), "scale": float(scale)})
        return self._codecs[key]

    def get(self, frame: int, quality: int, scale: float) -> CodedKeyframe:
        key = (int(frame), int(quality), float(scale))
        if key not in self._cache:
            codec = self.codec(quality, scale)
            payload = codec.encode(self.frames[frame])
            h, w = self.frames.shape[1:3]
            decoded = codec.decode(payload, h, w)
            d = self.distortion.frame(self.refs[frame], decoded)
            self._cache[key] = CodedKeyframe(payload, decoded, 8 * len(payload), d)
        return self._cache[key]

    def prefetch(self, frame: int, scale: float, qualities: Sequence[int]) -> None:
        """Code the settings of ``qualities`` not yet cached concurrently on the pool (no-op
        without one, or for fewer than two new settings). The results are exactly those of
        :meth:`get`: the search's decisions do not depend on it."""
        todo = sorted({int(q) for q in qualities if (int(frame), int(q), float(scale)) not in self._cache})
        if self.pool is not None and len(todo) > 1 and not on_worker():
            list(self.pool.map(lambda q: self.get(frame, q, scale), todo))

    def cost(self, frame: int, quality: int, scale: float, weight: float, lam: float, pixels: int) -> float:
        """``w · D + λ · bits / pixels`` of one keyframe setting."""
        c = self.get(frame, quality, scale)
        return keyframe_cost(weight, c.distortion, c.bits, lam, pixels)

    def best_quality(self, frame: int, scale: float, weight: float, lam: float, pixels: int,
                     qualities: Sequence[int], start: int | None = None, down_only: bool = False
                     ) -> Tuple[int, float]:
        """``(quality, cost)`` minimising :meth:`cost` over ``qualities`` (ascending), by descent
        from ``start`` (default: the middle of the list): a pattern search whose steps halve from
        a sixteenth of the list down to one entry, so that a long list (every integer quality,
        where neighbouring qualities may code identically) is crossed in few encodes. With
        ``down_only`` only lower qualities than ``start`` are tried (a keyframe whose segments are
        shorter than its neighbours' never needs a higher quality than theirs: 2 encodes typically)."""
        qs = list(qualities)
        i = qs.index(start) if start in qs else len(qs) // 2

        def at(j: int) -> float:
            return self.cost(frame, qs[j], scale, weight, lam, pixels)

        def ahead(js: Sequence[int]) -> None:  # code the next candidates together (pool)
            self.prefetch(frame, scale, [qs[j] for j in js if 0 <= j < len(qs)])

        step = max(1, len(qs) // 16)
        ahead([i, i - step] if down_only else [i, i - step, i + step])
        best = at(i)
        while True:
            for direction in ((-step,) if down_only else (-step, step)):
                moved = False
                while 0 <= i + direction < len(qs):
                    ahead([i + direction, i + 2 * direction])
                    c = at(i + direction)
                    if c >= best:
                        break
                    i, best, moved = i + direction, c, True
                if moved:
                    break
            if step == 1:
                return qs[i], best
            step //= 2


def scale_costs(coder: KeyframeCoder, keyframes: Sequence[int], weights: Sequence[float],
                scales: Sequence[float], qualities: Sequence[int], lam: float, pixels: int,
                start: Mapping[int, int] | None = None) -> List[Tuple[float, List[int], float]]:
    """Each scale's best keyframe qualities: ``[(scale, [quality, …], total cost), …]`` in the
    given order of ``scales`` (each scale's descent starts from the previous scale's qualities)."""
    out: List[Tuple[float, List[int], float]] = []
    prev: int | None = None
    for s in scales:
        qs, total = [], 0.0
        for k, w in zip(keyframes, weights):
            q, c = coder.best_quality(k, s, w, lam, pixels, qualities, (start or {}).get(k, prev))
            qs.append(q)
            total += c
            prev = q
        out.append((float(s), qs, total))
        prev = qs[0] if qs else None
    return out


def choose_scale_and_qualities(coder: KeyframeCoder, keyframes: Sequence[int], weights: Sequence[float],
                               scales: Sequence[float], qualities: Sequence[int], lam: float, pixels: int,
                               start: Mapping[int, int] | None = None) -> Tuple[float, List[int], float]:
    """The stream's keyframe scale and each keyframe's quality: ``(scale, [quality, …], cost)``
    with the least total :meth:`KeyframeCoder.cost` (scales tried in the given order)."""
    return min(scale_costs(coder, keyframes, weights, scales, qualities, lam, pixels, start), key=lambda c: c[2])


__all__ = ["DEFAULT_PROPAGATION", "PER_KEYFRAME_QUALITY", "WORKER_PREFIX", "CodedKeyframe", "KeyframeCoder",
           "choose_scale_and_qualities", "keyframe_cost", "on_worker", "propagation_weight", "propagation_weights",
           "scale_costs"]
