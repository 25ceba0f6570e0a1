"""Training the video generators on windows: a step of each preset, fit/export/decode, bf16 +
gradient checkpointing, and the conditions of training and decoding come from one function."""

import pytest
import torch
from omegaconf import OmegaConf

from actdiff.conditioning import NUM_VIDEO_CHANNELS, segment
from actdiff.config import compose
from actdiff.decoders import build_decoder
from actdiff.decoders.video import VideoDiffusionDecoder
from actdiff.models.video_presets import ASSETS
from actdiff.training.datamodule import VideoClipDataModule
from actdiff.training.fit import run_fit
from actdiff.training.module import ConditionalDenoiser
from actdiff.training.synthetic import synthetic_segment_source, synthetic_video

WINDOWS = ["+data.item=windows", "+data.conditions=video", "+data.clip_frames=3", "+data.clip_stride=1",
           "+train.shared_noise_prob=0.5"]


def videos():
    return [synthetic_video(12, 48, 64, seed=i) for i in range(2)]


def cfg_for(tmp_path, *over):
    return compose("experiment/train_test", [f"run_dir={tmp_path}/run", f"data.cache_dir={tmp_path}/cache",
                                             "model=micro_video", *WINDOWS, *over])


def _batch(tmp_path, *over):
    cfg = cfg_for(tmp_path, *over)
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=videos(), segment_source=synthetic_segment_source)
    dm.setup("fit")
    return cfg, next(iter(dm.train_dataloader()))


def _step(module, batch, optimiser) -> int:
    """One optimiser step; returns how many trainable tensors changed."""
    before = [p.detach().clone() for p in module.model.trainable_parameters()]
    loss = module.diffusion_loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    optimiser.step()
    return sum(not torch.equal(a, b) for a, b in zip(before, module.model.trainable_parameters()))


@pytest.mark.parametrize("preset", ["micro_video", "tiny_video",
                                    pytest.param("small_video", marks=pytest.mark.slow)])  # 250M: ~15-45 s
def test_a_training_step_of_each_preset(tmp_path, preset):
    if preset == "tiny_video" and not (ASSETS / "tiny" / "config.json").is_file():
        pytest.skip("shipped tiny weights absent")
    crop = "[32,64]" if preset == "small_video" else "[32,48]"   # small: size multiple 32
    cfg, batch = _batch(tmp_path, f"model={preset}", f"data.crop={crop}")
    assert batch["cond"].shape[:3] == (2, 3, NUM_VIDEO_CHANNELS) and batch["target"].shape[:3] == (2, 3, 3)
    torch.manual_seed(0)
    module = ConditionalDenoiser(OmegaConf.to_container(cfg.model, resolve=True), {"lr": 1e-3},
                                 shared_noise_prob=0.5)
    params = module.model.trainable_parameters()
    opt = torch.optim.SGD(params, lr=1e-3) if preset == "small_video" else \
        module.configure_optimizers()["optimizer"]
    changed = _step(module, batch, opt)
    temporal = {id(p) for p in module.model.temporal.parameters()}
    assert changed > len(params) // 3  # (zero-initialised outputs block the gradient behind them at first)
    # the zero-initialised output projections get gradients, so the temporal layers learn
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in params if id(p) in temporal)


def test_fit_exports_a_generator_the_diffusion_decoder_picks(tmp_path):
    cfg = cfg_for(tmp_path, f"export={tmp_path}/exported")
    run_fit(cfg, videos=videos(), segment_source=synthetic_segment_source)
    dec = build_decoder("diffusion", weights=str(tmp_path / "exported"), steps=1)
    assert isinstance(dec, VideoDiffusionDecoder)
    header, segs = synthetic_segment_source(videos()[0])
    out = dec.decode_segment(header, segs[0])
    assert out.shape[0] == segs[0].segment.length


def test_bf16_and_gradient_checkpointing(tmp_path):
    cfg = cfg_for(tmp_path, "trainer.precision=bf16-mixed", "model.gradient_checkpointing=true",
                  "trainer.max_steps=1", "trainer.val_check_interval=1", "+train.temporal_loss_weight=0.5")
    module = run_fit(cfg, videos=videos(), segment_source=synthetic_segment_source)
    assert module.model.unet.is_gradient_checkpointing and module.trainer.precision == "bf16-mixed"
    assert module.hparams.temporal_loss_weight == 0.5  # the config key reaches the loss
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()


