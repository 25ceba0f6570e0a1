"""Contact sheets: decoded frames next to the source, labelled with bpp and metrics.

``evaluate``/``bench``/``demo --frames-dir DIR`` save small PNG thumbnails of a few frames of
every decoded stream (and of the source) into ``DIR/<sequence>/`` and record them in the results
JSON: ``point["thumbnails"] = {"<frame>": "<png>"}`` per rate point and
``results["source_frames"][<sequence>]`` for the source (paths relative to the results file's
folder, or absolute when there is none). They also draw ``DIR/<sequence>_<codec>_contact.png``: one
row per stream (the source first), one column per chosen frame, each row labelled with its rate
(bpp) and metrics. ``actdiff compare A.json B.json`` draws the same from two results files.

Several runs may share ``DIR`` (ActDiff and each baseline, shards of one run); a run refuses, before
any work, a ``DIR`` that is a file or lies inside its input, and one that holds its codec's sheet of
a sequence it is about to code (its thumbnails would be replaced) unless asked to overwrite.

Which frames: the middles of the longest segments of the clip as the default codec cuts it
(:func:`frames_of_interest`): the frames farthest from any keyframe, where the motion is hardest
to carry. The choice depends on the source frames only, so every codec run under the same
protocol shows the same frames, and two results can be compared frame by frame.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from actdiff.errors import InputError, OutputError, shorten
from actdiff.types import Video

#: Thumbnails wider than this are downscaled (pixels).
THUMB_WIDTH = 384
#: Metrics shown on a row, in this order, with their printed names.
SHOWN = {"psnr": "PSNR", "ms_ssim": "MS-SSIM", "vmaf_neg": "VMAF-NEG", "vmaf": "VMAF", "haarpsi": "HaarPSI",
         "lpips": "LPIPS", "niqe": "NIQE", "warping_error": "warp err"}


def frames_of_interest(video: Video, n: int = 3, config: Any = None) -> list[int]:
    """``n`` frame indices: the middles of the ``n`` longest segments of ``video`` as the default
    codec cuts it (``config``: another composed config; the segments only, no trajectories or coding:
    :func:`actdiff.codec.encoder.plan_segments`); a clip with fewer segments gets evenly spaced
    frames inside its longest ones. Sorted, distinct, within ``[0, T)``."""
    from actdiff.codec.encoder import plan_segments
    from actdiff.config import compose

    t = video.num_frames
    if t <= n:
        return list(range(t))
    planned = plan_segments(video, config if config is not None else compose())
    segments = sorted(([int(a), int(b)] for a, b in planned), key=lambda s: (s[0] - s[1], s[0]))
    chosen: list[int] = [(a + b) // 2 for a, b in segments[:n]]
    for a, b in segments:  # too few segments: more frames inside the longest ones
        for k in range(1, n + 1):
            if len(set(chosen)) >= n:
                break
            chosen.append(a + (b - a) * k // (n + 1))
    return sorted(set(chosen))[:n]


def _thumbnail(frame: np.ndarray, width: int = THUMB_WIDTH) -> Any:
    from PIL import Image

    img = Image.fromarray(frame)
    if img.width > width:
        img = img.resize((width, max(1, round(img.height * width / img.width))), Image.LANCZOS)
    return img


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))


class FrameSaver:
    """Saves the chosen frames of every stream of a run as PNG thumbnails under ``root`` and draws
    one contact sheet per sequence (:meth:`start`, :meth:`add` per stream, :meth:`finish`).

    ``relative_to``: the results file's folder (paths are recorded relative to it); ``baseline``:
    a classical codec (``x265``) whose point nearest in rate to the run's cheapest one joins each
    sheet (``None``: none); ``n``: frames per sequence; ``overwrite``: replace what a run of the
    same codec left (:meth:`check`).
    """

    def __init__(self, root: str | Path, relative_to: str | Path | None = None, n: int = 3,
                 baseline: str | None = None, overwrite: bool = False) -> None:
        self.root, self.n, self.baseline, self.overwrite = Path(root), n, baseline, overwrite
        self.relative_to = Path(relative_to) if relative_to is not None else None
        self.frames: dict[str, list[int]] = {}
        self.current = ""

    def sheet_path(self, sequence: str, codec: str) -> Path:
        """Where :meth:`finish` draws the contact sheet of ``sequence`` coded by ``codec``."""
        return self.root / f"{_slug(sequence)}_{_slug(codec)}_contact.png"

    def check(self, codec: str, sequences: Iterable[str], inputs: Iterable[str | Path] = ()) -> None:
        """``OutputError`` before any work: ``root`` is a file, or lies inside one of ``inputs`` (a
        dataset folder would list the thumbnail folders as sequences), or, without ``overwrite``,
        holds ``codec``'s sheet of one of ``sequences`` (a run of the same codec is there)."""
        from actdiff.io.files import check_not_input

        if self.root.exists() and not self.root.is_dir():
            raise OutputError(f"frames folder {self.root} is a file, expected a folder")
        check_not_input([self.root], inputs)
        for sequence in sequences:
            sheet = self.sheet_path(sequence, codec)
            if sheet.exists() and not self.overwrite:
                raise OutputError(f"{sheet} exists: a run of {codec} left its thumbnails of {sequence} there "
                                  "(pass --overwrite, or overwrite=True, or another frames folder)")

    def _record(self, path: Path) -> str:
        if self.relative_to is None:
            return str(path.absolute())
        return os.path.relpath(path.absolute(), self.relative_to.absolute())

    def _save(self, sequence: str, stem: str, frames: np.ndarray) -> dict[str, str]:
        folder = self.root / _slug(sequence)
        folder.mkdir(parents=True, exist_ok=True)
        out = {}
        for f in self.frames[sequence]:
            path = folder / f"{_slug(stem)}_f{f:05d}.png"
            _thumbnail(frames[f]).save(path)
            out[str(f)] = self._record(path)
        return out

    def start(self, results: dict[str, Any], sequence: str, video: Video) -> None:
        """Choose the frames of ``sequence`` and save the source's (``results["source_frames"]``)."""
        self.current = sequence
        self.frames[sequence] = frames_of_interest(video, self.n)
        results.setdefault("source_frames", {})[sequence] = self._save(sequence, "source", video.frames)

    def add(self, label: str, point: str, frames: np.ndarray) -> dict[str, str]:
        """Thumbnails of one decoded stream of the current sequence (``uint8 (T, H, W, 3)``):
        ``{"<frame>": "<png>"}``, for the point's ``thumbnails``."""
        return self._save(self.current, f"{label}_{point}", frames)

    def finish(self, results: dict[str, Any], sequence: str, video: Video, metrics: Sequence[str]) -> Path:
        """Draw ``ROOT/<sequence>_<codec>_contact.png`` (source, every point of ``results``, the nearest-rate
        baseline) and record it under ``results["contact_sheets"][sequence]``."""
        extra = []
        record: dict[str, Any] = {}
        points = results["sequences"].get(sequence) or []
        if self.baseline and points:
            from actdiff.evaluation.runner import baseline_near_rate

            near = baseline_near_rate(video, self.baseline, min(p["bpp"] for p in points), metrics, saver=self)
            extra.append((self.baseline, near))
            record["baseline"] = {"codec": self.baseline, **near}
        src = source_row(results, sequence, self.relative_to)
        rows = [src] if src else []
        rows += sequence_rows(results, sequence, self.relative_to, extra)
        fig = draw_sheet(rows, self.frames[sequence], f"{sequence} ({results['codec']})")
        path = save_sheet(fig, self.sheet_path(sequence, results["codec"]))
        record["file"] = self._record(path)
        results.setdefault("contact_sheets", {})[sequence] = record
        return path


