"""Training machinery on the micro config: step, checkpoints/resume, EMA export, cache, shared conditions."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from actdiff import conditioning
from actdiff.commands import fit as fit_cmd
from actdiff.config import compose
from actdiff.models import ControlledDenoiser
from actdiff.training.datamodule import VideoClipDataModule, cache_key
from actdiff.training.export import export_checkpoint
from actdiff.training.fit import run_fit
from actdiff.training.module import ConditionalDenoiser
from actdiff.training.synthetic import synthetic_segment_source, synthetic_video


def videos():
    return [synthetic_video(12, 48, 64, seed=i) for i in range(2)]


def cfg_for(tmp_path, *over):
    return compose("experiment/train_test", [f"run_dir={tmp_path}/run", f"data.cache_dir={tmp_path}/cache", *over])


def test_training_step_changes_params(tmp_path):
    cfg = cfg_for(tmp_path)
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=videos(), segment_source=synthetic_segment_source)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["cond"].shape == (2, conditioning.NUM_CHANNELS, 32, 48) and batch["target"].shape == (2, 3, 32, 48)
    from omegaconf import OmegaConf

    module = ConditionalDenoiser(OmegaConf.to_container(cfg.model), {"lr": 1e-3})
    opt = module.configure_optimizers()["optimizer"]
    before = [p.detach().clone() for p in module.model.trainable_parameters()]
    loss = module.diffusion_loss(batch)
    assert torch.isfinite(loss)
    loss.backward()
    opt.step()
    changed = sum(not torch.equal(a, b) for a, b in zip(before, module.model.trainable_parameters()))
    assert changed > len(before) // 2


def test_fit_checkpoints_logs_resume_export(tmp_path):
    cfg = cfg_for(tmp_path, f"export={tmp_path}/exported")
    module = run_fit(cfg, videos=videos(), segment_source=synthetic_segment_source)
    run = tmp_path / "run"
    assert (run / "config.yaml").is_file()
    last = run / "checkpoints" / "last.ckpt"
    ck = torch.load(last, map_location="cpu", weights_only=False)
    assert ck["global_step"] == 2 and "ema" in ck
    metrics = (run / "logs" / "metrics.csv").read_text()
    assert "train/loss" in metrics and "val/loss" in metrics
    assert list((run / "logs").rglob("images/*.png"))
    # export at the end of fit == EMA weights of the module
    m = ControlledDenoiser.from_pretrained(str(tmp_path / "exported"))
    assert all(f.stat().st_mode & 0o044 == 0o044 for f in (tmp_path / "exported").iterdir())  # not 0600
    ema = module.ema_model()
    for (n, a), (_, b) in zip(m.state_dict().items(), ema.state_dict().items()):
        assert torch.equal(a, b), n
    # a second run into the same folder needs --resume
    argv = ["--config", "experiment/train_test", f"run_dir={run}", f"data.cache_dir={tmp_path}/cache"]
    assert fit_cmd.main(argv) == 2
    # resume from 2 to 4 steps
    cfg4 = cfg_for(tmp_path, "trainer.max_steps=4")
    run_fit(cfg4, resume=True, videos=videos(), segment_source=synthetic_segment_source)
    ck = torch.load(last, map_location="cpu", weights_only=False)
    assert ck["global_step"] == 4
    steps = [int(r.split(",")[[h for h in metrics.splitlines()[0].split(",")].index("step")])
             for r in (run / "logs" / "metrics.csv").read_text().splitlines()[1:]]
    assert max(steps) >= 3 and min(steps) <= 1   # the history before resuming is kept (KeepingCSVLogger)
    # standalone export of the checkpoint reloads to identical outputs
    out = export_checkpoint(last, tmp_path / "exp2")
    a = ControlledDenoiser.from_pretrained(str(out)).eval()
    b = ConditionalDenoiser.load_from_checkpoint(str(last), map_location="cpu").ema_model().eval()
    z, cond = torch.randn(1, 48, 8, 12), torch.randn(1, conditioning.NUM_CHANNELS, 32, 48)
    with torch.no_grad():
        assert torch.equal(a(z, torch.tensor([3]), cond), b(z, torch.tensor([3]), cond))


def test_export_cli(tmp_path):
    from actdiff.commands import export

    assert export.main([str(tmp_path / "missing.ckpt"), "-o", str(tmp_path / "o")]) == 2


def test_export_and_resume_refuse_what_would_clobber_or_not_fit(tmp_path, capsys, caplog):
    """``export`` wrote into an existing folder (a run's checkpoints folder too) without asking, and
    an output that was a file was a traceback; ``fit --resume`` with another model was a traceback;
    a fit's ``export=`` folder is replaced whole (it was written into), and the fit says so first."""
    from actdiff.commands import export
    from actdiff.errors import ConfigError

    (tmp_path / "exp").mkdir()
    (tmp_path / "exp" / "old.txt").write_text("old")
    with caplog.at_level("WARNING", logger="actdiff"):
        run_fit(cfg_for(tmp_path, "trainer.max_steps=1", f"export={tmp_path / 'exp'}"), videos=videos(),
                segment_source=synthetic_segment_source)
    assert "exists: it is replaced when training ends" in caplog.text
    exported = sorted(p.name for p in (tmp_path / "exp").iterdir())
    assert exported == ["config.json", "diffusion_pytorch_model.safetensors"]
    last, out, mine = tmp_path / "run" / "checkpoints" / "last.ckpt", tmp_path / "w", tmp_path / "file"
    assert export.main([str(last), "-o", str(out)]) == 0 and (out / "config.json").is_file()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    mine.write_text("mine")
    for target, words in ((out, "exists"), (mine, "exists"), (mine / "below", "is a file"),
                          (last.parent, "exists")):
        assert export.main([str(last), "-o", str(target)]) == 2
        assert words in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before and mine.read_text() == "mine"
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt", "step0000001.ckpt"]
    assert export.main([str(last), "-o", str(out), "--overwrite"]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder left
    with pytest.raises(ConfigError, match="holds another model than the config's"):
        run_fit(cfg_for(tmp_path, "trainer.max_steps=2", "model.unet.block_out_channels=[16,48]"), resume=True,
                videos=videos(), segment_source=synthetic_segment_source)


def test_cache_reused_and_keyed(tmp_path):
    cfg = cfg_for(tmp_path)
    calls = []

    def source(video, codec_cfg):
        calls.append(1)
        return synthetic_segment_source(video, codec_cfg)

    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=videos(), segment_source=source)
    dm.prepare_data()
    n = len(calls)
    assert n == 2  # one window per video (train + val)
    dm2 = VideoClipDataModule(cfg.data, cfg.codec, videos=videos(), segment_source=source)
    dm2.prepare_data()
    dm2.setup()
    assert len(calls) == n and dm2.cache == dm.cache
    assert len(dm2.train_set) == 3 and len(dm2.val_set) == 3  # split by video: 1 train, 1 val video
    other = cfg_for(tmp_path, "codec.keyframe_codec.quality=77")
    assert cache_key(other.codec, other.data) != cache_key(cfg.codec, cfg.data)


def test_cache_key_follows_the_condition_code(tmp_path, monkeypatch):
    """Editing the code that builds conditions (e.g. the interpolation) invalidates the cache."""
    from actdiff.training import datamodule as data_mod

    tree = tmp_path / "pkg"
    (tree / "motion").mkdir(parents=True)
    src = tree / "motion" / "interpolate.py"
    src.write_text("BANDWIDTH = 1\n")
    h1 = data_mod.condition_code_hash(tree)
    src.write_text("BANDWIDTH = 2\n")
    assert data_mod.condition_code_hash(tree) != h1
    assert len(data_mod.condition_code_hash()) == 16  # the real package hashes

    cfg = cfg_for(tmp_path)
    before = cache_key(cfg.codec, cfg.data)
    monkeypatch.setattr(data_mod, "condition_code_hash", lambda: "edited")
    assert cache_key(cfg.codec, cfg.data) != before


def test_datamodule_and_decoder_share_build_conditions(tmp_path, monkeypatch):
    """Training pairs and decoding both go through actdiff.conditioning.conditions.build_conditions
    (the cache holds what the codec decoded; conditions are built when an item is read)."""
    from actdiff.decoders.diffusion import DiffusionDecoder
    from actdiff.models import build_model

    real = conditioning.conditions.build_conditions
    calls = {"n": 0}

    def counting(seg, t, bidirectional=True, prediction=False):
        calls["n"] += 1
        return real(seg, t, bidirectional, prediction)

    monkeypatch.setattr(conditioning.conditions, "build_conditions", counting)
    cfg = cfg_for(tmp_path)
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=videos(), segment_source=synthetic_segment_source)
    dm.setup()
    assert calls["n"] == 0
    for ds in (dm.train_set, dm.val_set):
        for i in range(len(ds)):
            ds[i]
    n_train = calls["n"]
    assert n_train == 6
    header, segs = synthetic_segment_source(videos()[0])
    dec = DiffusionDecoder(model=build_model(cfg.model), steps=1)
    dec.decode_segment(header, segs[0])
    assert calls["n"] - n_train == segs[0].segment.length - 2


