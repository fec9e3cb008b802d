"""WindowedBarSource: backtest bars read once per window of sessions, checked once, sliced per session.

Load once, slice many: for a window of consecutive run sessions (plus the trailing days the
history needs before the window's first session) each (symbol, interval) file is read once, its
rows checked once (`check_bars`), and every session's base bars and trailing history are handed
out as zero-copy views of those arrays. The next window is read when the run reaches it, and the
previous window's arrays are freed once the sessions that view them are done, so memory is bounded
by the window, not by the run's length.

Rejections are attributed exactly as a per-session check attributes them: a session's base bars
count the rejected rows inside ``[open, close)``; a history load counts the rejected rows inside
``[first day's open, last day's close)`` (checks are row-local on sorted rows, so a window check
and a per-session check give every row the same reason).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np

from app.bars.checks import RejectReason, check_bars
from app.feeds.base import HistoryLoad, SessionLoad
from app.feeds.stored import concat_bars, derive_day
from app.store.bar import BarArrays, Interval, empty_bars
from app.store.bar_store import BarStore, read_window
from app.timing.time_manager import TimeManager

__all__ = ["WINDOW_ROWS", "WindowedBarSource", "window_sessions"]

log = logging.getLogger(__name__)

WINDOW_ROWS: Final = 2_000_000
"""Base bars (all symbols) a window may hold, about 96 MB of columns."""
MAX_WINDOW_SESSIONS: Final = 128
_REASONS: Final = tuple(RejectReason)


def window_sessions(n_symbols: int, bars_per_session: int, budget_rows: int = WINDOW_ROWS) -> int:
    """Return how many sessions one window holds: the row budget over the rows a session adds."""
    per_session = max(1, n_symbols * max(1, bars_per_session))
    return max(1, min(MAX_WINDOW_SESSIONS, budget_rows // per_session))


@dataclass(frozen=True)
class _Checked:
    """One (symbol, interval) over a window: accepted rows, and the rejected rows' starts/reasons."""

    bars: BarArrays
    rejected_start: np.ndarray
    rejected_reason: np.ndarray
    moved: int
    day_rows: dict[date, tuple[int, int]]  # each window day's rows [lo, hi) in `bars`: one search per window

    def rows(self, first: date, last: date) -> tuple[int, int]:
        """Rows ``[lo, hi)`` of the days `first`..`last` (both window days, in order)."""
        return self.day_rows[first][0], self.day_rows[last][1]


