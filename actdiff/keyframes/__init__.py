"""Keyframe image codecs (registered in ``IMAGE_CODECS``)."""

from actdiff.keyframes.base import ImageCodec, codec_from_params
from actdiff.keyframes.compressai_codec import CompressAICodec
from actdiff.keyframes.pillow_codecs import AvifCodec, JpegCodec, PngCodec, WebpCodec

__all__ = [
           "AvifCodec",
           "CompressAICodec",
           "ImageCodec",
           "JpegCodec",
           "PngCodec",
           "WebpCodec",
           "codec_from_params",
]
