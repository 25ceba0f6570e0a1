"""ControlledDenoiser: wiring, presets (incl. sd from a tiny local folder), save/load, sampling."""

import pytest
import torch
from omegaconf import OmegaConf

from actdiff.conditioning import NUM_CHANNELS
from actdiff.config import load_group
from actdiff.errors import MissingWeightsError
from actdiff.models import ControlledDenoiser, build_model, sample, segment_noise
from actdiff.models.sampling import SAMPLERS


def micro_cfg(**over):
    cfg = load_group("model", "micro")
    return OmegaConf.merge(cfg, over)


def _inputs(model, b=2, h=32, w=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = model.config.latent_factor
    z = torch.randn(b, model.unet.config.in_channels, h // f, w // f, generator=g)
    cond = torch.rand(b, NUM_CHANNELS, h, w, generator=g) * 2 - 1
    return z, torch.tensor([10, 500][:b]), cond


def test_forward_shape_and_zero_init_control():
    torch.manual_seed(0)
    m = build_model(micro_cfg()).eval()
    z, t, cond = _inputs(m)
    with torch.no_grad():
        out = m(z, t, cond)
        base = m.unet(z, t, encoder_hidden_states=m.context(cond)).sample
    assert out.shape == z.shape
    torch.testing.assert_close(out, base)  # zero-initialised residuals: control adds nothing yet
    with torch.no_grad():
        for p in m.controlnet.controlnet_down_blocks.parameters():
            p.add_(0.1)
        out2 = m(z, t, cond)
    assert not torch.allclose(out2, base)


def test_attention_only_at_coarse_levels():
    cfg = load_group("model", "tiny")
    assert list(cfg.unet.down_block_types)[:-1] == ["DownBlock2D"] * (len(cfg.unet.down_block_types) - 1)
    assert cfg.unet.down_block_types[-1] == "CrossAttnDownBlock2D"


def test_tiny_param_count():
    m = build_model(load_group("model", "tiny"))
    assert 10e6 <= m.num_parameters_total() <= 20e6
    assert 2 * m.num_parameters_total() <= 25e6  # shipped as float16 safetensors under 25 MB


def test_save_load_identical(tmp_path):
    torch.manual_seed(0)
    m = build_model(micro_cfg(prediction_type="v_prediction")).eval()
    m.save_pretrained(str(tmp_path), safe_serialization=True)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").is_file()
    m2 = ControlledDenoiser.from_pretrained(str(tmp_path)).eval()
    z, t, cond = _inputs(m)
    with torch.no_grad():
        torch.testing.assert_close(m(z, t, cond), m2(z, t, cond), rtol=0, atol=0)
    assert m2.config.prediction_type == "v_prediction"


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_sampling_deterministic(sampler):
    torch.manual_seed(0)
    m = build_model(micro_cfg(residual_over_warp=True)).eval()
    _, _, cond = _inputs(m, b=2)
    noise = segment_noise((48, 8, 12), [1, 2], seed=7, segment_id=3)
    a = sample(m, cond, noise, steps=2, sampler=sampler)
    b = sample(m, cond, noise, steps=2, sampler=sampler)
    assert a.shape == (2, 3, 32, 48) and torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1


def test_segment_noise_modes():
    s = segment_noise((4, 2, 3), [1, 2, 3], seed=1, segment_id=0)
    assert torch.equal(s[0], s[2])
    assert torch.equal(s, segment_noise((4, 2, 3), [1, 2, 3], seed=1, segment_id=0))
    assert not torch.equal(s, segment_noise((4, 2, 3), [1, 2, 3], seed=2, segment_id=0))
    p = segment_noise((4, 2, 3), [1, 2], seed=1, segment_id=0, mode="per_frame")
    assert not torch.equal(p[0], p[1])


def test_vision_context_path():
    vision = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                  "image_size": 32, "patch_size": 16, "num_channels": 3}
    m = build_model(micro_cfg(vision=vision)).eval()
    z, t, cond = _inputs(m)
    ctx = m.context(cond)
    assert ctx.shape == (2, 2 + 2 * 5, 16)  # null tokens + (CLS + 4 patches) per keyframe
    with torch.no_grad():
        assert m(z, t, cond).shape == z.shape


def _save_tiny_sd(folder):
    from diffusers import AutoencoderKL, UNet2DConditionModel

    torch.manual_seed(0)
    UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), block_out_channels=(16, 32), layers_per_block=1,
        cross_attention_dim=16, attention_head_dim=8, norm_num_groups=8,
    ).save_pretrained(str(folder / "unet"))
    AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        norm_num_groups=8, layers_per_block=1,
    ).save_pretrained(str(folder / "vae"))


