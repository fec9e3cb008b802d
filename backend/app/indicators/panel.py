"""Indicators across symbols: one state row per symbol, advanced one bar per symbol per call.

A live step brings at most one new bar per symbol. Feeding each symbol's `IndicatorState` one
bar costs a handful of small numpy calls per symbol; a `Panel` holds the same state for all
the symbols of one indicator as ``(n_symbols, ...)`` arrays and advances every symbol that
has a bar with the same handful of calls, whatever the number of symbols.

Values are bit for bit those of `IndicatorState.update` fed the same bars one at a time: each
value is computed from the same inputs by the same IEEE operations in the same order (window
indicators call the state's own ``_of_windows`` on an ``(n, period)`` matrix, whose row sums
numpy computes exactly as for a single row; the recursions are the same expressions,
elementwise; seeds use the same ``math.fsum``). `load` takes the per-symbol states' current
state and `store` gives it back, so a caller may switch between the per-symbol path (many
bars per symbol: backtest batches) and this one (one bar per symbol) at any row.

This module reads and writes the private fields of the states in `app.indicators` (the same
package); a state class without a panel here is simply not panel-capable (`make_panel`
returns None).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence

import numpy as np

from app.indicators.base import IndicatorState
from app.indicators.recursive import AtrState, EmaState, RsiState, VwapState
from app.indicators.window import _WindowState
from app.store.bar import BarArrays

__all__ = ["Panel", "make_panel"]

_NAN = float("nan")


class Panel(abc.ABC):
    """One indicator for `n` symbols: state rows indexed by the symbol's position.

    Parameters
    ----------
    proto : IndicatorState
        A state of the indicator (its parameters are used, never its state).
    n : int
        Number of symbols.

    Warnings
    --------
    Not thread-safe (one writer: the DataProcessor). Between `load` and `store` the panel, not
    the per-symbol states, holds the state: updating a state in between loses rows.
    """

    def __init__(self, proto: IndicatorState, n: int) -> None:
        self.proto = proto
        self.n = n
        # Rows fed since `load`, per symbol: `_every` (steps of every symbol, a Python int: no
        # numpy call in the usual step) plus `_rows` (steps of some symbols).
        self._rows = np.zeros(n, dtype=np.int64)
        self._every = 0

    def load(self, states: Sequence[IndicatorState]) -> None:
        """Take the current state of each symbol's `IndicatorState` (``states[s]``)."""
        self._rows[:] = 0
        self._every = 0
        for s, st in enumerate(states):
            self._load(s, st)

    def store(self, states: Sequence[IndicatorState]) -> None:
        """Give the state back to each symbol's `IndicatorState`, as if it had been fed the rows."""
        for s, st in enumerate(states):
            self._store(s, st)
            st._rows += int(self._rows[s]) + self._every
        self._rows[:] = 0
        self._every = 0

    def step(self, idx: np.ndarray | None, bars: BarArrays) -> np.ndarray:
        """Feed one bar to each symbol in `idx` and return their values (one per symbol).

        Parameters
        ----------
        idx : ndarray of int or None
            Positions of the symbols that have a bar, increasing; None for every symbol.
        bars : BarArrays
            Row ``j`` is the bar of symbol ``idx[j]`` (the ``start`` column is not read).
        """
        if idx is None:
            self._every += 1
        else:
            self._rows[idx] += 1
        return self._step(idx, bars)

    @abc.abstractmethod
    def _load(self, s: int, st: IndicatorState) -> None: ...

    @abc.abstractmethod
    def _store(self, s: int, st: IndicatorState) -> None: ...

    @abc.abstractmethod
    def _step(self, idx: np.ndarray | None, bars: BarArrays) -> np.ndarray: ...

    def _field(self, bars: BarArrays) -> np.ndarray:
        return np.asarray(bars[self.proto._column], dtype=np.float64)


