"""Adaptive integer-count models on top of constriction's range coder.

Determinism: every probability handed to ``constriction`` is ``counts / counts.sum()`` computed
in float64 from *integer* counts; IEEE-754 division is correctly rounded, so the floats (and
hence constriction's fixed-point quantisation with ``perfect=False``) are bit-identical on
every platform. Counts are updated with integer arithmetic only (add, then halve when the total
passes a limit), identically in encoder and decoder.

Symbols are coded in *batches*: one model state per batch (e.g. one frame), updated after the
batch. This keeps everything vectorised: a batch is one ``constriction`` call.
"""

from __future__ import annotations

from collections.abc import Sequence

import constriction
import numpy as np

from actdiff.errors import BitstreamError

# constriction exposes ``stream`` as an attribute, not an importable submodule.
Categorical = constriction.stream.model.Categorical
Uniform = constriction.stream.model.Uniform
RangeEncoder = constriction.stream.queue.RangeEncoder
RangeDecoder = constriction.stream.queue.RangeDecoder
_CAT = Categorical(perfect=False)


class AdaptiveModel:
    """Categorical model over ``{0..size-1}`` driven by integer counts.

    Args:
        prior: initial integer counts (length = alphabet size, all ≥ 1).
        limit: when the total count exceeds it, all counts are halved (rounding up),
            so the model keeps adapting.
    """

    def __init__(self, prior: Sequence[int], limit: int = 1 << 13, inc: int = 1) -> None:
        self.counts = np.asarray(prior, dtype=np.int64).copy()
        if self.counts.ndim != 1 or self.counts.size < 2 or (self.counts < 1).any():
            raise ValueError("prior must be ≥ 2 positive counts")
        self.limit = limit
        self.inc = inc

    @property
    def size(self) -> int:
        return int(self.counts.size)

    def probs(self) -> np.ndarray:
        """``float64 (size,)`` probabilities, exact functions of the integer counts."""
        return self.counts.astype(np.float64) / float(self.counts.sum())

    def update(self, symbols: np.ndarray) -> None:
        """Add the batch's symbol counts (integers only), halving past ``limit``."""
        if symbols.size:
            self.counts += self.inc * np.bincount(symbols, minlength=self.size)[: self.size]
        while self.counts.sum() > self.limit:
            self.counts = (self.counts + 1) // 2


def geometric_prior(size: int, scale: int = 64, ratio_num: int = 1, ratio_den: int = 2) -> list:
    """Integer counts decaying geometrically (``scale * (num/den)**k``, at least 1)."""
    out, c = [], scale
    for _ in range(size):
        out.append(max(1, c))
        c = c * ratio_num // ratio_den
    return out


class SymbolEncoder:
    """Thin FIFO wrapper over ``constriction``'s range encoder, batch-oriented."""

    def __init__(self) -> None:
        self.enc = RangeEncoder()

    def categorical(self, symbols: np.ndarray, probs: np.ndarray) -> None:
        """Code ``symbols`` with one model ``probs (K,)`` or one row each ``probs (n, K)``."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        if symbols.size == 0:
            return
        if probs.ndim == 1:
            self.enc.encode(symbols, Categorical(probs, perfect=False))
        else:
            self.enc.encode(symbols, _CAT, np.ascontiguousarray(probs, dtype=np.float64))

    def uniform(self, symbols: np.ndarray, size: int) -> None:
        """Code integers in ``[0, size)`` at ~log2(size) bits each (nothing if size == 1)."""
        symbols = np.ascontiguousarray(symbols, dtype=np.int32)
        if symbols.size and size > 1:
            self.enc.encode(symbols, Uniform(int(size)))

    def adaptive(self, symbols: np.ndarray, model: AdaptiveModel) -> None:
        """Code a batch with ``model``'s current state, then update it."""
        symbols = np.asarray(symbols, dtype=np.int64)
        self.categorical(symbols, model.probs())
        model.update(symbols)

    def to_bytes(self) -> bytes:
        """Compressed words as little-endian bytes, trailing zero bytes dropped."""
        raw = self.enc.get_compressed().astype("<u4").tobytes()
        return raw.rstrip(b"\x00")


