"""DiffusionDecoder: weights loading, determinism, exact keyframes, registry."""

import numpy as np
import pytest
import torch

from actdiff.decoders.diffusion import DiffusionDecoder
from actdiff.decoders.rebase import add_residual
from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.models.loading import DEFAULT_WEIGHTS, load_denoiser
from actdiff.registry import DECODERS
from actdiff.training.synthetic import moving_texture, segment_from_frames
from actdiff.types import StreamHeader


def _segment(h=36, w=50, length=6):
    frames = moving_texture(10 + length, h, w, seed=3)
    seg = segment_from_frames(frames, 10, 10 + length - 1)
    header = StreamHeader(height=h, width=w, coded_height=h, coded_width=w, num_frames=40, fps=25.0, seed=5)
    return header, seg


def test_missing_weights_one_line(tmp_path):
    with pytest.raises(MissingWeightsError) as e:
        load_denoiser(tmp_path / "nope")
    msg = str(e.value)
    assert "\n" not in msg and "nope" in msg and "--weights" in msg and "train_default_cpu" in msg
    if not (DEFAULT_WEIGHTS / "config.json").is_file():
        with pytest.raises(MissingWeightsError):
            DiffusionDecoder()


def test_decode_deterministic_keyframes_exact(micro_weights):
    header, seg = _segment()
    dec = DECODERS.build("diffusion", weights=str(micro_weights), steps=2, batch_size=3)
    assert isinstance(dec, DiffusionDecoder)
    a = dec.decode_segment(header, seg)
    b = DiffusionDecoder(weights=str(micro_weights), steps=2, batch_size=2).decode_segment(header, seg)
    assert a.shape == (6, 36, 50, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)  # same seed, different batching → identical
    np.testing.assert_array_equal(a[0], seg.key_start)
    np.testing.assert_array_equal(a[-1], seg.key_end)
    header.seed = 6
    c = dec.decode_segment(header, seg)
    assert not np.array_equal(a[1:-1], c[1:-1])


def test_bidirectional_switch_changes_output(micro_weights):
    header, seg = _segment()
    on = DiffusionDecoder(weights=str(micro_weights), steps=2, bidirectional=True).decode_segment(header, seg)
    off = DiffusionDecoder(weights=str(micro_weights), steps=2, bidirectional=False).decode_segment(header, seg)
    assert not np.array_equal(on[1:-1], off[1:-1])


def test_short_segments(micro_weights):
    header, seg = _segment(length=2)
    out = DiffusionDecoder(weights=str(micro_weights), steps=1).decode_segment(header, seg)
    np.testing.assert_array_equal(out, np.stack([seg.key_start, seg.key_end]))


def test_sampler_defaults_come_with_the_weights(micro_weights):
    dec = DiffusionDecoder(weights=str(micro_weights))
    assert (dec.sampler, dec.steps, dec.noise_mode) == ("dpmsolver++", 3, "shared")  # configs/model/micro.yaml
    dec = DiffusionDecoder(weights=str(micro_weights), sampler="unipc", steps=1, noise_mode="per_frame")
    assert (dec.sampler, dec.steps, dec.noise_mode) == ("unipc", 1, "per_frame")
    header, seg = _segment()
    assert dec.decode_segment(header, seg).shape == (6, 36, 50, 3)


def _residual_change(out: np.ndarray, dec: DiffusionDecoder, header, seg) -> float:
    """Mean |r_t - r_{t-1}| of the generated residual over the warp prediction (static segment)."""
    base = DiffusionDecoder(model=dec.model, steps=1, strength=0.001, temporal_blend=0.0)
    res = out[1:-1].astype(np.float32) - base.decode_segment(header, seg)[1:-1].astype(np.float32)
    return float(np.abs(np.diff(res, axis=0)).mean())


def _static_segment(h=32, w=48, length=8):
    frames = np.repeat(moving_texture(1, h, w, seed=4), length, axis=0)
    seg = segment_from_frames(frames, 0, length - 1, speed=0.0)
    header = StreamHeader(height=h, width=w, coded_height=h, coded_width=w, num_frames=length, fps=25.0, seed=2)
    return header, seg


