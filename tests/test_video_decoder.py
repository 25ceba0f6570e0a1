"""VideoDiffusionDecoder: chosen by the weights' config, deterministic, exact keyframes, equal to the 2D
decoder at inflation, long segments over overlapping windows without seams."""

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from actdiff.config import load_group
from actdiff.decoders import build_decoder
from actdiff.decoders.coarse_lock import block_means
from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.decoders.video import VideoDiffusionDecoder, _to_uint8
from actdiff.errors import ConfigError
from actdiff.models import build_model
from actdiff.models.sampling import seed_for
from actdiff.models.video_presets import ASSETS
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import StreamHeader


def _header(h=32, w=48, n=40):
    return StreamHeader(height=h, width=w, coded_height=h, coded_width=w, num_frames=n, fps=25.0, seed=3)


def _seg(length, h=32, w=48, seed=1):
    frames = moving_texture(length, h, w, seed=seed)
    return segment_from_frames(frames, 0, length - 1, num_points=12, seed=seed)


@pytest.fixture(scope="module")
def micro_folder(tmp_path_factory):
    torch.manual_seed(0)
    m = build_model(load_group("model", "micro_video")).eval()
    with torch.no_grad():  # a non-trivial model: temporal layers and control branch active
        for p in m.temporal.parameters():
            p.add_(0.05 * torch.randn_like(p))
        for p in m.controlnet.controlnet_down_blocks.parameters():
            p.add_(0.02 * torch.randn_like(p))
    folder = tmp_path_factory.mktemp("micro_video")
    m.save_pretrained(str(folder), safe_serialization=True)
    return folder


def test_the_weights_config_picks_the_decoder(micro_folder, tmp_path):
    dec = build_decoder("diffusion", weights=str(micro_folder), steps=1)
    assert isinstance(dec, VideoDiffusionDecoder)
    assert "VideoControlledDenoiser micro-video" in dec.settings()["model"]
    frame = build_model(load_group("model", "micro"))
    frame.save_pretrained(str(tmp_path), safe_serialization=True)
    two_d = build_decoder({"name": "diffusion", "weights": str(tmp_path)}, steps=1)
    assert isinstance(two_d, DiffusionDecoder) and "frame by frame" in two_d.settings()["model"]


def test_frame_decoder_options_are_refused_not_ignored(micro_folder):
    with pytest.raises(ConfigError, match="residual_from: options of the frame-by-frame"):
        build_decoder("diffusion", weights=str(micro_folder), residual_from="ends", coarse_lock=True)
    with pytest.raises(ConfigError, match="detail_mix_of: options of the frame-by-frame"):
        build_decoder("diffusion", weights=str(micro_folder), detail_mix_of="output")
    with pytest.raises(ConfigError, match="unknown residual_band 'coarse'"):
        build_decoder("diffusion", weights=str(micro_folder), residual_band="coarse")
    with pytest.raises(ConfigError, match="detail_mix must be in"):
        build_decoder("diffusion", weights=str(micro_folder), base="detail", detail_mix=1.5)
    build_decoder("diffusion", weights=str(micro_folder), residual_from=None, steps=1)  # unset (config null): fine


def test_the_warp_decoders_fusion_options_are_refused_by_both_generative_decoders(micro_folder, tmp_path):
    """``codec.decoder.prediction_params`` / ``prediction`` act on the warp decoder; the generative
    decoders refine the default fusion their models were trained on and say so (the config's
    defaults, ``prediction: select`` and null overrides, pass)."""
    frame = build_model(load_group("model", "micro"))
    frame.save_pretrained(str(tmp_path), safe_serialization=True)
    for weights in (str(micro_folder), str(tmp_path)):
        with pytest.raises(ConfigError, match="prediction_params .*sprites.*an option of the warp decoder"):
            build_decoder({"name": "diffusion", "weights": weights, "prediction_params": {"sprites": True}})
        with pytest.raises(ConfigError, match="prediction 'blend': an option of the warp decoder"):
            build_decoder({"name": "diffusion", "weights": weights, "prediction": "blend"})
        build_decoder({"name": "diffusion", "weights": weights, "prediction": "select", "prediction_params": None,
                       "steps": 1})
    assert build_decoder("warp", prediction_params={"sprites": True}).params.sprites


