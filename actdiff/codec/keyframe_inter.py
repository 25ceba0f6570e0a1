"""Keyframes coded alone or predicted from the previous decoded keyframe (``codec.keyframe_inter``).

Every keyframe of a format-1 stream is an independent image (AVIF by default). Where consecutive
keyframes share their content (a static camera, a slow scene) an inter-coded keyframe needs a
fraction of the bytes (``experiments/keyframe_pframe_sizing.py``). With ``codec.keyframe_inter``
the encoder may send a keyframe after the first as an HEVC P-frame of the keyframe before it
(:mod:`actdiff.image_codecs.hevc_inter`); a stream that does so is format 2 with the header param
``ki`` (true), and every keyframe payload of it starts with a mode byte:

=====  ========================================================================================
mode   rest of the payload
=====  ========================================================================================
0      intra: the keyframe codec's payload, exactly as in format 1
1      inter: ``qp`` (u8, 0–51), ``crc32`` (u32le) of the decoded keyframe at its coded size,
       the P-frame packet's length (varint; nothing may follow the packet), then the packet
=====  ========================================================================================

The reference of a keyframe is the keyframe before it in stream order
(:func:`actdiff.codec.keyframe_chain.carried_keyframes`) as decoded, resized to the size the
stream codes its keyframes at (the header's downscale ``kr``, as
:class:`~actdiff.image_codecs.scaled.ScaledCodec` does); the decoded small keyframe is resized back
the same way. The first keyframe is always intra, and so is any coded smaller than 16 px a side (x265's
smallest frame, :data:`~actdiff.image_codecs.hevc_inter.MIN_SIDE`). A decoder whose x265 codes the reference
differently from the encoder's (another build) notices it by the checksum: it logs a warning and
decodes on (the keyframe then differs slightly from the encoder's).

The encoder's choice (both modes, :class:`InterChooser`): a keyframe goes inter when some QP gives
a keyframe no worse than its intra coding by the RD distortion ``D``
(:class:`~actdiff.codec.distortion.Distortion`) in fewer bytes; the largest such QP, searched by
galloping from the QP chosen last and bisecting (:func:`last_true`).
The keyframe's quality as the mode chose it is kept; only its bytes go down. With
``codec.rd.inter_rd`` the RD mode instead prices both codings as its search does
(:class:`RDPrice`: the keyframe's propagation weight times ``D`` plus ``λ`` times its bits) and
takes the P-frame QP of least cost, which may buy a better keyframe where prediction is cheap.
"""

from __future__ import annotations

import logging
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, List, Optional, Sequence

import numpy as np

from actdiff.codec.bitstream import INTER_KEY
from actdiff.codec.distortion import Distortion
from actdiff.codec.rd_keyframes import keyframe_cost
from actdiff.codec.rd_settings import rd_distortion
from actdiff.entropy.varint import ByteReader, write_varint
from actdiff.errors import BitstreamError
from actdiff.image_codecs import ImageCodec
from actdiff.image_codecs.hevc_inter import MIN_SIDE, check_available, decode_inter, encode_inter
from actdiff.image_codecs.scaled import resize, scaled_size

log = logging.getLogger(__name__)

INTRA, INTER = 0, 1
#: The P-frame quantisers the encoder tries (ascending: finer first).
QPS = tuple(range(10, 52))
_INTER_HEAD = struct.Struct("<BBI")  # mode, qp, crc32


def _crc(img: np.ndarray) -> int:
    return zlib.crc32(np.ascontiguousarray(img).tobytes())


class KeyframeGeometry:
    """Sizes of one stream's keyframes: ``height x width`` decoded, coded at ``1 / scale``."""

    def __init__(self, height: int, width: int, scale: float) -> None:
        self.height, self.width = height, width
        self.small = scaled_size(height, width, scale)

    def down(self, img: np.ndarray) -> np.ndarray:
        return resize(img, *self.small)

    def up(self, img: np.ndarray) -> np.ndarray:
        return resize(img, self.height, self.width)


def codec_scale(codec: ImageCodec) -> float:
    """The downscale a keyframe codec codes at (1 for a plain codec)."""
    return float(getattr(codec, "scale", 1.0))


