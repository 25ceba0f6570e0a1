"""Classical baselines end to end on a tiny synthetic clip."""

import json

import numpy as np
import pytest
from _eval_helpers import moving_texture, write_clip_folder

from actdiff.baselines import encode_decode
from actdiff.baselines.pyav_codec import strip_info_sei
from actdiff.commands.bench import main as bench
from actdiff.errors import ConfigError
from actdiff.evaluation.results import load_results
from actdiff.io import read_video
from actdiff.metrics import compute_metrics


@pytest.mark.parametrize("codec", ["x264", "x265"])
def test_bench_end_to_end(tmp_path, codec, capsys):
    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    out = tmp_path / f"{codec}.json"
    rc = bench([codec, "--data", str(data), "--protocol", "native", "--crf", "30", "45", "-o", str(out),
                "--metrics", "psnr", "ms_ssim", "-q"])
    assert rc == 0
    res = load_results(out)
    pts = res["sequences"]["alpha"]
    assert [p["crf"] for p in pts] == [30, 45]
    assert pts[0]["bpp"] > pts[1]["bpp"] > 0  # bpp decreases with CRF
    assert pts[0]["metrics"]["psnr"] > pts[1]["metrics"]["psnr"] > 15
    assert pts[0]["frames"] == 6 and (pts[0]["height"], pts[0]["width"]) == (64, 96)
    assert pts[0]["bits_total"] == pytest.approx(pts[0]["bpp"] * 6 * 64 * 96)
    assert res["codec"] == codec and res["mean"][0]["bpp"] == pytest.approx(pts[0]["bpp"])
    # refuses to overwrite
    assert bench([codec, "--data", str(data), "--crf", "30", "-o", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_encode_decode_counts_real_bytes_and_odd_sizes():
    clip = moving_texture(t=4, h=63, w=95)
    r = encode_decode(clip, "x264", 20)
    assert r.frames.shape == clip.shape
    assert r.bits == 8 * sum(r.packets)
    assert compute_metrics(clip, r.frames, ["psnr"])["psnr"] > 30


def test_info_sei_removed_but_stream_decodes():
    clip = moving_texture(t=3)
    r = encode_decode(clip, "x265", 40)
    assert r.frames.shape == clip.shape  # decoded from the stripped bytes
    # an SEI user-data NAL (HEVC prefix SEI type 39, payload type 5) is dropped, others kept
    sei = b"\x00\x00\x01" + bytes([39 << 1, 1, 5, 9, 9])
    vps = b"\x00\x00\x00\x01" + bytes([32 << 1, 1, 7, 7])
    assert strip_info_sei(vps + sei, "hevc") == vps
    h264_sei = b"\x00\x00\x01\x06\x05\x10abc"
    assert strip_info_sei(h264_sei + b"\x00\x00\x01\x65\x88", "h264") == b"\x00\x00\x01\x65\x88"


def test_bad_crf():
    with pytest.raises(ConfigError):
        encode_decode(moving_texture(t=2), "x264", 60)
    assert bench(["x264", "--data", ".", "--crf", "70", "-o", "/tmp/never.json"]) == 2


def test_a_relative_data_root_is_taken_from_the_working_folder(tmp_path, monkeypatch):
    """``--data folder data.root=clips`` looked for ``clips`` under the repository, wherever it ran."""
    write_clip_folder(tmp_path / "clips", names=("alpha",), t=3)
    monkeypatch.chdir(tmp_path)
    assert bench(["x264", "--data", "folder", "data.root=clips", "--protocol", "native", "--crf", "40",
                  "--metrics", "psnr", "-o", "b.json", "-q"]) == 0
    assert "alpha" in json.loads((tmp_path / "b.json").read_text())["sequences"]


def test_a_repeated_crf_is_refused(tmp_path, capsys):
    out = tmp_path / "b.json"
    assert bench(["x265", "--data", ".", "--crf", "40", "45", "40", "-o", str(out)]) == 2
    assert "CRF: 40 is given twice" in capsys.readouterr().err and not out.exists()


def test_svt_av1_runs():
    clip = moving_texture(t=3, h=64, w=96)
    r = encode_decode(clip, "svt-av1", 50)
    assert r.frames.shape == clip.shape and r.bits > 0
    assert np.abs(r.frames.astype(int) - clip).mean() < 20


def test_bench_records_the_sources_own_no_reference_score(tmp_path):
    """With NIQE requested, the source clip's own NIQE is stored (``source``) for bdrate's notes."""
    data = write_clip_folder(tmp_path / "clips", names=("alpha",), h=192, w=192)
    out = tmp_path / "x265.json"
    assert bench(["x265", "--data", str(data), "--protocol", "native", "--crf", "40", "-o", str(out),
                  "--metrics", "psnr", "niqe", "-q"]) == 0
    res = load_results(out)
    frames = read_video(next(data.iterdir())).frames
    assert res["source"]["alpha"] == {"niqe": pytest.approx(compute_metrics(frames, frames, ["niqe"])["niqe"])}
    assert np.isfinite(res["source"]["alpha"]["niqe"])
    assert res["sequences"]["alpha"][0]["metrics"]["niqe"] != res["source"]["alpha"]["niqe"]
    out2 = tmp_path / "psnr_only.json"
    assert bench(["x265", "--data", str(data), "--protocol", "native", "--crf", "40", "-o", str(out2),
                  "--metrics", "psnr", "-q"]) == 0
    assert "source" not in load_results(out2)  # full-reference metrics need no source score


def test_a_bad_clip_late_in_the_dataset_leaves_the_output_untouched(tmp_path, capsys):
    """Progress goes to OUT.partial; OUT appears (or is replaced) only when every sequence is done."""
    data = write_clip_folder(tmp_path / "clips", names=("alpha", "beta"))
    (data / "beta.mkv").write_bytes(b"not a video")  # read after alpha was already benchmarked
    out = tmp_path / "x264.json"
    out.write_text("earlier results\n")
    args = ["x264", "--data", str(data), "--protocol", "native", "--crf", "40", "-o", str(out),
            "--metrics", "psnr", "-q", "--overwrite"]
    assert bench(args) != 0
    assert "beta.mkv" in capsys.readouterr().err
    assert out.read_text() == "earlier results\n"  # not replaced by an incomplete document
    partial = load_results(tmp_path / "x264.json.partial")  # the finished sequence is kept, valid
    assert list(partial["sequences"]) == ["alpha"]
    (data / "beta.mkv").unlink()
    assert bench(args) == 0
    assert list(load_results(out)["sequences"]) == ["alpha"]
    assert not (tmp_path / "x264.json.partial").exists()


def test_bench_shards_merge(tmp_path, capsys):
    """``--shard i/n`` runs every n-th sequence; ``bench --merge`` combines the shards as ``evaluate``'s does."""
    data = write_clip_folder(tmp_path / "clips", names=("alpha", "beta"), t=4, h=64, w=64)
    outs = [tmp_path / f"s{i}.json" for i in range(2)]
    for i, out in enumerate(outs):
        assert bench(["x264", "--data", str(data), "--protocol", "native", "--crf", "40", "--shard", f"{i}/2",
                      "--metrics", "psnr", "-q", "-o", str(out)]) == 0
    assert [set(load_results(o)["sequences"]) for o in outs] == [{"alpha"}, {"beta"}]
    merged = tmp_path / "all.json"
    assert bench(["x264", "--merge", *map(str, outs), "-o", str(merged)]) == 0
    assert set(load_results(merged)["sequences"]) == {"alpha", "beta"}
    assert bench(["x264", "--merge", *map(str, outs), "-o", str(merged)]) == 2   # no overwrite unasked
    assert "--overwrite" in capsys.readouterr().err
    # a missing shard, or another codec's shards, are one-line errors and write nothing
    assert bench(["x264", "--merge", str(outs[0]), "-o", str(tmp_path / "half.json")]) == 2
    assert "1/2 missing" in capsys.readouterr().err and not (tmp_path / "half.json").exists()
    assert bench(["x265", "--merge", *map(str, outs), "-o", str(tmp_path / "x265.json")]) == 2
    assert "results of 'x264', not 'x265'" in capsys.readouterr().err and not (tmp_path / "x265.json").exists()


def test_x265_codes_small_frames_padded_without_corrupting_memory(tmp_path):
    """libx265 corrupted the heap on 48x48 frames (``free(): invalid next size``, exit 134, within a few
    calls): frames under 64 px a side are coded padded to 64 and cropped back. In a child process,
    so that a crash fails this test instead of the test run."""
    import subprocess
    import sys

    script = (
        "import numpy as np, torch\n"
        "from actdiff.baselines.pyav_codec import encode_decode\n"
        "rng = np.random.default_rng(0)\n"
        "for _ in range(30):\n"
        "    clip = rng.integers(0, 256, (3, 48, 48, 3), dtype=np.uint8)\n"
        "    assert encode_decode(clip, 'x265', 30).frames.shape == clip.shape\n"
        "print('done')\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0 and "done" in run.stdout, run.stderr[-500:]
    from actdiff.baselines.pyav_codec import pad_even

    assert pad_even(np.zeros((1, 47, 70, 3), np.uint8), 64).shape == (1, 64, 70, 3)
