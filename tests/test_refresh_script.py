"""``experiments/refresh_unseen_cpu.sh`` runs the commands its header promises, step by step.

The script is copied into a temporary tree (it ``cd``s to the folder above its own) and run with
``PYTHON`` set to a fake interpreter that only records its arguments, so nothing is decoded and no
committed result is touched. This checks the wiring the README's numbers depend on: which steps
exist, that the RD steps restart, and that the tables step passes ``RD_SINCE`` to ``bench_rd.py
--since`` (default ``c04ba2a^``, the day issue 18 was filed).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "experiments" / "refresh_unseen_cpu.sh"


def run_steps(tmp_path: Path, steps: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run the copied script with ``STEPS=steps``; returns the process and the recorded calls."""
    (tmp_path / "experiments").mkdir()
    shutil.copy(SCRIPT, tmp_path / "experiments" / SCRIPT.name)
    log = tmp_path / "calls.txt"
    fake = tmp_path / "fake_python"
    fake.write_text(f'#!/usr/bin/env bash\necho "$*${{OMP_NUM_THREADS:+ [threads $OMP_NUM_THREADS]}}" >> "{log}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    proc = subprocess.run(["bash", str(tmp_path / "experiments" / SCRIPT.name)], capture_output=True, text=True,
                          env={**{k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"},  # the default: 2
                               "PYTHON": str(fake), "STEPS": steps, **env}, timeout=60)
    return proc, log.read_text().splitlines() if log.exists() else []


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_tables_step_passes_the_since_revision(tmp_path):
    proc, calls = run_steps(tmp_path, "tables")
    assert proc.returncode == 0, proc.stderr
    bench = [c for c in calls if c.startswith("benchmarks/bench_rd.py")]
    assert bench == ["benchmarks/bench_rd.py -o experiments/results_rd --decoders warp diffusion --summary-only "
                     "--since c04ba2a^ [threads 2]"]
    assert "experiments/readme_table.py [threads 2]" in calls
    assert "experiments/readme_figure.py --overwrite [threads 2]" in calls  # replaces the committed figure
    assert any(c.startswith("-m actdiff bdrate") for c in calls)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_rd_since_overrides_and_rd_steps_restart(tmp_path):
    proc, calls = run_steps(tmp_path, "rd_warp rd_diffusion tables", RD_SINCE="abc123")
    assert proc.returncode == 0, proc.stderr
    assert calls[0] == "benchmarks/bench_rd.py -o experiments/results_rd --decoders warp --restart [threads 2]"
    assert calls[1] == "benchmarks/bench_rd.py -o experiments/results_rd --decoders diffusion --restart [threads 2]"
    assert calls[2].endswith("--summary-only --since abc123 [threads 2]")


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_rd_split_runs_one_single_threaded_process_per_clip_list(tmp_path):
    proc, calls = run_steps(tmp_path, "rd_diffusion", RD_SPLIT="vtest cup|box megamind carphone")
    assert proc.returncode == 0, proc.stderr
    head = "benchmarks/bench_rd.py -o experiments/results_rd --decoders diffusion --restart --sequences"
    assert sorted(calls) == [f"{head} box megamind carphone [threads 1]", f"{head} vtest cup [threads 1]"]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_fast_steps_score_the_coarse_scale_and_the_flicker_against_the_source(tmp_path):
    proc, calls = run_steps(tmp_path, "fast_warp")
    assert proc.returncode == 0, proc.stderr
    evaluate = [c for c in calls if c.startswith("-m actdiff evaluate")]
    assert len(evaluate) == 2  # the OpenCV samples and carphone
    assert all(" psnr_lowres " in c and " tof " in c and "--decoder warp" in c for c in evaluate)


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_unknown_step_fails_before_running_anything(tmp_path):
    proc, calls = run_steps(tmp_path, "tables nonsense")
    assert proc.returncode == 2 and "unknown step nonsense" in proc.stderr
    assert calls == []
