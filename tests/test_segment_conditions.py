"""Segment conditions as video: layout, keyframes at their positions, tracking video, prediction."""

import numpy as np
import pytest

from actdiff.conditioning import (
    NUM_CHANNELS,
    NUM_VIDEO_CHANNELS,
    VIDEO_CHANNELS,
    build_conditions,
    build_window_conditions,
    render_tracking_video,
    video_channel_slice,
)
from actdiff.conditioning import segment as segment_module
from actdiff.conditioning.tracking_video import NO_DEPTH, track_colours
from actdiff.motion.prediction import predict_frame
from actdiff.training.synthetic import moving_texture, segment_from_frames


@pytest.fixture
def seg():
    frames = moving_texture(9, 32, 48, seed=2)
    return segment_from_frames(frames, 0, 8, num_points=10)


def test_layout_table_contiguous_and_documented():
    pos = 0
    for start, n in sorted(VIDEO_CHANNELS.values()):
        assert start == pos
        pos += n
    assert pos == NUM_VIDEO_CHANNELS == 30
    assert "C = 30" in segment_module.__doc__
    assert VIDEO_CHANNELS["frame"] == (0, NUM_CHANNELS)


def test_frame_channels_are_the_2d_conditions_and_pred_is_the_prediction(seg):
    c = build_window_conditions(seg, [0, 3, 8])
    assert c.shape == (3, NUM_VIDEO_CHANNELS, 32, 48) and c.dtype == np.float32
    for i, t in enumerate([0, 3, 8]):
        np.testing.assert_array_equal(c[i, :NUM_CHANNELS], build_conditions(seg, t))
        pred = predict_frame(seg, t).transpose(2, 0, 1) / 127.5 - 1
        np.testing.assert_allclose(c[i, video_channel_slice("pred")], pred, atol=1e-5)
    assert c.min() >= -1.0 and c.max() <= 1.0


def test_keyframes_at_their_positions_only(seg):
    c = build_window_conditions(seg)
    key, mask = c[:, video_channel_slice("key")], c[:, video_channel_slice("key_mask")]
    np.testing.assert_allclose(key[0], seg.key_start.transpose(2, 0, 1) / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(key[-1], seg.key_end.transpose(2, 0, 1) / 127.5 - 1, atol=1e-6)
    assert np.all(key[1:-1] == 0) and np.all(mask[1:-1] == 0)
    assert np.all(mask[0] == 1) and np.all(mask[-1] == 1)
    off = build_window_conditions(seg, [0, 8], bidirectional=False)
    assert np.all(off[1, video_channel_slice("key")] == 0) and np.all(off[1, video_channel_slice("key_mask")] == 0)
    np.testing.assert_allclose(off[1, video_channel_slice("pred")],
                               predict_frame(seg, 8, False).transpose(2, 0, 1) / 127.5 - 1, atol=1e-5)


def test_tracking_video_colour_is_the_first_frame_position(seg):
    h, w = 32, 48
    video = render_tracking_video(seg.tracks, [0, 5], h, w, radius=0)
    colours = track_colours(seg.tracks, h, w)
    assert np.all(colours[:, 2] == NO_DEPTH)
    for i, t in enumerate([0, 5]):
        for n in range(seg.tracks.num_points):
            if not seg.tracks.visible[t, n]:
                continue
            x, y = np.rint(seg.tracks.positions[t, n]).astype(int)
            px = video[i, :, y, x]
            # the colour at the point's CURRENT position encodes its FIRST-frame position
            assert px[0] == pytest.approx(2 * seg.tracks.positions[0, n, 0] / (w - 1) - 1, abs=1e-5) or \
                np.any([np.allclose(px, 2 * colours[m] - 1) for m in range(n + 1, seg.tracks.num_points)])
    assert (video == -1).mean() > 0.5  # black background


def test_depth_sets_the_blue_channel(seg):
    depth = np.full((32, 48), 0.25, np.float32)
    video = render_tracking_video(seg.tracks, [0], 32, 48, depth=depth)
    drawn = video[0, 0] > -1
    assert np.allclose(video[0, 2][drawn], 2 * 0.25 - 1)
    with pytest.raises(ValueError, match="depth map"):
        render_tracking_video(seg.tracks, [0], 32, 48, depth=np.zeros((8, 8), np.float32))


def test_bad_frames_are_one_line_errors(seg):
    with pytest.raises(ValueError, match="outside segment"):
        build_window_conditions(seg, [0, 9])
    with pytest.raises(ValueError, match="at least one frame"):
        build_window_conditions(seg, [])
