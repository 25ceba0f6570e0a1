"""What an ``.adv`` file holds, in readable names and units (``actdiff info``).

:func:`describe_stream` returns a JSON-able dict: the stable machine keys (``bytes``, ``bpp``,
``frames``, ``width``, ``height``, ``coded_width``, ``coded_height``, ``fps``, ``seed``,
``params`` — the header's own short keys —, ``bits``, ``segments``) plus ``settings`` (the header
parameters under readable names), ``duration_seconds`` and ``units``. :func:`format_description`
prints it as a few aligned lines. Sizes are width × height.

``keyframe_quality`` (header ``kq``) is the encoder's nominal setting, not every keyframe's: the
fast mode spreads its keyframes' qualities around it (``codec.keyframe_spread``) and the RD mode
records its highest; an AVIF, WebP or JPEG payload carries its own quantiser, which is what the
decoder uses. The encoder's statistics (``stats["keyframe_qualities"]``, ``stats["rd"]``) list the
actual ones.
"""

from __future__ import annotations

from typing import Any

from actdiff.codec.bitstream import INTER_KEY, MIX_KEY, bit_split, read_bitstream
from actdiff.codec.keyframe_inter import INTER

#: Header key → (readable name, unit or ``""``).
PARAM_NAMES = {
    "kc": ("keyframe_codec", ""), "kq": ("keyframe_quality", ""), "ks": ("keyframe_speed", ""),
    "kp": ("keyframe_checkpoint", ""), "ka": ("keyframe_architecture", ""),
    "kr": ("keyframe_downscale", "x"), "tc": ("trajectory_coder", ""),
    "qs": ("trajectory_quantisation_step", "px"), "ts": ("trajectory_temporal_stride", "frames"),
    "ki": ("keyframe_inter", ""), "dm": ("detail_mix_per_segment", ""), "fr": ("repeated_frames_listed", ""),
}
UNITS = {"bytes": "bytes", "bits": "bits", "bpp": "bits per pixel at the display size", "fps": "frames per second",
         "duration_seconds": "seconds", "keyframe_bytes": "bytes", "trajectory_bytes": "bytes",
         "bandwidth": "pixels (interpolation bandwidth of the segment's motion)",
         "repeated_frames": "display frame indices that show the frame before again (not coded)",
         "detail_mix": "share of the blend's coarse band in the diffusion decoder's base, [0, 1] (null: none sent)",
         "width": "pixels", "height": "pixels"}


def readable_settings(params: dict[str, Any]) -> dict[str, Any]:
    """Header parameters under readable names (``kq`` → ``keyframe_quality``; ``kc.X`` → ``keyframe_X``)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in PARAM_NAMES:
            out[PARAM_NAMES[key][0]] = value
        elif key.startswith("kc."):
            out[f"keyframe_{key[3:]}"] = value
        else:
            out[key] = value
    out.setdefault("keyframe_downscale", 1)
    return out


def describe_stream(data: bytes, path: str = "") -> dict[str, Any]:
    """The description of the stream ``data`` (``BitstreamError`` if it is not one)."""
    bs = read_bitstream(data)
    h = bs.header
    at = h.display_index()  # the sections index the coded frames; frames here are display frames
    return {
        "file": path, "bytes": len(data), "frames": h.shown_frames, "coded_frames": h.num_frames,
        "repeated_frames": list(h.repeated), "width": h.width, "height": h.height,
        "coded_width": h.coded_width, "coded_height": h.coded_height, "fps": h.fps,
        "duration_seconds": h.shown_frames / h.fps if h.fps else None, "seed": h.seed,
        "params": h.params, "settings": readable_settings(h.params), "bits": bit_split(data),
        "bpp": 8 * len(data) / (h.shown_frames * h.width * h.height),
        "segments": [
            {"start": at[s.segment.start], "end": at[s.segment.end], "keyframe_bytes": [len(k) for k in s.keyframes],
             "trajectory_bytes": len(s.trajectories), "bandwidth": s.bandwidth,
             **({"keyframe_inter": [k[:1] == bytes([INTER]) for k in s.keyframes]} if h.params.get(INTER_KEY) else {}),
             **({"detail_mix": s.detail_mix} if h.params.get(MIX_KEY) else {})}
            for s in bs.sections
        ],
        "units": UNITS,
    }


def _repeat_text(d: dict[str, Any]) -> str:
    """The video line's note on repeated frames (format 4), empty without."""
    n = len(d.get("repeated_frames") or ())
    return f"; {n} repeat the frame before (not coded, format 4), so {d['coded_frames']} coded" if n else ""


