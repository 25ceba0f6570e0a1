"""Metrics on known cases."""

import math
import warnings

import numpy as np
import pytest
import torch

from actdiff.errors import ConfigError, InputError, MissingWeightsError
from actdiff.metrics import check_metrics, compute_metrics, get_metric, lower_is_better
from actdiff.metrics import full_reference as fr
from actdiff.metrics.fid import DistributionMetrics, patches
from actdiff.metrics.temporal import warping_error
from actdiff.registry import METRICS
from actdiff.types import Video


def smooth_clip(t=5, h=96, w=112, shift=2, seed=0):
    """A smooth random texture translating by ``shift`` px per frame: uint8 (T, H, W, 3)."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    big = rng.standard_normal((h + 16, w + shift * t + 8, 3))
    big = np.stack([gaussian_filter(big[..., c], 2.5) for c in range(3)], -1)
    big = (big - big.min()) / (big.max() - big.min()) * 220 + 15
    return np.stack([big[8 : 8 + h, 4 + shift * i : 4 + shift * i + w] for i in range(t)][::-1]).astype(np.uint8)


class TinyFeature(torch.nn.Module):
    """A fixed random conv feature extractor (stands in for Inception in tests)."""

    num_features = 16

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 16, 7, stride=4)

    def forward(self, x):
        return torch.relu(self.conv(x.float() / 255.0)).mean((2, 3))


def test_registry_and_directions():
    for name in ("psnr", "ms_ssim", "haarpsi", "vif", "gmsd", "lpips", "dists", "niqe", "warping_error",
                 "fid", "kid", "fid_patches", "kid_patches"):
        assert name in METRICS
    assert lower_is_better("niqe") and lower_is_better("fid") and lower_is_better("warping_error")
    assert not lower_is_better("psnr") and not lower_is_better("ms_ssim")
    with pytest.raises(ConfigError):
        get_metric("nope")


def test_psnr_of_known_mse():
    x = torch.full((2, 3, 8, 8), 0.5)
    y = x + torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)
    assert fr.psnr(x, y).tolist() == pytest.approx([20.0, 40.0], abs=1e-4)


def test_compute_metrics_psnr_is_mean_of_frames():
    a = np.full((2, 40, 40, 3), 100, np.uint8)
    b = a.copy()
    b[0] += 10  # MSE (10/255)^2
    b[1] += 1
    expected = np.mean([20 * math.log10(255 / 10), 20 * math.log10(255 / 1)])
    assert compute_metrics(a, b, ["psnr"])["psnr"] == pytest.approx(expected, abs=1e-3)
    assert compute_metrics(a, a, ["psnr"])["psnr"] == 100.0  # identical frames capped


def test_identical_images_full_reference():
    clip = smooth_clip(t=2, h=192, w=192)
    out = compute_metrics(Video(clip), Video(clip), ["ms_ssim", "haarpsi", "vif", "gmsd"])
    assert out["ms_ssim"] == pytest.approx(1.0, abs=1e-5)
    assert out["haarpsi"] == pytest.approx(1.0, abs=1e-4)
    assert out["vif"] == pytest.approx(1.0, abs=1e-3)
    assert out["gmsd"] == pytest.approx(0.0, abs=1e-6)


def test_full_reference_degrade_with_noise():
    clip = smooth_clip(t=2, h=192, w=192)
    rng = np.random.default_rng(1)
    mild = np.clip(clip + rng.normal(0, 4, clip.shape), 0, 255).astype(np.uint8)
    strong = np.clip(clip + rng.normal(0, 25, clip.shape), 0, 255).astype(np.uint8)
    m1 = compute_metrics(clip, mild, ["psnr", "ms_ssim", "haarpsi", "vif", "gmsd"])
    m2 = compute_metrics(clip, strong, ["psnr", "ms_ssim", "haarpsi", "vif", "gmsd"])
    for k in ("psnr", "ms_ssim", "haarpsi", "vif"):
        assert m2[k] < m1[k] < (100 if k == "psnr" else 1.0 + 1e-6)
    assert m2["gmsd"] > m1["gmsd"] > 0


def test_ms_ssim_small_frames_fewer_scales_or_nan():
    clip = smooth_clip(t=1, h=64, w=112)
    with pytest.warns(UserWarning, match="uses 3 scales"):
        v = compute_metrics(clip, clip, ["ms_ssim"])["ms_ssim"]
    assert v == pytest.approx(1.0, abs=1e-5)
    tiny = smooth_clip(t=1, h=32, w=32)
    with pytest.warns(UserWarning, match="undefined"):
        assert math.isnan(compute_metrics(tiny, tiny, ["ms_ssim"])["ms_ssim"])


def test_lpips_dists_missing_weights(empty_weights):
    tmp_path = empty_weights
    fr._lpips_model.cache_clear()
    fr._dists_model.cache_clear()
    clip = smooth_clip(t=1)
    for name in ("lpips", "dists"):
        with pytest.raises(MissingWeightsError, match="vgg16-397923af.pth") as e:
            compute_metrics(clip, clip, [name])
        assert str(tmp_path) in str(e.value)
    (tmp_path / "vgg16-397923af.pth").write_bytes(b"")
    with pytest.raises(MissingWeightsError, match="lpips_weights.pt"):
        compute_metrics(clip, clip, ["lpips"])
    # the same check runs up front in evaluate/bench (before any encoding)
    with pytest.raises(MissingWeightsError, match="dists_weights.pt"):
        check_metrics(["psnr", "dists"])
    check_metrics(["psnr", "niqe"])  # weight-free metrics need nothing
    with pytest.raises(MissingWeightsError, match="weights-inception"):
        check_metrics(["kid_patches"])


def test_warping_error_perfect_vs_flicker():
    ref = smooth_clip(t=5)
    assert warping_error(ref, ref) < 0.01  # pure translation: the reference warps onto itself
    flicker = ref.astype(np.int16)
    flicker[1::2] += 30
    flicker = np.clip(flicker, 0, 255).astype(np.uint8)
    assert warping_error(ref, flicker) > warping_error(ref, ref) + 0.08
    with pytest.warns(UserWarning, match="two frames"):
        assert math.isnan(warping_error(ref[:1], ref[:1]))


def test_fid_kid_custom_feature():
    ref = smooth_clip(t=6, h=64, w=64)
    same = compute_metrics(ref, ref, ["fid", "kid"], fid_feature=TinyFeature())
    assert same["fid"] == pytest.approx(0.0, abs=1e-4)
    noisy = np.clip(ref + np.random.default_rng(0).normal(0, 40, ref.shape), 0, 255).astype(np.uint8)
    diff = compute_metrics(ref, noisy, ["fid", "kid"], fid_feature=TinyFeature())
    assert diff["fid"] > same["fid"] + 1e-3
    assert diff["kid"] > same["kid"]


def test_hific_patches_and_too_few_samples():
    frames = np.zeros((2, 512, 640, 3), np.uint8)
    p = patches(frames)
    assert p.shape == (2 * (2 * 2 + 1 * 2), 256, 256, 3)  # per frame: grid 2x2, grid shifted by 128 1x2
    dm = DistributionMetrics(feature=TinyFeature(), protocol="patches")
    dm.update(smooth_clip(t=2, h=64, w=64), smooth_clip(t=2, h=64, w=64))
    with pytest.warns(UserWarning, match="at least 2 samples"):
        assert math.isnan(dm.compute()["fid"])


def test_fid_missing_inception_weights(empty_weights):
    with pytest.raises(MissingWeightsError, match="weights-inception-2015-12-05-6726825d.pth"):
        DistributionMetrics()


def test_bad_inputs():
    a = np.zeros((2, 40, 40, 3), np.uint8)
    with pytest.raises(InputError):
        compute_metrics(a, a[:1], ["psnr"])
    with pytest.raises(InputError):
        compute_metrics(a.astype(np.float32), a, ["psnr"])
    with pytest.raises(ConfigError):
        compute_metrics(a, a, ["psnrr"])


def test_niqe_in_compute_metrics_nan_frames_warn():
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        out = compute_metrics(np.zeros((1, 40, 40, 3), np.uint8), np.zeros((1, 40, 40, 3), np.uint8), ["niqe"])
    assert math.isnan(out["niqe"])


def test_hub_cache_serves_local_weights_offline(tmp_path):
    """LPIPS/DISTS/VGG weights are loaded from local files through torch hub's cache."""
    from actdiff.metrics.weights import hub_cache

    local = tmp_path / "mine.pt"
    torch.save({"w": torch.arange(3)}, local)
    old = torch.hub.get_dir()
    with hub_cache({"lpips_weights.pt": local}):
        sd = torch.hub.load_state_dict_from_url("https://invalid.example/v0.4.0/lpips_weights.pt", progress=False)
    assert sd["w"].tolist() == [0, 1, 2]
    assert torch.hub.get_dir() == old


