"""Training the paper decoder's tracking branch (tiny random model, synthetic segments, CPU) and the
strategy configs for many GPUs (built from config here; they run on GPUs only)."""

import functools

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from actdiff.config import compose, load_group
from actdiff.errors import ConfigError
from actdiff.models.generator import WindowSpec, load_generator
from actdiff.training.branch_module import TrackingBranchModule, check_precision
from actdiff.training.segment_windows import SegmentWindowDataModule
from actdiff.training.strategies import build_strategy
from actdiff.training.synthetic import synthetic_segment_source, synthetic_video

CBLOCK = "diffusers.models.transformers.cogvideox_transformer_3d.CogVideoXBlock"


def source():
    src = functools.partial(synthetic_segment_source, gop=8)
    src.__qualname__ = "synthetic_gop8"
    return src


def cfg_for(tmp_path, *over):
    return compose("experiment/finetune_paper_branch", [
        "model=paper_tiny", "trainer=cpu", "logger=none", f"run_dir={tmp_path}/run", f"data.cache_dir={tmp_path}/c",
        "data.size=[32,48]", "data.window_frames=12", "data.windows_per_video=1", "data.val_videos=1",
        "data.num_workers=0", "data.cache_workers=1", "data.pin_memory=false", "trainer.max_steps=2",
        "trainer.val_check_interval=2", "trainer.limit_val_batches=1", "trainer.checkpoint_every=1",
        "trainer.log_every_n_steps=1", "trainer.progress_bar=false", "train.val_samples=0", *over])


