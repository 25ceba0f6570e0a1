"""Multi-process training on CPU: DDP with 2 processes (ddp_spawn in-process, ddp through the CLI), FSDP refused."""

import os
import socket
import subprocess
import sys

import pytest
import torch

from actdiff.config import compose
from actdiff.training.fit import run_fit
from actdiff.training.synthetic import synthetic_segment_source, synthetic_video


def two_rank_overrides(tmp_path, strategy: str) -> list[str]:
    """The micro training run both DDP tests launch: 2 ranks, 3 steps, no validation."""
    return [f"run_dir={tmp_path}/run", f"data.cache_dir={tmp_path}/cache", "trainer.devices=2",
            f"trainer.strategy={strategy}", "trainer.max_steps=3", "trainer.val_check_interval=null",
            "data.windows_per_video=2", "data.batch_size=1"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Marked `serial`: `make test` runs it in its own serial pytest session after the xdist run. Beside
# two busy xdist workers on 2 cores both ranks were seen spinning in a gloo collective for minutes.
# Each run gets an explicit free loopback port; the timeout makes a hang a failure, not a stall.
@pytest.mark.serial
@pytest.mark.timeout(240)
def test_ddp_spawn_two_cpu_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    cfg = compose("experiment/train_test", two_rank_overrides(tmp_path, "ddp_spawn"))
    videos = [synthetic_video(12, 48, 64, seed=i) for i in range(2)]
    run_fit(cfg, videos=videos, segment_source=synthetic_segment_source)
    ck = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ck["global_step"] == 3 and "ema" in ck
    assert all(torch.isfinite(v).all() for v in ck["state_dict"].values() if v.is_floating_point())


@pytest.mark.serial
@pytest.mark.timeout(300)
def test_cli_fit_ddp_two_cpu_processes(tmp_path):
    """`actdiff fit trainer.strategy=ddp trainer.devices=2` as a user runs it: Lightning relaunches the
    CLI for rank 1 (subprocess launcher), both ranks train on the bundled sample clip."""
    from actdiff.data import sample_clip_path

    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()), OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "actdiff", "fit", "--config", "experiment/train_test",
           f"data.sources=[{sample_clip_path()}]", *two_rank_overrides(tmp_path, "ddp")]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=280)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "MEMBER: 2/2" in out and "gloo" in out
    ck = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ck["global_step"] == 3


def test_fsdp_on_cpu_is_a_config_error(tmp_path):
    from actdiff.errors import ConfigError
    from actdiff.training.trainer import build_trainer

    cfg = compose("experiment/train_test", ["trainer.strategy=fsdp", "trainer.devices=2"])
    with pytest.raises(ConfigError, match="fsdp needs GPUs"):
        build_trainer(cfg, tmp_path)
