"""NIQE against golden numbers from an independent implementation (BasicSR 1.4.2)."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from actdiff.metrics.imresize import imresize
from actdiff.metrics.niqe import niqe, niqe_uint8

GOLDEN = Path(__file__).parent / "golden"


def _golden():
    doc = json.loads((GOLDEN / "niqe.json").read_text())
    return sorted(doc["niqe"].items())


@pytest.mark.parametrize("name,expected", _golden())
def test_niqe_matches_basicsr(name, expected):
    img = np.array(Image.open(GOLDEN / "niqe" / f"{name}.png").convert("RGB"))
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    assert niqe(x)[0].item() == pytest.approx(expected, abs=0.01)
    assert niqe_uint8(img) == pytest.approx(expected, abs=0.01)


def test_niqe_batch_and_direction():
    img = np.array(Image.open(GOLDEN / "niqe" / "bunny_f60_288x384.png").convert("RGB"))
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    noisy = (x + 0.15 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    out = niqe(torch.cat([x, noisy]))
    assert out.shape == (2,)
    assert out[1] > out[0] + 1.0  # heavy noise is judged less natural


def test_niqe_flat_is_nan_with_warning():
    with pytest.warns(UserWarning, match="flat"):
        v = niqe(torch.full((1, 3, 200, 200), 0.5))
    assert torch.isnan(v).all()


@pytest.mark.parametrize("shape", [(1, 3, 144, 176), (1, 3, 64, 400), (1, 3, 8, 8)])
def test_niqe_tiny_is_nan_with_warning(shape):
    with pytest.warns(UserWarning, match="two 96x96 blocks"):
        v = niqe(torch.rand(shape, generator=torch.Generator().manual_seed(1)))
    assert torch.isnan(v).all()


def test_imresize_matlab_properties():
    # constant stays constant (weights normalised); downscaling a linear ramp keeps it linear inside
    assert np.allclose(imresize(np.full((10, 12), 3.0), 0.5), 3.0)
    ramp = np.tile(np.arange(32, dtype=float), (8, 1))
    out = imresize(ramp, 0.5)
    assert out.shape == (4, 16)
    # MATLAB maps output j (1-based) to input 2j - 0.5: the ramp value is 2j - 1.5 (0-based)
    assert np.allclose(out[0, 3:13], 2 * np.arange(4, 14) - 1.5)


def test_niqe_no_exception_on_odd_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        v = niqe(torch.zeros(2, 3, 300, 300))
    assert torch.isnan(v).all()
