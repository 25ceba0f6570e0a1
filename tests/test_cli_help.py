"""``actdiff VERB --help``: light (no heavy module imported), defaults shown, no RST markup.

The time itself is machine-dependent and is measured by ``benchmarks/bench_help.py``
(``benchmarks/results/help_cpu.json``); here only the imports are checked, in a fresh process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from actdiff.cli import EXTRA_VERBS, VERBS

HEAVY = ("torch", "diffusers", "lightning", "av", "matplotlib", "cv2", "scipy", "pandas")
PROBE = """
import contextlib, io, json, sys
from actdiff.cli import main
buf = io.StringIO()
with contextlib.redirect_stdout(buf):
    try:
        code = main([sys.argv[1], "--help"])
    except SystemExit as e:  # argparse's --help
        code = e.code
print(json.dumps({"code": code, "help": buf.getvalue(),
                  "heavy": sorted(m for m in %r if m in sys.modules)}))
""" % (HEAVY,)


def run_help(verb: str) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE, verb], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


@pytest.mark.parametrize("verb", sorted({**VERBS, **EXTRA_VERBS}))
def test_help_imports_no_heavy_module(verb):
    r = run_help(verb)
    assert r["code"] == 0 and r["help"].startswith("usage: actdiff")
    assert r["heavy"] == [], f"`actdiff {verb} --help` imported {r['heavy']}"
    assert "``" not in r["help"] and ":mod:" not in r["help"]  # no RST markup on the terminal


def test_defaults_are_shown_and_match_the_library(capsys):
    from actdiff.commands import bench, common, encode, evaluate
    from actdiff.metrics import DEFAULT_METRICS

    assert tuple(common.DEFAULT_METRICS) == tuple(DEFAULT_METRICS)
    text = evaluate.build_parser().format_help()
    assert "(default: psnr ms_ssim niqe warping_error)" in " ".join(text.split())
    assert "(default: experiment/codec)" in text
    assert "(default: 0.1)" in encode.build_parser().format_help()
    assert "WxH (width x height" in " ".join(encode.build_parser().format_help().split())
    from actdiff.baselines import BASELINES

    crf = " ".join(bench.CRF_HELP.split())
    for name in ("x264", "x265"):
        assert " ".join(map(str, BASELINES[name].default_crfs)) in crf
    assert " ".join(map(str, BASELINES["svt-av1"].default_crfs)) in crf
    from actdiff.commands import plot
    from actdiff.evaluation.plotting import FORMATS

    assert plot.FORMATS == FORMATS
