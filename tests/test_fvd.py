"""FVD/KVD: the Inception-I3D layout and loading, clip sampling, preprocessing, the distance itself."""

import math

import numpy as np
import pytest
import torch
from conftest import moving_texture

from actdiff.errors import MissingWeightsError
from actdiff.metrics import check_metrics, compute_metrics, get_metric, lower_is_better
from actdiff.metrics.fid import DistributionMetrics, clips
from actdiff.metrics.i3d import I3D_FILE, I3DFeature, InceptionI3D, load_i3d, preprocess_clips, same_pad


class TinyClipFeature(torch.nn.Module):
    """A fixed random 3-D conv feature (stands in for I3D); records the shapes it was given."""

    num_features = 8

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv3d(3, 8, (3, 5, 5), stride=(2, 4, 4))
        self.seen: list[tuple[torch.dtype, tuple[int, ...]]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((x.dtype, tuple(x.shape)))
        return torch.relu(self.conv(x.float() / 255.0)).mean((2, 3, 4))


class NotATensor:
    """Pickled into a weights file: ``weights_only`` loading must refuse it."""


@pytest.fixture(scope="module")
def i3d() -> InceptionI3D:
    """The full architecture, random init, BatchNorm statistics set from one random batch (so
    activations keep their scale through the 57 layers and the logits depend on the input)."""
    torch.manual_seed(1)
    model = InceptionI3D()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)]
    for m in bns:
        m.momentum = 1.0
        m.bias.data.uniform_(-0.1, 0.1)
    with torch.no_grad():
        model.train()(clip_batch(4, seed=9))
    for m in bns:
        m.momentum = 0.01
    return model.eval()


def clip_batch(n: int = 2, t: int = 16, h: int = 32, w: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand((n, 3, t, h, w), generator=torch.Generator().manual_seed(seed)) * 2 - 1


def noisy(frames: np.ndarray, sigma: float = 40.0) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0, sigma, frames.shape)
    return np.clip(frames + noise, 0, 255).astype(np.uint8)


def test_state_dict_layout_matches_pytorch_i3d(i3d):
    sd = i3d.state_dict()
    shapes = {
        "Conv3d_1a_7x7.conv3d.weight": (64, 3, 7, 7, 7),
        "Conv3d_1a_7x7.bn.running_var": (64,),
        "Conv3d_2b_1x1.conv3d.weight": (64, 64, 1, 1, 1),
        "Conv3d_2c_3x3.conv3d.weight": (192, 64, 3, 3, 3),
        "Mixed_3b.b0.conv3d.weight": (64, 192, 1, 1, 1),
        "Mixed_3b.b1b.conv3d.weight": (128, 96, 3, 3, 3),
        "Mixed_3c.b2b.conv3d.weight": (96, 32, 3, 3, 3),
        "Mixed_4b.b1a.conv3d.weight": (96, 480, 1, 1, 1),
        "Mixed_4e.b1b.conv3d.weight": (288, 144, 3, 3, 3),
        "Mixed_4f.b3b.bn.weight": (128,),
        "Mixed_5b.b0.conv3d.weight": (256, 832, 1, 1, 1),
        "Mixed_5c.b2a.bn.running_mean": (48,),
        "Mixed_5c.b3b.conv3d.weight": (128, 832, 1, 1, 1),
        "logits.conv3d.weight": (400, 1024, 1, 1, 1),
        "logits.conv3d.bias": (400,),
    }
    for key, shape in shapes.items():
        assert tuple(sd[key].shape) == shape, key
    units = {".".join(k.split(".")[: 2 if k.startswith("Mixed") else 1]) for k in sd}
    blocks = ["Mixed_3b", "Mixed_3c"] + [f"Mixed_4{c}" for c in "bcdef"] + ["Mixed_5b", "Mixed_5c"]
    assert units == {"Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3", "logits"} | {
        f"{b}.{br}" for b in blocks for br in ("b0", "b1a", "b1b", "b2a", "b2b", "b3b")}
    assert not any(k.endswith("conv3d.bias") and not k.startswith("logits") for k in sd)  # convs before BN: no bias
    assert not any(k.startswith("logits.bn") for k in sd)
    assert sum(p.numel() for p in i3d.parameters()) == 12_697_264
    bn = i3d.Mixed_4c.b1b.bn
    assert (bn.eps, bn.momentum) == (1e-3, 0.01)


