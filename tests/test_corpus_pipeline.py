"""The training data pipeline (issue 14) on synthetic clips and small files, never the corpus:
split by file, augmentation before encoding, cache key, size limit, missing folder, DDP shards,
the window (video) items."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch.utils.data import DistributedSampler

from actdiff.codec import decode_segments, encode_video
from actdiff.conditioning import NUM_CHANNELS, build_conditions, channel_slice
from actdiff.config import compose
from actdiff.errors import ConfigError, InputError
from actdiff.io import write_video
from actdiff.training.corpus import split_by_file
from actdiff.training.datamodule import VideoClipDataModule, cache_key
from actdiff.training.synthetic import moving_texture, synthetic_segment_source, synthetic_video
from actdiff.types import Video


def cfg_for(tmp_path, *over):
    return compose("experiment/train_test", [f"run_dir={tmp_path}/run", f"data.cache_dir={tmp_path}/cache", *over])


def clip_folder(tmp_path, n=5):
    root = tmp_path / "clips"
    root.mkdir()
    for i in range(n):
        write_video(root / f"clip{i}.mp4", moving_texture(10, 48, 64, seed=i), 25, codec="x264")
    return root


# ------------------------------------------------------------------------------------- split

def test_split_is_by_file_deterministic_and_order_free():
    names = [f"clip{i:02d}.mp4" for i in range(20)]
    train, val = split_by_file(names, 4, seed=0)
    assert len(val) == 4 and not set(train) & set(val) and sorted(train + val) == names
    assert split_by_file(list(reversed(names)), 4, seed=0) == (train, val)       # order does not matter
    assert split_by_file(names, 0.2, seed=0)[1] == val                          # fraction = count 4
    assert split_by_file(names, 4, seed=1)[1] != val                            # the seed picks the files
    assert len(set(split_by_file(names + ["new.mp4"], 4, seed=0)[1]) & set(val)) >= 3  # a new file moves <= 1
    assert split_by_file(names, ["clip03.mp4"])[1] == ["clip03.mp4"]
    assert split_by_file(["a", "b"], 5)[1] and len(split_by_file(["a", "b"], 5)[0]) == 1


def test_datamodule_splits_files_and_records_the_split(tmp_path):
    root = clip_folder(tmp_path)
    cfg = cfg_for(tmp_path, f"data.sources=[{root},{root}/clip1.mp4]", "data.val_videos=2",
                  "data.windows_per_video=2", "data.val_windows_per_video=1")
    dm = VideoClipDataModule(cfg.data, cfg.codec, segment_source=synthetic_segment_source)
    dm.setup()
    rec = dm.split_record()
    assert len(rec["train"]) == 3 and len(rec["val"]) == 2 and not set(rec["train"]) & set(rec["val"])
    clips_of = {split: {e["clip"] for e in ds.entries} for split, ds in (("train", dm.train_set), ("val", dm.val_set))}
    assert clips_of == {"train": set(rec["train"]), "val": set(rec["val"])}
    assert len(dm.train_set.entries) == 6 and len(dm.val_set.entries) == 2
    again = VideoClipDataModule(cfg.data, cfg.codec, segment_source=synthetic_segment_source)
    assert again.split_record() == rec


def test_fit_writes_the_split_into_the_run_config(tmp_path):
    from actdiff.training.fit import run_fit

    cfg = cfg_for(tmp_path, "logger=none", "train.val_sample_frames=0")
    vids = [synthetic_video(12, 48, 64, seed=i) for i in range(3)]
    run_fit(cfg, videos=vids, segment_source=synthetic_segment_source)
    saved = OmegaConf.load(tmp_path / "run" / "config.yaml")
    assert sorted(saved.data.resolved_split.train + saved.data.resolved_split.val) == \
        ["synthetic0", "synthetic1", "synthetic2"] and len(saved.data.resolved_split.val) == 1


# ------------------------------------------------------------------------ missing corpus

def test_missing_corpus_folder_is_a_one_line_error(tmp_path, capsys):
    from actdiff.commands import fit as fit_cmd

    cfg = compose("experiment/train_corpus_cpu", [f"data.root={tmp_path}/nowhere", f"data.cache_dir={tmp_path}/c"])
    with pytest.raises(InputError, match="nowhere") as e:
        VideoClipDataModule(cfg.data, cfg.codec).setup()
    assert "\n" not in str(e.value) and "data.root" in str(e.value)
    assert fit_cmd.main(["--config", "experiment/train_corpus_cpu", f"data.root={tmp_path}/nowhere",
                         f"run_dir={tmp_path}/run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: dataset train_clips: folder") and f"{tmp_path}/nowhere" in err[-1]


def test_corpus_description_reads_in_place(tmp_path, monkeypatch):
    from actdiff.config import config_root
    from actdiff.data import load_dataset

    raw = (config_root() / "data" / "train_clips.yaml").read_text()
    assert "root: ${oc.env:ACTDIFF_TRAIN_CLIPS,../shared/data/train_clips}" in raw
    root = clip_folder(tmp_path, 2)
    (root / "MANIFEST.csv").write_text("file\n")
    assert [s.name for s in load_dataset("train_clips", root=root)] == ["clip0", "clip1"]
    cfg = compose("experiment/train_corpus_cpu", [f"data.root={root}", "data.val_videos=1"])
    assert VideoClipDataModule(cfg.data, cfg.codec).split_record()["val"] in (["clip0.mp4"], ["clip1.mp4"])
    monkeypatch.setenv("ACTDIFF_TRAIN_CLIPS", str(root))
    assert len(load_dataset("train_clips")) == 2


# ------------------------------------------------------------------------ augmentation

def _expected(video: Video, entry: dict, cfg) -> tuple[np.ndarray, list]:
    """The augmented frames made by hand, and what the real codec decodes for them."""
    plan = entry["plan"]
    frames = video.frames[plan["start"]:plan["start"] + plan["length"]]
    if plan["flip"]:
        frames = frames[:, :, ::-1]
    if plan["reverse"]:
        frames = frames[::-1]
    frames = np.ascontiguousarray(frames)
    codec = OmegaConf.merge(cfg.codec, {"keyframe_codec": {"quality": plan["quality"]}})
    return frames, decode_segments(encode_video(Video(frames, video.fps), codec).data)[1]


def _flip_after_the_fact(cond: np.ndarray) -> np.ndarray:
    out = cond[..., ::-1].copy()
    for name in ("disp", "ident"):
        out[channel_slice(name).start] *= -1
    return out


@pytest.mark.parametrize("flip,reverse", [(1.0, 0.0), (0.0, 1.0)])
def test_augmentation_is_applied_before_the_real_codec(tmp_path, flip, reverse):
    """A flipped / reversed window carries the conditions of the codec run on the flipped /
    reversed video and the flipped / reversed targets; conditions flipped after encoding differ."""
    video = Video(moving_texture(10, 48, 64, seed=3, speed=2.0), 25.0, "tex")
    cfg = cfg_for(tmp_path, "data.window_frames=10", "data.val_videos=0", "data.frames_per_window=null",
                  "data.crop=null", f"+data.augment={{flip: {flip}, reverse: {reverse}}}")
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=[video])
    dm.setup()
    entry = dm.train_set.entries[0]
    assert entry["plan"]["flip"] == bool(flip) and entry["plan"]["reverse"] == bool(reverse)
    frames, segs = _expected(video, entry, cfg)
    assert entry["spans"] == [[s.segment.start, s.segment.end] for s in segs]
    plain, _ = _expected(video, {**entry, "plan": {**entry["plan"], "flip": False, "reverse": False}}, cfg)
    assert not np.array_equal(frames, plain)
    for i in range(len(dm.train_set)):
        _, s, t = dm.train_set.key(i)
        item = dm.train_set[i]
        seg = segs[s]
        want = build_conditions(seg, t)
        assert np.array_equal(item["cond"].numpy(), want)
        target = frames[seg.segment.start + t].astype(np.float32).transpose(2, 0, 1) / 127.5 - 1
        assert np.allclose(item["target"].numpy(), target)
    if flip:  # the codec is not flip-equivariant: conditions flipped after encoding would be caught
        _, unflipped = _expected(video, {**entry, "plan": {**entry["plan"], "flip": False}}, cfg)
        if [[u.segment.start, u.segment.end] for u in unflipped] == entry["spans"]:
            _, s, t = dm.train_set.key(0)
            late = _flip_after_the_fact(build_conditions(unflipped[s], t))
            assert not np.allclose(late, dm.train_set[0]["cond"].numpy())


def test_random_crop_and_scale_happen_before_encoding(tmp_path):
    video = Video(moving_texture(8, 96, 128, seed=1), 25.0, "big")
    cfg = cfg_for(tmp_path, "data.val_videos=0", "+data.augment={scale: [0.5, 0.5]}", "data.size=[48,64]")
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=[video], segment_source=synthetic_segment_source)
    dm.setup()
    plan = dm.train_set.entries[0]["plan"]
    assert plan["box"][2:] == [48, 64] and plan["size"] == [48, 64]  # half the view, never up-scaled
    rec = dm.train_set.records(dm.train_set.entries[0]["name"])
    y, x = plan["box"][:2]
    assert np.array_equal(rec.frames[0], video.frames[plan["start"], y:y + 48, x:x + 64])


class ThreadCounts(torch.utils.data.Dataset):
    """What a loader worker runs with: ``[OpenCV threads, torch threads]`` (module level: picklable)."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> torch.Tensor:
        import cv2

        return torch.tensor([cv2.getNumThreads(), torch.get_num_threads()])