def test_train_and_decode_conditions_come_from_one_function(tmp_path, monkeypatch):
    real = segment.build_window_conditions
    calls = []

    def counting(seg, frames=None, bidirectional=True, depth=None, groups=None):
        calls.append(list(frames))
        return real(seg, frames, bidirectional, depth, groups)

    monkeypatch.setattr(segment, "build_window_conditions", counting)
    cfg, batch = _batch(tmp_path)
    assert len(calls) == 2 and all(len(c) == 3 for c in calls)  # one call per training window
    from actdiff.models import build_model

    header, segs = synthetic_segment_source(videos()[0])
    VideoDiffusionDecoder(model=build_model(cfg.model), steps=1).decode_segment(header, segs[0])
    assert calls[2:] == [list(range(segs[0].segment.length))]


def test_temporal_error_loss_charges_flicker_not_a_steady_error():
    from actdiff.training.module import temporal_error_loss

    goal = torch.randn(2 * 4, 3, 5, 6)
    steady = goal + torch.randn(2, 1, 3, 5, 6).expand(2, 4, 3, 5, 6).reshape(goal.shape)  # same error each frame
    flicker = goal + torch.randn(goal.shape)
    sigma = torch.ones(8)
    assert temporal_error_loss(steady, goal, sigma, 4).item() == pytest.approx(0.0, abs=1e-12)
    assert temporal_error_loss(flicker, goal, sigma, 4).item() > 0.5
    assert temporal_error_loss(flicker, goal, torch.zeros(8), 4).item() == 0.0  # no noise: x0 is exact


def test_temporal_loss_weight_adds_to_the_diffusion_loss(tmp_path):
    cfg, batch = _batch(tmp_path)
    torch.manual_seed(0)
    kw = dict(model_cfg=OmegaConf.to_container(cfg.model, resolve=True), optim_cfg={"lr": 1e-3})
    plain = ConditionalDenoiser(**kw)
    weighted = ConditionalDenoiser(**kw, temporal_loss_weight=10.0)
    with torch.no_grad():  # make the output nonzero so the error differs between frames
        for p in plain.model.parameters():
            p.add_(0.01 * torch.randn_like(p))
        weighted.model.load_state_dict(plain.model.state_dict())
    a = plain.diffusion_loss(batch, generator=torch.Generator().manual_seed(3))
    b = weighted.diffusion_loss(batch, generator=torch.Generator().manual_seed(3))
    assert b.item() > a.item()
    with pytest.raises(ValueError, match="temporal_loss_weight"):
        ConditionalDenoiser(**kw, temporal_loss_weight=-1.0)


def test_lr_scale_trains_the_temporal_layers_faster_and_bad_keys_fail_at_once(tmp_path):
    from actdiff.errors import ConfigError

    model_cfg = OmegaConf.to_container(cfg_for(tmp_path).model, resolve=True)
    module = ConditionalDenoiser(model_cfg, {"lr": 1e-3, "lr_scale": {"temporal": 10}})
    groups = module.configure_optimizers()["optimizer"].param_groups
    temporal = {id(p) for p in module.model.temporal.parameters()}
    by_lr = {round(g["lr"], 9): {id(p) for p in g["params"]} for g in groups}
    assert sorted(by_lr) == [1e-3, 1e-2] and by_lr[1e-2] == temporal and not by_lr[1e-3] & temporal
    assert sum(len(g["params"]) for g in groups) == len(module.model.trainable_parameters())
    plain = ConditionalDenoiser(model_cfg, {"lr": 1e-3}).configure_optimizers()["optimizer"].param_groups
    assert [g["lr"] for g in plain] == [1e-3]
    for scale, word in (({"temporl": 10}, "no trainable parameters under temporl"), ({"temporal": 0}, "> 0")):
        with pytest.raises(ConfigError, match=word) as err:
            ConditionalDenoiser(model_cfg, {"lr": 1e-3, "lr_scale": scale})
        assert "\n" not in str(err.value)