def test_haarpsi_of_black_frames_is_defined(monkeypatch):
    """piq's HaarPSI is 0/0 (inf) on two edge-free frames: identical ones score 1, others are NaN."""
    import piq

    from actdiff.metrics import per_frame

    rng = np.random.default_rng(0)
    clip = np.zeros((4, 64, 96, 3), np.uint8)
    clip[2:] = (rng.random((2, 64, 96, 3)) * 255).astype(np.uint8)  # two black frames, two textured
    assert per_frame("haarpsi", clip, clip) == pytest.approx([1.0] * 4, abs=1e-4)
    assert compute_metrics(clip, clip, ["haarpsi"])["haarpsi"] == pytest.approx(1.0, abs=1e-4)
    real = piq.haarpsi
    monkeypatch.setattr(piq, "haarpsi", lambda x, y, **kw: torch.full((x.shape[0],), float("inf")))
    other = clip.copy()
    other[0, 0, 0] = 1
    with pytest.warns(UserWarning, match="HaarPSI undefined"):
        vals = per_frame("haarpsi", clip, other)
    assert np.isnan(vals[0]) and vals[1:] == pytest.approx([1.0] * 3)  # the patched piq says inf: identical → 1
    monkeypatch.setattr(piq, "haarpsi", real)


def test_psnr_lowres_ignores_fine_texture_but_not_a_shifted_object(sample_video):
    """Coarse-scale PSNR: fine noise barely moves it, a misplaced object (a shift) does."""
    from actdiff.metrics import compute_metrics

    ref = sample_video.frames[:4]
    rng = np.random.default_rng(0)
    noisy = np.clip(ref.astype(np.int16) + rng.integers(-25, 26, ref.shape), 0, 255).astype(np.uint8)
    shifted = np.roll(ref, 12, axis=2)
    m_noise = compute_metrics(ref, noisy, ["psnr", "psnr_lowres"])
    m_shift = compute_metrics(ref, shifted, ["psnr", "psnr_lowres"])
    assert m_noise["psnr_lowres"] > m_noise["psnr"] + 12      # the noise averages out at 1/8 scale
    assert m_shift["psnr_lowres"] < m_noise["psnr_lowres"] - 15  # a 12-px shift does not
    assert compute_metrics(ref, ref, ["psnr_lowres"])["psnr_lowres"] == 100.0