def test_train_default_recipe_config_composes(tmp_path, monkeypatch):
    cfg = compose("experiment/train_tiny_cpu")
    assert cfg.model.preset == "tiny" and cfg.trainer.accelerator == "cpu" and cfg.logger.name == "csv"
    assert cfg.data.crop[0] % 16 == 0 and cfg.data.crop[1] % 16 == 0
    from actdiff.data import sample_clip_path
    from actdiff.training.corpus import list_clips

    monkeypatch.chdir(tmp_path)  # the recipe's data is found from any working folder, not only the repo's
    clips = list_clips(cfg.data)
    assert [c.sequence.path.resolve() for c in clips] == [sample_clip_path().resolve()]


@pytest.mark.parametrize("config", ["experiment/train_test", "experiment/train_keyframe_selector",
                                    "experiment/train_trajectory_selector"])
def test_fit_missing_source_fails_before_the_run_folder(tmp_path, capsys, config):
    """Every fit (decoder, selectors) lists its data sources before the run folder is written."""
    run_dir = tmp_path / "run"
    assert fit_cmd.main(["--config", config, f"run_dir={run_dir}",
                         f"data.sources=[{tmp_path / 'missing.mp4'}]"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "missing.mp4" in err[0] and not run_dir.exists()


@pytest.mark.parametrize("over,words", [
    (["model.sampler.name=bogus"], "unknown sampler 'bogus'"),
    (["model.sampler.steps=0"], "whole number >= 1"),
    (["model.sampler.noise_mode=x"], "unknown noise mode 'x'"),
    (["model.sampler.temporal_blend=1.5"], "temporal_blend must be in [0, 1)"),
    (["train.val_sampler=x"], "unknown sampler 'x'"),
    (["model=micro_video", "model.sampler.name=bogus"], "unknown sampler 'bogus'"),
])
def test_fit_refuses_bad_decoding_defaults_before_the_run_folder(tmp_path, capsys, over, words):
    """``model.sampler`` is stored with the weights as their decoding defaults: a bad value was
    trained on and surfaced only when the weights were first decoded with."""
    run_dir = tmp_path / "run"
    assert fit_cmd.main(["--config", "experiment/train_test", f"run_dir={run_dir}", *over]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0] and not run_dir.exists()


@pytest.mark.parametrize("over,words", [
    ("data.batch_size=0", "data.batch_size must be a whole number in [1, inf], got 0"),
    ("trainer.max_steps=0", "trainer.max_steps must be a whole number"),
    ("optim.lr=-1", "optim.lr must be a number in [0, inf)"),
    ("train.ema_decay=1.5", "train.ema_decay must be a number in [0, 1)"),
    ("data.quality_range=[50,10]", "low must not exceed high"),
    ("data.quality_range=[20,101]", "data.quality_range must be a whole number in [0, 100]"),
    ("optim.betas=[0.9]", "optim.betas must be two numbers"),
    ("data.crop=[36,48]", "each side must be a multiple of 8"),
])
def test_fit_refuses_bad_training_numbers_before_the_run_folder(tmp_path, capsys, over, words):
    """They were a traceback after the windows were coded (batch size, lr, quality range) or not
    refused at all (an EMA decay above 1, zero steps)."""
    run_dir = tmp_path / "run"
    assert fit_cmd.main(["--config", "experiment/train_test", f"run_dir={run_dir}", over]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0], err
    assert not run_dir.exists()


def test_every_shipped_fit_config_passes_the_checks():
    from actdiff.config import config_root
    from actdiff.training.checks import check_fit_config

    fits = [p.stem for p in sorted((config_root() / "experiment").glob("*.yaml"))
            if "trainer" in compose(f"experiment/{p.stem}")]
    assert len(fits) >= 6
    for name in fits:
        check_fit_config(compose(f"experiment/{name}"))


@pytest.mark.parametrize("model", ["micro", "micro_video"])
def test_fit_starts_with_every_module_in_train_mode(tmp_path, monkeypatch, model):
    """Checking the decoding defaults builds a decoder on the model, which puts it in eval mode;
    Lightning keeps the modes it finds, so training ran with the model in eval mode."""
    seen = []
    start = ConditionalDenoiser.on_fit_start

    def on_fit_start(self):
        seen.append(sum(not m.training for m in self.model.modules()))
        start(self)

    monkeypatch.setattr(ConditionalDenoiser, "on_fit_start", on_fit_start)
    over = ["+data.item=windows", "+data.conditions=video", "+data.clip_frames=3", "+data.clip_stride=1"] \
        if model == "micro_video" else []
    run_fit(cfg_for(tmp_path, f"model={model}", "trainer.max_steps=1", *over), videos=videos(),
            segment_source=synthetic_segment_source)
    assert seen == [0]


CHILD = """
import sys
sys.path.insert(0, {tests!r})
import test_training as T
from actdiff.training.fit import run_fit
from pathlib import Path
cfg = T.cfg_for(Path({tmp!r}), "trainer.max_steps=1000")
run_fit(cfg, videos=T.videos(), segment_source=T.synthetic_segment_source)
"""


@pytest.mark.serial
@pytest.mark.timeout(300)
def test_resume_after_sigkill(tmp_path):
    code = CHILD.format(tests=str(Path(__file__).parent), tmp=str(tmp_path))
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    t0 = time.time()
    while time.time() - t0 < 120:
        if last.is_file() and torch.load(last, map_location="cpu", weights_only=False)["global_step"] >= 3:
            break
        time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    assert 3 <= step < 1000
    run_fit(cfg_for(tmp_path, f"trainer.max_steps={step + 2}"), resume=True, videos=videos(),
                segment_source=synthetic_segment_source)
    assert torch.load(last, map_location="cpu", weights_only=False)["global_step"] == step + 2


def test_loggers_from_config(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from actdiff.errors import ConfigError
    from actdiff.training.trainer import build_loggers

    assert build_loggers(OmegaConf.create({"logger": {"name": "none"}}), tmp_path) == []
    from lightning.pytorch.loggers import CSVLogger

    assert isinstance(build_loggers(OmegaConf.create({}), tmp_path)[0], CSVLogger)  # one that keeps metrics.csv
    monkeypatch.setenv("WANDB_MODE", "disabled")
    lg = build_loggers(OmegaConf.create({"logger": {"name": "wandb", "mode": "online"}}), tmp_path)
    assert type(lg[0]).__name__ == "WandbLogger"
    with pytest.raises(ConfigError):
        build_loggers(OmegaConf.create({"logger": {"name": "tensorboardx"}}), tmp_path)


def test_fit_print_config(capsys):
    assert fit_cmd.main(["--config", "experiment/train_test", "--print-config", "trainer.max_steps=7"]) == 0
    assert "max_steps: 7" in capsys.readouterr().out
    assert fit_cmd.main(["--config", "experiment/train_test", "trainer.nope=1"]) == 2


@pytest.mark.parametrize("over", [{"prediction_type": "v_prediction"}, {"residual_over_warp": True},
                                  {"gradient_checkpointing": True}])
def test_loss_variants_finite_and_trainable(tmp_path, over):
    from omegaconf import OmegaConf

    cfg = cfg_for(tmp_path)
    model_cfg = {**OmegaConf.to_container(cfg.model), **over}
    module = ConditionalDenoiser(model_cfg, {"lr": 1e-3}).train()
    g = torch.Generator().manual_seed(0)
    batch = {"target": torch.rand(2, 3, 32, 48, generator=g) * 2 - 1,
             "cond": torch.rand(2, conditioning.NUM_CHANNELS, 32, 48, generator=g) * 2 - 1}
    loss = module.diffusion_loss(batch, generator=torch.Generator().manual_seed(1))
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in module.model.trainable_parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(x).all() for x in grads)
    if over.get("residual_over_warp"):
        z0 = module._clean_latent(batch["target"], batch["cond"])
        assert not torch.allclose(z0, module.model.encode(batch["target"]))


def test_read_sources_bundled_sample():
    from omegaconf import OmegaConf

    from actdiff.data import sample_clip_path
    from actdiff.training.datamodule import read_sources, split_by_video

    path = sample_clip_path()
    cfg = OmegaConf.create({"sources": [str(path)], "size": [64, 96], "max_frames": 5, "resize_mode": "crop"})
    vids = read_sources(cfg)
    assert len(vids) == 1 and vids[0].frames.shape == (5, 64, 96, 3)
    assert split_by_video(vids * 3, 1)[1] and len(split_by_video(vids, 1)[1]) == 0


def test_datamodule_with_real_codec(tmp_path):
    """Default segment source: encode_video → bytes → decode_segments (the decoder's path)."""
    cfg = cfg_for(tmp_path, "data.window_frames=10")
    vids = [synthetic_video(12, 48, 64, seed=i) for i in range(2)]
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=vids)
    dm.prepare_data()
    dm.setup()
    item = dm.train_set[0]
    assert item["cond"].shape == (conditioning.NUM_CHANNELS, 32, 48) and item["target"].shape == (3, 32, 48)
    assert torch.isfinite(item["cond"]).all() and item["target"].abs().max() <= 1
