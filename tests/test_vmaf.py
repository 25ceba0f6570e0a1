"""VMAF / VMAF NEG through the libvmaf of imageio-ffmpeg's ffmpeg, on the bundled sample clip.

Measured on the first 8 frames of the sample clip (256x384): identical 99.79 (NEG 99.79),
Gaussian blur sigma 0.7 → 83.6, sigma 3 → 5.0; unsharp mask (amount 1, sigma 1.5) → VMAF 100.0
but NEG 78.0.
"""

import json
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest

from actdiff.data import load_sample_clip
from actdiff.data.sample import sample_clip_path
from actdiff.errors import InputError, MissingWeightsError
from actdiff.metrics import compute_metrics, lower_is_better
from actdiff.metrics.vmaf import ENV_VAR, VmafError, vmaf, vmaf_frames, vmaf_neg


@pytest.fixture(scope="module")
def clip():
    return load_sample_clip(max_frames=8).frames


@pytest.fixture(autouse=True)
def _default_ffmpeg(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)


def _blur(x: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in x])


def _sharpen(x: np.ndarray, amount: float = 1.0, sigma: float = 1.5) -> np.ndarray:
    f = x.astype(np.float32)
    return np.clip(f + amount * (f - _blur(f, sigma)), 0, 255).astype(np.uint8)


def test_identical_near_100(clip):
    assert vmaf(clip, clip) > 90  # measured 99.79
    scores = vmaf_frames(clip, clip)
    assert scores.shape == (8,) and np.all(scores > 90)


def test_monotonic_in_degradation(clip):
    mild, strong = vmaf(clip, _blur(clip, 0.7)), vmaf(clip, _blur(clip, 3.0))
    assert 60 < mild < 95 and strong < mild - 30  # measured 83.6 and 5.0
    rng = np.random.default_rng(0)
    noisy = [np.clip(clip + rng.normal(0, s, clip.shape), 0, 255).astype(np.uint8) for s in (3, 20)]
    assert vmaf(clip, noisy[1]) < vmaf(clip, noisy[0]) - 10  # measured 79.4 vs 99.1


def test_neg_does_not_reward_sharpening(clip):
    sharp = _sharpen(clip)
    v, neg = vmaf(clip, sharp), vmaf_neg(clip, sharp)
    assert neg <= v + 0.5
    assert neg < v - 10  # measured: VMAF 100.0 (enhancement gain), NEG 78.0
    assert abs(vmaf_neg(clip, clip) - vmaf(clip, clip)) < 0.5  # no distortion: both models agree


def test_odd_size_cropped_to_even(clip):
    odd = clip[:3, :63, :95]
    blurred = _blur(odd, 1.0)
    assert vmaf(odd, blurred) == pytest.approx(vmaf(odd[:, :62, :94], blurred[:, :62, :94]), abs=1e-9)


def test_registered_and_via_compute_metrics(clip):
    assert not lower_is_better("vmaf") and not lower_is_better("vmaf_neg")
    m = compute_metrics(clip[:4], _blur(clip[:4], 1.0), ["psnr", "vmaf", "vmaf_neg"])
    assert 0 < m["vmaf_neg"] <= m["vmaf"] + 0.5 < 100.5


def test_bad_input(clip):
    with pytest.raises(InputError, match="equal"):
        vmaf(clip, clip[:, :-2])
    with pytest.raises(InputError, match="equal"):
        vmaf(clip[:4], clip)
    with pytest.raises(InputError, match="uint8"):
        vmaf(clip.astype(np.float32), clip.astype(np.float32))
    with pytest.raises(InputError, match="model"):
        vmaf(clip, clip, model="vmaf_4k_v0.6.1")


def _script(path, body: str):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_missing_or_unfit_ffmpeg(tmp_path, monkeypatch, clip):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(MissingWeightsError) as e:
        vmaf(clip, clip)
    assert "does not exist" in str(e.value) and "\n" not in str(e.value)
    monkeypatch.setenv(ENV_VAR, str(_script(tmp_path / "ffmpeg_plain", "exit 0\n")))
    with pytest.raises(MissingWeightsError) as e:
        vmaf(clip, clip)
    assert "no libvmaf filter" in str(e.value) and "\n" not in str(e.value)


