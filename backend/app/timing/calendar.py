"""TradingCalendar: the only module that imports exchange_calendars (the calendar seam).

exchange_calendars, and the pandas it imports, take most of a second to import and build a
calendar, longer than a one-year backtest takes to run. So a calendar's session table (each
session's date, open, close and early-close flag, over exchange_calendars' default bounds) is
kept in an on-disk cache (`calendar_cache_dir`), one JSON file per calendar (each column's int64s
little-endian in base64: read in ~1/10 the time of JSON number lists), valid for the day
it was built (the default bounds move with the date) and the installed exchange_calendars and
pandas; a cache hit imports neither. Every answer comes from that table, equal to
exchange_calendars' own (tested).
"""

from __future__ import annotations

import base64
import bisect
import functools
import importlib.util
import json
import logging
import os
import re
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import numpy as np

__all__ = [
    "CACHE_ENV",
    "TradingCalendar",
    "UnknownCalendarError",
    "available_calendars",
    "calendar_cache_dir",
]

CACHE_ENV: Final = "SESSION_COORDINATOR_CACHE"
"""Environment variable: the cache folder, or ``off`` for none (default: the user cache folder)."""

_FORMAT: Final = 2  # bump when the cached table's layout changes (2: columns in base64)
_log = logging.getLogger(__name__)


class UnknownCalendarError(ValueError):
    """The calendar code is not one exchange_calendars knows."""

    def __init__(self, code: str) -> None:
        import difflib  # only for an unknown code: not a start-up import

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
    return list(_calendar_names())


@functools.cache
def _calendar_names() -> tuple[str, ...]:
    path = _cache_path("names.json")
    key = _cache_key()
    cached = _read_cached(path, key)
    if isinstance(cached, list) and cached and all(isinstance(n, str) for n in cached):
        return tuple(cached)
    import exchange_calendars as xcals

    found = tuple(sorted(xcals.get_calendar_names(include_aliases=True)))
    _write_cached(path, key, list(found))
    return found


@dataclass(frozen=True)
class _Table:
    """A calendar's sessions over exchange_calendars' default bounds: days since 1970-01-01,
    regular open and close (int64 ns UTC), the early-close days, and the exchange's timezone."""

    tz: str
    days: list[int]
    opens: list[int]
    closes: list[int]
    early: list[int]

    @classmethod
    def from_json(cls, data: Any) -> _Table | None:
        try:
            columns = (_decode_ints(data[k]) for k in _COLUMNS)
            table = cls(str(data["tz"]), *columns)
        except (TypeError, KeyError, ValueError):  # (a bad base64 text is a ValueError too)
            return None
        n = len(table.days)
        return table if n and len(table.opens) == n == len(table.closes) else None

    def to_json(self) -> dict[str, str]:
        return {"tz": self.tz, **{k: _encode_ints(getattr(self, k)) for k in _COLUMNS}}


_COLUMNS: Final = ("days", "opens", "closes", "early")


def _encode_ints(values: list[int]) -> str:
    return base64.b64encode(np.asarray(values, dtype="<i8").tobytes()).decode("ascii")


def _decode_ints(text: str) -> list[int]:
    values: list[int] = np.frombuffer(base64.b64decode(text, validate=True), dtype="<i8").tolist()
    return values


