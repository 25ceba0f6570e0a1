"""Outputs that cannot lose data: swaps that keep the old or the complete new output at every
instant (files and PNG folders), interrupted and killed swaps, outputs that are inputs, leftovers
of killed runs, the output format checked before any work."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from _cli import one_error_line
from conftest import moving_texture

import actdiff.codec
from actdiff.commands import decode, encode
from actdiff.errors import OutputError
from actdiff.io import files, read_video, write_video


@pytest.fixture(scope="module")
def frames():
    return moving_texture(3, 32, 48)


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))



@pytest.mark.parametrize("old_kind,new_name", [("folder", "out"), ("file", "out"), ("folder", "out.y4m")])
@pytest.mark.parametrize("exchange", [True, False])
def test_overwrite_swaps_in_the_complete_output(tmp_path, frames, monkeypatch, old_kind, new_name, exchange):
    """Folder over folder, folder over file, file over folder; with and without renameat2."""
    if not exchange:
        monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target = tmp_path / new_name
    if old_kind == "folder":
        target.mkdir()
        (target / "old.txt").write_text("old")
    else:
        target.write_text("old")
    write_video(target, frames, 25.0, overwrite=True)
    assert read_video(target).frames.shape == frames.shape
    assert not (target / "old.txt").exists()
    assert _hidden(tmp_path) == []


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_get_the_modes_of_a_plain_write_not_a_library_s_private_ones(tmp_path, umask):
    """safetensors writes 0o600: a weights folder must still be readable where the umask allows."""
    old = os.umask(umask)
    try:
        with files.atomic_output(tmp_path / "weights") as tmp:
            (tmp / "sub").mkdir(parents=True)
            tmp.chmod(0o700)
            for name, mode in (("w.safetensors", 0o600), ("sub/run.sh", 0o700)):
                (tmp / name).write_text("x")
                (tmp / name).chmod(mode)
    finally:
        os.umask(old)
    out = tmp_path / "weights"

    def mode(p):
        return p.stat().st_mode & 0o777

    assert (mode(out), mode(out / "sub"), mode(out / "w.safetensors"), mode(out / "sub" / "run.sh")) == (
        0o777 & ~umask, 0o777 & ~umask, 0o666 & ~umask, 0o766 & ~umask)  # execute bits kept


def test_interrupt_mid_swap_keeps_the_old_folder(tmp_path, frames, monkeypatch):
    """Without renameat2: Ctrl-C arriving between 'old aside' and 'new in' puts the old back."""
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target = tmp_path / "out"
    write_video(target, frames, 25.0)
    before = read_video(target).frames
    real_rename = os.rename

    def rename(src, dst):
        if ".partial-" in str(src):  # the second rename: new output into place
            raise KeyboardInterrupt
        return real_rename(src, dst)

    monkeypatch.setattr(files.os, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        write_video(target, frames[::-1].copy(), 25.0, overwrite=True)
    monkeypatch.setattr(files.os, "rename", real_rename)
    np.testing.assert_array_equal(read_video(target).frames, before)
    assert _hidden(tmp_path) == []


KILLED_MID_SWAP = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    from actdiff.io import files, write_video
    files._exchange = lambda a, b: False           # the rename-aside path
    real = os.rename
    def rename(src, dst):
        if ".partial-" in str(src):                # old output is aside, new one not yet in: die
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst)
    files.os.rename = rename
    write_video(sys.argv[1], np.full((2, 16, 16, 3), 7, np.uint8), 25.0, overwrite=True)
""")


def test_killed_mid_swap_old_output_survives_and_is_restored(tmp_path, frames):
    target = tmp_path / "out"
    write_video(target, frames, 25.0)
    before = read_video(target).frames
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.run([sys.executable, "-c", KILLED_MID_SWAP, str(target)], env=env)
    assert proc.returncode == -9
    # at the moment of the kill: the old output aside (complete), the new one complete beside it
    left = _hidden(tmp_path)
    assert any(".old-" in n for n in left) and any(".partial-" in n for n in left) and not target.exists()
    old = next(tmp_path / n for n in left if ".old-" in n)
    np.testing.assert_array_equal(read_video(old).frames, before)
    # the next run puts the old output back, removes the partial one, and refuses to overwrite it
    with pytest.raises(OutputError, match="exists"):
        write_video(target, frames, 25.0)
    np.testing.assert_array_equal(read_video(target).frames, before)
    assert _hidden(tmp_path) == []


def test_stale_partials_of_dead_runs_are_cleaned_live_ones_kept(tmp_path, frames):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale_dir = tmp_path / f".out.partial-{pid}-0123abcd"
    stale_dir.mkdir()
    (stale_dir / "frame_00000.png").write_bytes(b"half")
    stale_file = tmp_path / f".o.adv.partial-{pid}-89abcdef.adv"
    stale_file.write_bytes(b"half")
    live = tmp_path / f".out.partial-{os.getppid()}-00000000"  # a running process's output: left alone
    live.mkdir()
    files.clean_stale(tmp_path / "o.adv")
    assert not stale_file.exists() and stale_dir.exists()
    write_video(tmp_path / "out", frames, 25.0)
    assert not stale_dir.exists() and live.exists()


