"""TradingCalendar: the only module that imports exchange_calendars (the calendar seam)."""

from __future__ import annotations

import difflib
import warnings
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import exchange_calendars as xcals
import numpy as np
import pandas as pd

__all__ = ["TradingCalendar", "UnknownCalendarError", "available_calendars"]


class UnknownCalendarError(ValueError):
    """The calendar code is not one exchange_calendars knows."""

    def __init__(self, code: str) -> None:
        self.code = code
        close = difflib.get_close_matches(code, available_calendars(), n=1)
        self.suggestion = close[0] if close else None
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"unknown exchange calendar {self.code!r}"
        if self.suggestion:
            text += f"; did you mean {self.suggestion!r}?"
        return text


def available_calendars() -> list[str]:
    """Return every calendar code exchange_calendars accepts (aliases included), sorted."""
    return sorted(xcals.get_calendar_names(include_aliases=True))


def _label(d: date) -> pd.Timestamp:
    return pd.Timestamp(d.year, d.month, d.day)


class TradingCalendar:
    """Uncached answers about one exchange's sessions, straight from exchange_calendars.

    All instants are int64 ns UTC. A session is identified by its date (exchange-local).
    Dates outside the calendar's bounds raise ValueError naming the bounds.

    Warnings
    --------
    Immutable after construction; safe to call from any thread.
    """

    def __init__(self, code: str) -> None:
        if code not in available_calendars():
            raise UnknownCalendarError(code)
        self.code = code
        with warnings.catch_warnings():
            # exchange_calendars 4.x on pandas 3 warns about its own Series.values use.
            warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
            self._cal = xcals.get_calendar(code)
        self.tz = ZoneInfo(str(self._cal.tz))
        # Every session's (open, close) in ns, computed once: a dict hop instead of pandas lookups.
        self._bounds: dict[date, tuple[int, int]] = {
            ts.date(): (int(o), int(c))
            for ts, o, c in zip(self._cal.sessions, self._cal.opens.array.asi8,
                                self._cal.closes.array.asi8, strict=True)
        }
        self.first_session: date = self._cal.first_session.date()
        self.last_session: date = self._cal.last_session.date()

    def _check(self, d: date) -> pd.Timestamp:
        if not self.first_session <= d <= self.last_session:
            raise ValueError(
                f"{d.isoformat()} is outside the {self.code} calendar's range "
                f"{self.first_session.isoformat()}..{self.last_session.isoformat()}"
            )
        return _label(d)

    def is_session(self, d: date) -> bool:
        """Return True when `d` is a trading day (early closes included)."""
        return bool(self._cal.is_session(self._check(d)))

    def sessions_in_range(self, start: date, end: date) -> list[date]:
        """Return the trading days in ``[start, end]`` (either may be a non-trading day)."""
        lo = max(start, self.first_session)
        hi = min(end, self.last_session)
        if lo > hi:
            return []
        return [ts.date() for ts in self._cal.sessions_in_range(_label(lo), _label(hi))]

    def first_session_on_or_after(self, d: date) -> date:
        """Return `d` when it trades, else the next trading day."""
        return self._cal.date_to_session(self._check(d), direction="next").date()

    def last_session_on_or_before(self, d: date) -> date:
        """Return `d` when it trades, else the previous trading day."""
        return self._cal.date_to_session(self._check(d), direction="previous").date()

    def next_session(self, d: date) -> date:
        """Return the first trading day strictly after `d`."""
        return self.first_session_on_or_after(d + timedelta(days=1))

    def previous_session(self, d: date) -> date:
        """Return the last trading day strictly before `d`."""
        return self.last_session_on_or_before(d - timedelta(days=1))

    def session_bounds_ns(self, d: date) -> tuple[int, int]:
        """Return the regular (open, close) of session `d` as ns UTC.

        Raises
        ------
        ValueError
            If `d` is not a trading day.
        """
        bounds = self._bounds.get(d)
        if bounds is None:
            self._check(d)
            raise ValueError(f"{d.isoformat()} is not a {self.code} trading day")
        return bounds

    def is_early_close(self, d: date) -> bool:
        """Return True when session `d` closes before the calendar's regular close."""
        label = self._check(d)
        return bool(label in self._cal.early_closes)

    def is_trading_minute(self, ts_ns: int) -> bool:
        """Return True when the instant lies inside a regular session ``[open, close)``."""
        local = datetime.fromtimestamp(ts_ns / 1e9, tz=self.tz).date()
        for d in (local - timedelta(days=1), local, local + timedelta(days=1)):
            if self.first_session <= d <= self.last_session and self._cal.is_session(_label(d)):
                open_ns, close_ns = self.session_bounds_ns(d)
                if open_ns <= ts_ns < close_ns:
                    return True
        return False

    def session_of(self, ts_ns: int) -> date | None:
        """Return the session whose ``[open, close)`` contains the instant, or None."""
        local = datetime.fromtimestamp(ts_ns / 1e9, tz=self.tz).date()
        for d in (local, local - timedelta(days=1), local + timedelta(days=1)):
            if self.first_session <= d <= self.last_session and self._cal.is_session(_label(d)):
                open_ns, close_ns = self.session_bounds_ns(d)
                if open_ns <= ts_ns < close_ns:
                    return d
        return None

    def bar_starts(self, d: date, interval_ns: int, daily: bool = False) -> np.ndarray:
        """Return the expected bar starts of session `d` (one start, the open, for daily bars)."""
        open_ns, close_ns = self.session_bounds_ns(d)
        if daily:
            return np.array([open_ns], dtype=np.int64)
        return np.arange(open_ns, close_ns, interval_ns, dtype=np.int64)
