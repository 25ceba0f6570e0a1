"""The clip's pairwise flows beyond the memory allowed go to a temporary file: same stream, said
in the log; a disk too small for them is one line before any flow is computed."""

from __future__ import annotations

import errno
import logging

import numpy as np
import pytest
from conftest import moving_texture

from actdiff.codec import encode_video
from actdiff.commands import encode
from actdiff.config import compose
from actdiff.errors import ConfigError
from actdiff.io import memory, write_video
from actdiff.tracking import flow_memory
from actdiff.types import Video


def test_flows_over_the_limit_are_memory_mapped_and_said(caplog):
    with caplog.at_level(logging.WARNING):
        fw, bw = flow_memory.flow_buffers(3, 8, 12, memory_gb=0)
    assert isinstance(fw, np.memmap) and isinstance(bw, np.memmap)
    assert fw.shape == bw.shape == (3, 8, 12, 2) and fw.dtype == np.float32
    fw[:] = 1.5
    bw[:] = -2.0
    assert float(fw.sum()) == 1.5 * fw.size and float(bw.sum()) == -2.0 * bw.size  # two distinct buffers
    assert "kept in a temporary file" in caplog.text and "codec.tracker.flow_memory_gb" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        fw, _ = flow_memory.flow_buffers(3, 8, 12)  # default: half the memory available
    assert not isinstance(fw, np.memmap) and not caplog.text
    assert memory.available_memory() is None or memory.available_memory() > 0


def test_the_stream_is_the_same_with_the_flows_in_a_file(caplog):
    video = Video(moving_texture(10, 64, 96), 25.0)
    in_memory = encode_video(video, compose(None, []))
    with caplog.at_level(logging.WARNING):
        in_file = encode_video(video, compose(None, ["codec.tracker.flow_memory_gb=0"]))
    assert "kept in a temporary file" in caplog.text
    assert in_file.data == in_memory.data


def test_a_disk_too_small_is_one_line_before_any_flow(tmp_path, capsys, monkeypatch):
    src = tmp_path / "clip.y4m"
    write_video(src, moving_texture(6, 64, 96), fps=25)

    def no_space(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(flow_memory.os, "posix_fallocate", no_space)
    out = tmp_path / "o.adv"
    assert encode.main([str(src), "-o", str(out), "codec.tracker.flow_memory_gb=0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "--frames" in err[0], err
    assert not out.exists()


def test_the_limit_is_checked():
    from actdiff.codec.schema import check_codec_config

    with pytest.raises(ConfigError, match="flow_memory_gb"):
        check_codec_config(compose(None, ["codec.tracker.flow_memory_gb=-1"]))


def test_colour_histograms_count_each_frame_s_joint_colours():
    """Computed one frame at a time (whole-clip int64 temporaries were the encoder's peak)."""
    from actdiff.selection.segments import HIST_BINS, colour_histograms, histogram_distances

    frames = np.random.default_rng(0).integers(0, 256, (3, 16, 24, 3), dtype=np.uint8)
    frames[2] = 255 - frames[1]
    edges = [np.arange(HIST_BINS + 1) * 256 / HIST_BINS] * 3
    ref = np.stack([np.histogramdd(f.reshape(-1, 3), bins=edges)[0].ravel() / (16 * 24) for f in frames])
    np.testing.assert_allclose(colour_histograms(frames), ref, rtol=0, atol=1e-12)
    dist = histogram_distances(frames)
    assert dist.shape == (2,) and np.allclose(dist, 0.5 * np.abs(np.diff(ref, axis=0)).sum(1))


def test_the_analysis_flows_follow_the_full_flows_into_a_file():
    from actdiff.selection.segments import _analysis_inputs

    frames = moving_texture(4, 32, 48)
    fw = np.random.default_rng(1).standard_normal((3, 32, 48, 2)).astype(np.float32)
    small, fws, bws, scale = _analysis_inputs(frames, fw, -fw, 0.5, flow_memory_gb=0)
    assert isinstance(fws, np.memmap) and fws.shape == (3, 16, 24, 2) and small.shape == (4, 16, 24, 3)
    in_memory = _analysis_inputs(frames, fw, -fw, 0.5)
    assert not isinstance(in_memory[1], np.memmap)
    np.testing.assert_array_equal(fws, in_memory[1])
    np.testing.assert_array_equal(bws, in_memory[2])
    assert scale == 0.5


def test_a_memory_cgroup_limit_counts_as_the_memory_available(tmp_path):
    """In a container or a SLURM job the host's MemAvailable overstates what the process may use."""
    proc = tmp_path / "cgroup"
    job = tmp_path / "sys" / "slurm" / "job_7"
    job.mkdir(parents=True)
    (tmp_path / "sys" / "memory.max").write_text("max\n")                 # v2: the root has no limit
    (tmp_path / "sys" / "memory.stat").write_text("anon 1\n")
    (tmp_path / "sys" / "slurm" / "memory.max").write_text(f"{8 << 30}\n")
    (tmp_path / "sys" / "slurm" / "memory.stat").write_text(f"anon {5 << 30}\nfile {2 << 30}\n")
    (job / "memory.max").write_text(f"{4 << 30}\n")
    (job / "memory.stat").write_text(f"anon {1 << 30}\nfile {3 << 30}\n")
    proc.write_text("0::/slurm/job_7\n")
    # the job allows 4 - 1 GiB, its parent 8 - 5: the smaller room wins; page cache ("file") is not counted
    assert memory.cgroup_room(proc, tmp_path / "sys") == 3 << 30
    (job / "memory.max").write_text("max\n")
    (tmp_path / "sys" / "slurm" / "memory.max").write_text("max\n")
    assert memory.cgroup_room(proc, tmp_path / "sys") is None        # no limit anywhere
    v1 = tmp_path / "sys" / "memory" / "docker" / "abc"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text(f"{2 << 30}\n")
    (v1 / "memory.stat").write_text(f"cache 5\nrss 7\ntotal_rss {1 << 29}\n")
    proc.write_text("12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n")
    assert memory.cgroup_room(proc, tmp_path / "sys") == (2 << 30) - (1 << 29)
    assert memory.cgroup_room(tmp_path / "missing", tmp_path / "sys") is None


def test_a_temporary_folder_in_memory_is_said(tmp_path, caplog, monkeypatch):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\nproc /proc proc rw 0 0\n")
    assert memory.fs_type("/tmp/x/y", mounts) == "tmpfs" and memory.fs_type("/home", mounts) == "ext4"
    assert memory.fs_type("/x", tmp_path / "missing") == ""
    monkeypatch.setattr(flow_memory, "fs_type", lambda folder: "tmpfs")
    with caplog.at_level(logging.WARNING):
        flow_memory.flow_buffers(2, 8, 8, memory_gb=0)
    assert "held in memory: set TMPDIR to a folder on disk" in caplog.text
