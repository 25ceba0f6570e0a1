"""RateCurveCallback inside a short Lightning fit, with an injected stand-in codec."""

import csv

import numpy as np
import pytest
import torch
from _eval_helpers import moving_texture
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.loggers import CSVLogger
from torch.utils.data import DataLoader, TensorDataset

from actdiff.callbacks import RateCurveCallback
from actdiff.types import EncodeResult, Video


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


class KeyframeDecoder:
    """Trivial decoder: repeats the (decoded) keyframe over the clip."""

    def __init__(self, module):
        self.module = module

    def decode(self, data):
        t, stride, h, w = np.frombuffer(data[:16], np.int32)
        key = np.frombuffer(data[16:], np.uint8).reshape((h + stride - 1) // stride, (w + stride - 1) // stride, 3)
        frame = np.repeat(np.repeat(key, stride, 0), stride, 1)[:h, :w]
        return Video(np.repeat(frame[None], t, 0))


def fake_encode(video, cfg):
    stride = int(cfg.codec.trajectories.budget_points)  # the rate knob of this stand-in
    key = np.ascontiguousarray(video.frames[0, ::stride, ::stride])
    head = np.array([video.num_frames, stride, video.height, video.width], np.int32).tobytes()
    return EncodeResult(head + key.tobytes(), {})


def _loader():
    return DataLoader(TensorDataset(torch.randn(8, 4)), batch_size=4)


def test_rate_curve_in_fit(tmp_path):
    calls = []

    def factory(module):
        calls.append(module.current_epoch)
        return KeyframeDecoder(module)

    cb = RateCurveCallback(
        every_n_val_epochs=2, clips=[moving_texture(t=3, h=48, w=64)],
        rate_points={"low": ["trajectories.budget_points=8"], "high": ["trajectories.budget_points=2"]},
        decoder_factory=factory, metrics=["psnr"], encode_fn=fake_encode,
        decode_fn=lambda data, dec: dec.decode(data))
    logger = CSVLogger(tmp_path, name="run")
    trainer = Trainer(max_epochs=4, limit_train_batches=2, limit_val_batches=1, logger=logger, callbacks=[cb],
                      enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                      num_sanity_val_steps=1, accelerator="cpu", default_root_dir=tmp_path)
    trainer.fit(TinyModule(), _loader(), _loader())
    assert calls == [1, 3]  # every 2nd validation epoch, sanity check excluded
    with open(f"{logger.log_dir}/metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("rate/low/psnr")]
    assert len(rows) == 2
    low, high = rows[0], rows[0]
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
