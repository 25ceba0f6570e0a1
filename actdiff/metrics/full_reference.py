"""Full-reference image metrics on float ``(B, 3, H, W)`` RGB in ``[0, 1]``; each returns ``(B,)``.

PSNR and MS-SSIM follow the usual definitions (data range 1); HaarPSI, VIF (``vif_p``), GMSD,
LPIPS and DISTS come from ``piq``. LPIPS/DISTS need VGG16 and their learned layer weights on
disk (see ``actdiff.metrics.weights``): they are never downloaded.
"""

from __future__ import annotations

import warnings
from functools import cache

import torch
import torch.nn.functional as F

from actdiff.metrics.weights import hub_cache, require_all

VGG16_FILE = "vgg16-397923af.pth"  # torchvision ImageNet VGG16 (what piq loads)
LPIPS_FILE = "lpips_weights.pt"  # piq's LPIPS-VGG linear layers (photosynthesis.metrics v0.4.0)
DISTS_FILE = "dists_weights.pt"  # piq's DISTS alpha/beta (piq v0.4.1)
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
MS_SSIM_KERNEL = 11


def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image, data range 1: ``10 log10(1 / MSE)``; ``inf`` when identical."""
    mse = ((x.double() - y.double()) ** 2).flatten(1).mean(1)
    return 10 * torch.log10(1.0 / mse)


#: Downsampling factor of :func:`psnr_lowres` (each side, area averaging).
LOWRES_FACTOR = 8


def psnr_lowres(x: torch.Tensor, y: torch.Tensor, factor: int = LOWRES_FACTOR) -> torch.Tensor:
    """PSNR (dB, data range 1) of both images downsampled ``factor``× by area averaging.

    Coarse-scale fidelity: texture finer than ``factor`` pixels (invented or lost) barely moves
    it, a double image, a misplaced object or a wrong colour does. Sides that are not multiples of
    ``factor`` are cropped to the largest multiple first (at least one block).
    """
    h, w = (max(factor, (n // factor) * factor) for n in x.shape[-2:])
    if min(x.shape[-2:]) < factor:
        raise ValueError(f"psnr_lowres needs frames of at least {factor} px a side, got {tuple(x.shape[-2:])}")
    return psnr(F.avg_pool2d(x[..., :h, :w].double(), factor), F.avg_pool2d(y[..., :h, :w].double(), factor))


def ms_ssim(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MS-SSIM per image (torchmetrics, 11×11 Gaussian, standard 5 scale weights).

    ``scales`` scales need a short side ``s`` with ``s // (scales-1)**2 > 10`` (torchmetrics' own
    condition for the 11-px window: 176 px for 5 scales, 99 for 4, 44 for 3). Smaller frames use
    as many scales as fit (weights renormalised, with a warning); below 3 scales (44 px) → NaN.
    """
    from torchmetrics.functional.image import (
        multiscale_structural_similarity_index_measure as msssim,
    )

    side = min(x.shape[-2:])
    scales = 5
    while scales > 1 and side // (scales - 1) ** 2 <= MS_SSIM_KERNEL - 1:
        scales -= 1
    if scales < 3:
        warnings.warn(f"MS-SSIM undefined for {side}-px frames (needs at least 44 px); NaN", stacklevel=2)
        return torch.full((x.shape[0],), float("nan"), dtype=torch.float64)
    betas = MS_SSIM_WEIGHTS[:scales]
    if scales < 5:
        warnings.warn(f"MS-SSIM on {side}-px frames uses {scales} scales instead of 5", stacklevel=2)
        s = sum(betas)
        betas = tuple(b / s for b in betas)
    out = msssim(x.float(), y.float(), data_range=1.0, kernel_size=MS_SSIM_KERNEL, betas=betas,
                 reduction="none", normalize="relu")
    return out.double().reshape(-1)


def haarpsi(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """HaarPSI (piq), higher is better, in ``[0, 1]``.

    Two frames without any high-frequency content (e.g. both black) give piq a 0/0 (it returns
    ``inf``): identical frames score 1, others are undefined (NaN, with a warning, so that
    ``compute_metrics`` leaves them out of the mean).
    """
    import piq

    score = piq.haarpsi(x.float(), y.float(), data_range=1.0, reduction="none").double()
    bad = ~torch.isfinite(score)
    if bad.any():
        same = (x == y).flatten(1).all(1)
        score[bad & same] = 1.0
        if (bad & ~same).any():
            warnings.warn("HaarPSI undefined for frames without any edge; NaN", stacklevel=2)
            score[bad & ~same] = float("nan")
    return score


def vif(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Pixel-domain VIF (piq ``vif_p``), reference = ``x``; higher is better."""
    import piq

    return piq.vif_p(y.float(), x.float(), data_range=1.0, reduction="none").double()


def gmsd(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """GMSD (piq), lower is better."""
    import piq

    return piq.gmsd(y.float(), x.float(), data_range=1.0, reduction="none").double()


@cache
def _lpips_model() -> torch.nn.Module:
    import piq

    files = require_all([VGG16_FILE, LPIPS_FILE], "LPIPS-VGG")
    with hub_cache(files):
        return piq.LPIPS(reduction="none").eval()


@cache
def _dists_model() -> torch.nn.Module:
    import piq

    files = require_all([VGG16_FILE, DISTS_FILE], "DISTS")
    with hub_cache(files):
        return piq.DISTS(reduction="none").eval()


def _pad_min(x: torch.Tensor, side: int = 32) -> torch.Tensor:
    h, w = x.shape[-2:]
    return F.pad(x, (0, max(0, side - w), 0, max(0, side - h)), mode="replicate") if min(h, w) < side else x


@torch.no_grad()
def lpips(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """LPIPS-VGG (piq), lower is better. Raises ``MissingWeightsError`` when weights are absent."""
    return _lpips_model()(y.float(), x.float()).double().reshape(-1)


@torch.no_grad()
def dists(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """DISTS (piq), lower is better. Raises ``MissingWeightsError`` when weights are absent."""
    return _dists_model()(_pad_min(y.float()), _pad_min(x.float())).double().reshape(-1)
