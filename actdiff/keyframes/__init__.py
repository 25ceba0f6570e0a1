"""Keyframe image codecs (registered in ``IMAGE_CODECS``)."""

from actdiff.keyframes.base import ImageCodec, codec_from_params
from actdiff.keyframes.compressai_codec import CompressAICodec
from actdiff.keyframes.pillow_codecs import AvifCodec, JpegCodec, PngCodec, WebpCodec
from actdiff.keyframes.scaled import ScaledCodec, scaled_size, with_scale

__all__ = [
           "AvifCodec",
           "CompressAICodec",
           "ImageCodec",
           "JpegCodec",
           "PngCodec",
           "ScaledCodec",
           "WebpCodec",
           "codec_from_params",
           "scaled_size",
           "with_scale",
]
