"""The generative decoder: a trajectory-conditioned ControlNet-style diffusion model.

Every in-between frame ``t`` of a segment is sampled from the ``ControlledDenoiser`` under
``actdiff.conditioning.build_conditions(seg, t)`` — the same function training uses. The
keyframes are returned exactly at both ends. Sampling is deterministic: the initial noise
comes from the stream header's seed and the segment id (see :mod:`actdiff.models.sampling`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from actdiff.conditioning import conditions
from actdiff.decoders.base import Decoder
from actdiff.errors import MissingWeightsError
from actdiff.models.denoiser import ControlledDenoiser
from actdiff.models.sampling import sample, segment_noise
from actdiff.registry import DECODERS
from actdiff.types import DecodedSegment, StreamHeader

#: Weights shipped with the package (written by experiments/train_default_cpu.sh).
DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "weights" / "tiny"
WEIGHT_FILE = "diffusion_pytorch_model.safetensors"


def load_denoiser(path: str | Path | None = None, device: str = "cpu") -> ControlledDenoiser:
    """Load ``save_pretrained`` weights (safetensors) or raise a one-line ``MissingWeightsError``."""
    folder = Path(path).expanduser() if path else DEFAULT_WEIGHTS
    if not (folder / "config.json").is_file() or not (folder / WEIGHT_FILE).is_file():
        raise MissingWeightsError(
            f"diffusion decoder weights not found in {folder} (need config.json + {WEIGHT_FILE}): "
            f"run experiments/train_default_cpu.sh (exports to {DEFAULT_WEIGHTS}) or pass --weights DIR"
        )
    model = ControlledDenoiser.from_pretrained(
        str(folder), use_safetensors=True, low_cpu_mem_usage=False, torch_dtype=torch.float32)
    return model.to(device).eval()


def _pad(x: torch.Tensor, multiple: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (0, pw, 0, ph), mode="replicate")


@DECODERS.register("diffusion")
class DiffusionDecoder(Decoder):
    """Diffusion decoder.

    Args:
        weights: folder written by ``save_pretrained``/``actdiff export`` (default: shipped tiny).
        model: an already built model (tests, training validation); overrides ``weights``.
        sampler: ``ddim`` | ``dpmsolver++`` | ``unipc`` (default: the weights' ``default_sampler``,
            else ``dpmsolver++``).
        steps: sampling steps (default: the weights' ``default_sampler``, else 8).
        strength: fraction of the schedule run from the noised warp prediction (default: the
            weights' ``default_sampler``, else 1.0 = from pure noise); see ``models.sample``.
        noise_mode: ``shared`` | ``per_frame`` (default: the weights', else ``shared``).
        batch_size: frames denoised together.
        bidirectional: use K1 conditions (default: ``header.params['bidirectional']``, else True).
        device: torch device (default: ``cuda`` when available, else ``cpu``).
    """

    name = "diffusion"

    def __init__(
        self,
        weights: str | None = None,
        model: ControlledDenoiser | None = None,
        sampler: str | None = None,
        steps: int | None = None,
        strength: float | None = None,
        noise_mode: str | None = None,
        batch_size: int = 4,
        bidirectional: bool | None = None,
        device: str | None = None,
        **_: object,
    ) -> None:
        if device is None:  # a given model stays where it is; loaded weights go to the GPU if any
            device = str(next(model.parameters()).device) if model is not None else \
                ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.eval() if model is not None else load_denoiser(weights, device)
        defaults = dict(self.model.config.get("default_sampler") or {})
        self.sampler = sampler or defaults.get("name", "dpmsolver++")
        self.steps = int(steps or defaults.get("steps", 8))
        self.strength = float(strength if strength is not None else defaults.get("strength", 1.0))
        self.noise_mode = noise_mode or defaults.get("noise_mode", "shared")
        self.batch_size = max(1, int(batch_size))
        self.bidirectional = bidirectional
        self.device = device

    def _bidirectional(self, header: StreamHeader) -> bool:
        if self.bidirectional is not None:
            return bool(self.bidirectional)
        return bool(header.params.get("bidirectional", True))

    @torch.no_grad()
    def decode_segment(self, header: StreamHeader, seg: DecodedSegment) -> np.ndarray:
        """Frames ``uint8 (L, H, W, 3)``; frame 0 = K0 and frame L-1 = K1 exactly."""
        length = seg.segment.length
        h, w = seg.key_start.shape[:2]
        out = np.empty((length, h, w, 3), np.uint8)
        out[0] = seg.key_start
        if length == 1:
            return out
        out[-1] = seg.key_end
        inner = list(range(1, length - 1))
        if not inner:
            return out
        bidir = self._bidirectional(header)
        mult = self.model.size_multiple
        f = self.model.config.latent_factor
        hp, wp = h + (-h) % mult, w + (-w) % mult
        shape = (int(self.model.unet.config.in_channels), hp // f, wp // f)
        noise = segment_noise(shape, inner, header.seed, seg.segment.start, self.noise_mode)
        dtype = next(self.model.parameters()).dtype
        for i in range(0, len(inner), self.batch_size):
            frames = inner[i:i + self.batch_size]
            cond = np.stack([conditions.build_conditions(seg, t, bidir) for t in frames])
            c = _pad(torch.from_numpy(cond).to(self.device, dtype), mult)
            x = sample(self.model, c, noise[i:i + len(frames)].to(self.device, dtype), self.steps, self.sampler,
                       self.strength)
            img = ((x[..., :h, :w].float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
            out[frames[0]:frames[-1] + 1] = img.permute(0, 2, 3, 1).cpu().numpy()
        return out