def test_loader_workers_start_with_one_opencv_and_torch_thread(tmp_path):
    """Spawned workers (the default) get one thread each; the parent has used OpenCV's pool with two
    threads, after which ``cv2.setNumThreads`` in a forked worker would hang."""
    import cv2

    a = np.random.default_rng(0).random((512, 512)).astype(np.float32)
    before = cv2.getNumThreads()
    cv2.setNumThreads(2)
    try:
        cv2.GaussianBlur(a, (0, 0), 5)
        _check_worker_threads(tmp_path)
    finally:
        cv2.setNumThreads(before)


def _check_worker_threads(tmp_path) -> None:
    cfg = cfg_for(tmp_path, "data.num_workers=1")
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=[synthetic_video()], segment_source=synthetic_segment_source)
    assert dm.worker_start == "spawn"
    loader = dm._loader(ThreadCounts(), shuffle=False)
    assert next(iter(loader)).tolist()[0] == [1, 1]
    fork = cfg_for(tmp_path, "data.num_workers=1", "+data.worker_start=fork")
    dm = VideoClipDataModule(fork.data, fork.codec, videos=[synthetic_video()], segment_source=synthetic_segment_source)
    assert next(iter(dm._loader(ThreadCounts(), shuffle=False))).tolist()[0][0] == 2  # inherited, no init
    with pytest.raises(ConfigError, match="data.worker_start 'thread'"):
        bad = cfg_for(tmp_path, "+data.worker_start=thread")
        VideoClipDataModule(bad.data, bad.codec, videos=[synthetic_video()])


