"""Bar and Interval: the value types every layer shares.

A bar is labelled by the start of its interval ``[start, end)``. Timestamps are int64
nanoseconds since the Unix epoch, UTC. Intraday bars end at ``start + interval``; a daily bar
covers one session, from its open to its close (the calendar says when).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, NamedTuple

import numpy as np

__all__ = ["BAR_FIELDS", "NS_PER_SECOND", "Bar", "BarArrays", "Interval", "empty_bars", "parse_interval"]

NS_PER_SECOND: Final = 1_000_000_000
BAR_FIELDS: Final = ("open", "high", "low", "close", "volume")

_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL_RE: Final = re.compile(r"^([1-9][0-9]*)([smhd])$")


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A bar interval such as ``1s``, ``1m``, ``5m``, ``1h`` or ``1d``.

    Ordered by length. Only ``1d`` is a daily interval (one bar per session, whatever the
    session's length); multi-day intervals are not supported.
    """

    ns: int
    label: str

    @property
    def seconds(self) -> int:
        return self.ns // NS_PER_SECOND

    @property
    def is_daily(self) -> bool:
        return self.label == "1d"

    def divides(self, other: Interval) -> bool:
        """Return True when bars of `other` can be built from whole bars of this interval."""
        if other.is_daily:
            return not self.is_daily or self == other
        if self.is_daily:
            return False
        return other.ns % self.ns == 0

    def __str__(self) -> str:
        return self.label


def parse_interval(text: str) -> Interval:
    """Return the Interval for a label like ``"5m"``.

    Raises
    ------
    ValueError
        If the label is not ``<n><unit>`` with unit s, m, h or d, or is a multi-day interval.
    """
    match = _INTERVAL_RE.match(str(text).strip())
    if not match:
        raise ValueError(
            f"expected an interval like '1s', '1m', '5m', '1h' or '1d', received {text!r}"
        )
    count, unit = int(match.group(1)), match.group(2)
    if unit == "d" and count != 1:
        raise ValueError(f"expected '1d' for daily bars (multi-day intervals are not supported), received {text!r}")
    return Interval(ns=count * _UNIT_SECONDS[unit] * NS_PER_SECOND, label=f"{count}{unit}")


class Bar(NamedTuple):
    """One OHLCV bar, as strategies receive it (``start`` is the interval open, ns UTC)."""

    symbol: str
    start: int
    open: float
    high: float
    low: float
    close: float
    volume: float


class BarArrays(NamedTuple):
    """Columns of many bars of one symbol and interval, sorted by ``start``.

    ``start`` is int64 ns UTC; prices and volume are float64. The arrays have equal length.
    Pure functions in ``app.bars`` take and return this shape.
    """

    start: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def slice(self, lo: int, hi: int) -> BarArrays:
        """Return the bars ``[lo, hi)`` as views (no copy)."""
        return BarArrays(*(col[lo:hi] for col in self))


# namedtuple's _make (used by _replace) checks len() == 6, which the row-count __len__ breaks.
BarArrays._make = classmethod(lambda cls, iterable: tuple.__new__(cls, tuple(iterable)))  # type: ignore[method-assign,assignment]


def empty_bars() -> BarArrays:
    """Return a BarArrays with no rows."""
    f = np.empty(0, dtype=np.float64)
    return BarArrays(np.empty(0, dtype=np.int64), f, f, f, f, f)