def _take(arr: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    # Always a copy: callers write the state back while still reading what they took.
    return arr.copy() if idx is None else arr[idx]


def _put(arr: np.ndarray, idx: np.ndarray | None, values: np.ndarray | bool | float) -> None:
    if idx is None:
        arr[:] = values
    else:
        arr[idx] = values


class _WindowPanel(Panel):
    # Each symbol's window in a row of `_buf` (n, period): the last `period - 1` values,
    # right-aligned, then a slot for the next value. `_filled` of those values are real (fewer
    # during warm-up: the value is NaN until a full window exists). A step of every symbol
    # writes the new values into the last column, reduces the rows (the same C-contiguous
    # (n, period) matrix a concatenation would give, so the same sums) and shifts them left.

    def __init__(self, proto: IndicatorState, n: int) -> None:
        super().__init__(proto, n)
        self._w = proto.period - 1
        self._buf = np.full((n, self._w + 1), _NAN)
        self._filled = np.zeros(n, dtype=np.int64)
        self._warm = self._w == 0  # every symbol has a full window: no masking, no counting

    def _load(self, s: int, st: IndicatorState) -> None:
        tail = st._tail  # type: ignore[attr-defined]
        m = int(tail.shape[0])
        self._buf[s] = _NAN
        self._buf[s, self._w - m : self._w] = tail
        self._filled[s] = m
        self._warm = bool(self._filled.min(initial=self._w) == self._w)

    def _store(self, s: int, st: IndicatorState) -> None:
        if self._w:
            kept = self._buf[s, self._w - int(self._filled[s]) : self._w]
            st._tail = kept.copy()  # type: ignore[attr-defined]

    def _step(self, idx: np.ndarray | None, bars: BarArrays) -> np.ndarray:
        x = bars[self.proto._column]
        if idx is None:
            windows = self._buf
            windows[:, self._w] = x
            values = self.proto._of_windows(windows)  # type: ignore[attr-defined]
            if self._w:
                windows[:, : self._w] = windows[:, 1:]
        else:
            windows = self._buf[idx]  # a new (k, period) matrix
            windows[:, self._w] = x
            values = self.proto._of_windows(windows)  # type: ignore[attr-defined]
            self._buf[idx, : self._w] = windows[:, 1:]
        if not self._warm:
            w = self._w
            filled = _take(self._filled, idx)
            values[filled < w] = _NAN
            _put(self._filled, idx, np.minimum(filled + 1, w))
            self._warm = bool(self._filled.min(initial=w) == w)
        return values


class _SeededPanel(Panel):
    # `_last` per symbol once seeded (the mean of the first `period` inputs); before that, the
    # inputs so far in a per-symbol list (warm-up only: those symbols take a Python path).

    def __init__(self, proto: IndicatorState, n: int) -> None:
        super().__init__(proto, n)
        self._last = np.zeros(n)
        self._seeded = np.zeros(n, dtype=bool)
        self._seeds: list[list[float]] = [[] for _ in range(n)]

    def _load(self, s: int, st: IndicatorState) -> None:
        last = st._last  # type: ignore[attr-defined]
        self._seeded[s] = last is not None
        self._last[s] = 0.0 if last is None else last
        self._seeds[s] = list(st._seed)  # type: ignore[attr-defined]

    def _store(self, s: int, st: IndicatorState) -> None:
        st._last = float(self._last[s]) if self._seeded[s] else None  # type: ignore[attr-defined]
        st._seed = list(self._seeds[s])  # type: ignore[attr-defined]

    def _smooth(self, idx: np.ndarray | None, x: np.ndarray) -> np.ndarray:
        seeded = _take(self._seeded, idx)
        if seeded.all():
            new = self._recur(x, _take(self._last, idx))
            _put(self._last, idx, new)
            return new
        values = np.full(x.shape[0], _NAN)
        on = np.flatnonzero(seeded)
        if on.shape[0]:
            rows = on if idx is None else idx[on]
            values[on] = self._last[rows] = self._recur(x[on], self._last[rows])
        p = self.proto.period
        for j in np.flatnonzero(~seeded).tolist():
            s = j if idx is None else int(idx[j])
            seed = self._seeds[s]
            seed.append(float(x[j]))
            if len(seed) == p:
                values[j] = self._last[s] = math.fsum(seed) / p
                self._seeded[s] = True
                self._seeds[s] = []
        return values

    @abc.abstractmethod
    def _recur(self, x: np.ndarray, last: np.ndarray) -> np.ndarray: ...


class _EmaPanel(_SeededPanel):
    def _step(self, idx: np.ndarray | None, bars: BarArrays) -> np.ndarray:
        return self._smooth(idx, self._field(bars))

    def _recur(self, x: np.ndarray, last: np.ndarray) -> np.ndarray:
        a = self.proto.alpha  # type: ignore[attr-defined]
        return a * x + (1.0 - a) * last


class _AtrPanel(_SeededPanel):
    def __init__(self, proto: IndicatorState, n: int) -> None:
        super().__init__(proto, n)
        self._prev_close = np.zeros(n)
        self._has_prev = np.zeros(n, dtype=bool)

    def _load(self, s: int, st: IndicatorState) -> None:
        super()._load(s, st)
        prev = st._prev_close  # type: ignore[attr-defined]
        self._has_prev[s] = prev is not None
        self._prev_close[s] = 0.0 if prev is None else prev

    def _store(self, s: int, st: IndicatorState) -> None:
        super()._store(s, st)
        st._prev_close = float(self._prev_close[s]) if self._has_prev[s] else None  # type: ignore[attr-defined]

    def _step(self, idx: np.ndarray | None, bars: BarArrays) -> np.ndarray:
        h, lo, c = bars.high, bars.low, bars.close
        has_prev = _take(self._has_prev, idx)
        first = not has_prev.all()
        prev = _take(self._prev_close, idx)
        if first:  # a symbol's very first bar: its true range is high - low
            prev = np.where(has_prev, prev, h)
        tr = np.maximum(h - lo, np.maximum(np.abs(h - prev), np.abs(lo - prev)))
        if first:
            tr = np.where(has_prev, tr, h - lo)
            _put(self._has_prev, idx, True)
        _put(self._prev_close, idx, c)
        return self._smooth(idx, tr)

    def _recur(self, x: np.ndarray, last: np.ndarray) -> np.ndarray:
        p = self.proto.period
        return (last * (p - 1) + x) / p


class _RsiPanel(Panel):
    def __init__(self, proto: IndicatorState, n: int) -> None:
        super().__init__(proto, n)
        self._prev = np.zeros(n)
        self._has_prev = np.zeros(n, dtype=bool)
        self._gain = np.zeros(n)
        self._loss = np.zeros(n)
        self._seeded = np.zeros(n, dtype=bool)
        self._seeds: list[tuple[list[float], list[float]]] = [([], []) for _ in range(n)]

    def _load(self, s: int, st: IndicatorState) -> None:
        prev, avg = st._prev, st._avg  # type: ignore[attr-defined]
        self._has_prev[s] = prev is not None
        self._prev[s] = 0.0 if prev is None else prev
        self._seeded[s] = avg is not None
        self._gain[s], self._loss[s] = (0.0, 0.0) if avg is None else avg
        self._seeds[s] = (list(st._seed_gain), list(st._seed_loss))  # type: ignore[attr-defined]

    def _store(self, s: int, st: IndicatorState) -> None:
        st._prev = float(self._prev[s]) if self._has_prev[s] else None  # type: ignore[attr-defined]
        avg = (float(self._gain[s]), float(self._loss[s])) if self._seeded[s] else None
        st._avg = avg  # type: ignore[attr-defined]
        gains, losses = self._seeds[s]
        st._seed_gain, st._seed_loss = list(gains), list(losses)  # type: ignore[attr-defined]

    def _step(self, idx: np.ndarray | None, bars: BarArrays) -> np.ndarray:
        x = self._field(bars)
        has_prev = _take(self._has_prev, idx)
        seeded = _take(self._seeded, idx)
        change = x - _take(self._prev, idx)
        _put(self._prev, idx, x)
        gains = np.maximum(change, 0.0)
        losses = np.maximum(-change, 0.0)
        if seeded.all():
            return self._recur(idx, gains, losses)
        # Warm-up: a symbol's first bar only sets `prev`; then the first `period` changes seed.
        _put(self._has_prev, idx, True)
        values = np.full(x.shape[0], _NAN)
        on = np.flatnonzero(seeded)
        if on.shape[0]:
            values[on] = self._recur(on if idx is None else idx[on], gains[on], losses[on])
        p = self.proto.period
        for j in np.flatnonzero(~seeded & has_prev).tolist():
            s = j if idx is None else int(idx[j])
            seed_gain, seed_loss = self._seeds[s]
            seed_gain.append(float(gains[j]))
            seed_loss.append(float(losses[j]))
            if len(seed_gain) == p:
                g, lo = math.fsum(seed_gain) / p, math.fsum(seed_loss) / p
                self._gain[s], self._loss[s] = g, lo
                self._seeded[s] = True
                values[j] = _rsi(np.array([g]), np.array([lo]))[0]
        return values

    def _recur(self, idx: np.ndarray | None, gains: np.ndarray, losses: np.ndarray) -> np.ndarray:
        p = self.proto.period
        q = p - 1
        g = (_take(self._gain, idx) * q + gains) / p
        lo = (_take(self._loss, idx) * q + losses) / p
        _put(self._gain, idx, g)
        _put(self._loss, idx, lo)
        return _rsi(g, lo)


def _rsi(gain: np.ndarray, loss: np.ndarray) -> np.ndarray:
    # As recursive._rsi, elementwise: 100 * gain / (gain + loss), 50 when both are 0.
    total = gain + loss
    out = np.full(total.shape[0], 50.0)
    np.divide(100.0 * gain, total, out=out, where=total > 0)
    return out


class _VwapPanel(Panel):
    def __init__(self, proto: IndicatorState, n: int) -> None:
        super().__init__(proto, n)
        self._pv = np.zeros(n)
        self._v = np.zeros(n)

    def _load(self, s: int, st: IndicatorState) -> None:
        self._pv[s], self._v[s] = st._pv, st._v  # type: ignore[attr-defined]

    def _store(self, s: int, st: IndicatorState) -> None:
        st._pv, st._v = float(self._pv[s]), float(self._v[s])  # type: ignore[attr-defined]

    def _step(self, idx: np.ndarray | None, bars: BarArrays) -> np.ndarray:
        v = bars.volume
        typical = (bars.high + bars.low + bars.close) / 3.0
        cum_pv = _take(self._pv, idx) + typical * v
        cum_v = _take(self._v, idx) + v
        _put(self._pv, idx, cum_pv)
        _put(self._v, idx, cum_v)
        out = np.full(cum_v.shape[0], _NAN)
        np.divide(cum_pv, cum_v, out=out, where=cum_v > 0)
        return out


def make_panel(proto: IndicatorState, n: int) -> Panel | None:
    """Return a panel of `proto`'s indicator for `n` symbols, or None if it has none."""
    kind = type(proto)
    if issubclass(kind, _WindowState):
        return _WindowPanel(proto, n)
    if kind is EmaState:
        return _EmaPanel(proto, n)
    if kind is AtrState:
        return _AtrPanel(proto, n)
    if kind is RsiState:
        return _RsiPanel(proto, n)
    if kind is VwapState:
        return _VwapPanel(proto, n)
    return None