def videos():
    return [synthetic_video(12, 32, 48, seed=i) for i in range(2)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("paper_data")
    cfg = cfg_for(tmp)
    spec = WindowSpec(max_frames=9, frame_multiple=4, frame_remainder=1)
    dm = SegmentWindowDataModule(cfg.data, cfg.codec, spec, videos=videos(), segment_source=source())
    dm.setup()
    return cfg, dm


def test_segment_windows_are_the_decoders_windows_with_video_conditions(data):
    _, dm = data
    item = dm.train_set[0]
    assert item["cond"].shape == (9, 30, 32, 48) and item["target"].shape == (9, 3, 32, 48)
    frames, length = item["frames"].tolist(), int(item["length"])
    assert frames[0] == 0 and frames[-1] == length - 1 == 8          # a whole 9-frame segment (GOP 8)
    key, mask = item["cond"][:, 20:23], item["cond"][:, 23]
    assert mask[0].min() == 1 and mask[-1].min() == 1 and mask[1:-1].abs().max() == 0
    torch.testing.assert_close(key[0], item["target"][0], atol=1 / 127.5, rtol=0)  # exact keyframes (synthetic)
    assert item["mask"].tolist() == [1.0] * 9


def test_a_training_step_updates_only_the_branch(data):
    cfg, dm = data
    torch.manual_seed(0)
    module = TrackingBranchModule(OmegaConf.to_container(cfg.model, resolve=True), {"lr": 1e-2})
    batch = torch.utils.data.default_collate([dm.train_set[0]])
    module.on_train_epoch_start()  # Lightning's hook: the branch trains in train mode, the base stays in eval
    assert all(m.training for m in module.model.branch.modules())
    assert not any(m.training for n, m in module.model.named_modules() if n and not n.startswith("branch"))
    before = {k: v.detach().clone() for k, v in module.model.named_parameters()}
    opt = module.configure_optimizers()["optimizer"]
    loss = module.diffusion_loss(batch, generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    changed = {k for k, v in module.model.named_parameters() if not torch.equal(v, before[k])}
    assert changed and all(k.startswith("branch.") for k in changed)
    assert any(k.startswith("branch.combine_linears") for k in changed)   # the zero joins move first
    assert not any(p.requires_grad for n, p in module.model.named_parameters() if not n.startswith("branch."))


def test_fit_exports_a_decodable_folder_and_branch_only_checkpoints(tmp_path):
    from actdiff.training.fit import run_fit

    cfg = cfg_for(tmp_path, f"export={tmp_path}/export")
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "stale.txt").write_text("a file of an older export")
    module = run_fit(cfg, videos=videos(), segment_source=source())
    assert not (tmp_path / "export" / "stale.txt").exists()              # the folder was replaced whole
    assert all(f.stat().st_mode & 0o044 == 0o044 for f in (tmp_path / "export").rglob("*.safetensors"))
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["state_dict"] and all(k.startswith("model.branch.") for k in ckpt["state_dict"])
    loaded = load_generator(str(tmp_path / "export"))
    for k, v in module.model.branch.state_dict().items():
        torch.testing.assert_close(loaded.branch.state_dict()[k], v.float(), rtol=0, atol=0)
    saved = OmegaConf.load(tmp_path / "run" / "config.yaml")
    assert saved.task == "tracking_branch" and len(saved.data.resolved_split.val) == 1


def test_window_items_are_required_and_precision_matches_the_base(tmp_path):
    cfg = cfg_for(tmp_path, "data.item=pairs")
    with pytest.raises(ConfigError, match="data.item=windows"):
        SegmentWindowDataModule(cfg.data, cfg.codec, WindowSpec(9, 1, 4, 1), videos=videos(), segment_source=source())
    model = TrackingBranchModule(OmegaConf.to_container(load_group("model", "paper_tiny"), resolve=True), {}).model
    model.transformer.to(torch.bfloat16)
    with pytest.raises(ConfigError, match="trainer.precision=bf16-mixed"):
        check_precision(model, "32")
    check_precision(model, "bf16-mixed")
    from actdiff.training.branch_fit import check_fsdp_dtype

    fsdp = compose("experiment/finetune_paper_branch", ["trainer=gpu_fsdp"])
    assert fsdp.model.dtype == "float32"                       # the recipe's default
    with pytest.raises(ConfigError, match="model.dtype=float32"):
        check_fsdp_dtype(model, fsdp.trainer)                  # a bf16 base cannot be flattened with the branch
    check_fsdp_dtype(model, compose("experiment/finetune_paper_branch", ["trainer=gpu"]).trainer)


def test_strategy_objects_are_built_from_the_trainer_configs():
    from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy

    fsdp = build_strategy(compose("experiment/finetune_paper_branch", ["trainer=gpu_fsdp"]).trainer)
    assert isinstance(fsdp, FSDPStrategy)
    assert fsdp.sharding_strategy.name == "FULL_SHARD" and fsdp.kwargs["use_orig_params"] is True
    policy = fsdp.kwargs["auto_wrap_policy"]
    from diffusers.models.transformers.cogvideox_transformer_3d import CogVideoXBlock

    assert CogVideoXBlock in policy._module_classes
    multi = build_strategy(compose("experiment/finetune_paper_branch", ["trainer=multinode_fsdp"]).trainer)
    assert multi.sharding_strategy.name == "HYBRID_SHARD"
    ddp = build_strategy(OmegaConf.create({"accelerator": "cpu", "strategy": {"name": "ddp", "static_graph": True}}))
    assert isinstance(ddp, DDPStrategy) and ddp._process_group_backend == "gloo"
    assert build_strategy(OmegaConf.create({"accelerator": "gpu", "strategy": "auto"})) == "auto"


def test_bad_strategies_are_one_line_errors():
    cases = [({"accelerator": "cpu", "strategy": {"name": "fsdp", "auto_wrap": [CBLOCK]}}, "fsdp needs GPUs"),
             ({"accelerator": "cpu", "strategy": "deepspeed"}, "deepspeed needs GPUs"),
             ({"accelerator": "gpu", "strategy": "horovod"}, "unknown trainer.strategy"),
             ({"accelerator": "gpu", "strategy": {"name": "fsdp", "auto_wrap": ["no.such.Block"]}}, "cannot import"),
             ({"accelerator": "gpu", "strategy": {"name": "fsdp", "sharding_strategy": "HALF"}}, "sharding_strategy"),
             ({"accelerator": "gpu", "strategy": {"stage": 2}}, "needs a name")]
    for t, msg in cases:
        with pytest.raises(ConfigError, match=msg) as e:
            build_strategy(OmegaConf.create(t))
        assert "\n" not in str(e.value)
    try:
        import deepspeed  # noqa: F401
    except ImportError:
        with pytest.raises(ConfigError, match="needs the deepspeed package"):
            build_strategy(compose("experiment/finetune_paper_branch", ["trainer=gpu_deepspeed"]).trainer)


def test_latent_layout_items_carry_the_used_channels_in_uint8(data, tmp_path):
    from actdiff.conditioning.segment import build_window_conditions, video_channel_slice
    from actdiff.models.latent_video import (
        USED_GROUPS,
        compact_conditions,
        dequantize_compact,
        quantize_compact,
        split_conditions,
    )

    cfg, dm = data
    spec = WindowSpec(max_frames=9, frame_multiple=4, frame_remainder=1)
    lat = SegmentWindowDataModule(cfg.data, cfg.codec, spec, layout="latent", videos=videos(), segment_source=source())
    lat.setup()
    full, small = dm.train_set[0], lat.train_set[0]
    assert small["cond"].dtype == torch.uint8 and small["cond"].shape == (9, 7, 32, 48)
    assert small["target"].dtype == torch.uint8
    torch.testing.assert_close(small["target"].float() / 127.5 - 1, full["target"], rtol=0, atol=1e-6)
    back = dequantize_compact(small["cond"])
    torch.testing.assert_close(back, compact_conditions(full["cond"]), rtol=0, atol=1 / 255 + 1e-6)
    torch.testing.assert_close(quantize_compact(back), small["cond"], rtol=0, atol=0)
    a, b = split_conditions(full["cond"], None), split_conditions(back, None)
    assert all(torch.allclose(a[k], b[k], rtol=0, atol=1 / 255 + 1e-6) for k in a)
    # only the groups asked for are computed; they equal the full computation
    rec, seg, _, _ = dm.train_set._segment(0)
    some = build_window_conditions(seg, list(range(9)), groups=USED_GROUPS)
    every = build_window_conditions(seg, list(range(9)))
    for g in ("frame", "pred"):
        assert np.abs(some[:, video_channel_slice(g)]).max() == 0 and np.abs(every[:, video_channel_slice(g)]).max() > 0
    for g in USED_GROUPS:
        np.testing.assert_array_equal(some[:, video_channel_slice(g)], every[:, video_channel_slice(g)])
    with pytest.raises(ValueError, match="unknown condition group"):
        build_window_conditions(seg, [0], groups=["depth"])