def test_failing_ffmpeg_run_is_one_line(tmp_path, monkeypatch, clip):
    body = ('[ "$2" = "-filters" ] && { echo " .. libvmaf  VV->V  Calculate VMAF."; exit 0; }\n'
            'cat > /dev/null; echo "noise" >&2; echo "libvmaf: model not found" >&2; exit 1\n')
    monkeypatch.setenv(ENV_VAR, str(_script(tmp_path / "ffmpeg_broken", body)))
    with pytest.raises(VmafError, match=r"exit 1\): libvmaf: model not found$"):
        vmaf(clip[:2], clip[:2])


def test_cli_evaluate_writes_vmaf(tmp_path):
    data = tmp_path / "clips"
    data.mkdir()
    (data / "bbb.mp4").symlink_to(sample_clip_path())
    out = tmp_path / "e.json"
    cmd = [sys.executable, "-m", "actdiff", "evaluate", "--data", str(data), "--protocol", "cpu", "--rates", "r0",
           "--metrics", "psnr", "vmaf", "-o", str(out), "-q", "protocol.max_frames=6"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    (point,) = json.loads(out.read_text())["sequences"]["bbb"]
    assert math.isfinite(point["metrics"]["vmaf"]) and 0 <= point["metrics"]["vmaf"] <= 100


def test_missing_tool_fails_before_any_encoding(tmp_path, monkeypatch, capsys):
    """bench/evaluate check every requested metric up front (no encode, no output file)."""
    from actdiff.commands import bench as bench_cmd
    from actdiff.commands.evaluate import main as evaluate
    from actdiff.evaluation import runner

    def no_encode(*a, **k):
        raise AssertionError("encoded before checking the metrics")

    monkeypatch.setattr(runner, "encode_decode", no_encode)
    monkeypatch.setattr(runner, "encode_point", no_encode)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nope"))
    data = tmp_path / "clips"
    data.mkdir()
    (data / "bbb.mp4").symlink_to(sample_clip_path())
    out = tmp_path / "b.json"
    assert bench_cmd.main(["x265", "--data", str(data), "--crf", "40", "--metrics", "psnr", "vmaf", "-o",
                           str(out)]) == 2
    assert "ACTDIFF_FFMPEG" in capsys.readouterr().err and not out.exists()
    assert evaluate(["--data", str(data), "--metrics", "vmaf_neg", "-o", str(out)]) == 2
    assert not out.exists() and not (tmp_path / "b.json.config.yaml").exists()
    assert bench_cmd.main(["x265", "--data", str(data), "--metrics", "psnr", "nope", "-o", str(out)]) == 2
    assert "unknown metric(s) nope" in capsys.readouterr().err


def test_vmaf_and_neg_of_the_same_clips_share_one_ffmpeg_run(monkeypatch, clip):
    vm = sys.modules["actdiff.metrics.vmaf"]  # the package attribute `vmaf` is the function

    runs = []
    real_popen = subprocess.Popen

    def popen(*a, **k):  # records the scoring runs; the probes (-version, -filters) run once per process
        if not {"-version", "-filters"} & set(a[0]):
            runs.append(a[0])
        return real_popen(*a, **k)

    monkeypatch.setattr(vm.subprocess, "Popen", popen)
    monkeypatch.setattr(vm, "_last", None)
    blurred = _blur(clip[:4], 1.0)
    v, neg = vmaf(clip[:4], blurred), vmaf_neg(clip[:4], blurred)
    assert len(runs) == 1 and 0 < neg < 100 and 0 < v < 100
    # the same value as a run that scores only that clip pair afresh
    monkeypatch.setattr(vm, "_last", None)
    assert vmaf_neg(clip[:4], blurred) == neg and len(runs) == 2
    # another pair is scored again, not served from the remembered one
    assert vmaf(clip[:4], _blur(clip[:4], 2.0)) < v and len(runs) == 3