def test_tf_same_padding():
    x = torch.zeros((1, 1, 5, 224, 7))
    y = same_pad(x, (3, 7, 2), (1, 2, 2), value=1.0)
    assert y.shape == (1, 1, 7, 229, 8)  # T: 1+1, H: 2+3 (extra at the end), W: 0+1
    assert y[0, 0, 1:-1, 2:-3, :-1].eq(0).all() and y[0, 0, 0].eq(1).all() and y[0, 0, :, -3].eq(1).all()
    assert y[0, 0, :, 2:-3, -1].eq(1).all() and y[0, 0, :, :2].eq(1).all()


def test_forward_gives_logits_per_clip(i3d):
    with torch.no_grad():
        y = i3d(clip_batch(2))
        z = i3d(clip_batch(1, t=9, h=24, w=40, seed=1))  # odd sizes: SAME padding and clipped pools
    assert y.shape == (2, 400) and z.shape == (1, 400)
    assert torch.isfinite(y).all() and torch.isfinite(z).all()
    assert not torch.allclose(y[0], y[1])


def test_round_trip_through_load_i3d(i3d, tmp_path):
    x = clip_batch(2, seed=2)
    with torch.no_grad():
        expected = i3d(x)
    sd = {k: v for k, v in i3d.state_dict().items() if not k.endswith("num_batches_tracked")}  # old conversions
    torch.save(sd, tmp_path / "mine.pt")
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / "mine.safetensors"))
    for name in ("mine.pt", "mine.safetensors"):
        loaded = load_i3d(tmp_path / name)
        assert not loaded.training
        with torch.no_grad():
            torch.testing.assert_close(loaded(x), expected, rtol=1e-5, atol=1e-5)
    assert load_i3d(str(tmp_path / "mine.pt")) is load_i3d(tmp_path / "mine.pt")  # loaded once per file


def test_wrong_files_give_one_line_errors(tmp_path):
    bad = tmp_path / "keys.pt"
    torch.save({"conv.weight": torch.zeros(3)}, bad)
    with pytest.raises(MissingWeightsError, match="not an Inception-I3D.*missing keys.*unexpected keys") as e:
        load_i3d(bad)
    assert "\n" not in str(e.value)
    torch.manual_seed(0)
    small = InceptionI3D(num_classes=10).state_dict()  # right keys, wrong logits shape
    torch.save(small, tmp_path / "classes.pt")
    with pytest.raises(MissingWeightsError, match=r"2 wrong shapes \(e.g. logits.conv3d.bias\)") as e:
        load_i3d(tmp_path / "classes.pt")
    assert "\n" not in str(e.value)
    torch.save({"x": NotATensor()}, tmp_path / "code.pt")  # pickled objects are never unpickled
    with pytest.raises(MissingWeightsError, match="cannot read I3D weights") as e:
        load_i3d(tmp_path / "code.pt")
    assert "\n" not in str(e.value)


def test_missing_weights(empty_weights):
    with pytest.raises(MissingWeightsError, match=I3D_FILE) as e:
        load_i3d()
    assert str(empty_weights) in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(MissingWeightsError, match=I3D_FILE):
        DistributionMetrics(protocol="clips16")
    for names in (["fvd"], ["psnr", "kvd"]):
        with pytest.raises(MissingWeightsError, match=I3D_FILE):
            check_metrics(names)  # up front, before any encoding
    frames = moving_texture(32, 32, 32)
    with pytest.raises(MissingWeightsError, match=I3D_FILE):
        compute_metrics(frames, frames, ["fvd"])


