"""TimeManager: the single answer to "what time is it" and every calendar question, cached."""

from __future__ import annotations

import functools
from datetime import date, datetime
from typing import Any

import numpy as np

from app.store.bar import Interval
from app.timing.calendar import TradingCalendar
from app.timing.clocks import Clock, SteppedClock
from app.timing.zone_offsets import utc_offsets_s

__all__ = ["TimeManager"]

_NS_PER_S = 1_000_000_000

_CACHED = (
    "is_session",
    "first_session_on_or_after",
    "last_session_on_or_before",
    "next_session",
    "previous_session",
    "session_bounds_ns",
    "is_early_close",
    "session_of",
)


class TimeManager:
    """Current time (from the run's clock) and calendar answers (from a TradingCalendar).

    Calendar answers go through one ``functools.lru_cache`` per question (size `cache_size`)
    plus a last-query cache; ``TimeManager.uncached`` is the uncached twin a property test
    compares against. ``invalidate()`` clears every cache.

    Warnings
    --------
    Safe to call from every thread: the LRU caches are thread-safe, the last-query slot is
    replaced by one reference assignment, and the clock has a single writer.
    """

    def __init__(self, calendar: TradingCalendar | str, clock: Clock | None = None, cache_size: int = 128) -> None:
        self.uncached = calendar if isinstance(calendar, TradingCalendar) else TradingCalendar(calendar)
        self.clock: Clock = clock if clock is not None else SteppedClock()
        self.cache_size = cache_size
        self._last: tuple[Any, Any] = (None, None)
        self._caches: dict[str, Any] = {}
        self._bar_starts = functools.lru_cache(maxsize=cache_size)(self._bar_starts_uncached)
        self._trailing = functools.lru_cache(maxsize=cache_size)(self._trailing_uncached)
        for name in _CACHED:
            self._caches[name] = functools.lru_cache(maxsize=cache_size)(getattr(self.uncached, name))

    # -- time -------------------------------------------------------------------------------
    def now_ns(self) -> int:
        """Return the run's current instant, ns UTC (simulated in backtests)."""
        return self.clock.now_ns()

    def now(self) -> datetime:
        """Return the run's current instant as an exchange-local aware datetime."""
        return self.to_local(self.clock.now_ns())

    @property
    def timezone(self) -> str:
        """Return the exchange's IANA timezone name."""
        return str(self.uncached.tz)

    @property
    def calendar_code(self) -> str:
        return self.uncached.code

    def to_local(self, ts_ns: int) -> datetime:
        """Return an instant as an aware datetime in the exchange timezone."""
        return datetime.fromtimestamp(ts_ns / 1e9, tz=self.uncached.tz)

    def isoformat_many(self, ts_ns: np.ndarray) -> list[str]:
        """Return ISO-8601 exchange-local strings (``2024-07-01T09:31:00-04:00``) for many instants.

        Equal to ``to_local(t).isoformat()`` for whole-second instants, without building a
        datetime per row (used for output files with one row per step).
        """
        ns = np.asarray(ts_ns, dtype=np.int64)
        if ns.shape[0] == 0:
            return []
        offset_s = self.utc_offsets_s(ns)
        local = (ns + offset_s * _NS_PER_S).astype("datetime64[ns]")
        offset_min = offset_s // 60
        labels = {o: f"{'+' if o >= 0 else '-'}{abs(o) // 60:02d}:{abs(o) % 60:02d}"
                  for o in np.unique(offset_min).tolist()}
        text = np.datetime_as_string(local, unit="s").tolist()
        if len(labels) == 1:
            (label,) = labels.values()
            return [t + label for t in text]
        return [t + labels[o] for t, o in zip(text, offset_min.tolist(), strict=True)]

    def utc_offsets_s(self, ts_ns: np.ndarray) -> np.ndarray:
        """Return the exchange timezone's UTC offset (s) at each instant (`utc_offsets_s`)."""
        return utc_offsets_s(ts_ns, self.uncached.tz)

    def format_ns(self, ts_ns: int) -> str:
        """Return ``YYYY-MM-DD HH:MM:SS <tz>`` in exchange time, for messages and reports."""
        return f"{self.to_local(ts_ns):%Y-%m-%d %H:%M:%S} {self.timezone}"

    # -- calendar (cached) --------------------------------------------------------------------
    def _ask(self, name: str, *args: Any) -> Any:
        key = (name, args)
        last_key, last_value = self._last
        if last_key == key:
            return last_value
        value = self._caches[name](*args)
        self._last = (key, value)
        return value

    def is_trading_day(self, d: date) -> bool:
        """Return True when `d` is a session (early closes count)."""
        return bool(self._ask("is_session", d))

    def get_first_trading_date(self, d: date) -> date:
        """Return `d` when it trades, else the next trading day (inclusive)."""
        return self._ask("first_session_on_or_after", d)

    def get_last_trading_date(self, d: date) -> date:
        """Return `d` when it trades, else the previous trading day (inclusive)."""
        return self._ask("last_session_on_or_before", d)

    def next_trading_date(self, d: date) -> date:
        """Return the first trading day strictly after `d`."""
        return self._ask("next_session", d)

    def previous_trading_date(self, d: date) -> date:
        """Return the last trading day strictly before `d`."""
        return self._ask("previous_session", d)

    def session_bounds_ns(self, d: date) -> tuple[int, int]:
        """Return session `d`'s regular (open, close), ns UTC; early closes respected."""
        return self._ask("session_bounds_ns", d)

    def is_early_close(self, d: date) -> bool:
        """Return True when session `d` closes early."""
        return bool(self._ask("is_early_close", d))

    def session_of(self, ts_ns: int) -> date | None:
        """Return the session containing the instant, or None outside every session."""
        return self._ask("session_of", ts_ns)

    def is_trading_minute(self, ts_ns: int) -> bool:
        """Return True when the instant lies inside a regular session."""
        return self.session_of(ts_ns) is not None

    def trading_days(self, start: date, end: date) -> list[date]:
        """Return the sessions in ``[start, end]`` (uncached: called once per run)."""
        return self.uncached.sessions_in_range(start, end)

    def expected_bar_starts(self, d: date, interval: Interval) -> np.ndarray:
        """Return the read-only array of bar starts expected in session `d` for `interval`."""
        return self._bar_starts(d, interval.ns, interval.is_daily)

    def trailing_trading_days(self, d: date, n: int) -> tuple[date, ...]:
        """Return the `n` trading days ending on the last trading day before `d`, oldest first."""
        return self._trailing(d, n)

    def cache_info(self) -> dict[str, Any]:
        """Return hits/misses/size per cached question."""
        info = {name: fn.cache_info()._asdict() for name, fn in self._caches.items()}
        info["expected_bar_starts"] = self._bar_starts.cache_info()._asdict()
        return info

    def invalidate(self) -> None:
        """Clear every cache (e.g. after the calendar's holidays change)."""
        for fn in self._caches.values():
            fn.cache_clear()
        self._bar_starts.cache_clear()
        self._trailing.cache_clear()
        self._last = (None, None)

    # -- uncached builders --------------------------------------------------------------------
    def _bar_starts_uncached(self, d: date, interval_ns: int, daily: bool) -> np.ndarray:
        arr = self.uncached.bar_starts(d, interval_ns, daily)
        arr.setflags(write=False)
        return arr

    def _trailing_uncached(self, d: date, n: int) -> tuple[date, ...]:
        days: list[date] = []
        cursor = d
        for _ in range(n):
            cursor = self.previous_trading_date(cursor)
            days.append(cursor)
        return tuple(reversed(days))
