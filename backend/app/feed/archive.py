"""The REST archive of the local feed server: stored bars at their stored timestamps (``--rest-archive``).

Pure: no sockets, no clock. A Replay restamps bars onto the wall clock for a live session; the
archive serves the same stored bars where they really lie in time, every one already closed,
so ``python -m app.data fetch`` can download a history from the local server as from Alpaca.
"""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from app.feed.replay import ReplayBar

if TYPE_CHECKING:
    from app.feed.replay import StoredSteps
    from app.store.bar import Interval

__all__ = ["Archive"]


class Archive:
    """Stored bars by symbol at their stored starts; `rest_bars` has the Replay's signature."""

    def __init__(self, stored: StoredSteps) -> None:
        if len(stored.starts) != len(stored.steps):
            raise ValueError("expected a stored start for every step (StoredSteps from load_steps)")
        self.interval: Interval = stored.interval
        self.symbols = stored.symbols
        self._by_symbol: dict[str, list[ReplayBar]] = {s: [] for s in stored.symbols}
        index = 0
        for k, (start, rows) in enumerate(zip(stored.starts, stored.steps, strict=True)):
            for symbol, o, h, low, c, v in rows:
                self._by_symbol[symbol].append(ReplayBar(symbol, start, o, h, low, c, v, index, k))
                index += 1

    def rest_bars(self, symbol: str, start_ns: int, end_ns: int, now_ns: int) -> list[ReplayBar]:
        """Return the stored bars of `symbol` with ``start_ns <= start <= end_ns`` (both inclusive, as Alpaca).

        `now_ns` is not used: an archive has no bar still open.
        """
        del now_ns
        rows = self._by_symbol.get(symbol, [])
        lo = bisect.bisect_left(rows, start_ns, key=lambda b: b.start_ns)
        hi = bisect.bisect_right(rows, end_ns, key=lambda b: b.start_ns)
        return rows[lo:hi]
