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


def moving_square(num_frames: int = 17, height: int = 128, width: int = 192, side: int = 40,
                  seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """A red textured square crossing a static blue-green texture from left to right.

    The square moves ``(width - side - 32) / (num_frames - 1)`` px per frame (~8.5 px at the
    defaults, twice its side over the clip), at a fixed height, so that in a middle frame its
    start and end positions are background: the test case of ghost-free prediction.

    Returns:
        ``(frames uint8 (T, H, W, 3), boxes int (T, 2))``: the square's top-left ``(x, y)`` in
        each frame (its side is ``side``).
    """
    import cv2

    rng = np.random.default_rng(seed)
    bg = cv2.GaussianBlur(rng.uniform(0, 255, (height, width, 3)).astype(np.float32), (0, 0), 2.0)
    bg = np.clip((bg - bg.mean()) * 3 + 110, 0, 255)
    bg[..., 0] *= 0.5
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (side, side)).astype(np.float32), (0, 0), 1.5)
    tex = np.clip((tex - tex.mean()) * 3 + 128, 0, 255)
    obj = np.stack([np.full_like(tex, 230), tex * 0.5, tex * 0.2], -1)
    y = (height - side) // 2
    xs = np.rint(16 + np.arange(num_frames) * (width - side - 32) / max(num_frames - 1, 1)).astype(int)
    frames = np.repeat(bg[None], num_frames, 0)
    for t, x in enumerate(xs):
        frames[t, y:y + side, x:x + side] = obj
    return np.clip(frames, 0, 255).astype(np.uint8), np.stack([xs, np.full_like(xs, y)], 1)
