"""The ActDiff codec: ``encode_video`` → bytes → ``decode_segments`` / ``decode_video``."""

from actdiff.codec.pipeline import decode_segments, decode_video, encode_video

__all__ = ["encode_video", "decode_segments", "decode_video"]
