"""Recursive indicators: EMA, Wilder RSI, Wilder ATR, and session VWAP.

The recursions (each value depends on the previous one) run as Python list comprehensions
over the chunk: about 0.15 us per row for EMA and ATR, 0.4 us for RSI (two recursions), plus
a few microseconds of fixed cost per call; everything else is vectorised. Seeds are
``math.fsum`` means, so they do not depend on how the first rows were chunked, and chunked
feeding repeats exactly the one-call arithmetic (bit-identical values).
"""

from __future__ import annotations

import abc
import math

import numpy as np

from app.indicators.base import IndicatorState
from app.store.bar import BarArrays

__all__ = ["AtrState", "EmaState", "RsiState", "VwapState"]

_NAN = float("nan")


def _check_period(name: str, period: int) -> None:
    if int(period) < 1:
        raise ValueError(f"expected a period >= 1 for {name!r}, received {period!r}")


class _Seeded(IndicatorState):
    """Collects the first `period` inputs, seeds with their mean, then runs `_recur`."""

    def __init__(self, period: int, field: str = "close") -> None:
        _check_period(self.name, period)
        super().__init__(period, field)
        self._seed: list[float] = []
        self._last: float | None = None

    def _reset(self) -> None:
        self._seed = []
        self._last = None

    def _run(self, inputs: list[float]) -> list[float]:
        out = [_NAN] * len(inputs)
        i = 0
        if self._last is None:
            i = min(len(inputs), self.period - len(self._seed))
            self._seed.extend(inputs[:i])
            if len(self._seed) < self.period:
                return out
            self._last = math.fsum(self._seed) / self.period
            self._seed = []
            out[i - 1] = self._last
        if i < len(inputs):
            out[i:] = values = self._recur(inputs[i:], self._last)
            self._last = values[-1]
        return out

    @abc.abstractmethod
    def _recur(self, inputs: list[float], last: float) -> list[float]:
        """Return the values after `last` for each input."""


class EmaState(_Seeded):
    """Exponential moving average, ``alpha = 2 / (period + 1)``, seeded with the SMA of the
    first `period` values (first value at row ``period - 1``)."""

    name = "ema"

    def __init__(self, period: int, field: str = "close") -> None:
        super().__init__(period, field)
        self.alpha = 2.0 / (self.period + 1)

    def _compute(self, bars: BarArrays) -> np.ndarray:
        return np.array(self._run(self._values(bars).tolist()), dtype=np.float64)

    def _recur(self, inputs: list[float], last: float) -> list[float]:
        a, b, e = self.alpha, 1.0 - self.alpha, last
        return [e := a * v + b * e for v in inputs]


class AtrState(_Seeded):
    """Average true range with Wilder smoothing: seed = mean of the first `period` true ranges
    (first value at row ``period - 1``), then ``atr = (atr * (period - 1) + tr) / period``.

    The true range of the very first row is ``high - low``; afterwards
    ``max(high - low, |high - prev close|, |low - prev close|)``.
    """

    name = "atr"

    def __init__(self, period: int, field: str = "close") -> None:
        super().__init__(period, field)
        self._prev_close: float | None = None

    def _reset(self) -> None:
        super()._reset()
        self._prev_close = None

    def _compute(self, bars: BarArrays) -> np.ndarray:
        h, lo, c = bars.high, bars.low, bars.close
        prev = np.empty(h.shape[0])
        prev[1:] = c[:-1]
        prev[0] = h[0] if self._prev_close is None else self._prev_close
        tr = np.maximum(h - lo, np.maximum(np.abs(h - prev), np.abs(lo - prev)))
        if self._prev_close is None:
            tr[0] = h[0] - lo[0]
        self._prev_close = float(c[-1])
        return np.array(self._run(tr.tolist()), dtype=np.float64)

    def _recur(self, inputs: list[float], last: float) -> list[float]:
        p, q, atr = self.period, self.period - 1, last
        return [atr := (atr * q + v) / p for v in inputs]


