"""Fast mode: keyframe qualities spread by how much of each keyframe the decoder reuses."""

from __future__ import annotations

import numpy as np
import pytest

from actdiff.codec import decode_video, encode_video
from actdiff.codec.bitstream import read_bitstream
from actdiff.codec.keyframe_chain import carried_keyframes
from actdiff.codec.keyframe_quality import keyframe_weights, spread_qualities
from actdiff.config import compose
from actdiff.errors import ConfigError
from actdiff.image_codecs import codec_from_params
from actdiff.training.synthetic import moving_texture
from actdiff.types import Segment, Video


def test_weights_count_the_interior_frames_on_both_sides():
    segs = [Segment(0, 10), Segment(10, 12), Segment(12, 40)]
    w = keyframe_weights(segs)
    assert list(w) == [0, 10, 12, 40]
    assert w[0] == pytest.approx(1 + 0.5 * 9 / 2) and w[10] == pytest.approx(1 + 0.5 * (9 + 1) / 2)
    assert w[12] == pytest.approx(1 + 0.5 * (1 + 27) / 2) and w[40] == pytest.approx(1 + 0.5 * 27 / 2)


def test_spread_raises_reused_keyframes_and_keeps_the_mean_in_the_log_domain():
    segs = [Segment(0, 4), Segment(4, 40), Segment(40, 44)]
    q = spread_qualities(segs, 30, 8.0, "avif")
    assert q[4] > 30 and q[40] > 30 and q[0] < 30 and q[44] < 30   # the long segment's keyframes gain
    w = keyframe_weights(segs)
    logs = np.log2([w[k] for k in q])
    assert q[4] == round(30 + 8 * (np.log2(w[4]) - logs.mean()))
    assert spread_qualities(segs, 30, 0, "png") == {0: 30, 4: 30, 40: 30, 44: 30}
    assert set(spread_qualities(segs, 98, 50, "avif").values()) <= set(range(101))

def test_codecs_without_a_quality_in_their_payload_get_one_quality_and_a_warning(caplog):
    segs = [Segment(0, 4), Segment(4, 40), Segment(40, 44)]
    with caplog.at_level("WARNING", logger="actdiff.codec.keyframe_quality"):
        assert spread_qualities(segs, 30, 4.0, "png") == {0: 30, 4: 30, 40: 30, 44: 30}
    assert "keyframe_spread=4 not applied" in caplog.text and "png" in caplog.text


def _payloads(data: bytes) -> dict[int, bytes]:
    bs = read_bitstream(data)
    return {k: p for i, sec in enumerate(bs.sections) for k, p in zip(carried_keyframes(i, sec.segment), sec.keyframes)}


def test_fast_stream_carries_the_spread_qualities_and_spread_zero_codes_one_quality():
    """The default spread (4) gives the keyframes their own qualities, each payload exactly that
    quality's encode; spread 0 codes every keyframe at ``keyframe_codec.quality``."""
    frames = moving_texture(25, 64, 96, seed=2)
    video = Video(frames, 25.0)
    base = ["codec.keyframes.name=fixed", "codec.keyframes.fixed_gop=4", "codec.trajectories.budget_points=8",
            "codec.keyframe_codec.quality=30", "codec.keyframe_inter=false"]   # every payload an image
    zero = encode_video(video, compose(None, [*base, "codec.keyframe_spread=0"]))
    assert "keyframe_qualities" not in zero.stats
    for k, payload in _payloads(zero.data).items():
        assert payload == codec_from_params({"name": "avif", "quality": 30}).encode(frames[k]), k
    spread = encode_video(video, compose(None, base))  # the default
    q = dict(zip(spread.stats["keyframes"], spread.stats["keyframe_qualities"]))
    assert len(set(q.values())) > 1 and q == spread_qualities([Segment(a, b) for a, b in spread.stats["segments"]],
                                                              30, 4.0, "avif")
    for k, payload in _payloads(spread.data).items():
        assert payload == codec_from_params({"name": "avif", "quality": q[k]}).encode(frames[k]), k
    assert decode_video(spread.data).frames.shape == frames.shape
    with pytest.raises(ConfigError, match="keyframe_spread"):
        encode_video(video, compose(None, [*base, "codec.keyframe_spread=-1"]))