def test_output_equal_to_input_is_refused(tmp_path, frames, capsys):
    src = tmp_path / "clip.mkv"
    write_video(src, frames, 25.0)
    data = src.read_bytes()
    link = tmp_path / "link.mkv"
    link.symlink_to(src)
    for argv in ([str(src), "-o", str(src), "--overwrite"],
                 [str(src), "-o", str(tmp_path / "x.adv"), "--stats", str(src), "--overwrite"],
                 [str(src), "-o", str(link), "--overwrite"],
                 [str(src), "-o", str(tmp_path / "sub" / ".." / "clip.mkv"), "--overwrite"],
                 [str(src), "-o", str(tmp_path / "s.json"), "--stats", str(tmp_path / "s.json")]):
        assert encode.main(argv) == 2
        assert "input" in one_error_line(capsys) or "same path" in capsys.readouterr().err
    assert src.read_bytes() == data
    # a PNG folder input: no output inside it either
    write_video(tmp_path / "frames", frames, 25.0)
    assert encode.main([str(tmp_path / "frames"), "-o", str(tmp_path / "frames" / "x.adv")]) == 2
    assert "inside the input folder" in one_error_line(capsys)
    # an existing folder is not replaced by a file; a file is no folder to write into
    (tmp_path / "keep").mkdir()
    assert encode.main([str(src), "-o", str(tmp_path / "keep"), "--overwrite"]) == 2
    assert "is a folder" in one_error_line(capsys) and (tmp_path / "keep").is_dir()
    assert encode.main([str(src), "-o", str(src / "x.adv")]) == 2
    assert "is a file" in one_error_line(capsys)


def test_decode_output_equal_to_input_and_bad_format_refused_before_decoding(tmp_path, frames, capsys,
                                                                          monkeypatch):
    src = tmp_path / "clip.mkv"
    write_video(src, frames, 25.0)
    adv = tmp_path / "c.adv"
    assert encode.main([str(src), "-o", str(adv)]) == 0
    data = adv.read_bytes()
    calls = []
    monkeypatch.setattr(actdiff.codec, "decode_video", lambda *a, **k: calls.append(1))
    assert decode.main([str(adv), "-o", str(adv), "--overwrite"]) == 2
    assert "is the input" in one_error_line(capsys)
    assert adv.read_bytes() == data
    for bad in ("out.xyz", "out.gif"):
        assert decode.main([str(adv), "-o", str(tmp_path / bad)]) == 2
        one_error_line(capsys)
    (tmp_path / "afile").write_text("x")
    assert decode.main([str(adv), "-o", str(tmp_path / "afile" / "out.y4m")]) == 2
    assert "is a file" in one_error_line(capsys)
    assert calls == []  # nothing was decoded


def test_evaluate_and_bench_refuse_an_output_that_is_a_clip_of_the_dataset(tmp_path, capsys):
    from _eval_helpers import write_clip_folder

    from actdiff.commands import bench, evaluate

    data = write_clip_folder(tmp_path / "clips", names=("alpha",), t=4, h=32, w=48)
    clip = data / "alpha.mkv"
    before = clip.read_bytes()
    assert evaluate.main(["--data", str(data), "--rates", "r0", "--metrics", "psnr", "-o", str(clip),
                          "--overwrite"]) == 2
    assert "is the input" in one_error_line(capsys)
    assert bench.main(["x265", "--data", str(data), "--crf", "40", "--metrics", "psnr", "-o", str(clip),
                       "--overwrite"]) == 2
    assert "is the input" in one_error_line(capsys)
    assert clip.read_bytes() == before and not (data / "alpha.mkv.config.yaml").exists()


def test_output_in_a_folder_without_write_permission_refused_before_encoding(tmp_path, frames, capsys,
                                                                             monkeypatch):
    """The nearest existing folder of the output path must be writable; checked before any work
    (as root every folder is, so the permission answer is simulated for one folder)."""
    src = tmp_path / "clip.mkv"
    write_video(src, frames, 25.0)
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(files.os, "access",
                        lambda p, mode, **k: False if Path(p) == locked else real_access(p, mode, **k))
    calls = []
    monkeypatch.setattr(actdiff.codec, "encode_video", lambda *a, **k: calls.append(1))
    assert encode.main([str(src), "-o", str(locked / "new" / "x.adv")]) == 2
    assert f"no permission to write in {locked}" in one_error_line(capsys)
    assert calls == [] and not (locked / "new").exists()
