"""Learned selectors: training steps, safetensors export/reload, use inside the codec, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from actdiff.codec import decode_video, encode_video
from actdiff.config import compose
from actdiff.errors import InputError, MissingWeightsError
from actdiff.registry import KEYFRAME_SELECTORS, TRACKERS, WEIGHT_MAPS
from actdiff.selection.learned import WEIGHT_MAP_ENV, LearnedWeightMap, weight_map_from_config
from actdiff.selection.learned.nets import ImportanceNet, KeyframeNet, load_net, save_net
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
    cfg = compose(f"experiment/{experiment}", [f"run_dir={tmp_path}/run", f"export={tmp_path}/w.safetensors",
                                                "data.batch_size=4", *DATA[experiment], *TINY])
    return run_fit(cfg, videos=_videos()), tmp_path / "w.safetensors"


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
    fresh = KeyframeNet(**module.net.config)
    assert any(not torch.equal(a, b) for a, b in zip(fresh.state_dict().values(), module.net.state_dict().values()))
    net = load_net(path, "keyframe_selector")
    x = torch.rand(3, 13, *net.feature_size)
    module.eval()
    assert torch.equal(net(x), module.net(x))


def test_trajectory_training_exports_identical_net(weight_map_weights):
    module, path = weight_map_weights
    assert isinstance(module, TrajectorySelectorModule) and module.global_step == 3
    net = load_net(path, "trajectory_selector")
    x = torch.rand(2, 3, 24, 32)
    module.eval()
    out = net(x)
    assert out.shape == (2, 1, 24, 32) and torch.equal(out, module.net(x))


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
    return save_net(net, tmp_path / f"const{logit}.safetensors", "keyframe_selector")


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
    for weights in (None, str(tmp_path / "absent.safetensors")):
        cfg = {"name": "learned", "weights": weights}
        with pytest.raises(MissingWeightsError) as e:
            KEYFRAME_SELECTORS.get("learned")(frames, None, cfg)
        assert "\n" not in str(e.value)
    with pytest.raises(MissingWeightsError):
        WEIGHT_MAPS.get("learned")(frames[0])
    with pytest.raises(MissingWeightsError):
        weight_map_from_config({"weight_map": "learned", "weight_map_weights": None})
    wrong = save_net(ImportanceNet(channels=(4, 4)), tmp_path / "wm.safetensors", "trajectory_selector")
    with pytest.raises(InputError, match="expected keyframe_selector"):
        KEYFRAME_SELECTORS.get("learned")(frames, None, {"weights": str(wrong)})


def test_export_command_writes_a_selector_checkpoint(keyframe_weights, tmp_path):
    from actdiff.commands import export

    module, path = keyframe_weights
    out = tmp_path / "from_ckpt.safetensors"
    assert export.main([str(path.parent / "run" / "checkpoints" / "last.ckpt"), "-o", str(out)]) == 0
    x = torch.rand(2, 13, *module.net.feature_size)
    assert torch.equal(load_net(out, "keyframe_selector")(x), load_net(path, "keyframe_selector")(x))