def test_the_frame_decoder_refuses_options_it_does_not_take(tmp_path):
    """A typo or an option of the segment-level video decoder given to the frame-by-frame one is a
    one-line ``ConfigError``, not ignored."""
    build_model(load_group("model", "micro")).save_pretrained(str(tmp_path), safe_serialization=True)
    for extra in ({"stepz": 2}, {"overlap": 2}, {"depth": "some/folder"}):
        with pytest.raises(ConfigError, match=f"frame-by-frame diffusion decoder: {next(iter(extra))}$"):
            build_decoder("diffusion", weights=str(tmp_path), **extra)
    assert build_decoder("diffusion", weights=str(tmp_path), steps=2).steps == 2


@pytest.mark.parametrize("bad", [{"steps": 0}, {"steps": -1}, {"steps": 2.5}, {"sampler": "foo"},
                                 {"noise_mode": "swirl"}, {"strength": 0}])
def test_bad_sampling_options_are_refused_when_the_decoder_is_built(micro_folder, tmp_path, bad):
    """Both decoders refuse a bad sampling option when built, before any decoding (0 steps was the
    frame decoder's "unset": it sampled the weights' default count instead)."""
    build_model(load_group("model", "micro")).save_pretrained(str(tmp_path), safe_serialization=True)
    for weights in (str(micro_folder), str(tmp_path)):
        with pytest.raises(ConfigError, match=next(iter(bad)).split("_")[0]):
            build_decoder("diffusion", weights=weights, **bad)


@pytest.mark.skipif(not (ASSETS / "tiny" / "config.json").is_file(), reason="shipped tiny weights absent")
@pytest.mark.parametrize("base", ["prediction", "blend", "detail"])
def test_the_residual_goes_on_the_same_image_as_in_the_2d_decoder(micro_folder, base):
    """``base`` (with the stream's ``detail_mix``) and ``residual_scale``: with none of the residual
    the video decoder's frames are the image the 2D decoder puts its residual on (to 8-bit rounding); the
    segment's mix moves them; all recorded."""
    seg, header = _seg(9, 40, 56), _header(40, 56)
    seg.detail_mix = 0.3
    kw = dict(base=base, residual_scale=0.0, temporal_blend=0.0, coarse_lock=False)
    video = VideoDiffusionDecoder(weights=str(micro_folder), steps=1, **kw)
    a = video.decode_segment(header, seg)
    b = DiffusionDecoder(weights=str(ASSETS / "tiny"), steps=1, **kw).decode_segment(header, seg)
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.01  # float rounding of the blend to 8 bits only
    settings = video.settings()
    assert settings["base"] == base and settings["residual_scale"] == 0.0
    if base == "detail":
        assert settings["detail_mix_per_segment"] == "from the stream where sent"
        seg.detail_mix = 1.0  # all of the blend's coarse band: another image
        assert np.abs(video.decode_segment(header, seg).astype(int) - a).max() > 2
        fixed = VideoDiffusionDecoder(weights=str(micro_folder), steps=1, detail_mix=0.3, **kw)
        np.testing.assert_array_equal(fixed.decode_segment(header, seg), a)  # a given mix wins over the stream's


def test_residual_band_fine_adds_only_the_residuals_fine_band(micro_folder):
    """``residual_band="fine"``: the frames are the base plus ``r − G(r)`` of the residual ``r`` the
    whole-residual decode adds; ``base=None`` keeps the model's own base (the default of weights
    that store none)."""
    from actdiff.motion.prediction import DETAIL_SIGMA, coarse_band

    seg, header = _seg(9, 40, 56), _header(40, 56)
    out = {}
    for band in ("all", "fine"):
        dec = VideoDiffusionDecoder(weights=str(micro_folder), steps=2, strength=0.5, residual_band=band,
                                    temporal_blend=0.0, coarse_lock=False)
        assert dec.base is None and dec.settings().get("residual_band", "all") == band
        out[band] = dec._window(seg, list(range(9)), True, seed_for(header.seed, 0))
    (x_all, under), (x_fine, under_fine) = out["all"], out["fine"]
    np.testing.assert_array_equal(under, under_fine)
    coarse = np.stack([coarse_band(r, DETAIL_SIGMA) for r in x_all - under])
    assert np.abs(coarse).max() > 0.02  # the residual has a coarse band to leave out
    np.testing.assert_allclose(x_fine, np.clip(x_all - coarse, -1, 1), atol=1e-5)


def test_decoding_twice_is_identical_with_exact_keyframes(micro_folder):
    seg = _seg(9)
    a = VideoDiffusionDecoder(weights=str(micro_folder), steps=2).decode_segment(_header(), seg)
    b = VideoDiffusionDecoder(weights=str(micro_folder), steps=2).decode_segment(_header(), seg)
    assert a.shape == (9, 32, 48, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], seg.key_start)
    np.testing.assert_array_equal(a[-1], seg.key_end)
    assert np.abs(a[1:-1].astype(int) - seg.key_start.astype(int)).mean() > 1  # it generated something


