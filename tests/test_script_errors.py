"""Scripts under ``benchmarks/`` and ``experiments/`` end a user error as the CLI does: one line.

Every script's ``if __name__ == "__main__":`` block runs its ``main`` through
:func:`actdiff.commands.common.script_entry` (checked in the source, so a new script is covered),
which prints an :class:`~actdiff.errors.ActDiffError` as ``error: <first line>`` on stderr and exits
2 instead of ending in a traceback; one script is run for real with a missing clip.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from actdiff.commands.common import cli_entry, script_entry
from actdiff.errors import ActDiffError, ConfigError, InputError

ROOT = Path(__file__).resolve().parent.parent

#: Scripts whose ``__main__`` block need not call ``script_entry``, and why.
EXEMPT = {
    "experiments/make_niqe_golden.py": "runs in a throwaway venv without actdiff (an independent NIQE reference), "
                                       "and raises no ActDiffError",
}


def _main_block(tree: ast.Module) -> ast.If | None:
    """The module's top-level ``if __name__ == "__main__":`` (either operand order), or None."""
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.comparators) == 1:
            sides = {ast.unparse(node.test.left), ast.unparse(node.test.comparators[0])}
            if sides in ({"__name__", "'__main__'"}, {"__name__", '"__main__"'}):
                return node
    return None


def _scripts_with_main() -> dict[str, ast.If]:
    found = {}
    for path in sorted(p for d in ("benchmarks", "experiments") for p in (ROOT / d).glob("*.py")):
        block = _main_block(ast.parse(path.read_text(), filename=str(path)))
        if block is not None:
            found[path.relative_to(ROOT).as_posix()] = block
    return found


SCRIPTS = _scripts_with_main()


def test_scripts_are_found() -> None:
    assert "benchmarks/bench_video_decoder.py" in SCRIPTS and "experiments/rd_flag_ab.py" in SCRIPTS
    assert len(SCRIPTS) > 50
    assert all((ROOT / p).exists() for p in EXEMPT), "an exempt script was renamed or removed: update EXEMPT"


@pytest.mark.parametrize("script", sorted(set(SCRIPTS) - set(EXEMPT)))
def test_main_block_calls_script_entry(script: str) -> None:
    calls = [n for stmt in SCRIPTS[script].body for n in ast.walk(stmt)
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "script_entry"]
    assert calls, (f"{script}: its __main__ block must end in `script_entry(main)` "
                   "(from actdiff.commands.common), so that user errors print one line, exit 2")


def test_missing_clip_is_one_line_exit_2(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    clip, out = tmp_path / "no_such_clip.mp4", tmp_path / "out.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "WANDB_MODE": "disabled"}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks/bench_video_decoder.py"), str(clip), "-o", str(out)],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(clip) in lines[0], proc.stderr
    assert not out.exists() and not any(cwd.iterdir())


def _exit(main, *args) -> int:
    with pytest.raises(SystemExit) as e:
        script_entry(main, *args)
    return e.value.code


def _raise(exc: BaseException):
    def main(*_args):
        raise exc
    return main


@pytest.mark.parametrize("exc", [ActDiffError("bad input\nmore detail"), InputError("bad input"),
                                 ConfigError("bad input")])
def test_script_entry_actdiff_error(exc: ActDiffError, capsys: pytest.CaptureFixture) -> None:
    assert _exit(_raise(exc)) == 2
    captured = capsys.readouterr()
    assert captured.err == "error: bad input\n" and captured.out == ""


def test_script_entry_empty_message(capsys: pytest.CaptureFixture) -> None:
    assert _exit(_raise(InputError())) == 2
    assert capsys.readouterr().err == "error: InputError\n"


@pytest.mark.parametrize("result, code", [(None, 0), (0, 0), (3, 3), (True, 1), (False, 0),
                                          ({"rows": []}, 0), ([1, 2], 0)])
def test_script_entry_exit_code(result: object, code: int, capsys: pytest.CaptureFixture) -> None:
    assert _exit(lambda: result) == code
    assert capsys.readouterr().err == ""


def test_script_entry_passes_arguments() -> None:
    seen = []
    assert _exit(lambda argv, k: seen.append((argv, k)), ["a", "b"], 7) == 0
    assert seen == [(["a", "b"], 7)]


def test_script_entry_interrupt_and_memory(capsys: pytest.CaptureFixture) -> None:
    assert _exit(_raise(KeyboardInterrupt())) == 130
    assert capsys.readouterr().err == "error: interrupted\n"
    assert _exit(_raise(MemoryError())) == 2
    assert capsys.readouterr().err.startswith("error: out of memory")


def test_script_entry_leaves_argparse_and_bugs_alone(capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser(prog="x")
    parser.add_argument("n", type=int)
    assert _exit(lambda: parser.parse_args(["nan"])) == 2  # argparse's own usage error, unchanged
    assert "usage: x" in capsys.readouterr().err
    with pytest.raises(RuntimeError, match="a bug"):
        script_entry(_raise(RuntimeError("a bug")))


def test_cli_entry_shares_the_handling(capsys: pytest.CaptureFixture) -> None:
    assert cli_entry(_raise(ConfigError("no such key\nhint")))([]) == 2
    assert capsys.readouterr().err == "error: no such key\n"
    assert cli_entry(_raise(KeyboardInterrupt()))([]) == 130
    assert cli_entry(lambda argv: None)([]) == 0
    assert cli_entry(lambda argv: len(argv))(["a", "b"]) == 2
