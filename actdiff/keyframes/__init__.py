"""Keyframe image codecs (registered in ``IMAGE_CODECS``)."""

from actdiff.keyframes.base import ImageCodec, codec_from_params
from actdiff.keyframes.pillow_codecs import AvifCodec, JpegCodec, PngCodec, WebpCodec
from actdiff.keyframes.compressai_codec import CompressAICodec

__all__ = ["ImageCodec", "codec_from_params", "AvifCodec", "WebpCodec", "JpegCodec", "PngCodec",
           "CompressAICodec"]
