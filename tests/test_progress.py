"""Progress on long work: bars on stderr when asked, never on stdout, quiet with -q; -v timings;
pipe-safe JSON; the output path is checked before any decoding."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import moving_texture

from actdiff import progress
from actdiff.commands import decode, encode
from actdiff.io import write_video


@pytest.fixture(scope="module")
def adv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prog")
    clip = folder / "clip.mkv"
    write_video(clip, moving_texture(24, 64, 96), 25.0)
    out = folder / "clip.adv"
    assert encode.main([str(clip), "-o", str(out), "codec.keyframes.max_gop=8", "-q"]) == 0
    return out


@pytest.fixture(autouse=True)
def reset_progress():
    yield
    progress.configure("auto")


def actdiff(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "actdiff", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_decode_progress_on_stderr_and_json_on_stdout(adv, tmp_path):
    r = actdiff("decode", str(adv), "-o", str(tmp_path / "a.y4m"), "--progress", "--json", "-v")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)  # stdout is exactly one JSON object: no bar, no log in it
    assert summary["frames"] == 24 and summary["decoder"] == "warp"
    assert "decode (warp)" in r.stderr and "24/24" in r.stderr and "frame/s" in r.stderr  # tqdm: rate, ETA
    segments = [ln for ln in r.stderr.splitlines() if "segment " in ln and " decoded by warp in " in ln]
    assert len(segments) >= 3  # -v: one timing per segment (max GOP 8 over 24 frames)


def test_no_bar_without_a_terminal_or_with_quiet(adv, tmp_path):
    r = actdiff("decode", str(adv), "-o", str(tmp_path / "b.y4m"))
    assert r.returncode == 0 and "decode (warp)" not in r.stderr  # stderr is a pipe: auto = off
    r = actdiff("decode", str(adv), "-o", str(tmp_path / "c.y4m"), "--progress", "-q")
    assert r.returncode == 0 and r.stderr == ""


def test_decode_video_reports_every_segment(adv):
    from actdiff.codec import decode_video

    seen = []
    video = decode_video(adv.read_bytes(), "warp", progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (video.num_frames, video.num_frames)
    assert len(seen) >= 3 and [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_progress_modes(capsys):
    progress.configure("on")
    with progress.bar(3, "work", unit="step") as b:
        for _ in range(3):
            b.update(1)
    progress.write("a line")
    out, err = capsys.readouterr()
    assert out == "" and "work" in err and "3/3" in err and "a line" in err
    progress.configure("off")
    with progress.bar(3, "quiet") as b:
        b.update(3)
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError):
        progress.configure("loud")


def test_info_json_is_pipe_safe(adv):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-m", "actdiff", "info", "--json", str(adv)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    p.stdout.close()  # the reader is gone before anything is written (`… | head -0`)
    err = p.stderr.read().decode()
    p.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err and err == ""
    assert p.returncode in (0, 141)


def test_info_is_readable(adv, capsys):
    from actdiff.commands import info

    assert info.main([str(adv)]) == 0
    text = capsys.readouterr().out
    assert "bits per pixel" in text and "(WxH)" in text and "keyframes     avif, nominal quality" in text
    assert "{" not in text  # no raw dict
    assert info.main([str(adv), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["settings"]["keyframe_codec"] == "avif" and d["units"]["bpp"].startswith("bits per pixel")


def test_output_path_is_checked_before_any_decoding(adv, tmp_path, monkeypatch, capsys):
    import actdiff.codec

    def no_decoding(*a, **k):
        raise AssertionError("decoded before checking the output")

    monkeypatch.setattr(actdiff.codec, "decode_video", no_decoding)
    exists = tmp_path / "exists.y4m"
    exists.write_text("x")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for out, message in ((exists, "exists"), (tmp_path / "out.xyz", "cannot write .xyz files"),
                         (blocker / "out.y4m", "is a file")):
        assert decode.main([str(adv), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and message in err and err.count("\n") == 1


def test_unknown_decoder_and_checkpoint_advice(adv, tmp_path, capsys):
    assert decode.main([str(adv), "-o", str(tmp_path / "x.y4m"), "--decoder", "difusion"]) == 2
    err = capsys.readouterr().err
    assert "known: diffusion, warp" in err and "did you mean 'diffusion'" in err
    ckpt = tmp_path / "last.ckpt"
    ckpt.write_bytes(b"0")
    assert decode.main([str(adv), "-o", str(tmp_path / "y.y4m"), "--decoder", "diffusion",
                        "--weights", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert f"actdiff export {ckpt}" in err and "site-packages" not in err


def test_slow_decoders_report_frames_inside_a_segment(tmp_path):
    """A decoder that reports frames as it makes them (the diffusion decoder: each batch) moves the
    bar and the hook within a segment, not only at its end."""
    from actdiff.codec import decode_video
    from actdiff.decoders.warp import WarpDecoder

    class Reporting(WarpDecoder):
        def decode_segment(self, header, seg):
            out = super().decode_segment(header, seg)
            for _ in range(1, seg.segment.length - 1):
                self.report_frames(1)
            return out

    clip = tmp_path / "one.mkv"
    write_video(clip, moving_texture(10, 64, 96), 25.0)
    adv = tmp_path / "one.adv"
    assert encode.main([str(clip), "-o", str(adv), "codec.keyframes.max_gop=48", "-q"]) == 0  # one segment
    seen = []
    dec = Reporting()
    decode_video(adv.read_bytes(), dec, progress=lambda done, total: seen.append(done))
    assert seen[:8] == list(range(1, 9)) and seen[-1] == 10  # 8 inner frames one by one, then the segment
    assert dec.progress_hook is None  # the hook is removed afterwards