def test_coarse_lock_keeps_the_predictionsblock_means(micro_folder):
    """With ``coarse_lock`` the in-between frames' 8x8 block means are those of the prediction the
    model's residual is over, without it they are not; the fine detail stays; recorded."""
    seg, header = _seg(9, 40, 56), _header(40, 56)
    free_dec, locked_dec = (VideoDiffusionDecoder(weights=str(micro_folder), steps=2, strength=0.5, coarse_lock=lock)
                            for lock in (False, True))
    free, locked = free_dec.decode_segment(header, seg), locked_dec.decode_segment(header, seg)
    _, pred = locked_dec._window(seg, list(range(9)), True, seed_for(header.seed, 0))
    base = _to_uint8(pred)
    gap = [[np.abs(block_means(x[t]) - block_means(base[t])).max() for t in range(1, 8)] for x in (free, locked)]
    assert max(gap[0]) > 1.0 and max(gap[1]) < 0.6  # 8-bit rounding only
    assert np.abs(locked[1:-1].astype(int) - base[1:-1]).max() > 2
    np.testing.assert_array_equal(locked[[0, -1]], free[[0, -1]])  # keyframes untouched
    assert locked_dec.settings()["coarse_lock"] is True and free_dec.settings()["coarse_lock"] is False


def _changes(frames: np.ndarray) -> np.ndarray:
    """Mean absolute change between consecutive in-between frames (grey levels)."""
    return np.abs(np.diff(frames[1:-1].astype(np.float32), axis=0)).mean(axis=(1, 2, 3))


@pytest.mark.skipif(not (ASSETS / "tiny" / "config.json").is_file(), reason="shipped tiny weights absent")
def test_long_segments_over_overlapping_windows_have_no_seams():
    """Static content and per-frame noise: every change between frames is the generator's, and
    random temporal layers make each window's output depend on the window. Hard window cuts
    (overlap 0) then show as jumps; overlapping, cross-faded windows must not (<= 1.2x, the
    flicker target, of the typical change, and of the one-window decode's largest change)."""
    torch.manual_seed(0)
    cfg = OmegaConf.merge(load_group("model", "tiny_video"), {"window": {"max_frames": 8}})
    model = build_model(cfg).eval()
    with torch.no_grad():
        for p in model.temporal.parameters():
            p.add_(0.3 * torch.randn_like(p))
    frames = moving_texture(24, 32, 48, seed=1, speed=0.0)
    seg = segment_from_frames(frames, 0, 23, num_points=12, seed=1, speed=0.0)
    kw = dict(steps=2, temporal_blend=0.0, noise_mode="per_frame")
    hard = _changes(VideoDiffusionDecoder(model=model, overlap=0, **kw).decode_segment(_header(), seg))
    soft = _changes(VideoDiffusionDecoder(model=model, overlap=4, **kw).decode_segment(_header(), seg))
    whole = build_model(OmegaConf.merge(cfg, {"window": {"max_frames": 24}})).eval()
    whole.load_state_dict(model.state_dict())
    one = _changes(VideoDiffusionDecoder(model=whole, **kw).decode_segment(_header(), seg))
    assert hard.max() > 1.3 * np.median(hard), "the test cannot see hard window cuts"
    assert soft.max() <= 1.2 * np.median(soft)
    assert soft.max() <= 1.2 * one.max()


@pytest.mark.skipif(not (ASSETS / "tiny" / "config.json").is_file(), reason="shipped tiny weights absent")
def test_inflated_tiny_decodes_like_the_2d_decoder(tmp_path):
    # residual over the blend of the two warps, as the 2D model (see test_video_denoiser.py)
    video = build_model(OmegaConf.merge(load_group("model", "tiny_video"), {"residual_base": "blend"}))
    video.save_pretrained(str(tmp_path), safe_serialization=True)
    seg = _seg(7)
    kw = dict(steps=2, sampler="unipc", noise_mode="shared", temporal_blend=0.8)
    # both at the shipped 2D weights' defaults, which the inflated model inherits: the residual's fine
    # band on the detail base (with the weights' detail_mix), locked to that base's coarse scale
    a = DiffusionDecoder(weights=str(ASSETS / "tiny"), **kw).decode_segment(_header(), seg)
    video_dec = build_decoder("diffusion", weights=str(tmp_path), **kw)
    assert video_dec.coarse_lock is True
    assert (video_dec.base, video_dec.residual_band) == ("detail", "fine")
    b = video_dec.decode_segment(_header(), seg)
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 1 and diff.mean() < 0.01
