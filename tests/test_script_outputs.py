"""No script under ``benchmarks/`` or ``experiments/`` writes over an existing ``-o`` output.

Every script with ``add_argument("-o"`` (found in the source, so a new one is covered) is run
in-process with ``-o EXISTING`` and the least that passes its argparse (required positionals and
options are filled in from the parser itself: a number for a number, the first choice of a choice,
else the path of a small file). It must stop with a one-line error naming the existing output and
a non-zero exit, leave the file's bytes as they were, write nothing else, and do so before any
expensive work: no file is opened for reading (clip, results file, model or config: Python's
``open`` and PyAV's ``av.open`` are watched while ``main()`` runs), and a script still running
after ``LIMIT`` seconds is stopped and fails.
"""

from __future__ import annotations

import argparse
import builtins
import io
import re
import signal
import sys

import pytest
from _eval_helpers import ROOT, load_script

LIMIT = 30  # seconds main() may run before the test stops it (refusing takes milliseconds)
#: Scripts whose ``-o`` is not a file that must not be replaced.
EXEMPT = {
    "benchmarks/bench_rd.py": "-o is a results folder that runs resume, share and add to by design",
}
#: ``-o STEM`` writing ``STEM.json`` (and more): the test makes ``STEM.json`` the existing file.
STEM_OUTPUTS = {"experiments/coder_frames.py"}
#: Other modes of a script, and second outputs: (script, argv); ``IN`` is an existing input
#: file, ``NEW`` a path that does not exist, ``OLD`` the existing output that must stay.
MODES = [
    ("benchmarks/bench_video_decoder.py", ["IN", "IN", "--merge", "-o", "OLD"]),
    ("experiments/fast_override_ab.py", ["--merge", "IN", "IN", "-o", "OLD"]),
    ("experiments/fast_override_ab.py", ["--versus", "IN", "IN", "-o", "OLD"]),
    ("experiments/rd_flag_ab.py", ["--merge", "IN", "IN", "-o", "OLD"]),
    ("experiments/selector_candidates.py", ["--summarize", "IN", "-o", "OLD"]),
    ("experiments/rd_frames.py", ["IN", "-o", "NEW.png", "--metrics-json", "OLD"]),
    ("experiments/repeat_frames.py", ["IN", "-o", "OLD.jpg"]),  # OLD.json exists: the numbers' file
    ("experiments/decode_check.py", ["IN", "-o", "NEW.json", "--sheet", "OLD"]),
    ("experiments/override_frames.py", ["IN", "--set", "a=1", "--sheet", "OLD"]),
]


def scripts_with_output() -> list[str]:
    found = [p for d in ("benchmarks", "experiments") for p in sorted((ROOT / d).glob("*.py"))
             if 'add_argument("-o"' in p.read_text()]
    return [p.relative_to(ROOT).as_posix() for p in found]


SCRIPTS = scripts_with_output()


def _values(action: argparse.Action, filler: str) -> list[str]:
    """The least a required argument takes: one value (``nargs`` of them when a number)."""
    count = action.nargs if isinstance(action.nargs, int) else 1
    if action.choices:
        value = str(next(iter(action.choices)))
    elif action.type in (int, float):
        value = "1"
    else:
        value = filler
    return [value] * count


def _filled(parser: argparse.ArgumentParser, args: list[str], filler: str) -> list[str]:
    """``args`` plus a value for every required positional, option and option group not given."""
    given = {a.split("=", 1)[0] for a in args if a.startswith("-")}
    positionals, options = [], []
    for action in parser._actions:
        if not action.option_strings:
            if action.nargs not in ("?", "*", argparse.REMAINDER, argparse.SUPPRESS):
                positionals += _values(action, filler)
        elif action.required and not given & set(action.option_strings):
            options += [action.option_strings[0], *_values(action, filler)]
    for group in parser._mutually_exclusive_groups:
        if group.required and not any(given & set(a.option_strings) for a in group._group_actions):
            options += [group._group_actions[0].option_strings[0], *_values(group._group_actions[0], filler)]
    return positionals + options + args


