"""Moving-window indicators: simple moving average and Bollinger bands."""

from __future__ import annotations

import abc
from typing import Final

import numpy as np

from app.indicators.base import IndicatorState
from app.store.bar import BarArrays

__all__ = ["BollingerState", "SmaState"]


_BLOCK_ELEMENTS: Final = 1 << 20
_EMPTY: Final = np.empty(0, dtype=np.float64)
_EMPTY.setflags(write=False)


def _windows(xs: np.ndarray, period: int) -> np.ndarray:
    # (rows, period) view of a contiguous array: row j is xs[j : j + period]; no copy.
    # Built with the ndarray constructor, which costs a tenth of as_strided per call.
    stride = xs.itemsize
    rows = xs.shape[0] - period + 1
    return np.ndarray((rows, period), np.float64, xs, 0, (stride, stride))


class _WindowState(IndicatorState):
    """Keeps the last ``period - 1`` values; each value is a function of one full window."""

    def __init__(self, period: int, field: str = "close") -> None:
        if int(period) < 1:
            raise ValueError(f"expected a period >= 1 for {self.name!r}, received {period!r}")
        super().__init__(period, field)
        self._tail = _EMPTY
        self.lookback = self.period - 1

    def _reset(self) -> None:
        self._tail = _EMPTY

    def warm_up(self, history: BarArrays) -> None:
        """Keep the last ``period - 1`` values of `history` (all a future window can read)."""
        keep = self.period - 1
        column = history[self._column]
        n = column.shape[0]
        if n >= keep or not self._tail.shape[0]:
            # What `_compute` would keep of them (no value is asked for): a float64 copy of the newest.
            if keep and n:
                self._tail = np.array(column[n - min(n, keep) :], dtype=np.float64)
            return
        super().warm_up(history)  # fewer rows than a window's tail after earlier ones: join them

    def _compute(self, bars: BarArrays) -> np.ndarray:
        x = np.asarray(bars[self._column], dtype=np.float64)  # `_values`, inline (once per chunk)
        p = self.period
        tail = self._tail
        m = tail.shape[0]
        if x.shape[0] == 1 and m == p - 1:
            # Live path (one bar per step): the same reduction over the one full window.
            xs = np.concatenate((tail, x))
            self._tail = xs[1:]
            return self._of_windows(xs.reshape(1, p))
        # (concatenate gives a new contiguous float64 array; the field's own column may not be)
        xs = np.concatenate((tail, x)) if m else np.ascontiguousarray(x, dtype=np.float64)
        n, total = x.shape[0], xs.shape[0]
        if total >= p:
            windows = _windows(xs, p)
            rows = windows.shape[0]
            first = n - rows  # rows before the first full window: NaN
            block = max(1, _BLOCK_ELEMENTS // p)
            if rows <= block and not first:  # the usual chunk: one block, every row a value
                out = self._of_windows(windows)
            else:
                out = np.empty(n)
                out[:first] = np.nan
                # Blocks bound the (rows, period) temporaries; a row's value never depends on them.
                for lo in range(0, rows, block):
                    chunk = windows[lo : lo + block]
                    out[first + lo : first + lo + chunk.shape[0]] = self._of_windows(chunk)
        else:
            out = np.full(n, np.nan)
        if p > 1:
            self._tail = xs[max(0, total - (p - 1)) :].copy()
        return out

    @abc.abstractmethod
    def _of_windows(self, windows: np.ndarray) -> np.ndarray:
        """Return one value per row of `windows`."""


class SmaState(_WindowState):
    """Simple moving average of `field` over `period` rows.

    Notes
    -----
    Each value is the row mean of a strided ``(rows, period)`` view: O(period) flops per row in C,
    about ten numpy calls per update whatever the chunk size, and numerically as good as
    summing the window itself (no running sum that drifts over a long session).
    """

    name = "sma"

    def _of_windows(self, windows: np.ndarray) -> np.ndarray:
        return np.add.reduce(windows, axis=1) / self.period


class BollingerState(_WindowState):
    """One Bollinger band: moving average +/- ``num_std`` population standard deviations.

    Parameters
    ----------
    period : int
        Window length.
    field : str
        Bar column.
    num_std : float
        Width of the band in standard deviations (>= 0).
    upper : bool
        True for the upper band, False for the lower one.

    Notes
    -----
    Two-pass variance per window (mean, then mean squared deviation), so a flat or slowly
    drifting price gives an exact zero width rather than cancellation noise.
    """

    name = "bbands"

    def __init__(
        self, period: int, field: str = "close", num_std: float = 2.0, upper: bool = True
    ) -> None:
        super().__init__(period, field)
        if not np.isfinite(num_std) or num_std < 0:
            raise ValueError(f"expected params.num_std to be a number >= 0, received {num_std!r}")
        self.num_std = float(num_std)
        self._sign = 1.0 if upper else -1.0

    def _of_windows(self, windows: np.ndarray) -> np.ndarray:
        p = self.period
        mean = np.add.reduce(windows, axis=1) / p
        dev = windows - mean[:, None]
        std = np.sqrt(np.add.reduce(dev * dev, axis=1) / p)
        return mean + (self._sign * self.num_std) * std