def point_label(codec: str, point: Mapping[str, Any]) -> str:
    """``"actdiff-warp r2"`` / ``"x265 crf 45"``: the codec and its rate parameter."""
    if "crf" in point:
        return f"{codec} crf {point['crf']}"
    param = point.get("quality_param", point.get("target", point.get("qp", "")))
    return f"{codec} {param}".strip()


def numbers(point: Mapping[str, Any]) -> str:
    """``"0.0101 bpp\\nPSNR 23.52 · MS-SSIM 0.842\\nNIQE 5.32 · warp err 0.0069"``: what a row shows."""
    shown = [f"{SHOWN[k]} {v:.4g}" for k, v in ((k, point.get("metrics", {}).get(k)) for k in SHOWN)
             if isinstance(v, (int, float))]
    lines = [f"{point['bpp']:.4f} bpp"] + [" · ".join(shown[i:i + 2]) for i in range(0, len(shown), 2)]
    return "\n".join(lines)


def _open(path: str, base: Path | None) -> np.ndarray:
    from PIL import Image

    p = Path(path)
    if not p.is_absolute() and base is not None:
        p = base / p
    if p.suffix.lower() != ".png":
        raise InputError(f"thumbnail {p} is not a .png (--frames-dir writes PNGs)")
    if not p.is_file():
        raise InputError(f"thumbnail {p} not found (moved? the results file records where --frames-dir put it)")
    try:
        with Image.open(p) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"thumbnail {p} is not a readable image ({e})") from None


def _thumbs(thumbs: Any, what: str) -> Mapping[str, str]:
    """``thumbs`` checked to be ``{"<frame index>": "<png path>"}`` (``InputError`` naming ``what``)."""
    ok = isinstance(thumbs, Mapping) and all(
        isinstance(k, str) and k.isdigit() and isinstance(v, str) for k, v in thumbs.items())
    if not ok:
        raise InputError(f"{what}: thumbnails must map frame indices to PNG paths, got {shorten(repr(thumbs))}")
    return thumbs


