"""Monocular depth of a decoded keyframe for the tracking video's blue channel (optional, off by default).

The reference colours every tracking-video square's blue channel by the inverse depth of its point
in the start keyframe, from a monocular depth model run on the DECODED keyframe — so the stream
carries nothing new. :class:`DepthEstimator` runs a ``transformers`` depth-estimation model
(``AutoModelForDepthEstimation``: Depth Anything, DPT, ZoeDepth, GLPN …) from a LOCAL folder
(``save_pretrained`` layout: ``config.json``, weights, ``preprocessor_config.json``) and returns
the inverse depth normalised to [0, 1] between its 2nd and 98th percentiles (as Diffusion-as-Shader
normalises it), which :func:`actdiff.conditioning.build_window_conditions` takes as ``depth=``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from actdiff.errors import ConfigError, MissingWeightsError

#: ``model_type`` s whose output is a (metric) DEPTH; the others (Depth Anything, DPT) output
#: relative inverse depth (disparity).
DEPTH_OUTPUT_TYPES = ("zoedepth", "glpn", "depth_pro")
OUTPUTS = ("auto", "depth", "inverse")


class DepthEstimator:
    """Args:
        folder: a local ``transformers`` depth-estimation model folder.
        output: ``auto`` (from the model type), ``depth`` or ``inverse`` (what the model predicts).
        device: torch device (default: ``cuda`` when available).
    """

    def __init__(self, folder: str | Path, output: str = "auto", device: str | None = None) -> None:
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        folder = Path(folder).expanduser()
        if not (folder / "config.json").is_file():
            raise MissingWeightsError(f"depth model not found in {folder} (a transformers depth-estimation "
                                      "save_pretrained folder: config.json, weights, preprocessor_config.json)")
        if output not in OUTPUTS:
            raise ConfigError(f"unknown depth output {output!r} (known: {', '.join(OUTPUTS)})")
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.processor = AutoImageProcessor.from_pretrained(str(folder))
        self.model = AutoModelForDepthEstimation.from_pretrained(str(folder)).to(self.device).eval()
        kind = self.model.config.model_type
        self.inverse = output == "inverse" or (output == "auto" and kind not in DEPTH_OUTPUT_TYPES)
        self.folder = folder

    @torch.no_grad()
    def __call__(self, image: np.ndarray) -> np.ndarray:
        """``uint8 (H, W, 3)`` → ``float32 (H, W)`` inverse depth in [0, 1] (1 = nearest)."""
        h, w = image.shape[:2]
        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        pred = self.model(**inputs).predicted_depth.float()                       # (1, h', w')
        pred = F.interpolate(pred[:, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
        inv = pred if self.inverse else 1.0 / pred.clamp_min(1e-6)
        lo, hi = torch.quantile(inv.flatten(), torch.tensor([0.02, 0.98], device=inv.device))
        out = ((inv - lo) / (hi - lo).clamp_min(1e-12)).clamp(0, 1)
        return out.cpu().numpy().astype(np.float32)
