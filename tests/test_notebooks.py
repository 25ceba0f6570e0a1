"""The notebooks: generated from experiments/make_notebooks.py and stored with the outputs of its
``--execute`` run, and each one runs top to bottom on tiny data (nbclient, a kernel of this very
Python).

What is checked about the stored outputs: they were produced by the generator's real run — the
cells' sources are the generator's, every code cell ran once, in order, without an error, the
figures are there, and the notebook records the command and machine (``metadata.actdiff``). The
numbers themselves differ from run to run (timings) and are not compared."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from _eval_helpers import fail_point_at_run_time, fake_results, load_script, write_clip_folder

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KERNEL = "actdiff-test-python"


def test_three_notebooks_stored_with_the_outputs_of_a_generator_run():
    assert [p.name for p in NOTEBOOKS] == ["01_codec_walkthrough.ipynb", "02_rate_curves.ipynb",
                                           "03_ablations.ipynb"]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert "make_notebooks.py --execute" in nb.metadata["actdiff"]["executed_by"], path.name
        assert nb.metadata["actdiff"]["machine"] and nb.metadata["actdiff"]["seconds"] > 0
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), path.name  # one run, in order
        outputs = [o for c in code for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], path.name
        assert any({"image/png", "image/jpeg"} & set(o.get("data", {})) for o in outputs), path.name  # figures


def test_notebooks_match_their_generator():
    assert load_script("experiments/make_notebooks.py").main(["--check"]) == 0


def test_notebooks_pass_the_linter():
    """The generated cells are code a reader may copy: ruff (the project's settings) finds nothing."""
    import shutil
    import subprocess

    ruff = Path(sys.executable).with_name("ruff")
    ruff = str(ruff) if ruff.exists() else shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    res = subprocess.run([ruff, "check", "--no-cache", *map(str, NOTEBOOKS)], capture_output=True, text=True,
                         cwd=ROOT)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.fixture(scope="module")
def kernel_env(tmp_path_factory):
    """A kernelspec running this interpreter (the venv), found first through JUPYTER_PATH."""
    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "actdiff test", "language": "python"}))
    return {"JUPYTER_PATH": str(root), "OMP_NUM_THREADS": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def test_notebooks_use_only_the_public_api():
    """Every import in a notebook is ``import actdiff`` (and third-party modules), and every
    ``actdiff.X`` they use is a name of the public API (``actdiff.__all__``)."""
    import re

    import actdiff

    for path in NOTEBOOKS:
        code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert not re.search(r"(from|import)\s+actdiff\.", code), f"{path.name} imports a private module"
        used = set(re.findall(r"\bactdiff\.(\w+)", code))
        assert used and used <= set(actdiff.__all__), f"{path.name} uses {sorted(used - set(actdiff.__all__))}"


def test_notebooks_start_with_a_tagged_parameters_cell():
    for path in NOTEBOOKS:
        cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
        assert "parameters" in cells[0].metadata.get("tags", []), path.name


def _run(name: str, cwd: Path, env: dict, monkeypatch, params: dict | None = None) -> str:
    """Execute notebook ``name`` in ``cwd`` with ``params`` set in a cell after its parameters cell
    (as papermill does); returns its text outputs joined (``<png>`` per image)."""
    from nbclient import NotebookClient

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("\n".join(f"{k} = {v!r}" for k, v in (params or {}).items())))
    NotebookClient(nb, kernel_name=KERNEL, timeout=120, resources={"metadata": {"path": str(cwd)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            texts.append(out.get("text", "") or "".join(data.get("text/markdown", "")))
            texts.append("<png>" if "image/png" in data or "image/jpeg" in data else "")
    return "\n".join(texts)


def test_01_codec_walkthrough(tmp_path, kernel_env, monkeypatch):
    text = _run("01_codec_walkthrough.ipynb", tmp_path, kernel_env, monkeypatch,
                {"FRAMES": 6, "TARGET_BPP": 0.08, "DIFFUSION": False})
    assert "6 frames, 384x256" in text and "rate control: target 0.08000 bpp" in text
    assert "keyframes:" in text and "trajectories:" in text
    assert "warp: psnr=" in text and "DIFFUSION = False" in text
    assert text.count("<png>") >= 4  # keyframes, trajectories, bit split, reconstructions


def test_02_rate_curves(tmp_path, kernel_env, monkeypatch):
    from actdiff.evaluation.results import save_results

    a = fake_results("actdiff-warp", {"s1": ([0.01, 0.02, 0.04], [6.0, 5.5, 5.0])}, metric="niqe")
    b = fake_results("x265", {"s1": ([0.015, 0.03, 0.06], [6.0, 5.5, 5.0])}, metric="niqe")
    pa, pb = save_results(a, tmp_path / "a.json"), save_results(b, tmp_path / "b.json")
    text = _run("02_rate_curves.ipynb", tmp_path, kernel_env, monkeypatch,
                {"RESULTS": [str(pa), str(pb)], "METRICS": ["niqe"]})
    assert "actdiff-warp: 1 sequences" in text
    assert "BD-rate of actdiff-warp against the anchor x265 (niqe" in text
    assert "| s1 | -33.3%" in text  # actdiff-warp needs 2/3 of x265's bits: negative (JVET convention)
    assert "no thumbnails in these results" in text  # RESULTS without --frames-dir: said, not drawn
    assert text.count("<png>") == 1  # the niqe curves


def test_03_ablations(tmp_path, kernel_env, monkeypatch):
    from actdiff.commands.sweep import main as sweep

    data = write_clip_folder(tmp_path / "clips", names=("alpha",))
    spec = tmp_path / "s.yaml"
    spec.write_text(yaml.safe_dump({
        "data": str(data), "protocol": "native", "metrics": ["psnr"],
        "rates": {"lo": ["keyframe_codec.quality=10"], "hi": ["keyframe_codec.quality=40"]},
        "reference": {"name": "ref"}, "points": [{"name": "nobi", "decoder": {"bidirectional": False}},
                                                 {"name": "broken", "overrides": ["codec.trajectories.name=motion"]}]},
        sort_keys=False))
    with monkeypatch.context() as m:
        fail_point_at_run_time(m, "broken")
        assert sweep([str(spec), "-o", str(tmp_path / "sw")]) == 1  # the broken point is shown as failed
    text = _run("03_ablations.ipynb", tmp_path, kernel_env, monkeypatch, {"SWEEP": str(tmp_path / "sw")})
    assert "| nobi | ok |" in text and "point broken failed: RuntimeError" in text
    assert text.count("<png>") == 2  # Δ / BD-rate bars and the curves of the finished points
