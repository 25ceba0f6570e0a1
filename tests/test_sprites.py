"""Sprites (actdiff.motion.sprites): a small object that moves without trajectories is drawn once."""

import cv2
import numpy as np
import pytest

from actdiff.decoders import build_decoder
from actdiff.motion.fusion import FusionParams
from actdiff.motion.sprites import SpriteParams, find_sprites
from actdiff.types import DecodedSegment, Segment, StreamHeader, Tracks

H, W, L = 96, 128, 17
MOVE = 60  # px the object travels over the segment, more than its width: two places, no overlap


def background() -> np.ndarray:
    rng = np.random.default_rng(0)
    return cv2.GaussianBlur((rng.random((H, W, 3)) * 60 + 100).astype(np.uint8), (0, 0), 1.0)


def walker_clip(move: int = MOVE) -> np.ndarray:
    """``uint8 (L, H, W, 3)``: a blue 14x10 block with a yellow band crossing a still background."""
    obj = np.zeros((14, 10, 3), np.uint8)
    obj[...] = (30, 40, 200)
    obj[3:6, 2:8] = (220, 220, 30)
    frames = []
    for t in range(L):
        f = background()
        x = 20 + int(round(move * t / (L - 1)))
        f[40:54, x:x + 10] = obj
        frames.append(f)
    return np.stack(frames)


def decode(frames: np.ndarray, sprites: bool) -> np.ndarray:
    seg = DecodedSegment(Segment(0, L - 1), frames[0], frames[-1], Tracks.empty(L), bandwidth=16.0)
    dec = build_decoder("warp", prediction_params={"sprites": sprites})
    return dec.decode_segment(StreamHeader(H, W, H, W, L, 25.0), seg)


def blue(img: np.ndarray, strict: bool = True) -> np.ndarray:
    """Pixels of the object's blue: fully (strict) or at least half there."""
    return (img[..., 2] > 185) & (img[..., 0] < 60) if strict else (img[..., 2] > 150) & (img[..., 0] < 90)


def test_one_sprite_found_with_the_move_not_in_the_motion():
    frames = walker_clip()
    zero = np.zeros((H, W, 2), np.float32)
    found = find_sprites(frames[0], frames[-1], zero, zero)
    assert len(found) == 1  # the object, not the background it uncovers
    assert np.allclose(found[0].shift, [MOVE, 0], atol=1)
    assert found[0].mask0[47, 25] > 0.9 and found[0].mask1[47, 25 + MOVE] > 0.9
    again = find_sprites(frames[0], frames[-1], zero, zero)
    assert all(np.array_equal(a.mask0, b.mask0) and np.array_equal(a.shift, b.shift) for a, b in zip(found, again))


def test_the_object_is_drawn_once_where_it_is_not_twice_half_transparent():
    frames = walker_clip()
    plain, moved = decode(frames, False), decode(frames, True)
    mid = L // 2
    truth = blue(frames[mid]).sum()
    # without sprites: no solid object anywhere, a half-transparent one in each keyframe's place
    assert blue(plain[mid]).sum() < 0.2 * truth and blue(plain[mid], strict=False).sum() > 1.5 * truth
    # with them: one solid object where the source has it
    assert blue(moved[mid]).sum() > 0.5 * truth and blue(moved[mid], strict=False).sum() < 1.3 * truth
    overlap = (blue(moved[mid]) & blue(frames[mid])).sum()
    assert overlap > 0.5 * truth  # its rim is feathered (SpriteParams.feather)
    err = lambda rec: np.abs(rec.astype(float) - frames).mean()  # noqa: E731
    assert err(moved) < 0.5 * err(plain)
    assert np.array_equal(moved[0], frames[0]) and np.array_equal(moved[-1], frames[-1])


def test_a_change_in_place_is_no_sprite():
    """A patch that brightens where it is (a light, not a move) matches nowhere else: left to the fusion."""
    k0 = background()
    k1 = k0.copy()
    k1[30:50, 40:60] = np.clip(k1[30:50, 40:60].astype(int) + 80, 0, 255).astype(np.uint8)
    zero = np.zeros((H, W, 2), np.float32)
    assert find_sprites(k0, k1, zero, zero) == []


def test_the_trace_says_which_region_became_the_sprite():
    frames = walker_clip()
    zero = np.zeros((H, W, 2), np.float32)
    trace = []
    found = find_sprites(frames[0], frames[-1], zero, zero, trace=trace)
    kept = [r for r in trace if r["outcome"] == "sprite"]
    assert len(kept) == len(found) == 1 and kept[0]["shift"] == [MOVE, 0.0] and kept[0]["area"] >= 140


def test_a_move_within_the_motion_is_no_sprite():
    """When the motion given already carries the object, nothing is left for a sprite."""
    frames = walker_clip()
    f01 = np.zeros((H, W, 2), np.float32)
    f10 = np.zeros((H, W, 2), np.float32)
    f01[38:56, 18:32, 0] = MOVE  # the object's pixels on the start keyframe go to the end keyframe's
    f10[38:56, 18 + MOVE:32 + MOVE, 0] = -MOVE
    assert find_sprites(frames[0], frames[-1], f01, f10) == []


def test_settings_are_checked_when_the_params_are_made():
    assert FusionParams().sprites is False  # off by default
    with pytest.raises(TypeError):
        FusionParams(sprites=True, sprite_params={"kapa": 10})
    assert SpriteParams(kappa=10).kappa == 10


def test_the_looking_script_takes_decodes_as_label_and_json(capsys):
    from _eval_helpers import load_script

    script = load_script("experiments/keyframe_texture_frames.py")
    ap = script.argparse.ArgumentParser()
    spec = 'sprites={"decoder": "warp", "prediction_params": {"sprites": true}}'
    assert script.parse_decodes(ap, ["warp={\"decoder\": \"warp\"}", spec]) == {
        "warp": {"decoder": "warp"}, "sprites": {"decoder": "warp", "prediction_params": {"sprites": True}}}
    for bad in ("nolabel", '={"decoder": "warp"}', "x=[1]", "x={"):
        with pytest.raises(SystemExit):
            script.parse_decodes(ap, [bad])
        assert "expected LABEL=JSON" in capsys.readouterr().err


def test_the_looking_script_refuses_a_frame_outside_the_clip_before_encoding(tmp_path, capsys, monkeypatch):
    from _eval_helpers import ROOT, load_script

    script = load_script("experiments/keyframe_texture_frames.py")
    monkeypatch.setattr(script, "encode_at_point", lambda *a, **k: pytest.fail("encoded before refusing"))
    clip = ROOT / "actdiff" / "assets" / "sample" / "bigbuckbunny_256x384.mp4"
    with pytest.raises(SystemExit):
        script.main([str(clip), "--show", "500", "-o", str(tmp_path / "o.json")])
    assert "--show [500]" in capsys.readouterr().err and not (tmp_path / "o.json").exists()