def draw_sheet(rows: Sequence[tuple[str, str, Mapping[str, str], Path | None]], frames: Sequence[int],
               title: str = "") -> Any:
    """A matplotlib figure: one row per ``(label, numbers, {"<frame>": png}, base folder)``, one column
    per frame of ``frames``; the label and numbers stand left of each row."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    first = _open(next(iter(rows[0][2].values())), rows[0][3])
    aspect = first.shape[0] / first.shape[1]
    cols = len(frames)
    fig, axes = plt.subplots(len(rows), cols + 1, squeeze=False,
                             figsize=(2.2 + 3.0 * cols, 3.0 * aspect * len(rows) + 0.6),
                             gridspec_kw={"width_ratios": [0.75] + [1.0] * cols})
    for r, (label, text, thumbs, base) in enumerate(rows):
        ax = axes[r][0]
        ax.axis("off")
        ax.text(0.98, 0.5, f"{label}\n{text}", ha="right", va="center", fontsize=8, transform=ax.transAxes)
        for c, f in enumerate(frames):
            ax = axes[r][c + 1]
            ax.set_xticks([])
            ax.set_yticks([])
            if str(f) in thumbs:
                ax.imshow(_open(thumbs[str(f)], base))
            else:
                ax.text(0.5, 0.5, "no thumbnail", ha="center", va="center", fontsize=8, transform=ax.transAxes)
            if r == 0:
                ax.set_title(f"frame {f}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


Row = tuple[str, str, Mapping[str, str], Path | None]  # label, numbers, {"<frame>": png}, base folder


def sequence_rows(results: Mapping[str, Any], sequence: str, base: Path | None = None,
                  extra: Iterable[tuple[str, Mapping[str, Any]]] = ()) -> list[Row]:
    """The rows of one results document for ``sequence``: its points with thumbnails, then ``extra``
    ``(codec, point)`` pairs (e.g. the nearest-rate baseline)."""
    points = [(results["codec"], p) for p in sorted(results["sequences"].get(sequence, []), key=lambda p: p["bpp"])]
    return [(point_label(codec, p), numbers(p), _thumbs(p["thumbnails"], f"{codec} {sequence}"), base)
            for codec, p in [*points, *extra] if p.get("thumbnails")]


def source_row(results: Mapping[str, Any], sequence: str, base: Path | None = None) -> tuple | None:
    """The source's row of ``sequence`` (``None`` without thumbnails)."""
    frames = results.get("source_frames") or {}
    thumbs = frames.get(sequence) if isinstance(frames, Mapping) else None
    if not thumbs:
        return None
    return "source", "(uncompressed, as the protocol read it)", _thumbs(thumbs, f"source of {sequence}"), base


def save_sheet(fig: Any, path: str | Path, overwrite: bool = True) -> Path:
    """Write a sheet as PNG (atomically) and close the figure."""
    from actdiff.evaluation.plotting import save_figure

    return save_figure(fig, Path(path), overwrite)


def compare_sheet(res_a: Mapping[str, Any], res_b: Mapping[str, Any], sequence: str | None = None,
                  base_a: Path | None = None, base_b: Path | None = None) -> tuple[Any, str]:
    """The contact sheet of two results documents (both written with ``--frames-dir``) for one
    sequence (default: the first one they share): ``(figure, sequence)``."""
    common = [s for s in res_a["sequences"] if s in res_b["sequences"]]
    if sequence is None:
        with_frames = [s for s in common if (res_a.get("source_frames") or {}).get(s)
                       or (res_b.get("source_frames") or {}).get(s)]
        if not with_frames:
            raise InputError(f"{res_a['codec']} and {res_b['codec']} share no sequence with thumbnails "
                             "(run evaluate/bench with --frames-dir)")
        sequence = with_frames[0]
    elif sequence not in common:
        raise InputError(f"sequence {sequence!r} is not in both files (shared: {', '.join(common) or 'none'})")
    src = source_row(res_a, sequence, base_a) or source_row(res_b, sequence, base_b)
    rows = sequence_rows(res_a, sequence, base_a) + sequence_rows(res_b, sequence, base_b)
    if src is None or not rows:
        raise InputError(f"no thumbnails of {sequence!r} in these files (run evaluate/bench with --frames-dir)")
    frames = sorted(set.intersection(*(set(int(k) for k in r[2]) for r in [src, *rows])))
    if not frames:
        raise InputError(f"the two files show different frames of {sequence!r} (another protocol?)")
    title = f"{sequence}: {res_a['codec']} vs {res_b['codec']}"
    return draw_sheet([src, *rows], frames, title), sequence


def results_sheet(results: Mapping[str, Any], sequence: str | None = None, base: Path | None = None) -> Any:
    """The contact sheet of one results document (its source, every point with thumbnails)."""
    frames = results.get("source_frames") or {}
    seq = sequence or next((s for s in results["sequences"] if s in frames), None)
    if seq is None or seq not in frames:
        raise InputError("no thumbnails in these results (evaluate/bench with --frames-dir / frames_dir=)")
    src = source_row(results, seq, base)
    return draw_sheet([src, *sequence_rows(results, seq, base)], sorted(int(k) for k in frames[seq]),
                      f"{seq} ({results['codec']})")


__all__ = ["FrameSaver", "THUMB_WIDTH", "compare_sheet", "draw_sheet", "frames_of_interest", "numbers",
           "point_label", "results_sheet", "save_sheet", "sequence_rows", "source_row"]
