"""Video input/output: read any supported video into a :class:`~actdiff.types.Video`, write
frames losslessly (PNG folder, FFV1, lossless x264), as Y'CbCr (y4m, raw .yuv) or lossy (x264), geometry helpers.

Public API::

    read_video(path, *, start=0, max_frames=None, size=None, resize_mode="resize",
               yuv_size=None, yuv_fps=None, yuv_range=None, yuv_matrix=None,
               chroma="bilinear", fps=None, min_size=32, yuv_format=None) -> Video
    video_info(path, *, yuv_size=None, yuv_fps=None, fps=None, yuv_format=None) -> VideoInfo
    write_video(path, frames, fps=None, *, overwrite=False, codec=None, crf=18,
                y4m_chroma="444", yuv_range=None, yuv_matrix="bt709") -> Path
    check_video_output(path, overwrite, height, width) -> Path   (before any work)
    prepare_outputs(outputs, inputs, overwrite)                  (no output is an input; no leftovers)
    pad_to_multiple(frames, multiple, mode="reflect") -> (padded, (H, W))
    crop_to(frames, H, W) -> frames
    resize_frame(frame, (H, W), mode="resize") -> frame
    frames_to_tensor(frames) -> float (T, 3, H, W) in [0, 1];  tensor_to_frames(t) -> uint8
    as_video(path | array | tensor | Video, fps=None) -> Video
"""

from actdiff.io.base import VideoInfo
from actdiff.io.colour import rgb_to_yuv, yuv_to_rgb
from actdiff.io.convert import as_video
from actdiff.io.files import atomic_output, atomic_write_bytes, prepare_outputs
from actdiff.io.geometry import crop_to, pad_to_multiple, resize_frame
from actdiff.io.reader import detect_format, read_video, video_info
from actdiff.io.tensor import frames_to_tensor, tensor_to_frames
from actdiff.io.writer import FrameStream, check_video_output, write_video

__all__ = [
    "as_video",
    "atomic_output",
    "atomic_write_bytes",
    "check_video_output",
    "VideoInfo",
    "crop_to",
    "detect_format",
    "frames_to_tensor",
    "pad_to_multiple",
    "prepare_outputs",
    "read_video",
    "resize_frame",
    "rgb_to_yuv",
    "tensor_to_frames",
    "video_info",
    "write_video",
    "FrameStream",
    "yuv_to_rgb",
]