def test_temporal_blend_smooths_the_residual_and_keeps_keyframes(micro_weights):
    header, seg = _static_segment()
    kw = dict(weights=str(micro_weights), steps=2, noise_mode="per_frame")
    raw_dec = DiffusionDecoder(temporal_blend=0.0, **kw)
    raw = raw_dec.decode_segment(header, seg)
    smooth = DiffusionDecoder(temporal_blend=0.8, **kw).decode_segment(header, seg)
    np.testing.assert_array_equal(smooth[0], seg.key_start)
    np.testing.assert_array_equal(smooth[-1], seg.key_end)
    assert not np.array_equal(raw[1:-1], smooth[1:-1])
    assert _residual_change(smooth, raw_dec, header, seg) < 0.5 * _residual_change(raw, raw_dec, header, seg)
    again = DiffusionDecoder(temporal_blend=0.8, batch_size=2, **kw).decode_segment(header, seg)
    np.testing.assert_array_equal(smooth, again)


def test_temporal_blend_default_and_bad_values(micro_weights):
    assert DiffusionDecoder(weights=str(micro_weights)).temporal_blend == 0.8  # configs/model/micro.yaml
    for bad in (-0.1, 1.0):
        with pytest.raises(ConfigError, match="temporal_blend"):
            DiffusionDecoder(weights=str(micro_weights), temporal_blend=bad)
    with pytest.raises(ConfigError, match="noise mode"):
        DiffusionDecoder(weights=str(micro_weights), noise_mode="swirl")


