"""Pictures: thumbnails recorded in the results, contact sheets from evaluate/bench and `compare`;
the `bench` protocol overrides (same forms as `evaluate`) and its resolved config."""

from __future__ import annotations

from pathlib import Path

import pytest
from _eval_helpers import write_clip_folder

from actdiff.commands import bench, compare, encode, evaluate
from actdiff.evaluation.contact import frames_of_interest
from actdiff.evaluation.results import load_results


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """evaluate (warp, 2 rate points) and bench (x265, 2 CRFs) with --frames-dir on one clip."""
    tmp = tmp_path_factory.mktemp("contact")
    data = write_clip_folder(tmp / "clips", names=("alpha",), t=12)
    a, b = tmp / "res" / "a.json", tmp / "res" / "b.json"
    a.parent.mkdir()
    assert evaluate.main(["--data", str(data), "--protocol", "native", "--rates", "r0", "r4", "--metrics", "psnr",
                          "-o", str(a), "--frames-dir", str(tmp / "frames"), "-q"]) == 0
    assert bench.main(["x265", "--data", str(data), "--protocol", "native", "--crf", "30", "45", "--metrics", "psnr",
                       "-o", str(b), "--frames-dir", str(tmp / "frames"), "-q"]) == 0
    return tmp, a, b


def test_thumbnails_are_recorded_and_exist(runs):
    tmp, a, b = runs
    ra, rb = load_results(a), load_results(b)
    frames = ra["source_frames"]["alpha"]
    assert frames == rb["source_frames"]["alpha"]  # same frames for every codec of one protocol
    assert 1 <= len(frames) <= 3
    for res, path in ((ra, a), (rb, b)):
        for p in res["sequences"]["alpha"]:
            assert set(p["thumbnails"]) == set(frames)
            for png in p["thumbnails"].values():
                assert not Path(png).is_absolute() and (path.parent / png).is_file()  # relative to the JSON
    sheet = ra["contact_sheets"]["alpha"]
    assert (a.parent / sheet["file"]).read_bytes()[:4] == b"\x89PNG"
    assert sheet["baseline"]["codec"] == "x265" and "psnr" in sheet["baseline"]["metrics"]  # nearest-rate x265
    bench_sheet = rb["contact_sheets"]["alpha"]
    assert (b.parent / bench_sheet["file"]).is_file() and "baseline" not in bench_sheet


