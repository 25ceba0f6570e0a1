"""VideoControlledDenoiser: starts as the 2D model, temporal layers mix frames, save/load, generate."""

import copy

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from actdiff.conditioning import NUM_CHANNELS, NUM_VIDEO_CHANNELS, build_window_conditions
from actdiff.config import load_group
from actdiff.errors import ConfigError
from actdiff.models import ControlledDenoiser, build_model, sample
from actdiff.models.generator import load_generator
from actdiff.models.video_denoiser import VideoControlledDenoiser
from actdiff.models.video_presets import ASSETS
from actdiff.training.synthetic import moving_texture, segment_from_frames


def micro_video(**over):
    torch.manual_seed(0)
    return build_model(OmegaConf.merge(load_group("model", "micro_video"), over)).eval()


def _inputs(model, t=3, h=32, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = model.config.latent_factor
    z = torch.randn(t, model.unet.config.in_channels, h // f, w // f, generator=g)
    cond = torch.rand(t, NUM_VIDEO_CHANNELS, h, w, generator=g) * 2 - 1
    return z, torch.full((t,), 300), cond


@pytest.mark.skipif(not (ASSETS / "tiny" / "config.json").is_file(), reason="shipped tiny weights absent")
def test_inflated_tiny_equals_the_shipped_2d_model():
    frame = ControlledDenoiser.from_pretrained(str(ASSETS / "tiny"), low_cpu_mem_usage=False).float().eval()
    video = build_model(load_group("model", "tiny_video")).eval()
    assert video.config.preset == "tiny-video" and video.config.conditioning_channels == NUM_VIDEO_CHANNELS
    z, t, cond = _inputs(video, t=3, h=32, w=48)
    with torch.no_grad():
        a = frame(z, t, cond[:, :NUM_CHANNELS])
        b = video(z, t, cond, num_frames=3)
    torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    # whole sampling on real conditions; the residual over the blend of the two warps as the 2D model
    # (the default residual base, the "pred" channels, equals it only while predict_frame is that blend)
    video = build_model(OmegaConf.merge(load_group("model", "tiny_video"), {"residual_base": "blend"})).eval()
    frames = moving_texture(5, 32, 48, seed=3)
    seg = segment_from_frames(frames, 0, 4, num_points=8)
    c = torch.from_numpy(build_window_conditions(seg))
    noise = torch.randn(5, 48, 8, 12, generator=torch.Generator().manual_seed(1))
    video.set_num_frames(5)
    x2d = sample(frame, c[:, :NUM_CHANNELS], noise, steps=2, sampler="unipc")
    xv = sample(video, c, noise, steps=2, sampler="unipc")
    torch.testing.assert_close(xv, x2d, rtol=0, atol=1e-4)


@pytest.mark.parametrize("kind", ["attention", "animatediff"])
def test_micro_starts_as_its_frame_model_and_then_mixes_frames(kind):
    m = micro_video(temporal={"kind": kind, "positional": kind == "animatediff"})
    z, t, cond = _inputs(m)
    with torch.no_grad():
        frame_only = torch.cat([m(z[i:i + 1], t[i:i + 1], cond[i:i + 1], num_frames=1) for i in range(3)])
        joint = m(z, t, cond, num_frames=3)
        torch.testing.assert_close(joint, frame_only, rtol=0, atol=1e-5)  # zero-initialised: no mixing
        for p in m.temporal.parameters():
            p.add_(0.05 * torch.randn_like(p))
        z2 = z.clone()
        z2[2] += 1.0  # change frame 2 only
        out1, out2 = m(z, t, cond, num_frames=3), m(z2, t, cond, num_frames=3)
    assert (out1[0] - out2[0]).abs().max() > 1e-4  # frame 0 now sees frame 2


def test_extra_condition_channels_start_at_zero_weight():
    m = micro_video()
    z, t, cond = _inputs(m)
    cond2 = cond.clone()
    cond2[:, NUM_CHANNELS:] = 0.3  # only the new channels differ
    with torch.no_grad():
        for p in [*m.controlnet.controlnet_down_blocks.parameters(),  # make the control branch and
                  *m.controlnet.controlnet_cond_embedding.conv_out.parameters()]:  # its input matter
            p.add_(0.1)
        a, b = m(z, t, cond, num_frames=3), m(z, t, cond2, num_frames=3)
        cond3 = cond.clone()
        cond3[:, :NUM_CHANNELS] = 0.3
        c = m(z, t, cond3, num_frames=3)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert (a - c).abs().max() > 1e-3  # the frame channels do reach the output


def test_a_pred_frame_model_inflates_onto_the_video_pred_channels():
    """A 2D model with ``residual_base: pred`` reads the warp decoder's frame in its channels 20-22;
    inflated, those weights read the video layout's ``pred`` channels (27-29), and the video layout's
    own extra channels (``key``, ``key_mask``, ``track``) start at zero weight."""
    from actdiff.conditioning import video_channel_slice
    from actdiff.models.denoiser import COND_INPUT_WEIGHT

    cfg = load_group("model", "micro")
    cfg.residual_over_warp, cfg.residual_base = True, "pred"
    torch.manual_seed(0)
    frame = build_model(cfg).eval()
    video = VideoControlledDenoiser.from_frame_model(frame, residual_base="pred")
    assert video.config.residual_base == "pred"
    old, new = frame.state_dict()[COND_INPUT_WEIGHT], video.state_dict()[COND_INPUT_WEIGHT]
    torch.testing.assert_close(new[:, :NUM_CHANNELS], old[:, :NUM_CHANNELS], rtol=0, atol=0)
    torch.testing.assert_close(new[:, video_channel_slice("pred")], old[:, NUM_CHANNELS:], rtol=0, atol=0)
    assert new[:, NUM_CHANNELS:video_channel_slice("pred").start].abs().max() == 0
    assert old[:, NUM_CHANNELS:].abs().max() > 0


def test_save_load_and_deepcopy_keep_the_temporal_layers(tmp_path):
    m = micro_video()
    with torch.no_grad():
        for p in m.temporal.parameters():
            p.add_(0.05)
    m.save_pretrained(str(tmp_path), safe_serialization=True)
    loaded = load_generator(tmp_path)
    assert isinstance(loaded, VideoControlledDenoiser)
    z, t, cond = _inputs(m)
    with torch.no_grad():
        ref = m(z, t, cond, num_frames=3)
        torch.testing.assert_close(loaded(z, t, cond, num_frames=3), ref, rtol=0, atol=0)
        twin = copy.deepcopy(m)  # the EMA export copies the model: its hooks must use its own layers
        for p in twin.temporal.parameters():
            p.zero_()
        torch.testing.assert_close(m(z, t, cond, num_frames=3), ref, rtol=0, atol=0)
        assert (twin(z, t, cond, num_frames=3) - ref).abs().max() > 1e-5


def test_generate_is_deterministic_and_checks_options():
    m = micro_video()
    _, _, cond = _inputs(m, t=4)
    a = m.generate(cond, seed=7, frame_ids=[0, 1, 2, 3], steps=2)
    b = m.generate(cond, seed=7, frame_ids=[0, 1, 2, 3], steps=2)
    assert a.shape == (4, 3, 32, 48) and a.min() >= -1 and a.max() <= 1
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    c = m.generate(cond, seed=8, frame_ids=[0, 1, 2, 3], steps=2, noise_mode="per_frame")
    assert not torch.equal(a, c)
    with pytest.raises(ConfigError, match="unknown sampling"):
        m.generate(cond, seed=7, frame_ids=[0, 1, 2, 3], guidance=6)
    with pytest.raises(ConfigError, match="noise mode"):
        m.generate(cond, seed=7, frame_ids=[0, 1, 2, 3], noise_mode="warped")
    assert m.window_spec().max_frames == 6 and m.window_spec().size_multiple == 8


def test_train_parts_freeze_what_they_say():
    m = micro_video(train_parts="temporal")
    names = {n for n, p in m.named_parameters() if p.requires_grad}
    assert names and all(n.startswith("temporal.") for n in names)
    m = micro_video(train_parts="temporal+control")
    names = {n.split(".")[0] for n, p in m.named_parameters() if p.requires_grad}
    assert names == {"temporal", "controlnet"}
    assert np.isclose(sum(p.numel() for p in m.unet.parameters() if p.requires_grad), 0)


def test_the_video_residual_base_survives_the_frame_models_config(tmp_path):
    """``residual_base`` is also a 2D model argument: the video model's own value (default ``pred``)
    must be what its config, its saved copy and its base latent use, not the 2D default ``blend``."""
    from actdiff.conditioning import video_channel_slice

    m = micro_video()
    assert m.config.residual_base == "pred"
    z, t, cond = _inputs(m)
    with torch.no_grad():
        torch.testing.assert_close(m.base_latent(cond), m.encode(cond[:, video_channel_slice("pred")]))
    m.save_pretrained(str(tmp_path), safe_serialization=True)
    assert load_generator(tmp_path).config.residual_base == "pred"
    assert micro_video(residual_base="blend").config.residual_base == "blend"


def test_inflated_from_saved_weights_the_model_starts_in_train_mode(tmp_path):
    """``from_pretrained`` returns eval mode and Lightning keeps the modes it finds: the inflated model
    must start in train mode like one built from scratch, and carry the saved weights."""
    from actdiff.models.video_presets import build_video_preset

    frame = build_model(load_group("model", "micro"))
    frame.save_pretrained(str(tmp_path), safe_serialization=True)
    m = build_video_preset(OmegaConf.merge(load_group("model", "micro_video"), {"init_from": str(tmp_path)}))
    assert all(mod.training for mod in m.modules())
    name, weight = next(iter(frame.unet.state_dict().items()))
    torch.testing.assert_close(m.unet.state_dict()[name], weight)


def test_inflated_from_saved_weights_stores_the_configs_sampler_over_the_weights(tmp_path):
    """``model.sampler`` of a run inflating saved weights was silently dropped (the weights' stored
    decoding defaults were kept whatever the config said); now the config's keys win, the rest stay."""
    from actdiff.models.video_presets import build_video_preset

    frame = build_model(OmegaConf.merge(load_group("model", "micro"), {"sampler": {"base": "detail"}}))
    frame.save_pretrained(str(tmp_path), safe_serialization=True)
    cfg = OmegaConf.merge(load_group("model", "micro_video"),
                          {"init_from": str(tmp_path), "sampler": {"steps": 2, "base": None}})
    stored = build_video_preset(cfg).config.default_sampler
    assert stored["steps"] == 2 and stored["base"] == "detail"
    assert stored["name"] == frame.config.default_sampler["name"]


def test_a_damaged_init_from_folder_is_one_line(tmp_path):
    """``model.init_from=DIR`` whose ``config.json`` does not fit its weights: one ``ConfigError``
    line naming the folder (it was a diffusers traceback)."""
    import json

    from actdiff.models.video_presets import build_video_preset

    frame = build_model(load_group("model", "micro"))
    frame.save_pretrained(str(tmp_path), safe_serialization=True)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["conditioning_channels"] = int(cfg["conditioning_channels"]) + 3
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="cannot be loaded") as e:
        build_video_preset(OmegaConf.merge(load_group("model", "micro_video"), {"init_from": str(tmp_path)}))
    assert "\n" not in str(e.value) and str(tmp_path) in str(e.value)


def test_the_frame_decoders_base_default_is_not_a_video_sampling_option():
    """Video presets inherit the 2D preset's sampler section, ``base``, ``detail_mix`` and
    ``residual_band`` included: they stay in the config, are not handed to ``generate`` and are
    the decoder's defaults of what the residual is added to (``decoder_defaults``)."""
    m = micro_video(sampler={"base": "detail", "detail_mix": 0.5, "residual_band": "fine"})
    assert m.config.default_sampler["base"] == "detail"
    assert not {"base", "detail_mix", "residual_band"} & set(m.sampling_defaults())
    assert m.decoder_defaults() == {"base": "detail", "detail_mix": 0.5, "residual_band": "fine"}
    from actdiff.decoders.video import VideoDiffusionDecoder

    dec = VideoDiffusionDecoder(model=m, device="cpu")
    _, _, cond = _inputs(m, t=2)
    assert m.generate(cond, seed=1, frame_ids=[0, 1], **{**dec.sampling, "steps": 1}).shape == (2, 3, 32, 48)


def test_residual_from_and_scale_are_frame_decoder_options_too():
    """``residual_from`` and ``residual_scale`` (the 2D decoder's) in a video preset's sampler stay
    in its config and are not handed to ``generate``."""
    m = micro_video(sampler={"residual_from": "ends", "residual_scale": 0.3})
    assert m.config.default_sampler["residual_from"] == "ends"
    assert not {"residual_from", "residual_scale"} & set(m.sampling_defaults())
    assert m.decoder_defaults() == {"residual_scale": 0.3}  # residual_from: the frame decoder's only
