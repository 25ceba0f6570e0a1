"""Learned selectors: training steps, save_pretrained export/reload, shipped weights, use inside the codec, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.errors import ConfigError, InputError, MissingWeightsError
from actdiff.registry import KEYFRAME_SELECTORS, TRACKERS, WEIGHT_MAPS
from actdiff.selection.learned import WEIGHT_MAP_ENV, LearnedWeightMap, weight_map_from_config
from actdiff.selection.learned.nets import ImportanceNet, KeyframeNet, load_selector
from actdiff.selection.segments import heuristic_frame_test, select_adaptive
from actdiff.training.fit import run_fit
from actdiff.training.selectors import KeyframeSelectorModule, TrajectorySelectorModule, keyframe_samples
from actdiff.training.synthetic import synthetic_video
from actdiff.types import Video

TINY = ["trainer.max_steps=3", "trainer.val_check_interval=3", "trainer.checkpoint_every=3",
        "trainer.log_every_n_steps=1", "trainer.progress_bar=false", "logger=none"]


def _videos():
    a = synthetic_video(14, 48, 64, seed=1)
    b = synthetic_video(14, 48, 64, seed=2)  # a different texture: a hard cut at frame 7
    return [Video(np.concatenate([a.frames[:7], b.frames[7:]]), 25.0, "cut")]


DATA = {"train_keyframe_selector": ["data.starts_every=2", "data.horizon=6"],
        "train_trajectory_selector": ["data.window=6", "data.window_every=3"]}


def _fit(tmp_path, experiment):
    cfg = compose(f"experiment/{experiment}", [f"run_dir={tmp_path}/run", f"export={tmp_path}/w",
                                                "data.batch_size=4", *DATA[experiment], *TINY])
    return run_fit(cfg, videos=_videos()), tmp_path / "w"


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    """Bitwise-equal state dicts (same keys, same values)."""
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def keyframe_weights(tmp_path_factory):
    torch.manual_seed(0)
    return _fit(tmp_path_factory.mktemp("kf"), "train_keyframe_selector")


@pytest.fixture(scope="module")
def weight_map_weights(tmp_path_factory):
    torch.manual_seed(0)
    return _fit(tmp_path_factory.mktemp("wm"), "train_trajectory_selector")


def test_keyframe_training_exports_identical_net(keyframe_weights):
    module, path = keyframe_weights
    assert isinstance(module, KeyframeSelectorModule) and module.global_step == 3
    assert (path / "config.json").is_file() and (path / "diffusion_pytorch_model.safetensors").is_file()
    fresh = KeyframeNet.from_config(module.net.config)
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), module.net.state_dict().values()))
    net = load_selector(path, "keyframe_selector")
    assert isinstance(net, KeyframeNet) and not net.training and net.feature_size == module.net.feature_size
    assert _same_weights(net, module.net)
    x = torch.rand(3, 13, *net.feature_size)
    module.eval()  # same weights; two module objects may differ by an ulp in CPU conv kernels
    assert torch.allclose(net(x), module.net(x), rtol=1e-5, atol=1e-6)


def test_trajectory_training_exports_identical_net(weight_map_weights):
    module, path = weight_map_weights
    assert isinstance(module, TrajectorySelectorModule) and module.global_step == 3
    net = load_selector(path, "trajectory_selector")
    x = torch.rand(2, 3, 24, 32)
    module.eval()
    out = net(x)
    assert _same_weights(net, module.net)
    assert out.shape == (2, 1, 24, 32) and torch.allclose(out, module.net(x), rtol=1e-5, atol=1e-6)


def test_keyframe_labels_follow_the_heuristic(codec_cfg):
    video = _videos()[0]
    x, y, starts = keyframe_samples(video, codec_cfg.codec, {"starts_every": 2, "horizon": 6}, (16, 24))
    assert x.shape[1:] == (13, 16, 24) and len(x) == len(y) == len(starts)
    assert 0 < y.mean() < 1  # passes inside a shot, fails across the cut
    crossing = np.array([s < 7 <= s + 6 for s in starts])
    assert y[~crossing].mean() > y[crossing].mean()


def test_adaptive_with_explicit_heuristic_test_is_unchanged(codec_cfg):
    frames = _videos()[0].frames
    tracker = TRACKERS.build("dis", preset="ultrafast")
    flows = tracker.pairwise_flows(frames)
    k = codec_cfg.codec.keyframes
    explicit = select_adaptive(frames, tracker, k, flows, heuristic_frame_test(k))
    assert select_adaptive(frames, tracker, k, flows) == explicit


def _constant_keyframe_net(tmp_path, logit: float):
    net = KeyframeNet(channels=(4,), feature_size=(8, 12))
    with torch.no_grad():
        net.head.weight.zero_()
        net.head.bias.fill_(logit)
    net.save_pretrained(str(tmp_path / f"const{logit}"))
    return tmp_path / f"const{logit}"


@pytest.mark.parametrize("logit,verdict", [(8.0, True), (-8.0, False)])
def test_learned_keyframes_grow_segments_like_adaptive(tmp_path, codec_cfg, logit, verdict):
    frames = synthetic_video(20, 48, 64, seed=3).frames
    tracker = TRACKERS.build("dis", preset="ultrafast")
    flows = tracker.pairwise_flows(frames)
    weights = _constant_keyframe_net(tmp_path, logit)
    cfg = compose(None, ["codec.keyframes.name=learned", f"codec.keyframes.weights={weights}",
                         "codec.keyframes.max_gop=8"]).codec.keyframes
    got = KEYFRAME_SELECTORS.get("learned")(frames, tracker, cfg, flows=flows)
    assert got == select_adaptive(frames, tracker, cfg, flows, frame_test=lambda *a: verdict)
    assert all(s.length == (8 if verdict else 2) for s in got[:-1])


@pytest.mark.parametrize("via", ["config", "env"])
def test_encode_decode_with_learned_selectors(keyframe_weights, weight_map_weights, monkeypatch, via):
    monkeypatch.delenv(WEIGHT_MAP_ENV, raising=False)
    over = [f"codec.trajectories.weight_map_weights={weight_map_weights[1]}"]
    if via == "env":
        monkeypatch.setenv(WEIGHT_MAP_ENV, str(weight_map_weights[1]))
        over = []
    video = synthetic_video(10, 48, 64, seed=4)
    cfg = compose(None, ["codec.keyframes.name=learned", f"codec.keyframes.weights={keyframe_weights[1]}",
                         "codec.trajectories.weight_map=learned", "codec.trajectories.budget_points=8",
                         "codec.tracker.preset=ultrafast", *over])
    enc = encode_video(video, cfg)
    rec = decode_video(enc.data, "warp")
    assert rec.frames.shape == video.frames.shape and enc.stats["bpp"] > 0
    assert enc.stats["segments"][0][0] == 0 and enc.stats["segments"][-1][1] == 9


def test_learned_weight_map_shape_range_and_config(weight_map_weights):
    frame = synthetic_video(1, 50, 70, seed=5).frames[0]
    m = LearnedWeightMap(weight_map_weights[1])(frame)
    assert m.shape == (50, 70) and m.dtype == np.float32 and 0 <= m.min() and m.max() <= 1
    fn = weight_map_from_config({"weight_map": "learned", "weight_map_weights": str(weight_map_weights[1])})
    assert np.array_equal(fn(frame), m)
    assert weight_map_from_config({"weight_map": "sobel"}) is WEIGHT_MAPS.get("sobel")


def test_missing_weights_are_one_line_errors(tmp_path, monkeypatch):
    frames = synthetic_video(6, 48, 64).frames
    monkeypatch.delenv(WEIGHT_MAP_ENV, raising=False)
    for weights in (None, str(tmp_path / "absent")):
        cfg = {"name": "learned", "weights": weights}
        with pytest.raises(MissingWeightsError) as e:
            KEYFRAME_SELECTORS.get("learned")(frames, None, cfg)
        assert "\n" not in str(e.value)
    with pytest.raises(MissingWeightsError):
        WEIGHT_MAPS.get("learned")(frames[0])
    with pytest.raises(MissingWeightsError):
        weight_map_from_config({"weight_map": "learned", "weight_map_weights": None})
    wrong = tmp_path / "wm"
    ImportanceNet(channels=(4, 4)).save_pretrained(str(wrong))
    with pytest.raises(InputError, match=r"holds ImportanceNet \(trajectory_selector\) weights, expected KeyframeNet"):
        KEYFRAME_SELECTORS.get("learned")(frames, None, {"weights": str(wrong)})
    (wrong / "diffusion_pytorch_model.safetensors").unlink()  # an incomplete folder names the missing file
    with pytest.raises(MissingWeightsError, match="diffusion_pytorch_model.safetensors is missing") as e:
        weight_map_from_config({"weight_map": "learned", "weight_map_weights": str(wrong)})
    assert "\n" not in str(e.value) and "actdiff export" in str(e.value)


def test_old_single_file_weights_name_their_converter(tmp_path):
    from safetensors.torch import save_file

    old = tmp_path / "keyframe.safetensors"  # the format before the save_pretrained folders
    net = KeyframeNet(channels=(4,), feature_size=(8, 12))
    save_file(net.state_dict(), str(old), metadata={"kind": "keyframe_selector", "config": json.dumps(
        {"in_channels": 13, "channels": [4], "feature_size": [8, 12]})})
    with pytest.raises(InputError, match="convert_selector_weights.py") as e:
        KEYFRAME_SELECTORS.get("learned")(synthetic_video(4, 48, 64).frames, None, {"weights": str(old)})
    assert "\n" not in str(e.value) and "is a file, not a keyframe_selector weights folder" in str(e.value)


def test_mismatched_weights_are_an_input_error(tmp_path):
    folder = tmp_path / "k"
    KeyframeNet(channels=(4,), feature_size=(8, 12)).save_pretrained(str(folder))
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "channels": [6]}))
    with pytest.raises(InputError, match="do not match"):
        load_selector(folder, "keyframe_selector")


GOLDEN = json.loads((Path(__file__).parent / "golden" / "learned_selectors.json").read_text())


def test_shipped_weights_give_the_outputs_of_the_single_files_they_were_converted_from():
    """Golden outputs computed with the pre-conversion loader (tests/golden/learned_selectors.json)."""
    from actdiff.selection.learned import load_cached

    shipped = Path(__file__).resolve().parent.parent / "actdiff" / "assets" / "weights" / "selectors"
    kf, tr = load_cached(shipped / "keyframe", "keyframe_selector"), load_cached(shipped / "trajectory",
                                                                                "trajectory_selector")
    assert load_cached(shipped / "keyframe", "keyframe_selector") is kf  # loaded once
    assert {k: kf.config[k] for k in GOLDEN["keyframe_config"]} == GOLDEN["keyframe_config"]
    assert {k: tr.config[k] for k in GOLDEN["trajectory_config"]} == GOLDEN["trajectory_config"]
    g = torch.Generator().manual_seed(0)
    xk, xi = torch.rand(4, 13, 64, 96, generator=g), torch.rand(2, 3, 48, 64, generator=g)
    with torch.no_grad():
        lk, li = kf(xk), tr(xi)
    np.testing.assert_allclose(lk.numpy(), GOLDEN["keyframe_logits"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(li[:, 0, ::8, ::8].numpy(), GOLDEN["trajectory_logits_every_8th"], rtol=1e-5, atol=1e-5)
    assert abs(float(li.mean()) - GOLDEN["trajectory_logits_mean"]) < 1e-5


def test_selector_export_is_a_folder(tmp_path):
    from actdiff.training.selectors import export_selector

    with pytest.raises(ConfigError, match="folder"):
        export_selector(TrajectorySelectorModule({"channels": [4, 4]}), tmp_path / "w.safetensors")
    cfg = compose("experiment/train_keyframe_selector", [f"run_dir={tmp_path}/run", f"export={tmp_path}/w.safetensors"])
    with pytest.raises(ConfigError, match="folder"):
        run_fit(cfg, videos=_videos())


def test_export_command_writes_a_selector_checkpoint(keyframe_weights, tmp_path):
    from actdiff.commands import export

    module, path = keyframe_weights
    ckpt = path.parent / "run" / "checkpoints" / "last.ckpt"
    torch.load(str(ckpt), map_location="cpu", weights_only=True)  # tensors and plain containers only
    out = tmp_path / "from_ckpt"
    assert export.main([str(ckpt), "-o", str(out)]) == 0
    x = torch.rand(2, 13, *module.net.feature_size)
    assert torch.equal(load_selector(out, "keyframe_selector")(x), load_selector(path, "keyframe_selector")(x))


@pytest.mark.parametrize("over,words", [("data.starts_every=0", "data.starts_every must be a whole number"),
                                        ("data.val_every=0", "data.val_every must be a whole number"),
                                        ("data.label=bogus", "unknown data.label 'bogus'"),
                                        ("data.window_every=0", "data.window_every must be a whole number"),
                                        ("data.window=2", r"data.window must be a whole number in \[3, inf\]")])
def test_selector_fit_refuses_bad_data_settings_before_the_run_folder(tmp_path, over, words):
    """``starts_every``/``val_every``/``window_every`` 0 were silently taken as 1, a bad label or
    window was refused only after the first clip's flows, with the run folder already made."""
    config = "trajectory" if over.startswith("data.window") else "keyframe"
    cfg = compose(f"experiment/train_{config}_selector", [f"run_dir={tmp_path / 'run'}", over])
    with pytest.raises(ConfigError, match=words):
        run_fit(cfg, videos=[synthetic_video(6, 48, 64)])
    assert not (tmp_path / "run").exists()