@dataclass(frozen=True)
class RDPrice:
    """How the RD search prices one keyframe (:func:`actdiff.codec.rd_keyframes.keyframe_cost`,
    ``weight`` its propagation weight, ``pixels`` of one frame), for a payload of ``nbytes``."""

    weight: float
    lam: float
    pixels: int

    def cost(self, distortion: float, nbytes: int) -> float:
        return keyframe_cost(self.weight, distortion, 8 * nbytes, self.lam, self.pixels)


@dataclass
class CodedKey:
    """One keyframe as the stream carries it: ``payload`` (tagged), decoded ``uint8 (Hc, Wc, 3)``,
    and the P-frame's QP when inter-coded (``None``: intra)."""

    payload: bytes
    decoded: np.ndarray
    qp: Optional[int] = None


def tag_intra(payload: bytes) -> bytes:
    return bytes([INTRA]) + payload


def last_true(ok: Callable[[int], bool], n: int, start: int) -> Optional[int]:
    """The largest ``i`` in ``[0, n)`` with ``ok(i)``, for ``ok`` true up to some index and false
    after it; ``None`` when ``ok(0)`` is false. Gallops from ``start`` (steps 1, 2, 4, …) and then
    bisects, so an answer near ``start`` takes a few calls; the answer is the same from any start."""
    i = min(max(start, 0), n - 1)
    if ok(i):
        lo, step = i, 1
        while lo + step < n and ok(lo + step):
            lo, step = lo + step, 2 * step
        hi = min(lo + step, n) - 1
    else:
        bad, step = i, 1
        while True:
            j = bad - step
            if j < 0:
                if bad == 0 or not ok(0):
                    return None
                lo, hi = 0, bad - 1
                break
            if ok(j):
                lo, hi = j, bad - 1
                break
            bad, step = j, 2 * step
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid - 1)
    return lo


