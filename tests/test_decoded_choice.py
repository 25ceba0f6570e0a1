"""The decoder chooses each segment's trajectories (``trajectories.decoded_choice``, codec/decoded_choice.py)."""

from dataclasses import replace

import numpy as np
import pytest
from omegaconf import OmegaConf
from test_fusion import H, S, T, W, _masks, _red
from test_selection import TR, scene

from actdiff.codec import decode_segments, encode_video
from actdiff.codec.decoded_choice import FLOW_EPS, for_stream, temporal_term
from actdiff.codec.encoding import prepare, prepare_codec
from actdiff.codec.rd_segments import eval_frames
from actdiff.config import compose
from actdiff.metrics.temporal import tof
from actdiff.motion.fusion import fuse_frame
from actdiff.selection.trajectories import candidate_sets, greedy_candidates, select_greedy
from actdiff.training.synthetic import moving_square
from actdiff.types import Video

FRACTIONS = "codec.trajectories.compare_fractions=[0.5,0.75]"


def test_greedy_candidates_put_the_objectives_choice_first_as_select_greedy_returns_it():
    frame, motion = scene("two_objects")
    cfg = OmegaConf.create(dict(TR, budget_points=16, compare_fractions=[0.5, 0.75, 0.9]))
    cands = greedy_candidates(frame, motion, cfg, 0.3)
    assert sorted(c.label for c in cands) == ["greedy 0.33", "greedy 0.5", "greedy 0.75", "greedy 0.9", "grid"]
    assert cands[0].error == min(c.error for c in cands)
    assert cands[0].label != "greedy 0.33"   # here a set built on more of the budget's grid wins (test_selection)
    tracks, bandwidth = select_greedy(frame, motion, cfg, 0.3)
    np.testing.assert_array_equal(tracks.positions, cands[0].tracks.positions)
    assert bandwidth == cands[0].bandwidth
    one = candidate_sets(frame, motion, OmegaConf.create(dict(TR, name="uniform")), 0.3)
    assert len(one) == 1 and one[0].label == "uniform" and np.isnan(one[0].error)


def test_temporal_term_is_zero_when_the_frames_change_alike():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(2))
    assert temporal_term((a, b), (a, b)) == 0.0
    assert temporal_term((a, b), (a // 2 + 60, b // 2 + 60)) > 0.05   # half the change
    assert temporal_term((a, b), (a, a)) > temporal_term((a, b), (a // 2 + 60, b // 2 + 60))   # stuck


@pytest.fixture(scope="module")
def square():
    frames, boxes = moving_square(T, H, W, S)
    video = Video(frames, 25.0, "moving_square")
    return video, boxes, {name: encode_video(video, compose(None, ovs)) for name, ovs in {
        "fractions": [FRACTIONS, "codec.trajectories.decoded_choice=false"],
        "decoded": [FRACTIONS, "codec.trajectories.decoded_choice=true"]}.items()}


def test_the_stream_carries_the_candidate_that_decodes_best(square):
    video, _, enc = square
    stats = enc["decoded"].stats["decoded_choice"]
    assert stats["segments"] and "decoded_choice" not in enc["fractions"].stats
    codec = prepare_codec(compose(None, [FRACTIONS, "codec.trajectories.decoded_choice=true"]))[0]
    choice = for_stream(prepare(video, codec), codec)
    _, segs = decode_segments(enc["decoded"].data)
    by_start = {s.segment.start: s for s in segs}
    for row in stats["segments"]:
        assert row["kept"] == row["labels"][int(np.argmin(row["scores"]))]
        # the stream's own segment, rescored, scores as the kept candidate did
        assert choice.score_decoded(by_start[row["start"]]) == pytest.approx(min(row["scores"]), abs=2e-6)
    assert stats["changed"] == sum(r["kept"] != r["labels"][0] for r in stats["segments"])


def test_the_flicker_factor_multiplies_the_score_and_penalises_frozen_motion(square):
    """``decoded_choice_flow = w``: the score is ``D · (F + ε)^w``, ``F`` the tOF of the scored frames and
    the next ones; the square decoded with its tracks jittered from frame to frame (±3 px, the keyframes' ends
    kept) flickers more than decoded with the stream's tracks, so the factor is larger for it."""
    video, _, enc = square
    ovs = [FRACTIONS, "codec.trajectories.decoded_choice=true"]
    choices = {}
    for w in (0, 1):
        codec = prepare_codec(compose(None, ovs + [f"codec.trajectories.decoded_choice_flow={w}"]))[0]
        choices[w] = for_stream(prepare(video, codec), codec)
    (seg,) = [s for s in decode_segments(enc["decoded"].data)[1] if s.segment.length >= 9]
    src = choices[1].frames[seg.segment.start:seg.segment.end + 1]
    rec = choices[1].decoder.decode_segment(choices[1].header, seg)
    ts = eval_frames(seg.segment.length, 1, choices[1].most)
    f = np.mean([tof(src[t:t + 2], rec[t:t + 2]) for t in ts])
    assert choices[1].score_decoded(seg) == pytest.approx(choices[0].score_decoded(seg) * (f + FLOW_EPS), rel=1e-6)
    pos = seg.tracks.positions.copy()
    pos[1:-1] += np.random.default_rng(0).uniform(-3, 3, pos[1:-1].shape).astype(np.float32)
    jitter = replace(seg, tracks=replace(seg.tracks, positions=pos))
    factor = {name: choices[1].score_decoded(s) / choices[0].score_decoded(s) for name, s in
              {"stream": seg, "jittered": jitter}.items()}
    assert factor["jittered"] > 1.5 * factor["stream"], factor


def test_decoding_keeps_the_moving_square_that_the_objectives_choice_shrinks(square):
    """compare_fractions alone lets the objective pick a set with few points on the square, which the
    warp decoder draws small (docs/video_interface.md); decoding the candidates keeps the square whole."""
    video, boxes, enc = square
    red = {}
    for name, e in enc.items():
        (seg,) = [s for s in decode_segments(e.data)[1] if s.segment.length >= 9]
        t = seg.segment.length // 2
        true, ghost = _masks(boxes, seg.segment.start, seg.segment.end, seg.segment.start + t)
        new, _ = fuse_frame(seg, t)
        red[name] = (_red(new)[true].mean(), _red(new)[ghost].mean())
    assert red["fractions"][0] < 0.3 < red["decoded"][0], red
    assert red["decoded"][1] < 0.08, red


def test_the_rd_mode_keeps_its_own_choice_and_says_so_when_asked_for_this_one(caplog):
    from test_rdo import object_clip, rd_cfg

    video = object_clip(num_frames=8)
    with caplog.at_level("WARNING", logger="actdiff.codec.encoder"):
        plain = encode_video(video, rd_cfg("codec.trajectories.decoded_choice=false"))
        default = encode_video(video, rd_cfg())   # on, and off in rd.selection: nothing to say
        assert not caplog.records
        on = encode_video(video, rd_cfg("codec.rd.selection.decoded_choice=true"))
    assert on.data == default.data == plain.data and "decoded_choice" not in on.stats
    assert sum("decoded_choice is a fast-mode setting" in r.getMessage() for r in caplog.records) == 1