class TradingCalendar:
    """Answers about one exchange's sessions, equal to exchange_calendars' (uncached by question).

    All instants are int64 ns UTC. A session is identified by its date (exchange-local).
    Dates outside the calendar's bounds raise ValueError naming the bounds. The session table
    comes from the on-disk cache when it holds today's (`cache=False` always builds it).

    Warnings
    --------
    Immutable after construction; safe to call from any thread.
    """

    def __init__(self, code: str, *, cache: bool = True) -> None:
        # The format in the name: checkouts of other formats keep their own file, not rebuild each other's.
        path = _cache_path(f"table-{re.sub(r'[^A-Za-z0-9_-]', '_', code)}.v{_FORMAT}.json") if cache else None
        key = [*_cache_key(), code, _today()]  # the default bounds move with the date
        table = _Table.from_json(_read_cached(path, key))
        if table is None:  # an unknown code is never cached: it is checked here, before building
            if code not in available_calendars():
                raise UnknownCalendarError(code)
            table = _build_table(code)
            _write_cached(path, key, table.to_json())
        self.code = code
        self.tz = ZoneInfo(table.tz)
        self._sessions: list[date] = _dates(table.days)
        bounds = zip(table.opens, table.closes, strict=True)
        self._bounds: dict[date, tuple[int, int]] = dict(zip(self._sessions, bounds, strict=True))
        self._early = frozenset(_dates(table.early))
        self.first_session: date = self._sessions[0]
        self.last_session: date = self._sessions[-1]

    def _check(self, d: date) -> None:
        if not self.first_session <= d <= self.last_session:
            raise ValueError(
                f"{d.isoformat()} is outside the {self.code} calendar's range "
                f"{self.first_session.isoformat()}..{self.last_session.isoformat()}"
            )

    def is_session(self, d: date) -> bool:
        """Return True when `d` is a trading day (early closes included)."""
        self._check(d)
        return d in self._bounds

    def sessions_in_range(self, start: date, end: date) -> list[date]:
        """Return the trading days in ``[start, end]`` (either may be a non-trading day)."""
        lo = bisect.bisect_left(self._sessions, start)
        hi = bisect.bisect_right(self._sessions, end)
        return self._sessions[lo:hi]

    def first_session_on_or_after(self, d: date) -> date:
        """Return `d` when it trades, else the next trading day."""
        self._check(d)
        return self._sessions[bisect.bisect_left(self._sessions, d)]

    def last_session_on_or_before(self, d: date) -> date:
        """Return `d` when it trades, else the previous trading day."""
        self._check(d)
        return self._sessions[bisect.bisect_right(self._sessions, d) - 1]

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
        self._check(d)
        return d in self._early

    def is_trading_minute(self, ts_ns: int) -> bool:
        """Return True when the instant lies inside a regular session ``[open, close)``."""
        return self.session_of(ts_ns) is not None

    def session_of(self, ts_ns: int) -> date | None:
        """Return the session whose ``[open, close)`` contains the instant, or None."""
        local = datetime.fromtimestamp(ts_ns / 1e9, tz=self.tz).date()
        for d in (local, local - timedelta(days=1), local + timedelta(days=1)):
            bounds = self._bounds.get(d)
            if bounds is not None and bounds[0] <= ts_ns < bounds[1]:
                return d
        return None

    def bar_starts(self, d: date, interval_ns: int, daily: bool = False) -> np.ndarray:
        """Return the expected bar starts of session `d` (one start, the open, for daily bars)."""
        open_ns, close_ns = self.session_bounds_ns(d)
        if daily:
            return np.array([open_ns], dtype=np.int64)
        return np.arange(open_ns, close_ns, interval_ns, dtype=np.int64)


def _dates(days: list[int]) -> list[date]:
    # Days since 1970-01-01 as dates (``date(1970, 1, 1) + timedelta(days=d)``), converted by
    # numpy at once: a day-by-day loop was ~2 ms of a backtest's start-up (20 years of sessions).
    converted: list[date] = np.array(days, dtype=np.int64).astype("datetime64[D]").tolist()
    return converted


# -- the session table: built from exchange_calendars, cached on disk ---------------------------


def _build_table(code: str) -> _Table:
    import exchange_calendars as xcals
    import pandas as pd

    with warnings.catch_warnings():
        # exchange_calendars 4.x on pandas 3 warns about its own Series.values use.
        warnings.simplefilter("ignore", getattr(pd.errors, "Pandas4Warning", FutureWarning))
        cal = xcals.get_calendar(code)
    sessions = cal.sessions
    days = sessions.values.astype("datetime64[D]").astype(np.int64)
    return _Table(
        tz=str(cal.tz),
        days=days.tolist(),
        opens=cal.opens.array.asi8.tolist(),
        closes=cal.closes.array.asi8.tolist(),
        early=days[np.asarray(sessions.isin(cal.early_closes), dtype=bool)].tolist(),
    )


def calendar_cache_dir() -> Path | None:
    """Return the folder of the calendar cache, or None when it is turned off.

    ``$SESSION_COORDINATOR_CACHE`` when set (``off`` turns the cache off), else
    ``$XDG_CACHE_HOME/session-coordinator`` or ``~/.cache/session-coordinator``.
    """
    chosen = os.environ.get(CACHE_ENV)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off") else Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME")
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except RuntimeError:  # no home folder to be found: no cache
        return None
    return root / "session-coordinator"


def _cache_path(name: str) -> Path | None:
    folder = calendar_cache_dir()
    return None if folder is None else folder / "calendars" / name


def _today() -> str:
    return datetime.now(UTC).astimezone().date().isoformat()  # local, as exchange_calendars uses


def _install_stamp(package: str) -> list[Any]:
    """Where `package` is installed and when its files were written (changes on any reinstall)."""
    spec = importlib.util.find_spec(package)
    origin = spec.origin if spec is not None else None
    try:
        st = os.stat(origin) if origin else None
    except OSError:
        st = None
    return [package, origin, st.st_mtime_ns if st else None, st.st_size if st else None]


def _cache_key() -> list[Any]:
    return [_FORMAT, _install_stamp("exchange_calendars"), _install_stamp("pandas")]


def _read_cached(path: Path | None, key: list[Any]) -> Any:
    """Return the value cached in `path` under `key`; None when absent, damaged or stale."""
    if path is None:
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc.get("value") if isinstance(doc, dict) and doc.get("key") == key else None


def _write_cached(path: Path | None, key: list[Any], value: Any) -> None:
    """Write `value` whole (temporary file, then ``os.replace``); failing only costs time."""
    if path is None:
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"key": key, "value": value}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        _log.debug("calendar cache not written (%s): %s", path, e)
        tmp.unlink(missing_ok=True)