# --------------------------------------------------------------------- cache: key, limit, resume

def test_cache_key_follows_codec_config_and_window_settings(tmp_path):
    base = cfg_for(tmp_path)
    key = cache_key(base.codec, base.data)
    for over in ("codec.trajectories.budget_points=7", "codec.keyframes.max_gop=9", "data.window_frames=6",
                 "data.quality_range=[10,12]", "data.size=[32,48]", "+data.augment={flip: 0.5}"):
        c = cfg_for(tmp_path, over)
        assert cache_key(c.codec, c.data) != key, over
    for over in ("data.batch_size=7", "data.crop=[16,16]", "data.windows_per_video=9", "data.val_videos=0",
                 "data.num_workers=2", "+data.worker_start=fork", "data.frames_per_window=1"):
        c = cfg_for(tmp_path, over)
        assert cache_key(c.codec, c.data) == key, over
    src = synthetic_segment_source
    a = VideoClipDataModule(base.data, base.codec, videos=[synthetic_video()], segment_source=src)
    other = cfg_for(tmp_path, "codec.trajectories.budget_points=7")
    b = VideoClipDataModule(other.data, other.codec, videos=[synthetic_video()], segment_source=src)
    assert a.cache != b.cache


def test_cache_size_limit_is_a_clear_error(tmp_path):
    cfg = cfg_for(tmp_path, "+data.cache_max_gb=0.00001", "data.windows_per_video=4")
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=[synthetic_video(seed=i) for i in range(2)],
                             segment_source=synthetic_segment_source)
    with pytest.raises(InputError, match="data.cache_max_gb=1e-05") as e:
        dm.setup()
    assert "\n" not in str(e.value) and "data.cache_dir" in str(e.value)
    assert not list((tmp_path / "cache").rglob("*.npz"))  # refused before encoding anything
    ok = cfg_for(tmp_path, "+data.cache_max_gb=1", "data.windows_per_video=4")
    VideoClipDataModule(ok.data, ok.codec, videos=[synthetic_video(seed=i) for i in range(2)],
                        segment_source=synthetic_segment_source).setup()


