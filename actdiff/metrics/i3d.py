"""Inception-I3D (Carreira & Zisserman 2017, Kinetics-400) and the FVD feature.

FVD (Fréchet Video Distance, Unterthiner et al. 2018) is computed exactly as FID is in
:mod:`actdiff.metrics.fid`, with 16-frame clips as samples and I3D features instead of frames and
Inception features (``DistributionMetrics(protocol="clips16")``; metrics ``fvd`` and ``kvd``, the
KID analogue). Sampling and preprocessing:

* a video ``uint8 (T, H, W, 3)`` is cut into clips of 16 consecutive frames, non-overlapping by
  default (``clip_stride`` sets the step); the last ``T mod 16`` frames are dropped, and a video of
  fewer than 16 frames gives no sample (FVD/KVD are then NaN with a warning);
* every frame of a clip is resized to 224×224 (bilinear, antialiased, aspect ratio not kept, as the
  original TF FVD does; that one does not antialias, TATS/DIGAN resize the shorter side and crop,
  so absolute values are comparable only within this code) and scaled to ``[-1, 1]``;
* the feature is I3D's 400-d Kinetics logits (before softmax), averaged over the remaining time
  and space positions, as the original FVD uses the logits.

**Per-sequence FVD is a biased, noisy estimate.** A 96-frame sequence gives only 6 clips, so the
two Gaussians are fitted to 6 samples of 400-d features (covariances of rank ≤ 5): the Fréchet
distance of such estimates is strongly biased upwards and varies a lot with the clip boundaries.
Compare codecs on the same sequences and frame counts only, prefer many/longer sequences, and do
not compare the numbers with published FVDs (computed over thousands of clips).

Weights: ``i3d_pretrained_400.pt``, the PyTorch conversion of DeepMind's Kinetics-400 RGB I3D in
the piergiaj/pytorch-i3d parameter layout (the file the TATS/DIGAN FVD code uses), or the same
tensors as ``.safetensors`` passed explicitly. It is never downloaded: put it in
``$ACTDIFF_WEIGHTS`` (default ``~/.cache/actdiff/weights``) or ``$TORCH_HOME/hub/checkpoints``
(see :mod:`actdiff.metrics.weights`). It is read with ``torch.load(weights_only=True)``: tensors
only, no pickled code.

The network is written from the paper's architecture (an inflated Inception-v1): convolutions
without bias followed by BatchNorm3d (eps 1e-3) and ReLU, TF "SAME" padding computed for each
input, max-pools 1×3×3/(1,2,2), 1×3×3/(1,2,2), 3×3×3/2, 2×2×2/2, nine inception blocks whose
branches are ``b0`` 1×1×1, ``b1a`` 1×1×1 → ``b1b`` 3×3×3, ``b2a`` 1×1×1 → ``b2b`` 3×3×3,
max-pool 3×3×3 (``b3a``) → ``b3b`` 1×1×1, a 2×7×7 average pool and ``logits`` (1×1×1 conv with
bias, no BN/ReLU). Pools adapt to small inputs (kernels clipped to the feature map) so tests can
run at a few dozen pixels.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from actdiff.errors import MissingWeightsError
from actdiff.metrics.weights import find_weights

I3D_FILE = "i3d_pretrained_400.pt"
I3D_SIZE = 224
NUM_CLASSES = 400

Triple = tuple[int, int, int]

# Inception blocks: name, input channels, (b0, b1a, b1b, b2a, b2b, b3b) output channels
# (Inception-v1's 3a..5b, named as in the I3D paper and its TF/PyTorch releases).
BLOCKS: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("Mixed_3b", 192, (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", 256, (128, 128, 192, 32, 96, 64)),
    ("Mixed_4b", 480, (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", 512, (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", 512, (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", 512, (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", 528, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5b", 832, (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", 832, (384, 192, 384, 48, 128, 128)),
)
# Max-pools inserted before a block (kernel, stride).
POOLS: dict[str, tuple[Triple, Triple]] = {
    "Mixed_3b": ((1, 3, 3), (1, 2, 2)),  # MaxPool3d_3a_3x3
    "Mixed_4b": ((3, 3, 3), (2, 2, 2)),  # MaxPool3d_4a_3x3
    "Mixed_5b": ((2, 2, 2), (2, 2, 2)),  # MaxPool3d_5a_2x2
}


def same_pad(x: torch.Tensor, kernel: Triple, stride: Triple, value: float = 0.0) -> torch.Tensor:
    """TF "SAME" padding of ``(N, C, T, H, W)``: output size ``ceil(n / stride)``, extra pixel at the end."""
    pads: list[int] = []
    for n, k, s in zip(reversed(x.shape[2:]), reversed(kernel), reversed(stride)):  # F.pad: last dim first
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value) if any(pads) else x


def max_pool_same(x: torch.Tensor, kernel: Triple, stride: Triple) -> torch.Tensor:
    """Max-pool with TF "SAME" padding (padded with -inf, so borders never win)."""
    return F.max_pool3d(same_pad(x, kernel, stride, float("-inf")), kernel, stride)


class Unit3D(nn.Module):
    """Conv3d (no bias) → BatchNorm3d(eps 1e-3, momentum 0.01) → ReLU; ``logits`` variant: conv with bias only."""

    def __init__(self, cin: int, cout: int, kernel: Triple = (1, 1, 1), stride: Triple = (1, 1, 1),
                 bn_relu: bool = True) -> None:
        super().__init__()
        self.kernel, self.stride, self.bn_relu = kernel, stride, bn_relu
        self.conv3d = nn.Conv3d(cin, cout, kernel, stride, padding=0, bias=not bn_relu)
        if bn_relu:
            self.bn = nn.BatchNorm3d(cout, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(same_pad(x, self.kernel, self.stride))
        return F.relu(self.bn(x)) if self.bn_relu else x


class Mixed(nn.Module):
    """Inception block: four branches concatenated along channels (``b0 + b1b + b2b + b3b`` outputs)."""

    def __init__(self, cin: int, ch: tuple[int, ...]) -> None:
        super().__init__()
        self.b0 = Unit3D(cin, ch[0])
        self.b1a = Unit3D(cin, ch[1])
        self.b1b = Unit3D(ch[1], ch[2], (3, 3, 3))
        self.b2a = Unit3D(cin, ch[3])
        self.b2b = Unit3D(ch[3], ch[4], (3, 3, 3))
        self.b3b = Unit3D(cin, ch[5])  # after b3a, a 3×3×3 stride-1 max-pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.b3b(max_pool_same(x, (3, 3, 3), (1, 1, 1)))
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), b3], 1)


class InceptionI3D(nn.Module):
    """Inception-I3D: float ``(N, 3, T, H, W)`` in ``[-1, 1]`` → logits ``(N, num_classes)``.

    At the standard 16×224×224 input the last feature map is 2×7×7 and the 2×7×7 average pool
    leaves one position; otherwise the pool's kernel is clipped to the map and the logits are
    averaged over what remains (time and space).
    """

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        for name, cin, ch in BLOCKS:
            self.add_module(name, Mixed(cin, ch))
        self.logits = Unit3D(1024, num_classes, bn_relu=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv3d_1a_7x7(x)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # MaxPool3d_2a_3x3
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))
        for name, _, _ in BLOCKS:
            if name in POOLS:
                x = max_pool_same(x, *POOLS[name])
            x = getattr(self, name)(x)
        kernel = tuple(min(k, n) for k, n in zip((2, 7, 7), x.shape[2:]))
        x = F.avg_pool3d(x, kernel, stride=1)
        return self.logits(x).mean((2, 3, 4))


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path), device="cpu")
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt file, pickled code refused by weights_only, ...
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise MissingWeightsError(f"cannot read I3D weights {path}: {first}") from None
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise MissingWeightsError(f"I3D weights {path} are not a state dict of tensors")
    return {k.removeprefix("module."): v for k, v in sd.items()}


def load_state_dict_checked(model: InceptionI3D, sd: dict[str, torch.Tensor], path: Path | str) -> None:
    """Load ``sd`` into ``model``; keys or shapes other than the piergiaj layout → one-line ``MissingWeightsError``.

    ``num_batches_tracked`` buffers (absent from old conversions) are optional.
    """
    expected = model.state_dict()
    optional = {k for k in expected if k.endswith("num_batches_tracked")}
    missing = sorted(set(expected) - set(sd) - optional)
    unexpected = sorted(k for k in set(sd) - set(expected) if not k.endswith("num_batches_tracked"))
    shapes = sorted(k for k in set(sd) & set(expected) if sd[k].shape != expected[k].shape)
    if missing or unexpected or shapes:
        parts = [f"{len(v)} {what} (e.g. {v[0]})" for what, v in
                 (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", shapes)) if v]
        raise MissingWeightsError(f"{path} is not an Inception-I3D ({model.num_classes} classes, "
                                  f"piergiaj/pytorch-i3d layout) state dict: {'; '.join(parts)}")
    full = {k: v for k, v in sd.items() if k in expected}
    full.update({k: expected[k] for k in optional if k not in full})
    model.load_state_dict(full, strict=True)


def load_i3d(path: str | os.PathLike[str] | None = None) -> InceptionI3D:
    """The Kinetics-400 I3D from ``i3d_pretrained_400.pt`` (or ``path``), in eval mode, loaded once per file."""
    found = find_weights(I3D_FILE, str(path) if path is not None else None, what="FVD Inception-I3D")
    st = found.stat()
    return _load_i3d(str(found.resolve()), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=2)
def _load_i3d(path: str, mtime_ns: int, size: int) -> InceptionI3D:
    model = InceptionI3D()
    load_state_dict_checked(model, _read_state_dict(Path(path)), path)
    return model.eval().requires_grad_(False)


def preprocess_clips(x: torch.Tensor, size: int = I3D_SIZE) -> torch.Tensor:
    """``uint8 (N, 3, T, H, W)`` → float32 ``(N, 3, T, size, size)`` in ``[-1, 1]``.

    Each frame is resized (bilinear, antialiased, aspect ratio not kept) then scaled by 2/255 - 1.
    """
    n, c, t, h, w = x.shape
    frames = x.permute(0, 2, 1, 3, 4).reshape(n * t, c, h, w).float()
    if (h, w) != (size, size):
        frames = F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    frames = (frames * (2.0 / 255.0) - 1.0).clamp(-1.0, 1.0)
    return frames.reshape(n, t, c, size, size).permute(0, 2, 1, 3, 4)


class I3DFeature(nn.Module):
    """The FVD feature: ``uint8 (N, 3, T, H, W)`` clips → ``(N, 400)`` I3D logits (see the module docstring).

    ``model`` defaults to :func:`load_i3d` (``weights_path`` or the standard file); ``size`` is the
    frame size fed to I3D (224; tests may use less).
    """

    def __init__(self, model: nn.Module | None = None, size: int = I3D_SIZE,
                 weights_path: str | None = None) -> None:
        super().__init__()
        self.model = model if model is not None else load_i3d(weights_path)
        self.size = size
        self.num_features = getattr(self.model, "num_classes", NUM_CLASSES)

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(preprocess_clips(x, self.size))
