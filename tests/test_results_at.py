"""``load_results_at``: a results document as committed at a git revision."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from actdiff.errors import InputError
from actdiff.evaluation.results import load_results, load_results_at, new_results, save_results

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def test_reads_the_committed_version_not_the_working_copy(tmp_path):
    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    git("init", "-q")
    doc = new_results("x265", "set", {"name": "cpu"}, {})
    save_results(doc, tmp_path / "r" / "x265.json")
    git("add", "r/x265.json")
    git("commit", "-qm", "first")
    doc["codec"] = "changed"
    (tmp_path / "r" / "x265.json").write_text(json.dumps(doc))
    assert load_results(tmp_path / "r" / "x265.json")["codec"] == "changed"
    assert load_results_at("HEAD", "r/x265.json", tmp_path)["codec"] == "x265"
    with pytest.raises(InputError, match="nosuch"):
        load_results_at("nosuch", "r/x265.json", tmp_path)
    with pytest.raises(InputError, match="missing.json"):
        load_results_at("HEAD", "r/missing.json", tmp_path)
