"""The ActDiff codec: the encoder, the ``.adv`` bitstream, the decoder and rate control.

``encode_video`` → bytes → ``decode_segments`` (keyframes + trajectories, the decoder's
conditions) → ``decode_video`` (frames, through a decoder of :mod:`actdiff.decoders`).
Rate control (``actdiff.codec.ratecontrol``) re-encodes with other settings to hit a target bpp.
"""

from actdiff.codec.decoder import decode_segments, decode_video, decoded_frames
from actdiff.codec.encoder import encode_video, pairwise_flows

__all__ = ["decode_segments", "decode_video", "decoded_frames", "encode_video", "pairwise_flows"]
