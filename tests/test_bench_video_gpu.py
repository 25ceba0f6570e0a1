"""``benchmarks/bench_video_gpu.py`` (issue 13's GPU numbers) runs its whole path on the CPU."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_video_gpu.py"


def test_the_video_gpu_benchmark_runs_on_cpu_with_small_windows(tmp_path):
    out = tmp_path / "bench.json"
    rc = subprocess.run([sys.executable, str(SCRIPT), "--tiny", "--device", "cpu", "--models", "tiny-video",
                         "--repeats", "1", "--train-steps", "1", "--out", str(out)],
                        capture_output=True, text=True, cwd=ROOT)
    assert rc.returncode == 0, rc.stderr[-2000:]
    res = json.loads(out.read_text())
    assert res["tiny"] and res["gpu"] is None and not res["skipped"]
    model = res["models"]["tiny-video"]
    assert model["window"] == 16 and model["temporal_parameters"] > 0
    (decode,) = model["decode"]                       # float32 only: no bf16 autocast on the CPU
    assert decode["dtype"] == "float32" and decode["frames"] == 4 and decode["output_finite"]
    assert decode["size"] == [32, 48] and all(s % model["size_multiple"] == 0 for s in decode["padded_size"])
    assert decode["frames_per_second"] > 0 and decode["peak_gpu_gb"] is None
    (train,) = model["training"]
    assert train["steps_per_second"] > 0 and 0 < train["trainable_parameters"] < model["parameters"]


def test_full_size_windows_need_a_gpu_in_one_line():
    rc = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu"], capture_output=True, text=True, cwd=ROOT)
    assert rc.returncode == 2 and rc.stderr.startswith("error: the full-size windows need a GPU")
    assert rc.stderr.count("\n") == 1


def test_the_gpu_determinism_check_runs_on_cpu_with_a_small_window(tmp_path):
    out = tmp_path / "det.json"
    rc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_determinism.py"), "--tiny", "--device", "cpu",
                         "--models", "tiny-video", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert rc.returncode == 0, rc.stderr[-2000:]
    (check,) = json.loads(out.read_text())["checks"]
    assert check["model"] == "tiny-video" and check["frames"] == 4       # the CPU against itself: identical
    assert check["bitwise_identical_two_runs"] and check["max_abs_diff_vs_cpu"] == 0.0
    assert check["psnr_vs_cpu_db"] is None
    rc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_determinism.py"), "--device", "cpu"],
                        capture_output=True, text=True, cwd=ROOT)
    assert rc.returncode == 2 and rc.stderr.startswith("error: the full-size check needs a GPU")
