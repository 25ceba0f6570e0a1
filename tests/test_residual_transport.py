"""``residual_from="ends"``: the 2D model runs at a segment's first and last inner frames only and
their residuals travel along the decoded motion (actdiff/decoders/residual_filter.py)."""

import numpy as np
import pytest
import torch

from actdiff.commands.decode import sampling_text
from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.decoders.rebase import add_residual
from actdiff.decoders.residual_filter import residual_anchors, transport_residuals
from actdiff.errors import ConfigError
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import StreamHeader


def _segment(length: int, h: int = 40, w: int = 56, speed: float = 2.0):
    frames = moving_texture(length, h, w, seed=3, speed=speed)
    return segment_from_frames(frames, 0, length - 1, num_points=16, speed=speed)


def test_anchors_are_the_first_and_last_inner_frames():
    assert residual_anchors(2) == [] and residual_anchors(3) == [1] and residual_anchors(8) == [1, 6]


def test_transport_carries_each_residual_along_the_motion_and_mixes_by_position():
    """A dot added at the first inner frame moves with the content (2 px right, 1 px down per
    frame) and fades linearly toward the last inner frame, whose residual (zero) takes over."""
    length = 8
    seg = _segment(length)
    base = np.full((length, 40, 56, 3), 100, np.uint8)
    out = base.copy()
    out[1, 10, 12] = 160  # residual +60 at (x=12, y=10) of anchor 1; anchor 6 adds nothing
    transport_residuals(seg, out, base)
    for t in range(2, length - 2):
        r = out[t].astype(int)[..., 0] - 100
        y, x = np.unravel_index(np.argmax(r), r.shape)
        assert (x, y) == (12 + 2 * (t - 1), 10 + (t - 1))
        assert abs(r[y, x] - round(60 * (1 - (t - 1) / 5))) <= 1
    assert out[1, 10, 12, 0] == 160 and int(np.abs(out[1].astype(int) - 100).sum()) == 3 * 60  # anchors keep theirs
    assert np.abs(out[6].astype(int) - 100).max() == 0 and np.array_equal(out[[0, 7]], base[[0, 7]])


def test_ends_mode_runs_the_model_twice_per_segment_and_keeps_its_frames_there(micro_weights, model_runs):
    """The model runs at frames 1 and L-2 only; there the output is the every-frame decode's (no
    filter), the keyframes are exact, the in-between frames differ, and decoding is deterministic."""
    length = 9
    seg = _segment(length)
    header = StreamHeader(height=40, width=56, coded_height=40, coded_width=56, num_frames=40, fps=25.0, seed=5)
    kw = dict(weights=str(micro_weights), steps=2, strength=0.5, temporal_blend=0.0, base="detail", detail_mix=0.5,
              residual_band="fine")
    runs = model_runs
    ends = DiffusionDecoder(residual_from="ends", **kw)
    a = ends.decode_segment(header, seg)
    assert sum(runs) == 2
    every = DiffusionDecoder(**kw).decode_segment(header, seg)
    assert sum(runs) == 2 + (length - 2)
    np.testing.assert_array_equal(a[[0, -1]], every[[0, -1]])
    # the anchors match up to float rounding of differently composed batches
    assert np.abs(a[[1, length - 2]].astype(int) - every[[1, length - 2]]).max() <= 1
    assert np.abs(a[2:-2].astype(int) - every[2:-2]).max() > 2
    np.testing.assert_array_equal(a, ends.decode_segment(header, seg))
    short = _segment(3)  # one inner frame: the model runs once, as in the unfiltered every-frame decode
    assert np.abs(ends.decode_segment(header, short).astype(int) - DiffusionDecoder(**kw).decode_segment(header, short)
                  ).max() <= 1
    with pytest.raises(ConfigError, match="temporal_blend 0.95: not used with residual_from 'ends'"):  # no filter
        DiffusionDecoder(residual_from="ends", **{**kw, "temporal_blend": 0.95})
    no_filter = DiffusionDecoder(residual_from="ends", **{**kw, "temporal_blend": 0.0})  # 0 = off: fine
    np.testing.assert_array_equal(no_filter.decode_segment(header, short), ends.decode_segment(header, short))


def test_ends_mode_is_recorded_and_checked(micro_weights):
    kw = dict(weights=str(micro_weights), steps=2)
    settings = DiffusionDecoder(residual_from="ends", **kw).settings()
    assert settings["residual_from"] == "ends" and "residual_from" not in DiffusionDecoder(**kw).settings()
    assert "temporal_blend" not in settings and "temporal_blend" in DiffusionDecoder(**kw).settings()  # not used
    text = sampling_text(settings)
    assert "residual from the segment's ends" in text and "temporal blend" not in text
    with pytest.raises(ConfigError, match="residual_from"):
        DiffusionDecoder(residual_from="middle", **kw)


def test_residual_scale_adds_that_share_of_the_residual(micro_weights):
    """``residual_scale=s`` adds ``s`` times what the model adds; at 0 the output is the base, so
    the stream's seed no longer matters."""
    header, seg = StreamHeader(height=40, width=56, coded_height=40, coded_width=56, num_frames=40, fps=25.0,
                               seed=5), _segment(6)
    kw = dict(weights=str(micro_weights), steps=2, strength=0.5, temporal_blend=0.0, base="detail", detail_mix=0.5,
              residual_band="fine")
    rng = np.random.default_rng(1)
    base = torch.from_numpy(rng.uniform(-0.5, 0.5, (1, 3, 40, 56)).astype(np.float32))
    residual = torch.from_numpy(rng.normal(0, 0.1, (1, 3, 40, 56)).astype(np.float32))
    decs = {s: DiffusionDecoder(residual_scale=s, **kw) for s in (0.5, 1.0)}
    added = {s: add_residual(base, residual, d.residual_band, d.residual_scale, d.detail_sigma) - base
             for s, d in decs.items()}
    assert float((added[0.5] - 0.5 * added[1.0]).abs().max()) < 1e-6 and float(added[1.0].abs().max()) > 0.05
    zero = DiffusionDecoder(residual_scale=0.0, **kw)
    a = zero.decode_segment(header, seg)
    header.seed = 6
    np.testing.assert_array_equal(a, zero.decode_segment(header, seg))
    assert np.abs(a.astype(int) - DiffusionDecoder(**kw).decode_segment(header, seg)).max() > 2
    assert zero.settings()["residual_scale"] == 0.0 and "residual_scale" not in DiffusionDecoder(**kw).settings()
    assert "residual scale 0" in sampling_text(zero.settings())
    with pytest.raises(ConfigError, match="residual_scale"):
        DiffusionDecoder(residual_scale=1.5, **kw)
