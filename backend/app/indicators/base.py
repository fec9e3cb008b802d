"""IndicatorState: the incremental interface every real-time indicator implements."""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np

from app.store.bar import BAR_FIELDS, BarArrays

__all__ = ["IndicatorState"]


class IndicatorState(abc.ABC):
    """One indicator on one series: consumes each new bar once and returns its values.

    Values at a row depend only on that row and the rows fed before it, so feeding the rows of
    a session in chunks of any size gives exactly (bit for bit) the values of one call.

    Parameters
    ----------
    period : int
        Number of values the indicator needs (NaN before that).
    field : str
        Bar column the indicator reads, one of ``open, high, low, close, volume`` (ignored by
        indicators that read several columns, such as ATR and VWAP).

    Warnings
    --------
    Not thread-safe: one state per (symbol, indicator, interval), updated by one thread (the
    DataProcessor). Never share a state between symbols (BEHAVIOURS 22).
    """

    name: ClassVar[str] = ""

    def __init__(self, period: int, field: str = "close") -> None:
        if field not in BAR_FIELDS:
            raise ValueError(
                f"expected field to be one of {', '.join(BAR_FIELDS)}, received {field!r}"
            )
        self.period = int(period)
        self.field = field
        self._column = BAR_FIELDS.index(field) + 1
        self._rows = 0
        # Rows of earlier history that determine future values (None: all of them).
        self.lookback: int | None = None

    @property
    def rows_seen(self) -> int:
        """Return how many rows `update` has consumed (warm-up rows excluded)."""
        return self._rows

    def reset(self) -> None:
        """Forget every row fed so far: the state is again as `make_indicator` builds it.

        Lets a caller keep one state per (symbol, indicator) across sessions instead of
        building a new one each session (the values are those of a new state, bit for bit).
        """
        self._rows = 0
        self._reset()

    @abc.abstractmethod
    def _reset(self) -> None:
        """Restore the fields `__init__` set that feeding rows changes."""

    def update(self, bars: BarArrays) -> np.ndarray:
        """Consume the new rows `bars` and return one float64 value per row (NaN during warm-up).

        Parameters
        ----------
        bars : BarArrays
            Only rows not fed before, in time order.
        """
        n = len(bars)
        if n == 0:
            return np.empty(0, dtype=np.float64)
        self._rows += n
        return self._compute(bars)

    def warm_up(self, history: BarArrays) -> None:
        """Consume earlier bars (trailing history) without producing values.

        Session-anchored indicators (VWAP) ignore history. An indicator with a `lookback` reads
        only that many of the newest rows: the older ones cannot change a future value.
        """
        n = len(history)
        if self.lookback is not None and n > self.lookback:
            history = history.slice(n - self.lookback, n)
        if len(history):
            self._compute(history)

    def _values(self, bars: BarArrays) -> np.ndarray:
        return np.asarray(bars[self._column], dtype=np.float64)

    @abc.abstractmethod
    def _compute(self, bars: BarArrays) -> np.ndarray:
        """Advance the state over `bars` and return their values."""

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(period={self.period}, field={self.field!r}, rows_seen={self._rows})"
