"""Keyframe image codecs (registered in ``IMAGE_CODECS``): AVIF, WebP, JPEG, PNG, CompressAI, downscaled."""

from actdiff.image_codecs.base import ImageCodec
from actdiff.image_codecs.compressai_codec import CompressAICodec
from actdiff.image_codecs.factory import codec_from_params
from actdiff.image_codecs.pillow_codecs import AvifCodec, JpegCodec, PngCodec, WebpCodec
from actdiff.image_codecs.scaled import ScaledCodec, scaled_size, with_scale

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