def descend(cost: Callable[[int], float], n: int, start: int,
            ahead: Callable[[Sequence[int]], None] = lambda js: None) -> int:
    """A local minimum of ``cost`` over ``[0, n)`` from ``start``: steps of 1, 2, 4, … downhill in
    the first direction that improves, then halving steps back (a pattern search; for a unimodal
    ``cost`` the minimum, in about ``2 log2`` of the distance calls). ``ahead(js)`` is told the
    indices asked for next (to compute them together)."""
    best = min(max(start, 0), n - 1)
    ahead([j for j in (best - 1, best, best + 1) if 0 <= j < n])
    for d in (1, -1):
        step, moved = 1, False
        while 0 <= best + d * step < n and cost(best + d * step) < cost(best):
            best, moved, step = best + d * step, True, 2 * step
            ahead([j for j in (best + d * step, best + d * step // 2) if 0 <= j < n])
        while step > 1:
            step //= 2
            ahead([j for j in (best + d * step, best - d * step) if 0 <= j < n])
            for j in (best + d * step, best - d * step):
                if 0 <= j < n and cost(j) < cost(best):
                    best, moved = j, True
                    break
        if moved:
            return best
    return best


class InterChooser:
    """The encoder's choice between a keyframe's intra coding and a P-frame of the previous keyframe.

    Args:
        geometry: the stream's keyframe sizes (its codec's downscale).
        distortion: the measure both codings are compared by (``codec.rd.distortion``).
        qps: the quantisers tried (ascending).
    """

    def __init__(self, geometry: KeyframeGeometry, distortion: Distortion, qps: Sequence[int] = QPS) -> None:
        self.geometry, self.distortion, self.qps = geometry, distortion, tuple(sorted(qps))
        self.bytes_saved = 0
        self._hint = len(self.qps) // 2   # where the QP search starts: the last QP chosen

    def stats(self, keys: Sequence[CodedKey]) -> dict:
        """``stats["keyframe_inter"]``: each keyframe's P-frame QP (``None``: intra), in stream
        order, and the bytes the inter keyframes saved against their intra coding."""
        qps = [k.qp for k in keys]
        return {"qps": qps, "inter": sum(q is not None for q in qps), "bytes_saved": self.bytes_saved}

    def _inter(self, ref_small: np.ndarray, src_small: np.ndarray, qp: int) -> tuple[bytes, np.ndarray]:
        packet, small = encode_inter(ref_small, src_small, qp)
        return _INTER_HEAD.pack(INTER, qp, _crc(small)) + write_varint(len(packet)) + packet, small

    def choose(self, previous: Optional[np.ndarray], source: np.ndarray, intra: bytes, intra_decoded: np.ndarray,
               source_ref: Any = None, rd: Optional[RDPrice] = None) -> CodedKey:
        """The cheaper of ``intra`` (payload, decoded image) and an inter coding of ``source``
        (``uint8 (Hc, Wc, 3)``) from ``previous`` (the last decoded keyframe; ``None``: first).
        ``source_ref``: ``distortion.prepare(source)`` when the caller has it. With ``rd`` the
        inter coding is the QP of least RD cost and wins when its cost is below the intra's
        (:meth:`_choose_rd`); without, the cheapest no worse than the intra (class docstring)."""
        tagged = tag_intra(intra)
        if previous is None or min(self.geometry.small) < MIN_SIDE:   # x265 codes no frame that small
            return CodedKey(tagged, intra_decoded)
        ref = source_ref if source_ref is not None else self.distortion.prepare(source)
        target = self.distortion.frame(ref, intra_decoded)
        g = self.geometry
        ref_small, src_small = g.down(previous), g.down(source)
        trials: dict = {}

        def trial(i: int) -> tuple[bytes, np.ndarray, float]:
            if i not in trials:
                payload, small = self._inter(ref_small, src_small, self.qps[i])
                decoded = g.up(small)
                trials[i] = (payload, decoded, self.distortion.frame(ref, decoded))
            return trials[i]

        if rd is not None:
            return self._choose_rd(trial, tagged, intra_decoded, target, rd)
        n, hint = len(self.qps), min(self._hint, len(self.qps) - 1)
        # probes two at a time on both cores (x265 releases the GIL); the answer does not depend on
        # which trials ran, each is a pure function of its QP: the coarsest and the start, then the
        # start's two neighbours (one of which the search asks for next)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(trial, sorted({n - 1, hint})))
            if len(trial(n - 1)[0]) >= len(tagged):  # even the coarsest P-frame is no cheaper
                return CodedKey(tagged, intra_decoded)
            list(pool.map(trial, sorted({min(hint + 1, n - 1), max(hint - 1, 0)})))
        # the largest QP whose D is at most the intra's, searched from the last one chosen
        best = last_true(lambda i: trial(i)[2] <= target, len(self.qps), self._hint)
        if best is None:
            return CodedKey(tagged, intra_decoded)
        payload, decoded, _ = trial(best)
        if len(payload) >= len(tagged):
            return CodedKey(tagged, intra_decoded)
        self._hint = best
        self.bytes_saved += len(tagged) - len(payload)
        return CodedKey(payload, decoded, self.qps[best])

    def _choose_rd(self, trial: Callable[[int], tuple], tagged: bytes, intra_decoded: np.ndarray, target: float,
                   rd: RDPrice) -> CodedKey:
        """The RD mode's choice: the P-frame QP of least ``w · D + λ · bits / pixels``
        (:func:`descend` from the QP chosen last; two trials at a time), if below the intra's cost.
        The P-frame may then be better than the intra coding, not only smaller."""
        def cost(i: int) -> float:
            payload, _, d = trial(i)
            return rd.cost(d, len(payload))

        with ThreadPoolExecutor(2) as pool:
            def ahead(js: Sequence[int]) -> None:
                list(pool.map(trial, js))

            best = descend(cost, len(self.qps), self._hint, ahead)
        if cost(best) >= rd.cost(target, len(tagged)):
            return CodedKey(tagged, intra_decoded)
        payload, decoded, _ = trial(best)
        self._hint = best
        self.bytes_saved += len(tagged) - len(payload)
        return CodedKey(payload, decoded, self.qps[best])


def next_key(chooser: Optional[InterChooser], keys: List[CodedKey], source: np.ndarray, intra: bytes,
             intra_decoded: np.ndarray, source_ref: Any = None, rd: Optional[RDPrice] = None) -> CodedKey:
    """Append the next keyframe in stream order to ``keys``: chosen by ``chooser`` against the last
    one (:meth:`InterChooser.choose`, ``rd`` as there), or its intra coding when there is no chooser."""
    previous = keys[-1].decoded if keys else None
    key = (chooser.choose(previous, source, intra, intra_decoded, source_ref, rd) if chooser
           else CodedKey(tag_intra(intra), intra_decoded))
    keys.append(key)
    return key


def inter_chooser(codec: Any, image_codec: ImageCodec, height: int, width: int) -> Optional[InterChooser]:
    """The chooser of ``codec.keyframe_inter`` for keyframes of ``height x width`` coded by
    ``image_codec`` (its downscale applies); ``None`` when the option is off. Checks that x265 is
    there before any work."""
    if not codec.get("keyframe_inter"):
        return None
    check_available()
    return InterChooser(KeyframeGeometry(height, width, codec_scale(image_codec)), rd_distortion(codec))


def set_payloads(plans: Sequence[Any], keys: Sequence[CodedKey]) -> bool:
    """Fill each plan's ``keyframes`` (in stream order, as many as its ``decoded_keyframes``) from
    ``keys`` (:func:`stream_payloads`); returns whether the stream is format 2."""
    payloads, tagged = stream_payloads(keys)
    i = 0
    for plan in plans:
        n = len(plan.decoded_keyframes)
        plan.keyframes = payloads[i:i + n]
        i += n
    if i != len(payloads):
        raise ValueError(f"{len(payloads)} keyframes for plans that carry {i}")
    return tagged


def stream_payloads(keys: Sequence[CodedKey]) -> tuple[List[bytes], bool]:
    """The payloads to write and whether the stream is format 2: tagged when any keyframe is
    inter, else the plain intra payloads (the stream is then byte-identical to one without
    ``codec.keyframe_inter``)."""
    if any(k.qp is not None for k in keys):
        return [k.payload for k in keys], True
    return [k.payload[1:] for k in keys], False


class KeyframeReader:
    """Decodes a stream's keyframe payloads, in stream order (each inter keyframe needs the one before).

    Args:
        codec: the stream's keyframe codec (:func:`actdiff.image_codecs.codec_from_params`).
        height, width: the coded size.
        tagged: the stream is format 2 (header ``ki``): payloads start with a mode byte.
    """

    def __init__(self, codec: ImageCodec, height: int, width: int, tagged: bool) -> None:
        self.codec, self.height, self.width, self.tagged = codec, height, width, tagged
        self.geometry = KeyframeGeometry(height, width, codec_scale(codec))
        self.previous: Optional[np.ndarray] = None
        self.index = 0
        self.mismatches = 0

    def decode(self, data: bytes) -> np.ndarray:
        """The next keyframe ``uint8 (Hc, Wc, 3)``; ``BitstreamError`` on a malformed payload."""
        index, self.index = self.index, self.index + 1
        if not self.tagged:
            out = self.codec.decode(data, self.height, self.width)
        elif not data:
            raise BitstreamError(f"keyframe {index}: empty payload")
        elif data[0] == INTRA:
            out = self.codec.decode(data[1:], self.height, self.width)
        elif data[0] == INTER:
            out = self._inter(index, data)
        else:
            raise BitstreamError(f"keyframe {index}: unknown mode {data[0]}")
        self.previous = out
        return out

    def _inter(self, index: int, data: bytes) -> np.ndarray:
        if self.previous is None:
            raise BitstreamError(f"keyframe {index}: the first keyframe cannot be inter-coded")
        if len(data) <= _INTER_HEAD.size:
            raise BitstreamError(f"keyframe {index}: inter payload of {len(data)} bytes is truncated")
        _, qp, crc = _INTER_HEAD.unpack_from(data)
        if qp > 51:
            raise BitstreamError(f"keyframe {index}: inter qp {qp} is out of range 0..51")
        r = ByteReader(bytes(data))
        r.pos = _INTER_HEAD.size
        packet = r.read(r.varint(f"keyframe {index} packet length", r.left), f"keyframe {index} packet")
        if r.left:
            raise BitstreamError(f"keyframe {index}: {r.left} bytes after the inter packet")
        g = self.geometry
        small = decode_inter(g.down(self.previous), packet, qp)
        if _crc(small) != crc:
            self.mismatches += 1
            log.warning("keyframe %d: the inter keyframe differs from the encoder's (checksum); another x265 "
                        "build codes its reference differently, decoding goes on with a slightly different "
                        "keyframe", index)
        return g.up(small)


__all__ = [
    "INTER", "INTER_KEY", "INTRA", "QPS", "CodedKey", "RDPrice", "descend", "InterChooser", "KeyframeGeometry",
    "KeyframeReader", "codec_scale", "inter_chooser", "last_true", "next_key", "set_payloads", "stream_payloads",
    "tag_intra",
]
