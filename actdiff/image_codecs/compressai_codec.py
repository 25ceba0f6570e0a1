"""Learned keyframe codec from CompressAI (optional; needs the package and a local checkpoint).

Payload: ``varint zh, varint zw`` (latent shape from ``model.compress``), ``varint groups``,
then each group's single-image string as ``varint length + bytes``. The image is padded to a
multiple of 64 (replicate) before coding and cropped after decoding.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from actdiff.entropy.varint import ByteReader, write_varint
from actdiff.errors import BitstreamError, ConfigError, MissingWeightsError
from actdiff.image_codecs.base import ImageCodec, check_decoded, check_image
from actdiff.registry import IMAGE_CODECS

_PAD = 64


@IMAGE_CODECS.register("compressai")
class CompressAICodec(ImageCodec):
    """A CompressAI zoo architecture with weights from ``checkpoint`` (a local state dict).

    Args:
        checkpoint: path of a ``.pth.tar``/``.pt`` state dict for ``arch``.
        arch: CompressAI zoo name, e.g. ``mbt2018-mean``, ``cheng2020-anchor``.
        quality: zoo quality index 1–8 the checkpoint was trained for.
    """

    name = "compressai"

    def __init__(self, checkpoint: str = "", arch: str = "mbt2018-mean", quality: int = 3) -> None:
        self.checkpoint, self.arch, self.quality = str(checkpoint), str(arch), int(quality)
        try:
            import compressai.zoo  # noqa: F401
        except ImportError:
            raise ConfigError(
                "keyframe codec 'compressai' needs the 'compressai' package (pip install "
                f"compressai) and a checkpoint file (keyframe_codec.checkpoint="
                f"{self.checkpoint or 'PATH'})") from None
        if not self.checkpoint or not os.path.isfile(self.checkpoint):
            raise MissingWeightsError(
                f"CompressAI checkpoint {self.checkpoint or '(none given)'!r} not found; "
                f"put the {self.arch} quality-{self.quality} state dict there and set "
                "keyframe_codec.checkpoint=PATH")
        self._model = self._load()

    def params(self) -> dict[str, Any]:
        return {"checkpoint": self.checkpoint, "arch": self.arch, "quality": self.quality}

    def _load(self):
        import torch
        from compressai.zoo import image_models

        if self.arch not in image_models:
            raise ConfigError(f"unknown CompressAI architecture {self.arch!r} "
                              f"(known: {', '.join(sorted(image_models))})")
        state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        model = image_models[self.arch](quality=self.quality, pretrained=False)
        model.load_state_dict(state)
        model.update(force=True)
        return model.eval()

    def encode(self, img: np.ndarray) -> bytes:
        import torch

        img = check_image(img)
        h, w = img.shape[:2]
        ph, pw = (-h) % _PAD, (-w) % _PAD
        x = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="edge")
        x = torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255.0
        with torch.no_grad():
            out = self._model.compress(x)
        zh, zw = (int(s) for s in out["shape"])
        data = bytearray(write_varint(zh) + write_varint(zw) + write_varint(len(out["strings"])))
        for group in out["strings"]:
            data += write_varint(len(group[0])) + group[0]
        return bytes(data)

    def decode(self, data: bytes, height: int, width: int) -> np.ndarray:
        import torch

        r = ByteReader(bytes(data))
        zh = r.varint("compressai latent height", 1 << 12)
        zw = r.varint("compressai latent width", 1 << 12)
        groups = r.varint("compressai string count", 8)
        strings = []
        for i in range(groups):
            n = r.varint(f"compressai string {i} length", r.left)
            strings.append([r.read(n, f"compressai string {i}")])
        if r.left:
            raise BitstreamError(f"corrupt compressai keyframe: {r.left} bytes after the last string")
        try:
            with torch.no_grad():
                x = self._model.decompress(strings, torch.Size((zh, zw)))["x_hat"]
        except Exception as exc:  # noqa: BLE001 - any decoder failure is a corrupt payload
            raise BitstreamError(f"corrupt compressai keyframe: {exc}") from None
        arr = (x[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        return check_decoded(np.ascontiguousarray(arr[:height, :width]), height, width,
                             "compressai")