def test_tof_zero_for_identical_motion_and_large_for_frozen_frames(sample_video):
    from actdiff.metrics import compute_metrics

    ref = sample_video.frames[:6]
    frozen = np.repeat(ref[:1], 6, axis=0)
    brighter = np.clip(ref.astype(np.int16) + 10, 0, 255).astype(np.uint8)  # same motion, other values
    assert compute_metrics(ref, ref, ["tof"])["tof"] == 0.0
    assert compute_metrics(ref, frozen, ["tof"])["tof"] > 5 * compute_metrics(ref, brighter, ["tof"])["tof"]


def test_tlp_needs_lpips_weights(monkeypatch, tmp_path):
    from actdiff.errors import MissingWeightsError
    from actdiff.metrics import check_metrics

    monkeypatch.setenv("ACTDIFF_WEIGHTS", str(tmp_path))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(MissingWeightsError):
        check_metrics(["tlp"])


def test_tlp_formula_with_a_stand_in_distance(monkeypatch, sample_video):
    """tLP = mean |d(rec[t-1], rec[t]) - d(ref[t-1], ref[t])| (LPIPS stood in by a mean abs difference)."""
    from actdiff.metrics import full_reference, temporal

    monkeypatch.setattr(full_reference, "lpips", lambda x, y: (x - y).abs().flatten(1).mean(1).double())
    ref = sample_video.frames[:5]
    frozen = np.repeat(ref[:1], 5, axis=0)
    assert temporal.tlp(ref, ref) == 0.0
    diffs = [np.abs(ref[t].astype(np.float64) - ref[t - 1]).mean() / 255 for t in range(1, 5)]
    assert temporal.tlp(ref, frozen) == pytest.approx(np.mean(diffs), rel=1e-5)