def _mix_text(mix: float | None) -> str:
    return "-" if mix is None else f"{mix:g}"


def _pct(part: int, total: int) -> str:
    return f"{100 * part / total:.1f} %" if total else "n/a"


def format_description(d: dict[str, Any]) -> str:
    """A few aligned lines of :func:`describe_stream`'s dict, every number with its unit."""
    s, bits = d["settings"], d["bits"]
    total = sum(bits.values())
    dur = f", {d['duration_seconds']:.2f} s" if d.get("duration_seconds") else ""
    coded = (f" (coded {d['coded_width']}x{d['coded_height']})"
             if (d["coded_width"], d["coded_height"]) != (d["width"], d["height"]) else "")
    scale = s.get("keyframe_downscale", 1)
    key_extra = ", ".join(("nominal quality" if k == "keyframe_quality" else k.removeprefix("keyframe_")) + f" {v}"
                          for k, v in s.items()
                          if k.startswith("keyframe_") and k not in ("keyframe_codec", "keyframe_downscale",
                                                                     "keyframe_inter"))
    lines = [
        f"{d['file'] or 'stream'}",
        f"  size          {d['bytes']:,} bytes = {total:,} bits, {d['bpp']:.5f} bits per pixel",
        f"  video         {d['frames']} frames, {d['width']}x{d['height']} (WxH){coded}, {d['fps']:g} fps{dur}"
        + _repeat_text(d),
        f"  bits          header {bits['header']:,} ({_pct(bits['header'], total)}), keyframes "
        f"{bits['keyframes']:,} ({_pct(bits['keyframes'], total)}), trajectories {bits['trajectories']:,} "
        f"({_pct(bits['trajectories'], total)})",
        f"  keyframes     {s.get('keyframe_codec', '?')}" + (f", {key_extra}" if key_extra else "")
        + (f", downscaled {scale:g}x" if scale and float(scale) != 1 else ", full resolution")
        + (", some predicted from the keyframe before" if s.get("keyframe_inter") else ""),
        f"  trajectories  {s.get('trajectory_coder', '?')} coder, quantisation step "
        f"{s.get('trajectory_quantisation_step', '?')} px, " + _stride_text(s.get('trajectory_temporal_stride', 1)),
        f"  noise seed    {d['seed']}",
        f"  segments      {len(d['segments'])}"
        + (" (each with the encoder's detail mix for the diffusion decoder, format 3)"
           if s.get("detail_mix_per_segment") else ""),
        "      #  frames       keyframe bytes   trajectory bytes  bandwidth (px)"
        + ("  detail mix" if s.get("detail_mix_per_segment") else "")
        + ("   (P: predicted from the keyframe before)" if s.get("keyframe_inter") else ""),
    ]
    for i, seg in enumerate(d["segments"]):
        inter = seg.get("keyframe_inter") or [False] * len(seg["keyframe_bytes"])
        keys = " + ".join(f"{k}{' (P)' if p else ''}" for k, p in zip(seg["keyframe_bytes"], inter)) or "0"
        mix = seg.get("detail_mix", "absent")
        lines.append(f"  {i:>5}  {seg['start']:>4}-{seg['end']:<6}  {keys:<15}  {seg['trajectory_bytes']:>16}"
                     f"  {seg['bandwidth']:>14.1f}" + ("" if mix == "absent" else f"  {_mix_text(mix):>10}"))
    return "\n".join(lines) + "\n"


def _stride_text(stride) -> str:
    """How the header's trajectory stride reads: every frame coded, or every N-th (the rest interpolated)."""
    return "every frame's positions coded" if int(stride) == 1 else \
        f"temporal stride {stride} frames (the rest interpolated)"


__all__ = ["PARAM_NAMES", "UNITS", "describe_stream", "format_description", "readable_settings"]
