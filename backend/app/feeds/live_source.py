"""LiveBarSource: trailing history for live runs -- the bar store first, REST for the days it lacks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import numpy as np

from app.bars.checks import check_bars
from app.errors import FeedError
from app.feeds.base import HistoryLoad, SessionLoad
from app.feeds.stored import StoredBarSource, concat_bars
from app.store.bar import BarArrays, Interval, empty_bars
from app.store.bar_store import BarStore
from app.timing.time_manager import TimeManager

__all__ = ["FetchBars", "LiveBarSource"]

log = logging.getLogger(__name__)

FetchBars = Callable[[list[str], Interval, int, int], dict[str, BarArrays]]
REST_INTERVALS = ("1s", "1m", "1d")  # what the feed's REST endpoint serves (1s: the local server only)


class LiveBarSource(StoredBarSource):
    """History for live sessions: stored bars, topped up from the feed's REST endpoint.

    Base-interval history: a trailing day the store has no bar for is fetched (one request per
    symbol, from the first such day to the last); stored bars win where both exist. Another
    interval comes from the store when it has it (topped up the same way unless the endpoint
    refuses the timeframe), else it is derived from the base history as in backtests. A REST
    failure that is not fatal leaves the day empty (it shows in historical quality) and is logged.

    Warnings
    --------
    Coordinator thread only (like the feed whose `fetch_bars` it calls).
    """

    def __init__(self, store: BarStore, time_manager: TimeManager, base: Interval, fetch: FetchBars) -> None:
        super().__init__(store, time_manager, base)
        self.fetch = fetch
        self._not_served: set[str] = set()  # intervals the REST endpoint refused (400/422)

    def session_bars(self, symbol: str, session: date) -> SessionLoad:
        raise NotImplementedError("live sessions stream their bars from the feed")

    def session_so_far(self, symbols: list[str], session: date, upto_ns: int) -> dict[str, BarArrays]:
        """Return each symbol's checked base bars of `session` that ended by `upto_ns` (REST).

        For a live run that joins a session already open. A REST failure that is not fatal gives
        empty arrays (logged): the run starts cold rather than not at all.
        """
        open_ns, _ = self.tm.session_bounds_ns(session)
        empty = {s: empty_bars() for s in symbols}
        if upto_ns <= open_ns:
            return empty
        try:
            fetched = self.fetch(symbols, self.base, open_ns, upto_ns)
        except FeedError as e:
            if e.fatal:
                raise
            log.warning("catch-up of today's bars failed (%s); indicators start cold", e)
            return empty
        allowed = self.tm.expected_bar_starts(session, self.base)
        out = {}
        for symbol in symbols:
            result = check_bars(fetched.get(symbol, empty_bars()), allowed_starts=allowed)
            out[symbol] = result.accepted
        return out

    def history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        if not days:
            return super().history(symbol, interval, days)
        if interval == self.base or self.store.has(symbol, interval):
            return self._stored_history(symbol, interval, days)  # store + REST top-up
        return self._derived_history(symbol, interval, days)

    def _raw_history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> BarArrays:
        stored = super()._raw_history(symbol, interval, days) if self.store.has(symbol, interval) else empty_bars()
        bounds = [self.tm.session_bounds_ns(d) for d in days]
        lacking = [(lo, hi) for lo, hi in bounds
                   if np.searchsorted(stored.start, hi) == np.searchsorted(stored.start, lo)]
        if not lacking or interval.label not in REST_INTERVALS or interval.label in self._not_served:
            return stored
        try:
            fetched = self.fetch([symbol], interval, lacking[0][0], lacking[-1][1]).get(symbol, empty_bars())
        except FeedError as e:
            if e.code in (400, 422) and interval != self.base:  # this endpoint does not serve it
                self._not_served.add(interval.label)
            elif e.fatal:
                raise
            log.warning("history top-up for %s %s failed (%s); those days stay empty", symbol, interval, e)
            return stored
        keep = np.zeros(len(fetched), dtype=bool)
        for lo, hi in lacking:
            keep |= (fetched.start >= lo) & (fetched.start < hi)
        rows = np.flatnonzero(keep)
        if not rows.shape[0]:
            return stored
        extra = BarArrays(*(col[rows] for col in fetched))
        merged = concat_bars([stored, extra])
        order = np.argsort(merged.start, kind="stable")
        return BarArrays(*(col[order] for col in merged))
