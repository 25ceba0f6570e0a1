"""``actdiff fit`` refuses a bad trainer, logger, data or run-folder setting in one line, before
any training window is encoded and before the run folder is made.

Each of these used to start coding windows into the cache (W&B mode, precision, strategy,
accelerator), or to end in a traceback after the run folder was made (``data.size=5``,
``data.size=[0,0]``, a ``run_dir`` that is a file), or to read ``data.sources=name`` letter by letter.
"""

from __future__ import annotations

import pytest
import torch
from _cli import one_error_line
from omegaconf import OmegaConf

from actdiff.commands.fit import main
from actdiff.config import compose

NO_CUDA = not torch.cuda.is_available()


@pytest.fixture
def no_encoding(monkeypatch):
    """Fail the test if a fit gets as far as coding training windows (or setting up its data)."""
    from actdiff.training import datamodule, window_cache

    def started(*args, **kwargs):
        pytest.fail("the fit started encoding training windows")

    monkeypatch.setattr(datamodule, "build_cache", started)
    monkeypatch.setattr(window_cache, "build_cache", started)
    monkeypatch.setattr(datamodule.VideoClipDataModule, "prepare_data", started)
    monkeypatch.setattr(datamodule.VideoClipDataModule, "setup", started)
    monkeypatch.delenv("WANDB_MODE", raising=False)


def fit(tmp_path, *over: str, run_dir=None) -> int:
    """``actdiff fit`` on the test config with the bundled clip (a fit that would train)."""
    run_dir = run_dir or tmp_path / "run"
    return main(["--config", "experiment/train_test", f"run_dir={run_dir}", f"data.cache_dir={tmp_path / 'cache'}",
                 "data.sources=[sample]", *over])


def refused(tmp_path, capsys, *over: str, run_dir=None) -> str:
    """The one error line of a refused fit; checks nothing was made: no run folder, no cache."""
    assert fit(tmp_path, *over, run_dir=run_dir) == 2
    line = one_error_line(capsys)
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()
    return line


@pytest.mark.parametrize("over,words", [
    (["logger=wandb", "logger.mode=bogus"], "unknown wandb mode 'bogus'"),
    (["trainer.precision=bogus"], "unknown trainer.precision 'bogus'"),
    (["trainer.precision=33"], "unknown trainer.precision 33"),
    (["trainer.precision=true"], "unknown trainer.precision True"),
    (["trainer.strategy=bogus"], "unknown trainer.strategy 'bogus'"),
    (["trainer.strategy=fsdp"], "fsdp needs GPUs"),
    (["trainer.strategy=deepspeed"], "deepspeed needs GPUs"),
    (["trainer.strategy={name: auto, x: 1}"], "takes no options"),
    (["trainer.strategy={name: fsdp, sharding_strategy: HALF}"], "sharding_strategy 'HALF'"),
    (["trainer.accelerator=bogus"], "unknown trainer.accelerator 'bogus'"),
    (["trainer.accelerator=tpu"], "trainer.accelerator=tpu: this machine has no tpu"),
    pytest.param(["trainer.accelerator=cuda"], "this machine has no cuda",
                 marks=pytest.mark.skipif(not NO_CUDA, reason="this machine has a GPU")),
    pytest.param(["trainer.accelerator=gpu"], "this machine has no GPU",
                 marks=pytest.mark.skipif(not NO_CUDA, reason="this machine has a GPU")),
])
def test_bad_trainer_or_logger_is_refused_before_any_window(tmp_path, capsys, no_encoding, over, words):
    assert words in refused(tmp_path, capsys, *over)


def test_wandb_mode_from_the_environment_is_checked_too(tmp_path, capsys, no_encoding, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    assert "unknown wandb mode 'sometimes' in WANDB_MODE" in refused(tmp_path, capsys, "logger=wandb")


@pytest.mark.parametrize("over,words", [
    ("data.size=5", "data.size must be [H, W] (pixels) or null, got 5"),
    ("data.size=[0,0]", "data.size must be a whole number in [1, inf], got 0"),
    ("data.size=[48]", "data.size must be [H, W]"),
    ("data.size=[48.5,64]", "data.size must be a whole number"),
    ("data.crop=5", "data.crop must be [H, W]"),
    ("data.crop=[64,64]", "data.crop [64, 64] is larger than data.size [48, 64]"),
    ("data.window_frames=1", "data.window_frames must be a whole number in [2, inf], got 1"),
    ("data.resize_mode=squash", "unknown data.resize_mode 'squash'"),
    ("+data.augment=5", "data.augment must be a mapping"),
    ("+data.augment={scale: 0.5}", "data.augment.scale must be [lo, hi]"),
    ("+data.augment={scale: [0, 1]}", "data.augment.scale must be a number in (0, 1]"),
    ("+data.augment={scale: [0.9, 0.5]}", "0 < lo <= hi <= 1"),
    ("+data.augment={flip: x}", "data.augment.flip must be a number in [0, 1], got 'x'"),
    ("+data.augment={reverse: 2}", "data.augment.reverse must be a number in [0, 1]"),
    ("+data.augment={upsample: maybe}", "data.augment.upsample must be true or false"),
    ("+data.augment={zoom: 1}", "unknown data.augment key(s) zoom"),
])
def test_bad_data_size_or_augmentation_is_refused_before_the_run_folder(tmp_path, capsys, no_encoding, over, words):
    assert words in refused(tmp_path, capsys, over)


@pytest.mark.parametrize("sub", ["", "sub"])
def test_a_run_dir_that_is_a_file_is_refused(tmp_path, capsys, no_encoding, sub):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    run_dir = afile / sub if sub else afile
    line = refused(tmp_path, capsys, run_dir=run_dir)
    assert "is a file, not a folder" in line and str(afile) in line
    assert afile.read_text() == "keep me"


def test_a_single_source_name_is_a_list_of_one(tmp_path, capsys, no_encoding):
    from actdiff.training.corpus import list_clips

    one = list_clips(OmegaConf.create({"sources": "sample"}))
    assert [c.name for c in one] == [c.name for c in list_clips(OmegaConf.create({"sources": ["sample"]}))]
    line = refused(tmp_path, capsys, "data.sources=nope_dataset")
    assert "nope_dataset" in line and "'n'" not in line


@pytest.mark.parametrize("sources", ["[[a, b]]", "[a, {b: c}]"])
def test_sources_that_are_not_names_are_refused(tmp_path, capsys, no_encoding, sources):
    assert "data.sources must list video files" in refused(tmp_path, capsys, f"data.sources={sources}")


@pytest.mark.parametrize("precision", [32, "32", "32-true", 16, "16-mixed", "bf16-mixed", "bf16-true", "16-true",
                                       64, "64-true", "bf16", None])
def test_lightning_precisions_pass(precision):
    from actdiff.training.trainer import check_precision_value

    check_precision_value(precision)


@pytest.mark.parametrize("name", ["train_test", "train_tiny_cpu", "train_corpus_cpu", "train_video_cpu",
                                  "train_keyframe_selector", "train_trajectory_selector"])
def test_shipped_cpu_configs_pass_the_run_checks(tmp_path, name, monkeypatch):
    from actdiff.training.trainer import accelerator_kind, check_run_setup

    monkeypatch.delenv("WANDB_MODE", raising=False)
    cfg = compose(f"experiment/{name}", [f"run_dir={tmp_path}/run"])
    check_run_setup(cfg)
    assert accelerator_kind(OmegaConf.create({"accelerator": "auto"})) == ("cuda" if not NO_CUDA else "cpu")
    assert not (tmp_path / "run").exists()
