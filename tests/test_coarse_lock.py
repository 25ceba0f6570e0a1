"""``coarse_lock``: what the generator adds has no 8x8 block mean, so the decoded frames' coarse
scale is their base's (actdiff/decoders/coarse_lock.py)."""

import numpy as np

from actdiff.decoders.coarse_lock import block_mean_field, block_means, lock_coarse
from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import StreamHeader


def test_field_has_the_residuals_block_means_and_is_smooth():
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 30, 60, dtype=np.float32)[None, :, None]
    r = rng.normal(0, 4, (44, 60, 3)).astype(np.float32) + ramp  # 5 x 7 whole blocks, a remainder on both sides
    m = block_mean_field(r)
    np.testing.assert_allclose(block_means(r - m), 0, atol=1e-4)
    assert np.abs(np.diff(m[:40, :56], axis=1)).max() < 2.5  # a smooth field, not blocks of steps
    assert np.array_equal(m[40:], np.zeros_like(m[40:])) and np.array_equal(m[:, 56:], np.zeros_like(m[:, 56:]))


def test_fine_detail_passes_untouched():
    """A one-pixel checkerboard has zero block means: the field is zero and the lock keeps it."""
    check = (np.indices((32, 48)).sum(0) % 2 * 2 - 1).astype(np.float32)[..., None].repeat(3, -1) * 20
    assert np.abs(block_mean_field(check)).max() < 1e-4
    base = np.full((3, 32, 48, 3), 100, np.uint8)
    out = np.clip(base + check, 0, 255).astype(np.uint8)  # the same pattern on every frame
    before = out.copy()
    lock_coarse(out, base, [1])
    np.testing.assert_array_equal(out, before)


def test_lock_gives_the_base_block_means_and_only_on_the_given_frames():
    rng = np.random.default_rng(1)
    base = rng.integers(40, 200, (4, 32, 48, 3)).astype(np.uint8)
    out = np.clip(base.astype(int) + rng.normal(6, 10, base.shape), 0, 255).astype(np.uint8)  # a biased residual
    assert np.abs(block_means(out[1]) - block_means(base[1])).max() > 3
    before = out.copy()
    lock_coarse(out, base, [1, 2])
    for t in (1, 2):
        assert np.abs(block_means(out[t]) - block_means(base[t])).max() < 0.5  # 8-bit rounding only
    np.testing.assert_array_equal(out[[0, 3]], before[[0, 3]])


def test_decoder_option_locks_the_coarse_scale_to_the_base(micro_weights):
    """With ``coarse_lock`` the decoded frames' 8x8 block means are those of the decode whose
    residual is zero (``residual_scale=0``: the base alone), without it they are not; recorded."""
    length = 6
    frames = moving_texture(length, 40, 56, seed=3, speed=2.0)
    seg = segment_from_frames(frames, 0, length - 1, num_points=16, speed=2.0)
    header = StreamHeader(height=40, width=56, coded_height=40, coded_width=56, num_frames=40, fps=25.0, seed=5)
    kw = dict(weights=str(micro_weights), steps=2, strength=0.5, temporal_blend=0.9, base="detail", detail_mix=0.5,
              residual_band="fine")
    base = DiffusionDecoder(residual_scale=0.0, **kw).decode_segment(header, seg)
    free = DiffusionDecoder(**kw).decode_segment(header, seg)
    locked_dec = DiffusionDecoder(coarse_lock=True, **kw)
    locked = locked_dec.decode_segment(header, seg)
    inner = range(1, length - 1)
    gap = [np.abs(block_means(x[t]) - block_means(base[t])).max() for x in (free, locked) for t in inner]
    assert max(gap[:length - 2]) > 1.0 and max(gap[length - 2:]) < 0.6
    assert np.abs(locked[1:-1].astype(int) - base[1:-1]).max() > 2  # the fine detail stays
    np.testing.assert_array_equal(locked, locked_dec.decode_segment(header, seg))
    assert locked_dec.settings()["coarse_lock"] is True and "coarse_lock" not in DiffusionDecoder(**kw).settings()
