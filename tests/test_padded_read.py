"""``read_video(…, pad_multiple=N)`` places the clip in a padded buffer and the encoder pads it
there: the same padded frames and the same stream as from a plain array, without a second copy."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import moving_texture

from actdiff.codec import encode_video
from actdiff.config import compose
from actdiff.io import pad_to_multiple, read_video, write_video


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.y4m"
    write_video(path, moving_texture(6, 44, 70), fps=25, y4m_chroma="444")
    return path


def test_the_padded_read_is_the_plain_read_in_a_larger_buffer(clip):
    plain = read_video(clip).frames
    padded = read_video(clip, pad_multiple=16).frames
    np.testing.assert_array_equal(padded, plain)
    assert padded.base.shape == (6, 48, 80, 3)
    assert read_video(clip, pad_multiple=2).frames.base is None   # 44x70 already a multiple: a plain array


@pytest.mark.parametrize("mode", ["reflect", "edge"])
def test_padding_in_place_gives_np_pads_values_without_a_copy(clip, mode):
    plain = read_video(clip).frames
    view = read_video(clip, pad_multiple=16).frames
    want = np.pad(plain, [(0, 0), (0, 4), (0, 10), (0, 0)], mode=mode)
    out, size = pad_to_multiple(view, 16, mode)
    np.testing.assert_array_equal(out, want)
    assert size == (44, 70) and np.shares_memory(out, view) and not out.flags.writeable
    copied, _ = pad_to_multiple(plain, 16, mode)   # a plain array is copied, as before
    np.testing.assert_array_equal(copied, want)
    assert not np.shares_memory(copied, plain) and copied.flags.writeable


def test_other_slices_of_the_buffer_are_copied_and_the_clip_is_left_as_it_was(clip):
    """A slice the size of another corner (``[:, :, :-2]`` pads to the same buffer) would write its
    margin over columns the clip shows: it is copied like any array."""
    view = read_video(clip, pad_multiple=16).frames
    before = view.copy()
    for other in (view[:, 1:], view[:, :, :-2], view[:, :-4], view[::2], view[1:]):
        out, _ = pad_to_multiple(other, 16)
        assert not np.shares_memory(out, view)
        np.testing.assert_array_equal(out[:, :other.shape[1], :other.shape[2]], other)
    np.testing.assert_array_equal(view, before)


def test_the_encoder_codes_the_padded_read_as_the_plain_one(clip):
    cfg = compose("experiment/encode")
    plain = encode_video(read_video(clip), cfg)
    padded = encode_video(read_video(clip, pad_multiple=int(cfg.codec.pad_multiple)), cfg)
    assert padded.data == plain.data