def test_weights_found_in_the_weights_folder(empty_weights, i3d):
    torch.save(i3d.state_dict(), empty_weights / I3D_FILE)
    check_metrics(["fvd", "kvd"])
    x = clip_batch(1, seed=3)
    with torch.no_grad():
        torch.testing.assert_close(load_i3d()(x), i3d(x), rtol=1e-5, atol=1e-5)


def test_registry():
    for name in ("fvd", "kvd"):
        m = get_metric(name)
        assert m.kind == "dist" and m.lower_is_better and lower_is_better(name) and m.requires is not None


def test_clip_sampling():
    frames = np.arange(100, dtype=np.uint8)[:, None, None, None] * np.ones((1, 4, 6, 3), np.uint8)
    c = clips(frames)
    assert c.shape == (6, 16, 4, 6, 3)  # the last 4 frames are dropped
    assert (c[1] == frames[16:32]).all() and (c[5] == frames[80:96]).all()
    assert clips(frames, stride=8).shape[0] == 11
    assert clips(frames[:15]).shape == (0, 16, 4, 6, 3)


def test_preprocess_resizes_and_scales():
    x = torch.zeros((2, 3, 16, 36, 20), dtype=torch.uint8)
    x[1] = 255
    x[0, :, :, :, 10:] = 255
    y = preprocess_clips(x)
    assert y.shape == (2, 3, 16, 224, 224) and y.dtype == torch.float32
    assert y.min() == -1 and y.max() == 1
    assert y[1].eq(1).all() and y[0, :, :, :, :100].eq(-1).all() and y[0, :, :, :, 124:].eq(1).all()
    assert preprocess_clips(x, size=32).shape == (2, 3, 16, 32, 32)


def test_fvd_custom_feature_identical_vs_noisy():
    ref = moving_texture(96, 32, 48)
    feat = TinyClipFeature()
    same = compute_metrics(ref, ref, ["fvd", "kvd"], fid_feature=feat)
    assert set(feat.seen) == {(torch.uint8, (4, 3, 16, 32, 48)), (torch.uint8, (2, 3, 16, 32, 48))}  # 6 clips/side
    assert same["fvd"] == pytest.approx(0.0, abs=1e-4)
    diff = compute_metrics(ref, noisy(ref), ["fvd", "kvd"], fid_feature=TinyClipFeature())
    assert diff["fvd"] > same["fvd"] + 1e-3
    assert diff["kvd"] > same["kvd"]


def test_fvd_too_few_frames_is_nan():
    ref = moving_texture(20, 32, 32)  # one 16-frame clip per side
    with pytest.warns(UserWarning, match="FVD/KVD need at least 2 samples"):
        out = compute_metrics(ref, ref, ["fvd", "kvd"], fid_feature=TinyClipFeature())
    assert math.isnan(out["fvd"]) and math.isnan(out["kvd"])


def test_fvd_with_the_i3d_feature(i3d):
    """The real pipeline (uint8 clips → resize → I3D logits → Fréchet distance), at 32 px."""
    ref = moving_texture(48, 24, 40)
    feature = I3DFeature(i3d, size=32)
    assert feature.num_features == 400
    fvd = {}
    for sigma in (0, 10, 60):
        dm = DistributionMetrics(feature=feature, protocol="clips16", clip_stride=8)
        dm.update(ref, noisy(ref, sigma) if sigma else ref)
        assert len(dm.real[0]) == 5 and dm.real[0].shape[1] == 400  # clips at 0, 8, ..., 32
        fvd[sigma] = dm.compute()["fvd"]
    assert abs(fvd[0]) < 1e-4 * fvd[60]  # float round-off of 400-d covariances from 5 samples
    assert 0 < fvd[10] < fvd[60]