def test_compare_draws_a_sheet_of_two_results(runs, capsys):
    tmp, a, b = runs
    out = tmp / "ab.png"
    assert compare.main([str(a), str(b), "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG" and "alpha" in capsys.readouterr().err
    assert compare.main([str(a), str(b), "-o", str(out)]) == 2  # exists
    assert compare.main([str(a), str(b), "-o", str(tmp / "x.png"), "--sequence", "beta"]) == 2
    assert "not in both files" in capsys.readouterr().err


def test_compare_needs_thumbnails(tmp_path, capsys):
    from _eval_helpers import fake_results

    from actdiff.evaluation.results import save_results

    pa = save_results(fake_results("actdiff-warp", {"s1": ([0.01, 0.02], [30.0, 32.0])}), tmp_path / "a.json")
    pb = save_results(fake_results("x265", {"s1": ([0.01, 0.02], [30.0, 32.0])}), tmp_path / "b.json")
    assert compare.main([str(pa), str(pb), "-o", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "--frames-dir" in err


@pytest.mark.parametrize("thumbs, message", [
    ("/etc/passwd", "is not a .png"),        # a results file naming any file on the disk
    ("broken.png", "is not a readable image"),
    (5, "thumbnails must map frame indices"),
    ({"abc": "x.png"}, "thumbnails must map frame indices"),
])
def test_compare_refuses_thumbnails_a_tampered_results_file_names(runs, tmp_path, capsys, thumbs, message):
    import json

    tmp, a, b = runs
    doc = load_results(a)
    frame = next(iter(doc["source_frames"]["alpha"]))
    (tmp_path / "broken.png").write_bytes(b"not a png")
    point = doc["sequences"]["alpha"][0]
    point["thumbnails"] = thumbs if not isinstance(thumbs, str) else {frame: str(tmp_path / thumbs)}
    bad = a.parent / f"{tmp_path.name}.json"   # beside the original: its relative thumbnails stay valid
    bad.write_text(json.dumps(doc))
    assert compare.main([str(bad), str(b), "-o", str(tmp_path / "s.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and err.count("\n") == 1


def test_frames_of_interest_are_the_middles_of_the_longest_segments(sample_video):
    from actdiff.codec import encode_video
    from actdiff.config import compose

    video = type(sample_video)(frames=sample_video.frames[:40], fps=25.0)
    segments = encode_video(video, compose(None, ["codec.keyframes.max_gop=12"])).stats["segments"]
    chosen = frames_of_interest(video, 2, compose(None, ["codec.keyframes.max_gop=12"]))
    longest = sorted(segments, key=lambda s: s[0] - s[1])[:2]
    assert chosen == sorted((a + b) // 2 for a, b in longest)
    one = frames_of_interest(video, 3, compose(None, ["codec.keyframes.max_gop=48"]))  # 1 segment: spread in it
    assert len(one) == 3 and one == sorted(set(one)) and 0 < one[0] < one[-1] < 39


def test_bench_takes_the_protocol_overrides_of_evaluate(tmp_path, capsys):
    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    out = tmp_path / "x.json"
    assert bench.main(["x264", "--data", str(data), "--protocol", "native", "protocol.max_frames=4", "--crf", "40",
                       "--metrics", "psnr", "-o", str(out), "-q"]) == 0
    assert load_results(out)["sequences"]["alpha"][0]["frames"] == 4
    assert "max_frames: 4" in (tmp_path / "x.json.config.yaml").read_text()  # the resolved config
    assert bench.main(["x264", "--data", str(data), "--protocol", "native", "--frames", "3", "--crf", "40",
                       "--metrics", "psnr", "-o", str(out), "--overwrite", "-q"]) == 0
    assert load_results(out)["sequences"]["alpha"][0]["frames"] == 3
    capsys.readouterr()
    assert bench.main(["x264", "-o", str(tmp_path / "p.json"), "--print-config", "protocol.max_frames=16"]) == 0
    printed = capsys.readouterr().out
    assert "max_frames: 16" in printed and "codec:" not in printed  # only what bench uses
    assert bench.main(["x264", "-o", str(tmp_path / "y.json"), "--data", str(data), "codec.seed=1"]) == 2
    assert "unknown config key" in capsys.readouterr().err
    assert bench.main(["x266", "-o", str(tmp_path / "y.json"), "--data", str(data)]) == 2
    assert "known: svt-av1, x264, x265" in capsys.readouterr().err


def test_encode_prints_only_the_config_it_uses(capsys):
    assert encode.main(["--print-config"]) == 0
    printed = capsys.readouterr().out
    assert "codec:" in printed and "protocol" not in printed
    assert encode.main(["--print-config", "protocol.max_frames=4"]) == 2  # encode has no protocol: an error


def test_data_root_override_as_the_dataset_yamls_recommend(tmp_path, capsys):
    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    out = tmp_path / "f.json"
    assert bench.main(["x264", "--data", "folder", f"data.root={data}", "--frames", "2", "--crf", "45",
                       "--metrics", "psnr", "-o", str(out), "-q"]) == 0
    assert list(load_results(out)["sequences"]) == ["alpha"]
    assert bench.main(["x264", "--data", "folder", "data.format=y4m", "-o", str(tmp_path / "g.json")]) == 2
    assert "only data.root" in capsys.readouterr().err


def test_codecs_sharing_a_frames_folder_keep_their_own_sheets(runs, capsys):
    """evaluate and bench drew into one folder: two sheets, each recorded by its own results; a
    second run of a codec already there is refused before any work and leaves everything as it was."""
    tmp, a, b = runs
    sheet_a = a.parent / load_results(a)["contact_sheets"]["alpha"]["file"]
    sheet_b = b.parent / load_results(b)["contact_sheets"]["alpha"]["file"]
    assert sheet_a != sheet_b and sheet_a.is_file() and sheet_b.is_file()
    before = {p: p.read_bytes() for p in (tmp / "frames").rglob("*.png")}
    again = tmp / "res" / "again.json"
    assert evaluate.main(["--data", str(tmp / "clips"), "--protocol", "native", "--rates", "r1", "--metrics", "psnr",
                          "-o", str(again), "--frames-dir", str(tmp / "frames"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "actdiff-warp_contact.png exists" in err and "--overwrite" in err
    assert not again.exists() and not Path(f"{again}.partial").exists()
    assert {p: p.read_bytes() for p in (tmp / "frames").rglob("*.png")} == before


def test_frames_folder_that_is_a_file_or_inside_the_data_is_refused(runs, capsys):
    tmp, a, _ = runs
    clips = tmp / "clips"
    listing = sorted(p.name for p in clips.iterdir())
    for frames, words in ((a, "is a file"), (clips / "thumbs", "inside the input folder")):
        out = tmp / "res" / "refused.json"
        assert evaluate.main(["--data", str(clips), "--protocol", "native", "--rates", "r0", "--metrics", "psnr",
                              "-o", str(out), "--frames-dir", str(frames), "-q"]) == 2
        assert words in capsys.readouterr().err and not out.exists()
    assert sorted(p.name for p in clips.iterdir()) == listing  # nothing written into the data


def test_frames_folder_beside_one_video_is_allowed(runs, tmp_path):
    """One video is no folder dataset: thumbnails beside it cannot become a sequence (they were refused)."""
    import shutil

    tmp, _, _ = runs
    video = next(p for p in sorted((tmp / "clips").iterdir()))
    assert video.is_file()
    one = Path(shutil.copy(video, tmp_path))
    assert evaluate.main(["--data", str(one), "--protocol", "native", "--rates", "r0", "--metrics", "psnr",
                          "-o", str(tmp_path / "one.json"), "--frames-dir", str(tmp_path / "thumbs"), "-q"]) == 0
    assert any((tmp_path / "thumbs").rglob("*.png"))


def test_api_frames_dir_refuses_a_run_of_the_same_codec_unless_overwrite(tmp_path):
    import numpy as np

    import actdiff
    from actdiff.errors import OutputError

    clip = np.random.default_rng(0).integers(0, 256, (4, 32, 48, 3), dtype=np.uint8)
    first = actdiff.bench(clip, "x264", crf=[40], metrics=["psnr"], frames_dir=tmp_path / "f")
    sheet = Path(first["contact_sheets"]["clip"]["file"])
    assert sheet.name == "clip_x264_contact.png" and sheet.is_file()
    with pytest.raises(OutputError, match="exists"):
        actdiff.bench(clip, "x264", crf=[45], metrics=["psnr"], frames_dir=tmp_path / "f")
    second = actdiff.bench(clip, "x264", crf=[45], metrics=["psnr"], frames_dir=tmp_path / "f", overwrite=True)
    assert second["contact_sheets"]["clip"]["file"] == str(sheet)
