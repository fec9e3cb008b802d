"""BarBlock: the bars of one stream frame that share one start, as columns (the live fast path).

A live feed sends each interval's bars of all symbols together (Alpaca: one frame per minute,
the local server: one per step). Turning each into a `LiveBar` and filing it one at a time
costs ~10 us a bar in Python; a block carries the frame's bars as columns, so the feed, the
`StepAssembler` and the base series take them with a few vector operations whatever the number
of symbols. A block is only made of plain first deliveries (``"b"`` messages, new keys, every
field well formed, one start); anything else goes the per-bar way, and `bars` gives the
block's bars as `LiveBar` values whenever a block cannot be taken whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.feeds.live import LiveBar

__all__ = ["BarBlock"]


@dataclass(frozen=True, slots=True, eq=False)
class BarBlock:
    """First deliveries (kind ``"bar"``) of `symbols` for the interval starting at `start_ns`.

    Parameters
    ----------
    start_ns : int
        The bars' common start, int64 ns UTC.
    symbols : tuple of str
        One per bar, distinct, in frame order.
    values : tuple of 5 sequences of float
        Open, high, low, close and volume columns, item ``j`` symbol ``j``'s (Python floats:
        a step's frame meets cold caches, where each numpy call costs tens of microseconds).
    trade_count : tuple of int
        Alpaca's ``n`` per bar.
    vwap : sequence of float
        Alpaca's ``vw`` per bar.
    received_ns : int
        When the frame came off the socket (wall clock, ns UTC).
    """

    start_ns: int
    symbols: tuple[str, ...]
    values: tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float], Sequence[float]]
    trade_count: Sequence[int]
    vwap: Sequence[float]
    received_ns: int

    def __len__(self) -> int:
        return len(self.symbols)

    def bars(self) -> list[LiveBar]:
        """Return the block's bars as `LiveBar` values (in frame order)."""
        start, received = self.start_ns, self.received_ns
        o, h, lo, c, v = self.values
        return [LiveBar(s, start, float(o[j]), float(h[j]), float(lo[j]), float(c[j]), float(v[j]),
                        int(self.trade_count[j]), float(w), "bar", received)
                for j, (s, w) in enumerate(zip(self.symbols, self.vwap, strict=True))]
