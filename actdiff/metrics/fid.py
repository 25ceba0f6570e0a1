"""FID and KID between reference and reconstructed frames (torchmetrics), two sampling protocols.

* ``frames``: every frame is one sample; the standard Inception resizes it to 299×299
  (bilinear, antialiased, exactly as torchmetrics / torch-fidelity do).
* ``patches`` (HiFiC, Mentzer et al. 2020): each frame is cut into non-overlapping 256×256
  patches, then again after shifting the grid by 128 px in both directions; each patch is one
  sample. Frames smaller than 256 px give no patch.

Features come from the 2048-d pool3 layer of the FID Inception (torch-fidelity's
``inception-v3-compat``, weights file ``weights-inception-2015-12-05-6726825d.pth`` found by
``actdiff.metrics.weights.find_weights``, never downloaded), or from any ``nn.Module`` passed as
``feature``: it receives ``uint8 (N, 3, H, W)`` tensors and returns ``(N, D)``. Features are
extracted once and both scores are computed by torchmetrics from them. KID's subset size is
``min(1000, samples)``; fewer than two samples on either side gives NaN with a warning.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.metrics.weights import find_weights

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
PATCH = 256
PROTOCOLS = ("frames", "patches")


def load_inception(path: str | None = None) -> nn.Module:
    """The standard FID Inception (2048-d) from a local weights file (loaded once per file)."""
    return _load_inception(str(find_weights(INCEPTION_FILE, path, what="FID Inception-v3")))


@lru_cache(maxsize=2)
def _load_inception(weights: str) -> nn.Module:
    try:
        from torchmetrics.image.fid import NoTrainInceptionV3
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MissingWeightsError(f"FID needs the torch-fidelity package ({e}); pip install torch-fidelity") from None
    return NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                              feature_extractor_weights_path=str(weights))


class _Identity(nn.Module):
    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def patches(frames: np.ndarray, size: int = PATCH) -> np.ndarray:
    """HiFiC patches of ``uint8 (T, H, W, 3)`` → ``uint8 (N, size, size, 3)`` (grid, then grid shifted by size/2)."""
    out = []
    for off in (0, size // 2):
        sub = frames[:, off:, off:]
        t, h, w = sub.shape[:3]
        nh, nw = h // size, w // size
        if nh == 0 or nw == 0:
            continue
        g = sub[:, : nh * size, : nw * size].reshape(t, nh, size, nw, size, 3)
        out.append(g.transpose(0, 1, 3, 2, 4, 5).reshape(-1, size, size, 3))
    return np.concatenate(out) if out else np.zeros((0, size, size, 3), np.uint8)


class DistributionMetrics:
    """Accumulates features of reference/reconstructed frames; ``compute()`` → ``{"fid", "kid"}``."""

    def __init__(self, feature: nn.Module | None = None, protocol: str = "frames",
                 weights_path: str | None = None, batch_size: int = 16, kid_subsets: int = 100) -> None:
        if protocol not in PROTOCOLS:
            raise ConfigError(f"unknown FID protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
        self.feature = (feature if feature is not None else load_inception(weights_path)).eval()
        self.protocol = protocol
        self.batch_size = batch_size
        self.kid_subsets = kid_subsets
        self.real: list[torch.Tensor] = []
        self.fake: list[torch.Tensor] = []

    @torch.no_grad()
    def _features(self, frames: np.ndarray) -> torch.Tensor:
        samples = patches(frames) if self.protocol == "patches" else frames
        if len(samples) == 0:
            return torch.zeros((0, 0), dtype=torch.float64)
        x = torch.from_numpy(np.ascontiguousarray(samples)).permute(0, 3, 1, 2)
        feats = [self.feature(x[i : i + self.batch_size]).reshape(len(x[i : i + self.batch_size]), -1)
                 for i in range(0, len(x), self.batch_size)]
        return torch.cat(feats).double()

    def update(self, ref: np.ndarray, rec: np.ndarray) -> None:
        """Add one clip pair, each ``uint8 (T, H, W, 3)``."""
        self.real.append(self._features(ref))
        self.fake.append(self._features(rec))

    def compute(self) -> dict[str, float]:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        real = torch.cat([r for r in self.real if r.numel()]) if any(r.numel() for r in self.real) else None
        fake = torch.cat([f for f in self.fake if f.numel()]) if any(f.numel() for f in self.fake) else None
        if real is None or fake is None or len(real) < 2 or len(fake) < 2:
            n = 0 if real is None else len(real)
            warnings.warn(f"FID/KID need at least 2 samples per side ({self.protocol}: {n}); NaN", stacklevel=2)
            return {"fid": float("nan"), "kid": float("nan")}
        ident = _Identity(real.shape[1])
        fid = FrechetInceptionDistance(feature=ident)
        fid.update(real, real=True)
        fid.update(fake, real=False)
        size = min(1000, len(real), len(fake))
        kid = KernelInceptionDistance(feature=ident, subsets=self.kid_subsets, subset_size=size)
        kid.update(real, real=True)
        kid.update(fake, real=False)
        with torch.random.fork_rng():
            torch.manual_seed(0)  # KID's random subsets: deterministic results
            kid_mean, _ = kid.compute()
        return {"fid": float(fid.compute()), "kid": float(kid_mean)}