def test_a_killed_cache_build_resumes_where_it_stopped(tmp_path, capsys):
    cfg = cfg_for(tmp_path, "data.windows_per_video=3", "data.val_videos=0")
    vids = [synthetic_video(seed=i) for i in range(2)]
    calls = []

    def dying(video, codec_cfg):
        if len(calls) == 4:
            raise KeyboardInterrupt
        calls.append(1)
        return synthetic_segment_source(video, codec_cfg)

    dying.__qualname__ = "synthetic_segment_source"  # same cache key as the source below
    with pytest.raises(KeyboardInterrupt):
        VideoClipDataModule(cfg.data, cfg.codec, videos=vids, segment_source=dying).setup()

    def counting(video, codec_cfg):
        calls.append(1)
        return synthetic_segment_source(video, codec_cfg)

    counting.__qualname__ = "synthetic_segment_source"
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=vids, segment_source=counting)
    dm.setup()
    assert len(calls) == 6 and len(dm.train_set.entries) == 6
    assert "%|" not in capsys.readouterr().err  # no progress bar when stderr is not a terminal


# ----------------------------------------------------------------------------------- DDP

def test_two_ranks_get_disjoint_shards_of_the_same_items(tmp_path, monkeypatch):
    cfg = cfg_for(tmp_path, "data.windows_per_video=3", "data.val_videos=0", "data.frames_per_window=null")
    vids = [synthetic_video(seed=i) for i in range(3)]
    rank0 = VideoClipDataModule(cfg.data, cfg.codec, videos=vids, segment_source=synthetic_segment_source)
    monkeypatch.setenv("LOCAL_RANK", "1")
    early = VideoClipDataModule(OmegaConf.merge(cfg.data, {"cache_wait_s": 0.1}), cfg.codec, videos=vids,
                                segment_source=synthetic_segment_source)
    with pytest.raises(InputError, match="local rank 0"):
        early.setup()  # rank 1 never builds: it waits for rank 0's manifest
    monkeypatch.setenv("LOCAL_RANK", "0")
    rank0.setup()
    monkeypatch.setenv("LOCAL_RANK", "1")
    rank1 = VideoClipDataModule(cfg.data, cfg.codec, videos=vids, segment_source=synthetic_segment_source)
    rank1.setup()
    n = len(rank0.train_set)
    assert n == len(rank1.train_set) and [rank0.train_set.key(i) for i in range(n)] == \
        [rank1.train_set.key(i) for i in range(n)]
    samplers = [DistributedSampler(ds.train_set, num_replicas=2, rank=r, shuffle=True, seed=0)
                for r, ds in enumerate((rank0, rank1))]
    shards = [{ds.train_set.key(i) for i in sampler} for sampler, ds in zip(samplers, (rank0, rank1))]
    # disjoint, all items covered (the sampler pads an odd count by repeating one item)
    assert len(shards[0] & shards[1]) == n % 2 and len(shards[0] | shards[1]) == n
    assert {k[0].split("-")[0] for k in shards[0]} == {"synthetic0", "synthetic1", "synthetic2"}


# ------------------------------------------------------------------------- video windows

def test_window_items_are_consecutive_frames_of_one_segment(tmp_path):
    cfg = cfg_for(tmp_path, "data.val_videos=1", "data.window_frames=12", "+data.item=windows",
                  "+data.clip_frames=3", "+data.clip_stride=2")
    vids = [synthetic_video(12, 48, 64, seed=i) for i in range(2)]
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=vids, segment_source=synthetic_segment_source)
    dm.setup()
    item = dm.val_set[1]
    assert item["target"].shape == (3, 3, 32, 48) and item["cond"].shape == (3, NUM_CHANNELS, 32, 48)
    name, s, t0 = dm.val_set.key(1)
    assert item["frames"].tolist() == [t0, t0 + 1, t0 + 2] and t0 + 2 < int(item["length"])
    rec = dm.val_set.records(name)
    seg = rec.segments[s]
    y, x = (48 - 32) // 2, (64 - 48) // 2
    for i, t in enumerate(item["frames"].tolist()):
        assert np.array_equal(item["cond"][i].numpy(), build_conditions(seg, t)[:, y:y + 32, x:x + 48])
        assert torch.allclose(item["cond"][i, channel_slice("tau")], torch.tensor(t / (seg.segment.length - 1)))
        want = rec.frames[seg.segment.start + t, y:y + 32, x:x + 48].astype(np.float32) / 127.5 - 1
        assert np.allclose(item["target"][i].permute(1, 2, 0).numpy(), want)
    batch = next(iter(dm.train_dataloader()))
    assert batch["cond"].shape == (2, 3, NUM_CHANNELS, 32, 48) and batch["frames"].shape == (2, 3)


