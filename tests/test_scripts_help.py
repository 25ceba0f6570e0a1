"""Every script under ``experiments/`` and ``benchmarks/`` still imports and answers ``--help``.

The README's and the docs' numbers come from these scripts; one that no longer imports (a renamed
function, a moved module) would only be noticed when someone tries to re-run a number. The
scripts run as ``python SCRIPT --help`` would run them (``runpy`` with ``__name__ == "__main__"``),
all in one child process so that torch is imported once; each must exit 0 with argparse's usage
line and must not write anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def scripts(pattern: str) -> list[str]:
    """Repository-relative paths of ``experiments/`` and ``benchmarks/`` files matching ``pattern``."""
    found = [p for d in ("experiments", "benchmarks") for p in (ROOT / d).glob(pattern)]
    return sorted(p.relative_to(ROOT).as_posix() for p in found)


SCRIPTS = scripts("*.py")

#: Runs each path given on the command line as ``python PATH --help`` would, in this process, and
#: prints one JSON object: path -> [exit code, first line of stdout, error or null].
DRIVER = r"""
import contextlib, io, json, runpy, sys, traceback
out = {}
for path in sys.argv[1:]:
    buf, code, err = io.StringIO(), None, None
    sys.argv = [path, "--help"]
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
            runpy.run_path(path, run_name="__main__")
        err = "returned without exiting: --help is not handled by argparse"
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        err = traceback.format_exc(limit=-3)
    out[path] = [code, buf.getvalue().strip().splitlines()[:1], err]
print("@@" + json.dumps(out))
"""


def test_scripts_are_found() -> None:
    assert "benchmarks/bench_rd.py" in SCRIPTS and "experiments/rd_flag_ab.py" in SCRIPTS


@pytest.fixture(scope="module")
def helps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list]:
    cwd = tmp_path_factory.mktemp("scripts_help")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.run([sys.executable, "-c", DRIVER, *(str(ROOT / s) for s in SCRIPTS)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@")), None)
    assert line is not None, proc.stderr[-2000:]
    assert not any(cwd.iterdir()), f"--help wrote files: {sorted(p.name for p in cwd.iterdir())}"
    return {Path(k).relative_to(ROOT).as_posix(): v for k, v in json.loads(line[2:]).items()}


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_answers_help(helps: dict[str, list], script: str) -> None:
    code, first, err = helps[script]
    assert err is None, f"{script}: {err}"
    assert code == 0, f"{script}: --help exited {code}"
    assert first and first[0].startswith("usage:"), f"{script}: no usage line, got {first}"


@pytest.mark.parametrize("script", scripts("*.sh"))
def test_shell_script_parses(script: str) -> None:
    proc = subprocess.run(["bash", "-n", str(ROOT / script)], capture_output=True, text=True)
    assert proc.returncode == 0, f"{script}: {proc.stderr.strip()}"