class SymbolDecoder:
    """Mirror of :class:`SymbolEncoder`; every failure becomes a ``BitstreamError``."""

    def __init__(self, data: bytes) -> None:
        pad = (-len(data)) % 4
        words = np.frombuffer(bytes(data) + b"\x00" * pad, dtype="<u4").astype(np.uint32)
        if words.size == 0:
            words = np.zeros(1, np.uint32)
        try:
            self.dec = RangeDecoder(words)
        except Exception as exc:  # noqa: BLE001 - constriction rejects some word sequences
            raise BitstreamError(f"corrupt trajectory payload: {exc}") from None

    def categorical(self, n: int, probs: np.ndarray) -> np.ndarray:
        if n == 0:
            return np.zeros(0, np.int64)
        try:
            if probs.ndim == 1:
                out = self.dec.decode(Categorical(probs, perfect=False), n)
            else:
                out = self.dec.decode(_CAT, np.ascontiguousarray(probs, dtype=np.float64))
        except Exception as exc:  # noqa: BLE001 - constriction errors on garbage
            raise BitstreamError(f"corrupt trajectory payload: {exc}") from None
        return np.asarray(out, dtype=np.int64)

    def uniform(self, n: int, size: int) -> np.ndarray:
        if n == 0 or size <= 1:
            return np.zeros(n, np.int64)
        try:
            out = self.dec.decode(Uniform(int(size)), n)
        except Exception as exc:  # noqa: BLE001 - constriction errors on garbage
            raise BitstreamError(f"corrupt trajectory payload: {exc}") from None
        return np.asarray(out, dtype=np.int64)

    def adaptive(self, n: int, model: AdaptiveModel) -> np.ndarray:
        out = self.categorical(n, model.probs())
        model.update(out)
        return out


class EscapeModel:
    """Adaptive coder for non-negative integers of any size.

    Values below ``size - 1`` are coded directly with an adaptive categorical model; larger
    ones send the escape symbol ``size - 1`` and then ``e = value - (size - 1)`` as an
    Exp-Golomb code: ``k = bit_length(e + 1) - 1`` with a second adaptive model (k ≤ 31),
    then the ``k`` low bits of ``e + 1`` as uniform bits. A batch codes all primary symbols,
    then all ``k``, then all suffix bits.
    """

    MAX_BITS = 31

    def __init__(self, size: int = 24, scale: int = 64, inc: int = 1, num: int = 2, den: int = 3,
                 limit: int = 1 << 13, prior: Sequence[int] | None = None) -> None:
        """``prior``: explicit initial counts of the primary model (length ``size``); by
        default ``geometric_prior(size, scale, num, den)``."""
        self.esc = size - 1
        prior = geometric_prior(size, scale, num, den) if prior is None else list(prior)
        if len(prior) != size:
            raise ValueError(f"prior has {len(prior)} counts, expected {size}")
        self.prim = AdaptiveModel(prior, limit, inc)
        self.lens = AdaptiveModel(geometric_prior(self.MAX_BITS + 1, 16, 2, 3), limit, inc)

    def encode(self, enc: SymbolEncoder, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.int64)
        if (values < 0).any():
            raise ValueError("EscapeModel codes non-negative integers")
        enc.adaptive(np.minimum(values, self.esc), self.prim)
        big = values[values >= self.esc] - self.esc + 1
        if big.size == 0:
            return
        nbits = np.array([int(v).bit_length() - 1 for v in big], np.int64)
        if (nbits > self.MAX_BITS).any():
            raise ValueError("value too large for the escape code")
        enc.adaptive(nbits, self.lens)
        bits = [(int(v) >> s) & 1 for v, k in zip(big, nbits) for s in range(int(k) - 1, -1, -1)]
        enc.uniform(np.array(bits, np.int64), 2)

    def decode(self, dec: SymbolDecoder, n: int) -> np.ndarray:
        values = dec.adaptive(n, self.prim)
        where = np.flatnonzero(values == self.esc)
        if where.size == 0:
            return values
        nbits = dec.adaptive(where.size, self.lens)
        bits = dec.uniform(int(nbits.sum()), 2)
        pos = 0
        for i, k in zip(where, nbits):
            v = 1
            for b in bits[pos:pos + int(k)]:
                v = (v << 1) | int(b)
            pos += int(k)
            values[i] = v - 1 + self.esc
        return values


class ContextEscapeModel:
    """One :class:`EscapeModel` per context ``0..len(models)-1``.

    A batch is coded context by context (all symbols of context 0, then 1, …); the decoder
    knows every symbol's context before decoding, so it can mirror the order.
    """

    def __init__(self, models: Sequence[EscapeModel]) -> None:
        self.models = list(models)

    def encode(self, enc: SymbolEncoder, values: np.ndarray, ctx: np.ndarray) -> None:
        for c, model in enumerate(self.models):
            model.encode(enc, values[ctx == c])

    def decode(self, dec: SymbolDecoder, ctx: np.ndarray) -> np.ndarray:
        out = np.zeros(ctx.size, np.int64)
        for c, model in enumerate(self.models):
            sel = ctx == c
            out[sel] = model.decode(dec, int(sel.sum()))
        return out


def zigzag_array(x: np.ndarray) -> np.ndarray:
    """Vectorised zigzag: 0,-1,1,-2,… → 0,1,2,3,… (int64)."""
    x = np.asarray(x, dtype=np.int64)
    return np.where(x >= 0, 2 * x, -2 * x - 1)


def unzigzag_array(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, dtype=np.int64)
    return np.where(z % 2 == 0, z // 2, -(z + 1) // 2)
