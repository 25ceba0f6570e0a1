"""FID and KID between reference and reconstructed frames (torchmetrics); FVD and KVD between clips.

* ``frames``: every frame is one sample; the standard Inception resizes it to 299×299
  (bilinear, antialiased, exactly as torchmetrics / torch-fidelity do).
* ``patches`` (HiFiC, Mentzer et al. 2020): each frame is cut into non-overlapping 256×256
  patches, then again after shifting the grid by 128 px in both directions; each patch is one
  sample. Frames smaller than 256 px give no patch.
* ``clips16`` (FVD/KVD): each run of 16 consecutive frames (non-overlapping unless ``clip_stride``
  says otherwise) is one sample; the default feature is the Kinetics I3D's 400-d logits (see
  :mod:`actdiff.metrics.i3d`: resizing, weights file ``i3d_pretrained_400.pt``, and why per-sequence
  FVD is biased and noisy). Scores are named ``fvd``/``kvd`` there.

Features come from the 2048-d pool3 layer of the FID Inception (torch-fidelity's
``inception-v3-compat``, weights file ``weights-inception-2015-12-05-6726825d.pth`` found by
``actdiff.metrics.weights.find_weights``, never downloaded), or from any ``nn.Module`` passed as
``feature``: it receives ``uint8 (N, 3, H, W)`` tensors (``uint8 (N, 3, 16, H, W)`` clips for
``clips16``) and returns ``(N, D)``. Features are extracted once and both scores are computed by
torchmetrics from them. KID's subset size is ``min(1000, samples)``; fewer than two samples on
either side gives NaN with a warning.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from actdiff.errors import ConfigError, MissingWeightsError
from actdiff.metrics.i3d import I3DFeature
from actdiff.metrics.weights import find_weights

INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
PATCH = 256
CLIP = 16
# protocol → names of its (Fréchet, kernel) scores
SCORES = {"frames": ("fid", "kid"), "patches": ("fid", "kid"), "clips16": ("fvd", "kvd")}
PROTOCOLS = tuple(SCORES)


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


def clips(frames: np.ndarray, length: int = CLIP, stride: int | None = None) -> np.ndarray:
    """Clips of ``length`` consecutive frames, every ``stride`` (default ``length``: no overlap).

    ``uint8 (T, H, W, 3)`` → ``uint8 (N, length, H, W, 3)``, ``N = (T - length) // stride + 1``
    (0 when ``T < length``); a read-only view, no copy.
    """
    step = stride or length
    if len(frames) < length:
        return np.zeros((0, length, *frames.shape[1:]), frames.dtype)
    win = np.lib.stride_tricks.sliding_window_view(frames, length, axis=0)  # (T-L+1, H, W, 3, L)
    return np.moveaxis(win[::step], -1, 1)


class DistributionMetrics:
    """Accumulates features of reference/reconstructed samples; ``compute()`` → ``{"fid", "kid"}``
    (``{"fvd", "kvd"}`` for ``clips16``).

    ``batch_size`` (samples per feature call) defaults to 16 frames/patches or 4 clips.
    """

    def __init__(self, feature: nn.Module | None = None, protocol: str = "frames",
                 weights_path: str | None = None, batch_size: int | None = None, kid_subsets: int = 100,
                 clip_stride: int | None = None) -> None:
        if protocol not in PROTOCOLS:
            raise ConfigError(f"unknown FID protocol {protocol!r} (known: {', '.join(PROTOCOLS)})")
        if clip_stride is not None and clip_stride < 1:
            raise ConfigError(f"clip_stride must be a positive number of frames, got {clip_stride}")
        if feature is None:
            feature = I3DFeature(weights_path=weights_path) if protocol == "clips16" else load_inception(weights_path)
        self.feature = feature.eval()
        self.protocol = protocol
        self.batch_size = batch_size or (4 if protocol == "clips16" else 16)
        self.kid_subsets = kid_subsets
        self.clip_stride = clip_stride
        self.real: list[torch.Tensor] = []
        self.fake: list[torch.Tensor] = []

    def samples(self, frames: np.ndarray) -> np.ndarray:
        """The protocol's samples of ``uint8 (T, H, W, 3)``: frames, patches or clips ``(N, [L,] h, w, 3)``."""
        if self.protocol == "patches":
            return patches(frames)
        if self.protocol == "clips16":
            return clips(frames, CLIP, self.clip_stride)
        return frames

    @torch.no_grad()
    def _features(self, frames: np.ndarray) -> torch.Tensor:
        samples = self.samples(frames)
        if len(samples) == 0:
            return torch.zeros((0, 0), dtype=torch.float64)
        feats = []
        for i in range(0, len(samples), self.batch_size):  # channels first: (n, 3, [L,] h, w)
            x = torch.from_numpy(np.array(samples[i : i + self.batch_size], order="C")).movedim(-1, 1)
            feats.append(self.feature(x).reshape(len(x), -1))
        return torch.cat(feats).double()

    def update(self, ref: np.ndarray, rec: np.ndarray) -> None:
        """Add one video pair, each ``uint8 (T, H, W, 3)``."""
        self.real.append(self._features(ref))
        self.fake.append(self._features(rec))

    def compute(self) -> dict[str, float]:
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.kid import KernelInceptionDistance

        f_name, k_name = SCORES[self.protocol]
        real = torch.cat([r for r in self.real if r.numel()]) if any(r.numel() for r in self.real) else None
        fake = torch.cat([f for f in self.fake if f.numel()]) if any(f.numel() for f in self.fake) else None
        if real is None or fake is None or len(real) < 2 or len(fake) < 2:
            n = 0 if real is None else len(real)
            warnings.warn(f"{f_name.upper()}/{k_name.upper()} need at least 2 samples per side "
                          f"({self.protocol}: {n}); NaN", stacklevel=2)
            return {f_name: float("nan"), k_name: float("nan")}
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
        return {f_name: float(fid.compute()), k_name: float(kid_mean)}