def test_sd_preset_from_local_folder(tmp_path):
    _save_tiny_sd(tmp_path)
    cfg = load_group("model", "sd")
    cfg.pretrained = str(tmp_path)
    cfg.gradient_checkpointing = False
    m = build_model(cfg).eval()
    assert m.config.latent == "vae" and m.config.latent_factor == 8
    assert not any(p.requires_grad for p in m.unet.parameters())
    assert not any(p.requires_grad for p in m.vae.parameters())
    assert all(p.requires_grad for p in m.controlnet.parameters())
    torch.testing.assert_close(m.controlnet.conv_in.weight, m.unet.conv_in.weight)
    cond = torch.rand(1, NUM_CHANNELS, 32, 32) * 2 - 1
    noise = segment_noise((4, 4, 4), [1], 0, 0)
    x = sample(m, cond, noise, steps=2, sampler="ddim")
    assert x.shape == (1, 3, 32, 32) and torch.isfinite(x).all()


def test_sd_missing_weights_is_one_line(tmp_path):
    cfg = load_group("model", "sd")
    cfg.pretrained = "nobody/not-a-real-model-actdiff"
    with pytest.raises(MissingWeightsError) as e:
        build_model(cfg)
    assert "\n" not in str(e.value) and "nobody/not-a-real-model-actdiff" in str(e.value)


def test_residual_scale_round_trip_and_scaling():
    """The diffusion space is ``residual_scale × (z(x) − z(warp))`` and maps back exactly."""
    torch.manual_seed(0)
    m1 = build_model(micro_cfg(residual_over_warp=True, residual_scale=1.0)).eval()
    m8 = build_model(micro_cfg(residual_over_warp=True, residual_scale=8.0)).eval()
    _, _, cond = _inputs(m1)
    target = torch.rand(2, 3, 32, 48) * 2 - 1
    z1, z8 = m1.to_diffusion_space(target, cond), m8.to_diffusion_space(target, cond)
    torch.testing.assert_close(z8, 8 * z1)
    torch.testing.assert_close(m8.from_diffusion_space(z8, cond), target, atol=1e-5, rtol=0)
    # zero residual decodes to the warp blend carried in the conditions
    from actdiff.conditioning import warp_blend_from_conditions

    torch.testing.assert_close(m8.from_diffusion_space(torch.zeros_like(z8), cond),
                               warp_blend_from_conditions(cond), atol=1e-5, rtol=0)


def test_float16_export_loads_back_as_float32(tmp_path):
    from actdiff.models.loading import load_denoiser

    torch.manual_seed(0)
    m = build_model(micro_cfg()).eval()
    m.to(torch.float16).save_pretrained(str(tmp_path), safe_serialization=True)
    a, b = load_denoiser(tmp_path), load_denoiser(tmp_path)
    assert next(a.parameters()).dtype == torch.float32
    z, t, cond = _inputs(a)
    with torch.no_grad():
        torch.testing.assert_close(a(z, t, cond), b(z, t, cond), rtol=0, atol=0)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_partial_strength_starts_from_the_noised_warp(sampler):
    """strength < 1 runs the tail of the schedule from the noised zero residual (the warp)."""
    from actdiff.conditioning import warp_blend_from_conditions
    from actdiff.errors import ConfigError

    torch.manual_seed(0)
    m = build_model(micro_cfg(residual_over_warp=True, residual_scale=8.0)).eval()
    _, _, cond = _inputs(m, b=2)
    noise = segment_noise((48, 8, 12), [1, 2], seed=7, segment_id=3)
    full = sample(m, cond, noise, steps=8, sampler=sampler)
    part = sample(m, cond, noise, steps=8, sampler=sampler, strength=0.25)
    again = sample(m, cond, noise, steps=8, sampler=sampler, strength=0.25)
    warp = warp_blend_from_conditions(cond).clamp(-1, 1)
    assert torch.equal(part, again)
    # an untrained model: the less of the schedule is run, the closer the output stays to the warp
    assert (part - warp).abs().mean() < (full - warp).abs().mean()
    with pytest.raises(ConfigError):
        sample(m, cond, noise, steps=8, sampler=sampler, strength=0.0)


def test_warp_noise_nearest_and_fresh_outside():
    from actdiff.models.sampling import warp_noise

    base = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)
    fresh = -torch.ones(2, 2, 3, 4)
    gy, gx = torch.meshgrid(torch.arange(3.0), torch.arange(4.0), indexing="ij")
    ident = torch.stack([gx, gy], -1)
    coords = torch.stack([ident, ident + torch.tensor([1.4, 0.0])])  # frame 2 looks 1.4 px to the right
    out = warp_noise(base, coords, fresh)
    assert torch.equal(out[0], base)
    assert torch.equal(out[1][:, :, :3], base[:, :, 1:])  # rounded to the nearest pixel
    assert torch.equal(out[1][:, :, 3], fresh[1][:, :, 3])  # outside the frame: fresh noise