def _watch_reads(monkeypatch) -> list[str]:
    """Record every file opened for reading from now on (``open``, ``io.open``, ``av.open``)."""
    import av

    reads: list[str] = []

    def watched(real):
        def opener(file, mode="r", *args, **kwargs):
            if isinstance(file, (str, bytes)) or hasattr(file, "__fspath__"):
                if "r" in str(mode) or "+" in str(mode):
                    reads.append(str(file))
            return real(file, mode, *args, **kwargs)
        return opener

    monkeypatch.setattr(builtins, "open", watched(builtins.open))
    monkeypatch.setattr(io, "open", watched(io.open))
    monkeypatch.setattr(av, "open", watched(av.open))
    return reads


def run_main(script: str, argv: list[str], monkeypatch, fill: str | None) -> tuple[SystemExit | None, list[str]]:
    """``main()`` of ``script`` as ``python script ARGV`` runs it (``fill``: the path that fills
    required arguments, ``None``: ``argv`` as given): the ``SystemExit`` it raised, if any, and
    the files ``main`` opened for reading (the import not counted)."""
    if fill is not None:
        real = argparse.ArgumentParser.parse_known_args

        def parse_known_args(self, args=None, namespace=None):
            args = sys.argv[1:] if args is None else list(args)
            return real(self, _filled(self, args, fill), namespace)

        monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", parse_known_args)
    monkeypatch.setattr(sys, "argv", [script, *argv])
    module = load_script(script)

    def stop(*_):  # a script without the check would run its whole benchmark: fail fast instead
        raise TimeoutError(f"{script} still runs after {LIMIT} s: an existing output was not refused first")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(LIMIT)
    reads = _watch_reads(monkeypatch)
    try:
        module.main()
    except SystemExit as e:
        return e, reads
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        monkeypatch.undo()
    return None, reads


def check_refused(script, argv, tmp_path, monkeypatch, capsys, fill):
    before = {p: p.read_bytes() for p in sorted(tmp_path.iterdir())}
    exit_, reads = run_main(script, argv, monkeypatch, fill)
    message = capsys.readouterr().err + (exit_.code if exit_ is not None and isinstance(exit_.code, str) else "")
    assert exit_ is not None, f"{script}: ran on with an existing output"
    assert exit_.code not in (0, None), f"{script}: exit code {exit_.code!r}"
    last = message.strip().splitlines()[-1] if message.strip() else ""
    assert "exists" in last and "Traceback" not in message, f"{script}: {message[-500:]}"
    assert {p: p.read_bytes() for p in sorted(tmp_path.iterdir())} == before, f"{script}: files changed"
    assert not reads, f"{script}: read {reads} before refusing"  # no clip, results file, model or config


def test_the_scan_finds_the_scripts():
    assert len(SCRIPTS) >= 40
    assert {"benchmarks/bench_codec.py", "benchmarks/bench_video_decoder.py", "experiments/readme_figure.py"} \
        <= set(SCRIPTS)
    assert set(EXEMPT) <= set(SCRIPTS) and STEM_OUTPUTS <= set(SCRIPTS)
    assert {s for s, _ in MODES} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_an_existing_output_is_refused_before_any_work(script, tmp_path, monkeypatch, capsys):
    if script in EXEMPT:
        pytest.skip(EXEMPT[script])
    filler = tmp_path / "input.mp4"
    filler.write_bytes(b"not a video")
    existing = tmp_path / ("results.json" if script in STEM_OUTPUTS else "results.png")
    existing.write_text('{"kept": true}\n')
    out = str(existing.with_suffix("")) if script in STEM_OUTPUTS else str(existing)
    check_refused(script, ["-o", out], tmp_path, monkeypatch, capsys, str(filler))


@pytest.mark.parametrize("script,argv", MODES, ids=[f"{s.split('/')[1]} {' '.join(a)}" for s, a in MODES])
def test_other_modes_and_second_outputs_are_refused_too(script, argv, tmp_path, monkeypatch, capsys):
    (tmp_path / "input.json").write_text('{"clips": []}\n')
    old = tmp_path / "old"
    old.write_bytes(b"kept")
    (tmp_path / "old.json").write_bytes(b"kept too")
    names = {"IN": tmp_path / "input.json", "NEW": tmp_path / "new", "OLD": old}
    argv = [re.sub(r"^(IN|NEW|OLD)", lambda m: str(names[m.group(1)]), a) for a in argv]
    check_refused(script, argv, tmp_path, monkeypatch, capsys, None)
