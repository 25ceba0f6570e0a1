"""No code from untrusted files: crafted checkpoints are refused (export, --resume) before anything
runs; a damaged checkpoint on --resume is one line naming the previous good one and changes
nothing in the run folder; a stream can only name keyframe weights under the package or a folder
given on the command line."""

from __future__ import annotations

import builtins
import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from _cli import one_error_line
from test_training import cfg_for, videos

from actdiff.codec import decode_segments
from actdiff.codec.bitstream import read_bitstream, write_bitstream
from actdiff.commands import decode as decode_cmd
from actdiff.commands import export, fit
from actdiff.errors import InputError, MissingWeightsError
from actdiff.image_codecs.factory import PACKAGE_WEIGHTS, codec_from_params, resolve_stream_weights
from actdiff.training.fit import run_fit
from actdiff.training.synthetic import synthetic_segment_source


class _Evil:
    """Unpickling this calls ``open(marker, "w")``: it creates a file."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return builtins.open, (self.marker, "w")


def _evil_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"state_dict": {"w": torch.zeros(2)}, "global_step": 1, "payload": _Evil(marker)}, str(path))
    return path



def test_the_crafted_pickle_really_runs_code_when_unpickled(tmp_path):
    """The fixture is live: a plain (weights_only=False) load creates the file."""
    marker = tmp_path / "pwned"
    ck = _evil_checkpoint(tmp_path / "evil.ckpt", marker)
    torch.load(str(ck), weights_only=False)
    assert marker.exists()


def test_export_refuses_a_crafted_pickle(tmp_path, capsys):
    marker = tmp_path / "pwned"
    ck = _evil_checkpoint(tmp_path / "evil.ckpt", marker)
    assert export.main([str(ck), "-o", str(tmp_path / "out")]) == 2
    assert "run code" in one_error_line(capsys)
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_export_of_a_raw_pickle_is_one_line_without_torch_warnings(tmp_path, capsys):
    """A plain pickle (not torch's zip format) that would run code: refused in one line, and
    torch's pickle-protocol warning does not reach the user's terminal."""
    import pickle
    import warnings

    marker = tmp_path / "pwned"
    ck = tmp_path / "raw.ckpt"
    ck.write_bytes(pickle.dumps({"state_dict": {}, "payload": _Evil(marker)}, protocol=4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert export.main([str(ck), "-o", str(tmp_path / "out")]) == 2
    assert "run code" in one_error_line(capsys)
    assert [str(w.message) for w in caught] == [] and not marker.exists()


@pytest.mark.parametrize("junk,reason", [(b"", "not a PyTorch checkpoint"), (b"garbage" * 100, "not a PyTorch"),
                                        (b"junk\n", "not a PyTorch"), (b"PK\x03\x04" + bytes(50), "truncated or not")])
def test_export_of_garbage_is_one_line(tmp_path, capsys, junk, reason):
    """Garbage is said to be no checkpoint (not a pickle that would run code, nor a bare number)."""
    ck = tmp_path / "g.ckpt"
    ck.write_bytes(junk)
    assert export.main([str(ck), "-o", str(tmp_path / "out")]) == 2
    line = one_error_line(capsys)
    assert reason in line and "run code" not in line, line


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fit")
    run_fit(cfg_for(tmp), videos=videos(), segment_source=synthetic_segment_source)
    return tmp


@pytest.mark.parametrize("damage", ["truncate", "garbage", "crafted"])
def test_damaged_last_checkpoint_on_resume(trained_run, tmp_path, capsys, damage):
    import shutil

    shutil.copytree(trained_run, tmp_path / "t")
    run = tmp_path / "t" / "run"
    last = run / "checkpoints" / "last.ckpt"
    marker = tmp_path / "pwned"
    if damage == "truncate":
        last.write_bytes(last.read_bytes()[: last.stat().st_size // 3])
    elif damage == "garbage":
        last.write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        _evil_checkpoint(last, marker)
    before = _snapshot(run)
    argv = ["--config", "experiment/train_test", f"run_dir={run}", f"data.cache_dir={tmp_path}/cache",
            "trainer.max_steps=4", "--resume"]
    assert fit.main(argv) == 2
    line = one_error_line(capsys)
    assert "last.ckpt" in line and "step0000002.ckpt" in line and "nothing in" in line, line
    assert _snapshot(run) == before  # metrics.csv, config.yaml, checkpoints: all untouched
    assert not marker.exists()


def test_resume_keeps_the_metrics_history(trained_run, tmp_path):
    import shutil

    shutil.copytree(trained_run, tmp_path / "t")
    run = tmp_path / "t" / "run"
    rows_before = (run / "logs" / "metrics.csv").read_text().splitlines()[1:]
    run_fit(cfg_for(tmp_path / "t", "trainer.max_steps=4"), resume=True, videos=videos(),
            segment_source=synthetic_segment_source)
    rows_after = (run / "logs" / "metrics.csv").read_text().splitlines()[1:]
    assert len(rows_after) > len(rows_before)
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4


def test_stream_weights_only_under_allowed_folders(tmp_path):
    outside = tmp_path / "secret" / "model.pth"
    outside.parent.mkdir()
    outside.write_bytes(b"x")
    allowed = tmp_path / "weights"
    allowed.mkdir()
    (allowed / "model.pth").write_bytes(b"y")
    (allowed / "link.pth").symlink_to(outside)
    with pytest.raises(MissingWeightsError):
        resolve_stream_weights(str(outside))                       # absolute, outside: refused
    with pytest.raises(MissingWeightsError):
        resolve_stream_weights("../secret/model.pth", [allowed])   # relative escape
    with pytest.raises(MissingWeightsError):
        resolve_stream_weights("link.pth", [allowed])              # a link out of the folder
    assert resolve_stream_weights("model.pth", [allowed]) == str((allowed / "model.pth").resolve())
    assert resolve_stream_weights(str(allowed / "model.pth"), [allowed]) == str((allowed / "model.pth").resolve())
    shipped = next(p for p in PACKAGE_WEIGHTS.rglob("*") if p.is_file())
    assert resolve_stream_weights(str(shipped.relative_to(PACKAGE_WEIGHTS))) == str(shipped.resolve())
    # through the header: a compressai stream naming a file outside is refused before any load
    with pytest.raises(MissingWeightsError, match="keyframe-weights"):
        codec_from_params({"kc": "compressai", "kp": str(outside), "ka": "mbt2018-mean", "kq": 3})


def test_decode_refuses_stream_naming_outside_weights(tmp_path, capsys, codec_cfg):
    """A header naming a compressai checkpoint in /etc: a one-line error, the file never opened."""
    from conftest import moving_texture

    from actdiff.codec import encode_video
    from actdiff.types import Video

    enc = encode_video(Video(moving_texture(3, 32, 48), 25.0), codec_cfg)
    bs = read_bitstream(enc.data)
    bs.header.params = {**bs.header.params, "kc": "compressai", "kp": "/etc/passwd", "ka": "mbt2018-mean"}
    bad = tmp_path / "bad.adv"
    bad.write_bytes(write_bitstream(bs))
    with pytest.raises((MissingWeightsError, InputError)):
        decode_segments(bad.read_bytes())
    assert decode_cmd.main([str(bad), "-o", str(tmp_path / "o.y4m")]) == 2
    one_error_line(capsys)


def test_a_file_that_cannot_be_read_again_keeps_torchs_reason(tmp_path):
    """The refusal reads the file's first bytes to tell garbage from a pickle; when even that fails
    (the file went away, no permission) the reason is torch's own, with no second error."""
    from actdiff.training.checkpoints import _head, _reason

    assert _head(tmp_path / "gone.ckpt") is None
    assert _reason(OSError("Permission denied"), None) == "Permission denied"
    assert "not a PyTorch checkpoint" in _reason(EOFError(), b"")
