"""Metrics undefined on small frames (VIF and MS-SSIM below 41 px, NIQE below two 96-px blocks, …)
are refused with one line naming the metric, its minimum and the clip's size, before any encoding,
by the API (``evaluate``, ``bench``, ``score``) and by the runner that reads each clip of the CLI."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _eval_helpers import write_clip_folder

import actdiff
import actdiff.api as api
import actdiff.metrics as metrics
from actdiff.errors import InputError
from actdiff.evaluation import runner


@pytest.fixture
def no_coding(monkeypatch):
    def fail(*a, **k):
        pytest.fail("encoded before the frame-size check")

    for module, name in ((api, "encode_with_rate_control"), (runner, "encode_point"), (runner, "encode_decode")):
        monkeypatch.setattr(module, name, fail)


@pytest.mark.parametrize("metric, h, w, need", [
    ("vif", 40, 40, "41x41"), ("vif", 64, 40, "41x41"), ("ms_ssim", 32, 32, "44x44"), ("ms_ssim", 43, 64, "44x44"),
    ("niqe", 32, 32, "96x192"), ("niqe", 96, 96, "96x192"), ("niqe", 64, 300, "96x192"),
    ("haarpsi", 15, 64, "16x16"), ("psnr_lowres", 7, 64, "8x8"), ("warping_error", 64, 7, "8x8"),
    ("fid_patches", 255, 300, "256x256"),
])
def test_check_frame_size_refuses_small_frames(metric, h, w, need):
    with pytest.raises(InputError) as e:
        metrics.check_frame_size(["psnr", metric], h, w)
    msg = str(e.value)
    assert "\n" not in msg and f"metric {metric} " in msg and need in msg and f"{w}x{h}" in msg


@pytest.mark.parametrize("metric, h, w", [
    ("vif", 41, 41), ("ms_ssim", 44, 64), ("niqe", 96, 192), ("niqe", 192, 96), ("haarpsi", 16, 16),
    ("psnr", 1, 1), ("gmsd", 8, 8),
])
def test_check_frame_size_passes_large_enough_frames(metric, h, w):
    metrics.check_frame_size([metric], h, w)


def _value(metric: str, h: int, w: int) -> float:
    """``metric`` of two random ``h`` x ``w`` frames; NaN where it raises (warnings silenced)."""
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 256, (1, h, w, 3), dtype=np.uint8) for _ in range(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return metrics.compute_metrics(a, b, [metric])[metric]
        except ValueError:
            return float("nan")


@pytest.mark.parametrize("metric", ["vif", "ms_ssim", "haarpsi", "psnr_lowres", "niqe"])
def test_the_minimum_is_the_metrics_real_limit(metric):
    """At the registered minimum the metric has a value; a pixel less on either side it raises or is
    NaN: the table holds the code's limits, not guesses."""
    short, long = metrics.MIN_SIZES[metric]
    assert np.isfinite(_value(metric, short, long))
    assert np.isnan(_value(metric, short - 1, long)) and np.isnan(_value(metric, short, long - 1))


@pytest.mark.parametrize("call", ["evaluate", "bench", "score"])
def test_the_api_checks_the_clip_size_before_encoding(call, no_coding):
    clip = np.zeros((4, 40, 40, 3), np.uint8)
    with pytest.raises(InputError) as e:
        if call == "evaluate":
            actdiff.evaluate(clip, rates=["r1"], metrics=["vif"])
        elif call == "bench":
            actdiff.bench(clip, "x265", [40], metrics=["psnr", "vif"])
        else:
            actdiff.score(clip, clip, ["vif"])
    assert "metric vif needs frames of at least 41x41" in str(e.value) and "40x40" in str(e.value)


@pytest.mark.parametrize("verb", ["evaluate", "bench"])
def test_the_cli_checks_each_clip_before_encoding_it(tmp_path, no_coding, capsys, verb):
    from actdiff.commands.bench import main as bench
    from actdiff.commands.evaluate import main as evaluate

    data = write_clip_folder(tmp_path / "clips", names=("alpha",), t=3, h=64, w=96)
    out = tmp_path / "r.json"
    common = ["--data", str(data), "--protocol", "native", "--metrics", "psnr", "niqe", "-q", "-o", str(out)]
    rc = evaluate(["--rates", "r1", *common]) if verb == "evaluate" else bench(["x265", "--crf", "40", *common])
    err = capsys.readouterr().err
    assert rc == 2 and not out.exists()
    assert "metric niqe needs frames of at least 96x192" in err and "sequence alpha is 96x64" in err


@pytest.mark.parametrize("side", [44, 96, 98, 170, 175, 176])
def test_ms_ssim_picks_scales_torchmetrics_accepts(side):
    """Short sides of 81–98 and 161–175 px were given one scale too many and raised torchmetrics'
    ValueError (96-px frames included)."""
    import warnings

    import torch

    from actdiff.metrics.full_reference import ms_ssim

    x = torch.rand(1, 3, side, side + 8, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = float(ms_ssim(x, (x * 0.9).clamp(0, 1))[0])
    assert 0.5 < value <= 1.0
