"""CompressAI and DCVC result files (their published layouts, tests/golden/interop/) load as results.

The files follow CompressAI's ``results/*.json`` (``{"name", "description", "results": {"bpp",
"psnr-rgb", "ms-ssim-rgb", …}}`` and the older flat form) and DCVC's ``test_video.py`` output
(``{dataset: {sequence: {"000": {"ave_all_frame_bpp", "ave_all_frame_psnr", …}}}}``); their
numbers are made up.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from _eval_helpers import fake_results

import actdiff
from actdiff.commands.bdrate import main as bdrate_main
from actdiff.commands.plot import main as plot_main
from actdiff.errors import InputError
from actdiff.evaluation.bdrate import compare
from actdiff.evaluation.results import load_results, save_results

GOLDEN = Path(__file__).parent / "golden" / "interop"


def test_compressai_file_becomes_a_mean_curve():
    res = load_results(GOLDEN / "compressai_mbt2018-mean_mse.json")
    assert res["codec"] == "mbt2018-mean" and res["sequences"] == {}
    assert [p["bpp"] for p in res["mean"]] == [0.02, 0.04, 0.08, 0.16]
    assert res["mean"][0]["metrics"] == {"psnr": 27.0, "ms_ssim": 0.90}  # psnr-rgb, ms-ssim-rgb mapped
    assert res["mean"][0]["encode_seconds"] == 0.5
    assert res["config"]["imported_from"] == "compressai"
    api = actdiff.load_results(GOLDEN / "compressai_mbt2018-mean_mse.json")
    assert api.metric_names() == ["ms_ssim", "psnr"]


def test_flat_compressai_file():
    res = load_results(GOLDEN / "compressai_flat_x265.json")
    assert res["codec"] == "compressai_flat_x265"
    assert res["mean"][1]["metrics"] == {"psnr": 33.5, "ms_ssim": 0.94, "psnr_y": 37.9}
    assert res["mean"][1]["qp"] == 32


def test_dcvc_file_has_sequences_named_like_ours():
    res = load_results(GOLDEN / "dcvc_uvg.json")
    assert sorted(res["sequences"]) == ["Beauty", "Jockey"]  # "_1920x1080_…" cut, as configs/data/uvg.yaml
    beauty = res["sequences"]["Beauty"]
    assert [p["bpp"] for p in beauty] == [0.02, 0.04]
    assert beauty[0]["metrics"] == {"psnr": 32.5}  # an MS-SSIM of 0 (not computed) is dropped
    assert res["sequences"]["Jockey"][1]["metrics"] == {"psnr": 34.0, "ms_ssim": 0.96}
    assert beauty[0]["frames"] == 4 and beauty[0]["bits_total"] == round(0.02 * 4 * 2073600)
    assert res["mean"][0]["bpp"] == pytest.approx(0.025)


def test_dcvc_yuv_points_read_their_plain_psnr_as_yuv_psnr(tmp_path):
    """DCVC's ``ave_all_frame_psnr`` of a YUV 4:2:0 test (one with the planes' PSNRs) is the 6:1:1
    YUV PSNR: ``psnr_yuv`` here, never our RGB ``psnr``; with ``_rgb`` present that one is ``psnr``."""
    point = {"i_frame_num": 1, "p_frame_num": 1, "ave_all_frame_bpp": 0.02, "ave_all_frame_psnr": 36.0,
             "ave_all_frame_psnr_y": 35.0, "ave_all_frame_psnr_u": 40.0, "ave_all_frame_psnr_v": 40.0}
    path = tmp_path / "dcvc.json"
    path.write_text(json.dumps({"UVG": {"Beauty_1920x1080_120fps_420_10bit_YUV": {"000": point},
                                        "Jockey_1920x1080": {"000": {**point, "ave_all_frame_psnr_rgb": 33.0}}}}))
    res = load_results(path)
    assert res["sequences"]["Beauty"][0]["metrics"] == {"psnr_yuv": 36.0, "psnr_y": 35.0, "psnr_u": 40.0,
                                                        "psnr_v": 40.0}
    assert res["sequences"]["Jockey"][0]["metrics"]["psnr"] == 33.0
    assert "psnr_yuv" not in res["sequences"]["Jockey"][0]["metrics"]


def test_bdrate_against_a_compressai_curve(tmp_path, capsys):
    # ours: half the CompressAI rates at the same PSNR on both sequences → BD-rate −50 %
    rates, psnr = np.array([0.02, 0.04, 0.08, 0.16]), np.array([27.0, 29.0, 31.0, 33.0])
    ours = save_results(fake_results("actdiff-warp", {"s1": (rates / 2, psnr), "s2": (rates / 2, psnr)}),
                        tmp_path / "ours.json")
    assert bdrate_main([str(ours), str(GOLDEN / "compressai_mbt2018-mean_mse.json"), "--metric", "psnr"]) == 0
    out = capsys.readouterr().out
    assert "| mean curves | -50.0% | +50.0% |" in out and "dataset-average curves only" in out
    rep = compare(load_results(ours), load_results(GOLDEN / "compressai_mbt2018-mean_mse.json"), "psnr")
    assert list(rep["sequences"]) == ["mean"] and rep["average"]["mean_only"]


def test_bdrate_against_dcvc_per_sequence(tmp_path, capsys):
    ours = save_results(fake_results("actdiff-warp", {"Beauty": ([0.01, 0.02], [32.5, 35.5]),
                                                      "Jockey": ([0.015, 0.03], [31.0, 34.0])}), tmp_path / "o.json")
    assert bdrate_main([str(ours), str(GOLDEN / "dcvc_uvg.json"), "--metric", "psnr"]) == 0
    out = capsys.readouterr().out
    assert "| Beauty | -50.0% |" in out and "| Jockey | -50.0% |" in out


def test_plot_overlays_imported_curves(tmp_path):
    rates, psnr = np.array([0.02, 0.04, 0.08]), np.array([27.0, 29.0, 31.0])
    ours = save_results(fake_results("actdiff-warp", {"s1": (rates, psnr)}), tmp_path / "ours.json")
    out = tmp_path / "rd.png"
    assert plot_main([str(ours), str(GOLDEN / "compressai_mbt2018-mean_mse.json"), str(GOLDEN / "dcvc_uvg.json"),
                      "--metric", "psnr", "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("doc,message", [
    ({"name": "x", "results": {"bitrate": [1.0, 2.0], "psnr-rgb": [30.0, 32.0]}}, "without 'bpp' (it has 'bitrate'"),
    ({"name": "x", "results": {"bpp": [0.1, 0.2], "psnr-rgb": [30.0]}}, "different lengths: psnr-rgb"),
    ({"name": "x", "results": {"bpp": [0.1, 0.2], "mse": [3.0, 2.0]}}, "no known metric"),
    ({"name": "x", "results": {"bpp": [0.1, "a"], "psnr": [30.0, 31.0]}}, "bpp[1]: 'a' is not a number"),
    ({"UVG": {"A_64x64": {"000": {"ave_all_frame_bpp": 0.1}, "001": {"ave_all_frame_psnr": 30.0}}}},
     "UVG/A_64x64/001: no 'ave_all_frame_bpp'"),
    ({"foo": 1}, "not an actdiff, CompressAI or DCVC results file"),
])
def test_anything_else_is_a_one_line_error(tmp_path, doc, message, capsys):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        load_results(path)
    assert plot_main([str(path), "--metric", "psnr", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
