"""Shared fixtures: the bundled sample clip, small synthetic clips, the default codec config, no weights,
micro diffusion weights."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def sample_video():
    """The bundled Big Buck Bunny excerpt: ``uint8 (48, 256, 384, 3)``, 25 fps."""
    from actdiff.data import load_sample_clip

    return load_sample_clip()


@pytest.fixture(scope="session")
def codec_cfg():
    """The default composed codec config (``configs/experiment/codec.yaml``)."""
    from actdiff.config import compose

    return compose(None, [])


@pytest.fixture(scope="session")
def small_adv_file(tmp_path_factory, codec_cfg):
    """A 6-frame 32x48 ``.adv`` file of a synthetic clip (the default codec)."""
    from actdiff.codec import encode_video
    from actdiff.training.synthetic import synthetic_video

    path = tmp_path_factory.mktemp("stream") / "s.adv"
    path.write_bytes(encode_video(synthetic_video(6, 32, 48, seed=1), codec_cfg).data)
    return path


def moving_texture(num_frames: int = 12, height: int = 64, width: int = 96, speed=(1.5, 0.5), seed: int = 0):
    """A smooth random texture translating by ``speed`` px/frame: ``uint8 (T, H, W, 3)``."""
    import cv2

    rng = np.random.default_rng(seed)
    big = rng.random((height * 2, width * 2, 3)).astype(np.float32)
    big = cv2.GaussianBlur(big, (0, 0), 3)
    big = (big - big.min()) / (big.max() - big.min()) * 255
    frames = []
    for t in range(num_frames):
        m = np.float32([[1, 0, -width / 2 - speed[0] * t], [0, 1, -height / 2 - speed[1] * t]])
        frames.append(cv2.warpAffine(big, m, (width, height), flags=cv2.INTER_LINEAR))
    return np.clip(np.stack(frames), 0, 255).astype(np.uint8)


@pytest.fixture
def empty_weights(tmp_path, monkeypatch):
    """No weights anywhere: $ACTDIFF_WEIGHTS and torch hub's cache point at an empty folder."""
    import torch

    monkeypatch.setenv("ACTDIFF_WEIGHTS", str(tmp_path))
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    yield tmp_path
    torch.hub.set_dir(old)


@pytest.fixture(scope="session")
def micro_weights(tmp_path_factory):
    """A ``micro`` 2D ControlledDenoiser saved with ``save_pretrained``: its folder. The ControlNet's
    zero-initialised output layers are drawn from N(0, 0.5) so that the conditions matter."""
    import torch

    from actdiff.config import load_group
    from actdiff.models import build_model

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("micro_weights")
    model = build_model(load_group("model", "micro"))
    with torch.no_grad():
        for p in [*model.controlnet.controlnet_down_blocks.parameters(),
                  *model.controlnet.controlnet_cond_embedding.conv_out.parameters()]:
            p.normal_(0, 0.5)
    model.save_pretrained(str(folder), safe_serialization=True)
    return folder


@pytest.fixture
def model_runs(monkeypatch):
    """The frame-by-frame diffusion decoder's model runs: the batch size of every ``sample`` call, in order."""
    from actdiff.decoders import diffusion

    runs: list[int] = []
    real = diffusion.sample

    def counting(model, cond, noise, *a, **k):
        runs.append(int(noise.shape[0]))
        return real(model, cond, noise, *a, **k)

    monkeypatch.setattr(diffusion, "sample", counting)
    return runs
