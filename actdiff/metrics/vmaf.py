"""VMAF (Netflix's full-reference perceptual video metric) through an ffmpeg built with libvmaf.

Weight-free: libvmaf's built-in models are used, ``vmaf_v0.6.1`` (the standard model) and
``vmaf_v0.6.1neg`` ("no enhancement gain": does not reward sharpening/contrast enhancement, the
fairer choice for generative decoders). Scores are pooled means over frames, 0–100, higher is
better.

Protocol (identical for every codec): both clips, ``uint8 (T, H, W, 3)`` full-range RGB, are
sent to ffmpeg as raw ``rgb24`` and converted by the same swscale chain
``scale=out_color_matrix=bt709:out_range=tv,format=yuv420p`` (BT.709 matrix, limited "TV"
range, 4:2:0 chroma) before ``libvmaf``. yuv420p needs even sizes: an odd height or width is
cropped by one pixel (the last row/column) in both clips, with no warning (identical for both
clips, so the comparison stays like-for-like).

The ffmpeg used is ``$ACTDIFF_FFMPEG`` when set, else the binary bundled with the
``imageio-ffmpeg`` wheel (built with ``--enable-libvmaf``). PyAV's libraries have no libvmaf.
The reference is written to a temporary raw file, the reconstruction is piped on stdin.
One ffmpeg run scores both models; the last pair of clips scored is remembered (by a digest
of their bytes), so asking for ``vmaf`` and ``vmaf_neg`` of the same clips runs ffmpeg once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from actdiff.errors import ActDiffError, InputError, MissingWeightsError

ENV_VAR = "ACTDIFF_FFMPEG"
MODELS = ("vmaf_v0.6.1", "vmaf_v0.6.1neg")
COLOUR_CHAIN = "scale=out_color_matrix=bt709:out_range=tv,format=yuv420p"
_FIX = f"pip install imageio-ffmpeg, or set {ENV_VAR} to an ffmpeg built with --enable-libvmaf"


class VmafError(ActDiffError):
    """ffmpeg/libvmaf failed on the given clips (the message carries ffmpeg's last stderr line)."""


def _last_line(text: str) -> str:
    lines = [s.strip() for s in text.splitlines() if s.strip()]
    return lines[-1] if lines else "no output"


@functools.lru_cache(maxsize=8)
def _has_libvmaf(exe: str) -> bool:
    """Whether ``exe -hide_banner -filters`` lists the ``libvmaf`` filter (cached per path)."""
    try:
        out = subprocess.run([exe, "-hide_banner", "-filters"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return any(line.split()[1:2] == ["libvmaf"] for line in out.stdout.splitlines())


def find_ffmpeg() -> str:
    """Path of an ffmpeg with the libvmaf filter (``MissingWeightsError`` naming the fix otherwise)."""
    exe = os.environ.get(ENV_VAR)
    if exe:
        if not Path(exe).is_file():
            raise MissingWeightsError(f"VMAF: {ENV_VAR}={exe} does not exist; {_FIX}")
    else:
        try:
            import imageio_ffmpeg

            exe = imageio_ffmpeg.get_ffmpeg_exe()
        except (ImportError, RuntimeError) as e:
            raise MissingWeightsError(f"VMAF needs an ffmpeg with libvmaf ({type(e).__name__}); {_FIX}") from None
    if not _has_libvmaf(exe):
        raise MissingWeightsError(f"VMAF: {exe} has no libvmaf filter; {_FIX}")
    return exe


def _even(frames: np.ndarray) -> np.ndarray:
    """Crop the last row/column when H/W is odd (yuv420p needs even sizes)."""
    t, h, w, _ = frames.shape
    return np.ascontiguousarray(frames[:, : h - h % 2, : w - w % 2])


def _check(ref: np.ndarray, rec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref, rec = np.asarray(ref), np.asarray(rec)
    if ref.shape != rec.shape or ref.ndim != 4 or ref.shape[-1] != 3:
        raise InputError(f"VMAF needs two equal (T, H, W, 3) clips, got {ref.shape} and {rec.shape}")
    if ref.dtype != np.uint8 or rec.dtype != np.uint8:
        raise InputError(f"VMAF needs uint8 frames, got {ref.dtype} and {rec.dtype}")
    if ref.shape[0] == 0 or min(ref.shape[1:3]) < 2:
        raise InputError(f"VMAF needs at least one frame of at least 2x2 pixels, got {ref.shape}")
    return _even(ref), _even(rec)


def _command(exe: str, ref_path: str, h: int, w: int) -> list[str]:
    """ffmpeg command scoring every model of ``MODELS`` in one pass; each is logged under its own name."""
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-framerate", "25"]
    n_threads = min(2, os.cpu_count() or 1)
    models = "|".join(f"version={m}\\:name={m}" for m in MODELS)
    graph = (f"[0:v]{COLOUR_CHAIN}[dist];[1:v]{COLOUR_CHAIN}[ref];"
             f"[dist][ref]libvmaf=model='{models}':log_fmt=json:log_path=vmaf.json:n_threads={n_threads}")
    return [exe, "-hide_banner", "-nostdin", "-loglevel", "error", *raw, "-i", "pipe:0", *raw, "-i", ref_path,
            "-lavfi", graph, "-f", "null", "-"]


def _run(exe: str, ref: np.ndarray, rec: np.ndarray) -> dict[str, np.ndarray]:
    """One ``exe`` run over even-sized ``uint8 (T, H, W, 3)`` clips → ``{model: float64 (T,)}``."""
    t, h, w, _ = ref.shape
    with tempfile.TemporaryDirectory(prefix="actdiff_vmaf_") as tmp:
        ref_path = os.path.join(tmp, "ref.rgb")
        ref.tofile(ref_path)
        # ffmpeg drains stdin to EOF or fails; its stderr is collected alongside (no pipe deadlock)
        proc = subprocess.Popen(_command(exe, ref_path, h, w), cwd=tmp, stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, err = proc.communicate(rec.tobytes())
        if proc.returncode != 0:
            last = _last_line(err.decode(errors="replace"))
            raise VmafError(f"ffmpeg libvmaf failed (exit {proc.returncode}): {last}")
        try:
            log = json.loads(Path(tmp, "vmaf.json").read_text())
            frames = log.get("frames", [])
            scores = {m: np.array([f["metrics"][m] for f in frames], dtype=np.float64) for m in MODELS}
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise VmafError(f"ffmpeg libvmaf wrote no readable JSON log ({type(e).__name__})") from None
    if len(frames) != t:
        raise VmafError(f"libvmaf scored {len(frames)} frames, expected {t}")
    return scores


_last: tuple[bytes, dict[str, np.ndarray]] | None = None


def _digest(exe: str, ref: np.ndarray, rec: np.ndarray) -> bytes:
    h = hashlib.blake2b(repr((exe, ref.shape, rec.shape)).encode(), digest_size=16)
    h.update(ref.data)
    h.update(rec.data)
    return h.digest()


def vmaf_frames(ref: np.ndarray, rec: np.ndarray, model: str = "vmaf_v0.6.1") -> np.ndarray:
    """Per-frame VMAF of ``rec`` against ``ref`` (both ``uint8 (T, H, W, 3)``) → ``float64 (T,)``, 0–100.

    ``model`` is a libvmaf built-in model version (``vmaf_v0.6.1`` or ``vmaf_v0.6.1neg``). Both
    models are scored in one ffmpeg run, remembered for the next call on the same clips.
    """
    global _last
    if model not in MODELS:
        raise InputError(f"unknown VMAF model {model!r} (known: {', '.join(MODELS)})")
    ref, rec = _check(ref, rec)
    exe = find_ffmpeg()
    key = _digest(exe, ref, rec)
    if _last is None or _last[0] != key:
        _last = (key, _run(exe, ref, rec))
    return _last[1][model].copy()


def vmaf(ref: np.ndarray, rec: np.ndarray, model: str = "vmaf_v0.6.1") -> float:
    """Pooled (mean over frames) VMAF of ``rec`` against ``ref``, ``uint8 (T, H, W, 3)`` each; 0–100."""
    return float(vmaf_frames(ref, rec, model).mean())


def vmaf_neg(ref: np.ndarray, rec: np.ndarray) -> float:
    """Pooled VMAF NEG (``vmaf_v0.6.1neg``, no enhancement gain); 0–100, higher is better."""
    return vmaf(ref, rec, model="vmaf_v0.6.1neg")
