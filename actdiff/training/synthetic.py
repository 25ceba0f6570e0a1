"""Synthetic videos and decoded segments (smooth moving textures) for tests and smoke runs."""

from __future__ import annotations

import itertools

import numpy as np

from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks, Video


def moving_texture(num_frames: int, height: int, width: int, seed: int = 0, speed: float = 1.5) -> np.ndarray:
    """``uint8 (T, H, W, 3)``: a smooth random texture translating by ``speed`` px/frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    waves = rng.uniform(0.02, 0.15, (3, 3, 2))
    phase = rng.uniform(0, 2 * np.pi, (3, 3))
    frames = np.empty((num_frames, height, width, 3), np.uint8)
    for t in range(num_frames):
        x = xx - speed * t
        y = yy - 0.5 * speed * t
        img = np.zeros((height, width, 3), np.float32)
        for c in range(3):
            for k in range(3):
                img[..., c] += np.sin(waves[c, k, 0] * x + waves[c, k, 1] * y + phase[c, k])
        frames[t] = np.clip(127.5 + 40 * img, 0, 255).astype(np.uint8)
    return frames


def synthetic_video(num_frames: int = 12, height: int = 48, width: int = 64, seed: int = 0) -> Video:
    return Video(moving_texture(num_frames, height, width, seed), 25.0, f"synthetic{seed}")


def segment_from_frames(frames: np.ndarray, start: int, end: int, num_points: int = 12, seed: int = 0,
                        speed: float = 1.5) -> DecodedSegment:
    """A ``DecodedSegment`` over ``frames[start..end]`` with tracks following the texture motion."""
    rng = np.random.default_rng(seed)
    h, w = frames.shape[1:3]
    length = end - start + 1
    p0 = np.stack([rng.uniform(0, w - 1, num_points), rng.uniform(0, h - 1, num_points)], -1).astype(np.float32)
    t = np.arange(length, dtype=np.float32)[:, None, None]
    pos = p0[None] + t * np.array([speed, 0.5 * speed], np.float32)
    vis = (pos[..., 0] >= 0) & (pos[..., 0] <= w - 1) & (pos[..., 1] >= 0) & (pos[..., 1] <= h - 1)
    tracks = Tracks(positions=pos.astype(np.float32), visible=vis, confidence=vis.astype(np.float32))
    return DecodedSegment(segment=Segment(start, end), key_start=frames[start].copy(), key_end=frames[end].copy(),
                          tracks=tracks)


def synthetic_segment_source(video: Video, codec_cfg=None, gop: int = 4) -> tuple[StreamHeader, list[DecodedSegment]]:
    """Stand-in for the codec: fixed GOPs, exact keyframes, tracks along the known motion."""
    n, h, w = video.frames.shape[:3]
    header = StreamHeader(height=h, width=w, coded_height=h, coded_width=w, num_frames=n, fps=video.fps, seed=0)
    bounds = list(range(0, n - 1, gop)) + [n - 1]
    segs = [segment_from_frames(video.frames, a, b, seed=a) for a, b in itertools.pairwise(bounds) if b > a]
    return header, segs