def test_warped_noise_follows_the_decoded_motion(micro_weights):
    """A segment translating by whole pixels: the noise of frame t is frame 0's noise shifted."""
    h, w, length = 32, 48, 5
    frames = moving_texture(length, h, w, seed=1, speed=2.0)
    seg = segment_from_frames(frames, 0, length - 1, num_points=40, speed=2.0)
    header = StreamHeader(height=h, width=w, coded_height=h, coded_width=w, num_frames=length, fps=25.0, seed=9)
    dec = DiffusionDecoder(weights=str(micro_weights), noise_mode="warped")
    f = dec.model.config.latent_factor
    noise = dec._noise(header, seg, [1, 2, 3], h, w)
    assert noise.shape == (3, dec.model.unet.config.in_channels, h // f, w // f)
    pix = torch.nn.functional.pixel_shuffle(noise, f)  # back to pixel-level noise (space-to-depth model)
    base = torch.nn.functional.pixel_shuffle(dec._noise(header, seg, [1], h, w), f)[0]
    shared = DiffusionDecoder(weights=str(micro_weights), noise_mode="shared")._noise(header, seg, [1, 2], h, w)
    assert torch.equal(shared[0], shared[1])
    for k, t in enumerate([1, 2, 3]):
        dx, dy = 2 * t, t  # the texture moves by (2, 1) px per frame
        inner = pix[k][:, 8 + dy:h - 8, 8 + dx:w - 8]
        # frame t at (x, y) shows what frame 0 had at (x - dx, y - dy); compare against frame 1's map
        ref0 = pix[0][:, 8 + 1:h - 8 - dy + 1, 8 + 2:w - 8 - dx + 2]
        np.testing.assert_allclose(inner.numpy(), ref0.numpy(), atol=0)
    assert base.std() > 0.8  # still unit-variance white noise


def _signed_frames(frames) -> np.ndarray:
    return np.stack(frames).astype(np.float64) / 127.5 - 1.0


def test_base_moves_the_residual_onto_the_warp_decoders_prediction(micro_weights):
    """``base=prediction`` adds the model's residual (predicted over the blend of the two warps) to
    the warp decoder's frame instead; ``base=detail`` only the fine band of that change
    (``pred − blend`` minus its Gaussian blur), so the coarse band stays the blend's; with
    ``detail_mix=β`` the coarse band moves a share ``1 − β`` of the way to the prediction's."""
    import cv2

    from actdiff.conditioning.conditions import build_conditions, warp_blend_from_conditions
    from actdiff.motion.prediction import predict_frame
    header, seg = _segment(length=7)
    # a small strength keeps the random model's output near its base, unclamped
    kw = dict(weights=str(micro_weights), steps=2, strength=0.001, temporal_blend=0.0)
    out = {b: DiffusionDecoder(base=b, **kw).decode_segment(header, seg).astype(np.float64) / 127.5 - 1.0
           for b in ("blend", "prediction", "detail")}
    out["detail_mix"] = DiffusionDecoder(base="detail", detail_mix=0.25, **kw).decode_segment(
        header, seg).astype(np.float64) / 127.5 - 1.0
    inner = range(1, 6)
    blend = np.stack([warp_blend_from_conditions(build_conditions(seg, t)).transpose(1, 2, 0) for t in inner])
    diff = _signed_frames([predict_frame(seg, t) for t in inner]) - blend
    fine = diff - np.stack([cv2.GaussianBlur(d.astype(np.float32), (0, 0), 4.0, borderType=cv2.BORDER_REFLECT)
                            for d in diff])
    for name, change in (("prediction", diff), ("detail", fine), ("detail_mix", fine + 0.75 * (diff - fine))):
        got = out[name][1:-1] - out["blend"][1:-1]
        free = (np.abs(out["blend"][1:-1]) < 0.95) & (np.abs(out[name][1:-1]) < 0.95)  # not clamped
        assert free.mean() > 0.5 and np.abs(change)[free].max() > 0.05  # beyond rounding: the bases differ
        assert np.abs(got - change)[free].max() < 2.5 / 127.5, name  # uint8 rounding of both decodes
    np.testing.assert_array_equal(out["detail"][0], out["blend"][0])  # keyframes exact
    with pytest.raises(ConfigError, match="base"):
        DiffusionDecoder(weights=str(micro_weights), base="cross-fade")
    with pytest.raises(ConfigError, match="detail_mix"):
        DiffusionDecoder(weights=str(micro_weights), base="detail", detail_mix=1.5)
    assert DiffusionDecoder(weights=str(micro_weights)).settings()["base"] == "blend"  # micro weights: no default


def test_settings_record_the_prediction_motion(micro_weights):
    """The diffusion decoder's base comes from the warp prediction with the default motion: its
    settings say which (``bench_rd.py`` never compares results decoded with another)."""
    from actdiff.motion.fusion import EDGE_SIGMA_R

    assert DiffusionDecoder(weights=str(micro_weights)).settings()["edge_sigma_r"] == EDGE_SIGMA_R


def test_detail_mix_of_output_mixes_the_models_own_coarse_band(micro_weights):
    """``detail_mix_of=output``: the coarse band is ``β`` of the model's output's and ``1 − β`` of
    the prediction's, the fine band the output's over the prediction's: ``pred + β·G(y − pred) +
    (y − blend) − G(y − blend)`` with ``y`` the model's output over its blend (``base=blend``)."""
    import cv2

    from actdiff.conditioning.conditions import build_conditions, warp_blend_from_conditions
    from actdiff.motion.prediction import predict_frame
    header, seg = _segment(length=7)
    kw = dict(weights=str(micro_weights), steps=2, strength=0.3, temporal_blend=0.0)
    y = _signed_frames(DiffusionDecoder(base="blend", **kw).decode_segment(header, seg))[1:-1]
    got = {of: _signed_frames(DiffusionDecoder(base="detail", detail_mix=0.25, detail_mix_of=of, **kw)
                              .decode_segment(header, seg))[1:-1] for of in ("blend", "output")}
    inner = range(1, 6)
    blend = np.stack([warp_blend_from_conditions(build_conditions(seg, t)).transpose(1, 2, 0) for t in inner])
    pred = _signed_frames([predict_frame(seg, t) for t in inner])

    def g(x: np.ndarray) -> np.ndarray:
        return np.stack([cv2.GaussianBlur(f.astype(np.float32), (0, 0), 4.0, borderType=cv2.BORDER_REFLECT)
                         for f in x])

    want = pred + 0.25 * g(y - pred) + (y - blend) - g(y - blend)
    free = (np.abs(y) < 0.95) & (np.abs(want) < 0.95)
    assert free.mean() > 0.5 and np.abs(got["output"] - got["blend"])[free].max() > 0.05  # the two differ
    assert np.abs(got["output"] - want)[free].max() < 2.5 / 127.5  # uint8 rounding of both decodes
    with pytest.raises(ConfigError, match="detail_mix_of"):
        DiffusionDecoder(weights=str(micro_weights), base="detail", detail_mix_of="warp")
    # recorded in results only when it is not the default, so earlier results still match
    assert DiffusionDecoder(base="detail", detail_mix_of="output", **kw).settings()["detail_mix_of"] == "output"
    assert "detail_mix_of" not in DiffusionDecoder(base="detail", **kw).settings()


def test_the_streams_detail_mix_sets_each_segment_unless_one_is_given(micro_weights):
    """A segment the encoder sent a ``detail_mix`` for (format 3) decodes as with that ``β`` given;
    an explicit ``detail_mix`` holds for every segment, the stream's choice aside."""
    import dataclasses

    header, seg = _segment(length=7)
    sent = dataclasses.replace(seg, detail_mix=0.25)
    kw = dict(weights=str(micro_weights), steps=2, strength=0.3, temporal_blend=0.0, base="detail")
    fixed = {b: DiffusionDecoder(detail_mix=b, **kw).decode_segment(header, seg) for b in (0.25, 1.0)}
    assert np.abs(fixed[0.25].astype(int) - fixed[1.0]).max() > 2  # the two mixes differ
    np.testing.assert_array_equal(DiffusionDecoder(**kw).decode_segment(header, sent), fixed[0.25])
    np.testing.assert_array_equal(DiffusionDecoder(detail_mix=1.0, **kw).decode_segment(header, sent), fixed[1.0])
    assert DiffusionDecoder(**kw).settings()["detail_mix_per_segment"]
    assert "detail_mix_per_segment" not in DiffusionDecoder(detail_mix=1.0, **kw).settings()


def test_fine_residual_band_leaves_the_coarse_band_to_the_base(micro_weights):
    """``residual_band="fine"``: the model adds only the fine band of its residual (``r − G(r)``), so
    most of the output's coarse band is the base's (``G(r − G(r)) = G(r) − G²(r)`` is what leaks);
    with the whole residual it is not."""
    import cv2

    header, seg = _segment(length=7)
    kw = dict(weights=str(micro_weights), steps=2, strength=0.3, temporal_blend=0.0, base="detail", detail_mix=0.25)
    fine = DiffusionDecoder(residual_band="fine", **kw)
    rng = np.random.default_rng(0)
    base = torch.from_numpy(rng.uniform(-0.3, 0.3, (2, 3, 36, 50)).astype(np.float32))
    residual = torch.from_numpy(cv2.GaussianBlur(rng.normal(0, 0.2, (36, 50, 6)).astype(np.float32), (0, 0), 6.0)
                                .transpose(2, 0, 1).reshape(2, 3, 36, 50)) + 0.05 * torch.randn(2, 3, 36, 50)

    def coarse(x: torch.Tensor) -> float:
        return float(np.abs(np.stack([cv2.GaussianBlur(c, (0, 0), 4.0, borderType=cv2.BORDER_REFLECT)
                                      for c in x.numpy().reshape(-1, 36, 50)])).mean())

    decs = {band: DiffusionDecoder(residual_band=band, **kw) for band in ("all", "fine")}
    added = {band: add_residual(base, residual, d.residual_band, d.residual_scale, d.detail_sigma) - base
             for band, d in decs.items()}
    assert coarse(added["fine"]) < 0.25 * coarse(added["all"])
    blurred = torch.from_numpy(np.stack([cv2.GaussianBlur(c, (0, 0), 4.0, borderType=cv2.BORDER_REFLECT)
                                         for c in residual.numpy().reshape(-1, 36, 50)]).reshape(2, 3, 36, 50))
    assert float((added["fine"] - (residual - blurred)).abs().max()) < 1e-6
    decoded = {band: DiffusionDecoder(residual_band=band, **kw).decode_segment(header, seg) for band in ("all", "fine")}
    assert np.abs(decoded["all"].astype(int) - decoded["fine"]).max() > 2  # the option reaches the decode
    assert fine.settings()["residual_band"] == "fine" and "residual_band" not in DiffusionDecoder(**kw).settings()
    with pytest.raises(ConfigError, match="residual_band"):
        DiffusionDecoder(residual_band="coarse", **kw)