class RsiState(IndicatorState):
    """Relative strength index with Wilder smoothing of gains and losses.

    The first value is at row `period` (it needs `period` changes): average gain and loss are
    the means of the first `period` changes, then ``avg = (avg * (period - 1) + x) / period``.
    ``rsi = 100 * avg_gain / (avg_gain + avg_loss)``, which equals ``100 - 100 / (1 + RS)``;
    100 when there were only gains, 50 when the price did not move at all.
    """

    name = "rsi"

    def __init__(self, period: int, field: str = "close") -> None:
        _check_period(self.name, period)
        super().__init__(period, field)
        self._prev: float | None = None
        self._seed_gain: list[float] = []
        self._seed_loss: list[float] = []
        self._avg: tuple[float, float] | None = None

    def _reset(self) -> None:
        self._prev = None
        self._seed_gain = []
        self._seed_loss = []
        self._avg = None

    def _compute(self, bars: BarArrays) -> np.ndarray:
        x = self._values(bars)
        out = np.full(x.shape[0], np.nan)
        if self._prev is None:
            start, change = 1, x[1:] - x[:-1]
        else:
            start, change = 0, x - np.concatenate(((self._prev,), x[:-1]))
        self._prev = float(x[-1])
        gains = np.maximum(change, 0.0).tolist()
        losses = np.maximum(-change, 0.0).tolist()
        i = 0
        if self._avg is None:
            i = min(len(gains), self.period - len(self._seed_gain))
            self._seed_gain.extend(gains[:i])
            self._seed_loss.extend(losses[:i])
            if len(self._seed_gain) < self.period:
                return out
            p = self.period
            self._avg = (math.fsum(self._seed_gain) / p, math.fsum(self._seed_loss) / p)
            out[start + i - 1] = _rsi(*self._avg)
        if i < len(gains):
            out[start + i :] = self._recur(gains[i:], losses[i:], self._avg)
        return out

    def _recur(
        self, gains: list[float], losses: list[float], avg: tuple[float, float]
    ) -> list[float]:
        p, q = self.period, self.period - 1
        ag, al = avg
        ags = [ag := (ag * q + g) / p for g in gains]
        als = [al := (al * q + v) / p for v in losses]
        self._avg = (ag, al)
        return [_rsi(g, v) for g, v in zip(ags, als, strict=True)]


def _rsi(avg_gain: float, avg_loss: float) -> float:
    total = avg_gain + avg_loss
    return 100.0 * avg_gain / total if total > 0 else 50.0


class VwapState(IndicatorState):
    """Volume-weighted average of the typical price ``(high + low + close) / 3``, cumulative
    from the first row of the session; NaN while the cumulative volume is 0.

    Session-anchored: `warm_up` ignores history, and `period` is not used. Cumulative sums
    carry across chunks as the first element of ``np.add.accumulate``, so chunked values are
    exact. Cost O(rows), about 6 us fixed per call.
    """

    name = "vwap"

    def __init__(self, period: int = 0, field: str = "close") -> None:
        super().__init__(period, field)
        self._pv = 0.0
        self._v = 0.0

    def _reset(self) -> None:
        self._pv = 0.0
        self._v = 0.0

    def warm_up(self, history: BarArrays) -> None:
        return None

    def _compute(self, bars: BarArrays) -> np.ndarray:
        v = bars.volume
        typical = (bars.high + bars.low + bars.close) / 3.0
        cum_pv = np.add.accumulate(np.concatenate(((self._pv,), typical * v)))[1:]
        cum_v = np.add.accumulate(np.concatenate(((self._v,), v)))[1:]
        self._pv, self._v = float(cum_pv[-1]), float(cum_v[-1])
        if np.minimum.reduce(cum_v) > 0:
            return cum_pv / cum_v
        return np.divide(cum_pv, cum_v, out=np.full(cum_v.shape[0], np.nan), where=cum_v > 0)