class WindowedBarSource:
    """A `BarSource` for backtests over the run's sessions, a window of sessions at a time.

    Parameters
    ----------
    store : BarStore
        The bar store.
    time_manager : TimeManager
        Calendar answers (session bounds, expected bar starts, trailing days).
    base : Interval
        The streamed interval.
    sessions : tuple of date
        The run's sessions, in order.
    trailing : dict
        Interval label -> the most trailing days any history spec asks of it.
    window : int
        Sessions per window (`window_sessions`).

    Warnings
    --------
    Used by the SessionCoordinator thread only. The arrays it hands out are read-only.
    """

    def __init__(self, store: BarStore, time_manager: TimeManager, base: Interval, sessions: tuple[date, ...],
                 trailing: dict[str, int], window: int) -> None:
        self.store = store
        self.tm = time_manager
        self.base = base
        self.sessions = sessions
        self.trailing = dict(trailing)
        self.window = max(1, int(window))
        self._index = {d: i for i, d in enumerate(sessions)}
        self._current = -1
        self._days: dict[str, tuple[date, ...]] = {}  # interval label -> the days the window covers
        self._checked: dict[tuple[str, str], _Checked] = {}
        self._repairs_reported: set[tuple[str, str]] = set()
        self._derived: dict[tuple[str, str, date], BarArrays] = {}
        self._session = sessions[0] if sessions else None
        self._stored: dict[tuple[str, str], bool] = {}

    # -- BarSource --------------------------------------------------------------------------
    def begin_session(self, session: date) -> None:
        """Select the window holding `session` (reads nothing yet; files are read on first use)."""
        self._session = session
        w = self._index[session] // self.window
        if w != self._current:
            self._current = w
            self._days.clear()
            self._checked.clear()  # views handed out keep their arrays alive until released
            self._derived.clear()

    def session_bars(self, symbol: str, session: date) -> SessionLoad:
        if session != self._session:
            self.begin_session(session)
        checked = self._load(symbol, self.base)
        open_ns, close_ns = self.tm.session_bounds_ns(session)
        bars = checked.bars.slice(*checked.day_rows[session])
        key = (symbol, self.base.label)
        repairs = 0
        if checked.moved and key not in self._repairs_reported:
            repairs = checked.moved  # reported with the first session that reads the window
            self._repairs_reported.add(key)
        return SessionLoad(bars, _rejected(checked, open_ns, close_ns), repairs)

    def history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        if not days:
            return HistoryLoad(empty_bars(), ())
        key = (symbol, interval.label)
        stored = self._stored.get(key)
        if stored is None:  # asked once per run, not once per session (a file-system call)
            stored = self._stored[key] = self.store.has(symbol, interval)
        if stored:
            return self._stored_history(symbol, interval, days)
        return self._derived_history(symbol, interval, days)

    # -- internals --------------------------------------------------------------------------
    def _window_days(self, label: str) -> tuple[date, ...]:
        days = self._days.get(label)
        if days is None:
            first = self._current * self.window
            run_days = self.sessions[first : first + self.window]
            margin = self.trailing.get(label, 0)
            before = self.tm.trailing_trading_days(run_days[0], margin) if margin else ()
            days = self._days[label] = (*before, *run_days)
        return days

    def _load(self, symbol: str, interval: Interval) -> _Checked:
        key = (symbol, interval.label)
        checked = self._checked.get(key)
        if checked is not None:
            return checked
        days = self._window_days(interval.label if interval != self.base else self.base.label)
        first_open, _ = self.tm.session_bounds_ns(days[0])
        _, last_close = self.tm.session_bounds_ns(days[-1])
        raw, moved = read_window(self.store, symbol, interval, first_open, last_close)
        allowed = np.concatenate([self.tm.expected_bar_starts(d, interval) for d in days])
        result = check_bars(raw, allowed_starts=allowed)
        rejected_start = raw.start[result.rejected_index] if result.rejected_count else np.empty(0, np.int64)
        # Each day's rows from one vectorised search per window, not two searches per day per
        # session (left-side searches: a day's rows are the bars with open <= start < close).
        bounds = np.array([self.tm.session_bounds_ns(d) for d in days], dtype=np.int64).reshape(-1)
        found = np.searchsorted(result.accepted.start, bounds).tolist()
        day_rows = {d: (found[2 * i], max(found[2 * i], found[2 * i + 1])) for i, d in enumerate(days)}
        checked = self._checked[key] = _Checked(result.accepted, rejected_start, result.rejected_reason, moved,
                                                day_rows)
        return checked

    def _covers(self, interval: Interval, days: tuple[date, ...]) -> bool:
        label = interval.label
        window_days = self._window_days(label if interval != self.base else self.base.label)
        return days[0] >= window_days[0] and days[-1] <= window_days[-1]

    def _stored_history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        if not self._covers(interval, days):  # not planned for (never in a run built by `build`)
            log.debug("history of %s %s outside the loaded window: reading it directly", symbol, interval)
            label = interval.label
            self.trailing[label] = max(self.trailing.get(label, 0), len(days))
            self._days.pop(label, None)
            for key in [k for k in self._checked if k[1] == label]:
                del self._checked[key]
        checked = self._load(symbol, interval)
        first_open, _ = self.tm.session_bounds_ns(days[0])
        _, last_close = self.tm.session_bounds_ns(days[-1])
        bars = checked.bars.slice(*checked.rows(days[0], days[-1]))
        day_rows = checked.day_rows
        per_day = tuple((int(self.tm.expected_bar_starts(d, interval).shape[0]), day_rows[d][1] - day_rows[d][0])
                        for d in days)
        return HistoryLoad(bars, per_day, _rejected(checked, first_open, last_close))

    def _derived_history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        base_hist = self._stored_history(symbol, self.base, days)
        parts, per_day = [], []
        for d in days:
            key = (symbol, interval.label, d)
            out = self._derived.get(key)
            if out is None:  # each day is aggregated once per window, whatever session asks
                out = self._derived[key] = derive_day(base_hist.bars, self.base, interval,
                                                      *self.tm.session_bounds_ns(d))
            parts.append(out)
            per_day.append((int(self.tm.expected_bar_starts(d, interval).shape[0]), len(out)))
        return HistoryLoad(concat_bars(parts), tuple(per_day), base_hist.rejected)


def _rejected(checked: _Checked, lo_ns: int, hi_ns: int) -> dict[str, int]:
    starts = checked.rejected_start
    if not starts.shape[0]:
        return {}
    lo, hi = int(np.searchsorted(starts, lo_ns)), int(np.searchsorted(starts, hi_ns))
    if hi <= lo:
        return {}
    tally = np.bincount(checked.rejected_reason[lo:hi], minlength=len(_REASONS) + 1)
    return {r.name: int(tally[r.value]) for r in _REASONS if tally[r.value]}
