"""RateCurveCallback inside a short Lightning fit: the real codec, a module-built decoder."""

import csv

import pytest
import torch
from _eval_helpers import moving_texture
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from actdiff.decoders.warp import WarpDecoder
from actdiff.training.callbacks import RateCurveCallback


class TinyModule(LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, _):
        return self.layer(batch[0]).pow(2).mean()

    def validation_step(self, batch, _):
        self.log("val_loss", self.layer(batch[0]).pow(2).mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


class ModuleDecoder(WarpDecoder):
    """The warp decoder, built per validation from the module (stands in for a trained model)."""

    def __init__(self, module):
        super().__init__()
        self.module = module


def _loader():
    return DataLoader(TensorDataset(torch.randn(8, 4)), batch_size=4)


def test_rate_curve_in_fit(tmp_path):
    calls = []

    def factory(module):
        calls.append(module.current_epoch)
        return ModuleDecoder(module)

    cb = RateCurveCallback(
        every_n_val_epochs=2, clips=[moving_texture(t=6, h=48, w=64)],
        rate_points={"low": ["keyframe_codec.quality=2", "trajectories.budget_points=4"],
                     "high": ["keyframe_codec.quality=80", "trajectories.budget_points=32"]},
        decoder_factory=factory, metrics=["psnr"])
    logger = CSVLogger(tmp_path, name="run")
    trainer = Trainer(max_epochs=4, limit_train_batches=2, limit_val_batches=1, logger=logger, callbacks=[cb],
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=1, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(TinyModule(), _loader(), _loader())
    assert calls == [1, 3]  # every 2nd validation epoch, sanity check excluded
    with open(f"{logger.log_dir}/metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("rate/low/psnr")]
    assert len(rows) == 2
    low, high = rows[0], rows[0]  # both points are logged in the same row
    assert float(low["rate/low/bpp"]) < float(high["rate/high/bpp"])
    assert float(low["rate/low/psnr"]) < float(high["rate/high/psnr"])
    pngs = sorted((tmp_path / "run").rglob("rate_curves/*.png"))
    assert [p.name for p in pngs] == ["epoch0001.png", "epoch0003.png"]
    assert len(cb.history) == 2


def test_rate_points_by_name_and_bad_every():
    cb = RateCurveCallback(clips=[], rate_points=["r1", "r2"])
    assert list(cb.rate_points) == ["r1", "r2"]
    with pytest.raises(ValueError):
        RateCurveCallback(every_n_val_epochs=0)


def test_unknown_or_unavailable_metric_fails_at_set_up(monkeypatch, tmp_path):
    from actdiff.errors import ConfigError, MissingWeightsError

    with pytest.raises(ConfigError, match="unknown metric"):
        RateCurveCallback(clips=[moving_texture()], metrics=["psnr", "nope"])
    monkeypatch.setenv("ACTDIFF_FFMPEG", str(tmp_path / "no_ffmpeg"))
    with pytest.raises(MissingWeightsError, match="ACTDIFF_FFMPEG"):
        RateCurveCallback(clips=[moving_texture()], metrics=["vmaf"])