def test_rate_points_are_drawn_per_window(tmp_path):
    cfg = cfg_for(tmp_path, "+data.rate_points=[r1,r3]", "data.windows_per_video=6", "data.val_windows_per_video=2")
    seen = []

    def source(video, codec_cfg):
        c = codec_cfg
        seen.append((c.keyframe_codec.quality, c.trajectories.budget_points, c.keyframes.max_gop))
        return synthetic_segment_source(video, codec_cfg)

    vids = [synthetic_video(seed=i) for i in range(2)]
    dm = VideoClipDataModule(cfg.data, cfg.codec, videos=vids, segment_source=source)
    dm.setup()
    assert set(seen) == {(12, 24, 64), (32, 48, 32)}  # the points' quality, budget and longest GOP
    assert {e["plan"]["rate"] for e in dm.val_set.entries} == {"r1", "r3"}  # validation: in turn
    plain = cfg_for(tmp_path)
    assert cache_key(cfg.codec, cfg.data) != cache_key(plain.codec, plain.data)


def test_fit_can_start_from_exported_weights(tmp_path):
    from actdiff.errors import ConfigError
    from actdiff.models import ControlledDenoiser, build_model
    from actdiff.training.fit import run_fit

    cfg = cfg_for(tmp_path, "logger=none", "train.val_sample_frames=0", "optim.lr=0", "trainer.max_steps=1")
    start = build_model(cfg.model)
    torch.nn.init.normal_(next(iter(start.trainable_parameters())), 0.0, 0.3)
    start.save_pretrained(str(tmp_path / "start"))
    cfg = OmegaConf.merge(cfg, {"init_weights": str(tmp_path / "start"), "export": str(tmp_path / "out")})
    run_fit(cfg, videos=[synthetic_video(seed=i) for i in range(2)], segment_source=synthetic_segment_source)
    out = ControlledDenoiser.from_pretrained(str(tmp_path / "out"))
    for (n, a), (_, b) in zip(out.state_dict().items(), start.state_dict().items()):
        assert torch.equal(a, b), n  # lr 0: the exported EMA weights are the initial ones
    other = compose("experiment/train_test", [f"run_dir={tmp_path}/r2", "model=tiny"])
    from actdiff.training.module import ConditionalDenoiser

    with pytest.raises(ConfigError, match="architecture"):
        ConditionalDenoiser(OmegaConf.to_container(other.model), {}).load_initial_weights(tmp_path / "start")


def test_selector_data_holds_out_the_same_files(tmp_path, caplog):
    from actdiff.training.selectors import TrajectorySelectorData

    cfg = compose("experiment/train_trajectory_selector", ["data.window=6", "data.window_every=3",
                                                            "data.val_videos=1", "data.split_seed=3"])
    vids = [Video(synthetic_video(10 + 3 * i, 48, 64, seed=i).frames, 25.0, f"/x/clip{i}.mp4") for i in range(3)]
    dm = TrajectorySelectorData(cfg.data, cfg.codec, videos=vids)
    with caplog.at_level(logging.INFO, logger="actdiff.training"):
        dm.setup()
    progress = [r.getMessage() for r in caplog.records if r.getMessage().startswith("samples ")]
    assert [m.split(":")[0] for m in progress] == ["samples 1/3", "samples 2/3", "samples 3/3"]
    held = split_by_file([f"clip{i}.mp4" for i in range(3)], 1, seed=3)[1]
    per_video = {f"clip{i}.mp4": len(dm.samples(v)[0]) for i, v in enumerate(vids)}
    assert len(dm.val_set) == per_video[held[0]] and len(dm.train_set) == sum(per_video.values()) - per_video[held[0]]
