"""StepPanel: the DataProcessor's one-step path, across symbols at once (live and paced runs).

A one-step `StepBatch` brings at most one base bar per symbol. Instead of feeding each symbol
its row (several small numpy calls per symbol and indicator), the panel gathers the new bars
of every symbol into ``(n_symbols,)`` columns, advances the indicators of all symbols together
(`IndicatorBank.update_step`), keeps the bars in `StepRows` until their derived windows close,
and builds the derived bars of every symbol in one go when a window closes (it closes at the
same step for all of them). The results are bit for bit those of the per-symbol path
(`DataProcessor._derive_rows` + `IndicatorBank.update`); anything but the plain case (a window
cut by the close, several windows finished at once, bars off the grid, rows not held since the
window opened) is handed to the per-symbol path for that interval and step.

Runs on the DataProcessor thread, the only writer of derived series and indicator series.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from app.bars.panel import StepRows, WindowBars, unfinished_from
from app.indicators.bank import IndicatorBank
from app.store.bar import BarArrays, Interval
from app.store.panel import BarPanel
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.threads.events import StepBatch

__all__ = ["StepPanel"]

MAX_ROWS_BYTES = 256 << 20  # above this, derived windows are built symbol by symbol

DeriveRows = Callable[[SessionState, Interval, int, np.ndarray], np.ndarray]


class StepPanel:
    """One session's cross-symbol state for one-step batches (see the module docstring).

    Parameters
    ----------
    from_row, window_end : dict
        The processor's own per-interval state, shared and kept up to date by both paths:
        per symbol, the base rows before the window still open, and that window's end.
    """

    def __init__(self, state: SessionState, symbols: Sequence[str], base: Interval,
                 intraday: Sequence[Interval], bank: IndicatorBank,
                 from_row: dict[str, np.ndarray], window_end: dict[str, int]) -> None:
        self.state = state
        self.symbols = tuple(symbols)
        self.base = base
        self.intraday = tuple(intraday)
        self.bank = bank
        self.from_row, self.window_end = from_row, window_end
        n = len(self.symbols)
        self._base_series: list[BarSeries] = []  # taken at the first step (the coordinator's)
        # Each derived interval's series of all symbols in one BarPanel (a window's bars of every
        # symbol in one write), in place of the processor's empty ones before anyone sees them;
        # contiguous per symbol (by_symbol), so every reader computes on the same arrays as before.
        self._panels: dict[str, BarPanel] = {}
        for interval in self.intraday:
            label = interval.label
            if any(len(state.bars[(s, label)]) for s in self.symbols):
                continue  # already written (not a fresh session): left as they are
            cap = int((state.close_ns - state.open_ns) // interval.ns + 1)
            panel = self._panels[label] = BarPanel([f"{s}/{interval}" for s in self.symbols], cap, by_symbol=True)
            for s, series in zip(self.symbols, panel.series, strict=True):
                state.bars[(s, label)] = series
        self._derived: dict[str, list[BarSeries]] = {
            i.label: [state.bars[(s, i.label)] for s in self.symbols] for i in self.intraday}
        self._lens: dict[str, np.ndarray | None] = dict.fromkeys(self._derived)
        rows = max((i.ns // base.ns for i in self.intraday), default=0) + 2
        small = rows * n * 41 <= MAX_ROWS_BYTES
        self._rows = StepRows(n, rows) if self.intraday and small else None
        self._lo = dict.fromkeys(self._derived, 0)  # first row of each interval's open window
        self._held = True  # `_rows` holds every base row of every open window
        self._last_start: int | None = None
        self.takes_every = not base.is_daily  # `step_every` applies (else `accepts` is False too)

    def accepts(self, batch: StepBatch, new: np.ndarray) -> bool:
        """Return True for one step with at most one new base bar per symbol."""
        # Every `new` in {0, 1}: nothing left after dropping the low bit (a negative keeps its
        # sign bit). count_nonzero, not min/max: those go through numpy's Python wrappers.
        return (batch.hi - batch.lo == 1 and not self.base.is_daily
                and np.count_nonzero(new >> 1) == 0)

    def invalidate(self) -> None:
        """The per-symbol path ran: rows and derived counts are no longer known here."""
        self._held = False
        self._lens = dict.fromkeys(self._lens)

    def step(self, batch: StepBatch, new: np.ndarray, rows_after: np.ndarray,
             derive_rows: DeriveRows) -> dict[str, np.ndarray]:
        """Process one step whose new bars are ``rows_after[s] - 1`` for each ``new[s] == 1``."""
        idx = None if np.count_nonzero(new) == new.shape[0] else np.flatnonzero(new)
        bars = batch.bars  # live: the coordinator's columns of what it appended
        if bars is None or len(bars) != (new.shape[0] if idx is None else idx.shape[0]):
            bars = self._gather(rows_after, idx)
        return self._advance(batch, idx, bars, rows_after - new, derive_rows, checked=False)

    def step_every(self, batch: StepBatch, derive_rows: DeriveRows) -> dict[str, np.ndarray]:
        """Process one step in which every symbol's new bar is at base row ``batch.every_row``,
        ``batch.bars`` holding them in the symbols' order, each starting at the step's start
        (the usual live step: `StepBatch.every_row`). The same as `step` given that batch's
        ``new`` (all ones) and ``rows_after``, without working them out."""
        assert batch.bars is not None and len(batch.bars) == len(self.symbols)
        return self._advance(batch, None, batch.bars, batch.every_row, derive_rows, checked=True)

    def _advance(self, batch: StepBatch, idx: np.ndarray | None, bars: BarArrays, rows_before: np.ndarray | int,
                 derive_rows: DeriveRows, *, checked: bool) -> dict[str, np.ndarray]:
        # `checked`: every bar of `bars` is known to start at the step's start.
        end = int(batch.ends[0])
        if len(bars):
            self.bank.update_step(self.base.label, idx, bars)
        derived: dict[str, np.ndarray] = {}
        if not self.intraday:
            return derived
        self._push(end - self.base.ns, idx, bars, rows_before, checked)
        for interval in self.intraday:
            derived[interval.label] = self._derive(interval, end, batch.ends, derive_rows)
        if self._held and self._rows is not None:
            self._rows.drop_before(min(self._lo.values()))
        return derived

    def _gather(self, rows_after: np.ndarray, idx: np.ndarray | None) -> BarArrays:
        # The one per-symbol loop left: read the new row of each symbol's base series.
        which = range(len(self.symbols)) if idx is None else idx.tolist()
        if not self._base_series:
            self._base_series = [self.state.bars[(s, self.base.label)] for s in self.symbols]
        series, rows = self._base_series, rows_after.tolist()
        starts, values = [], []
        for s in which:
            row = series[s].row(rows[s] - 1)
            starts.append(row[0])
            values.append(row[1:])
        cols = np.array(values, dtype=np.float64).reshape(-1, 5).T.copy()
        return BarArrays(np.array(starts, dtype=np.int64), *cols)

    def _push(self, start: int, idx: np.ndarray | None, bars: BarArrays,
              rows_before: np.ndarray | int, checked: bool) -> None:
        # `rows_before`: each symbol's base rows before the step (an int: the same for all).
        rows = self._rows
        if rows is None:
            return
        if not self._held:
            # Held again once no open window has rows (every base row is before them all).
            if not all(bool(np.all(f == rows_before)) for f in self.from_row.values()):
                return
            rows.clear()
            self._lo = dict.fromkeys(self._lo, 0)
            self._last_start = None
            self._held = True
        on_grid = (start - self.state.open_ns) % self.base.ns == 0
        ordered = self._last_start is None or start > self._last_start
        if not (on_grid and ordered and (checked or np.count_nonzero(bars.start != start) == 0)):
            self._held = False
            return
        rows.push(start, idx, bars)
        self._last_start = start

    def _derive(self, interval: Interval, upto: int, ends: np.ndarray,
                derive_rows: DeriveRows) -> np.ndarray:
        label, t = interval.label, interval.ns
        if upto < self.window_end.get(label, 0):
            return self._counts(label)  # no window finished since the last step
        state = self.state
        open_ns, close_ns = state.open_ns, state.close_ns
        open_window = unfinished_from(open_ns, close_ns, t, upto)
        rows = self._rows
        if self._held and rows is not None:
            lo = self._lo[label]
            hi = rows.first_at_or_after(open_window, lo)
            result = None
            if hi > lo:
                starts = rows.starts(lo, hi)
                first = int(starts[0])
                ws = open_ns + ((first - open_ns) // t) * t
                if first >= open_ns and int(starts[-1]) < ws + t <= close_ns:
                    result = rows.window(lo, hi, ws, t // self.base.ns)
            if hi == lo or result is not None:
                if result is not None:
                    self._apply(interval, result)
                    self.from_row[label] += result.counts
                self._lo[label] = hi
                self.window_end[label] = open_window + t
                return self._counts(label)
        counts = derive_rows(state, interval, upto, ends)  # the per-symbol path, exactly
        self._lens[label] = None
        if self._held and rows is not None:
            self._lo[label] = rows.first_at_or_after(open_window, self._lo[label])
        return counts

    def _apply(self, interval: Interval, result: WindowBars) -> None:
        label = interval.label
        made = result.made
        k = made.shape[0]
        if k:
            everyone = k == len(self.symbols)
            panel = self._panels.get(label)
            if panel is not None:
                if not everyone or panel.append_all(int(result.bars.start[0]), result.bars[1:]) is None:
                    panel.append_step(None if everyone else made, result.bars)
                lens = panel.lens.astype(np.int32)
            else:
                series = self._derived[label]
                start = int(result.bars.start[0])
                o, h, lo, c, v = (col.tolist() for col in result.bars[1:])
                for j, s in enumerate(made.tolist()):
                    series[s].append_one(start, o[j], h[j], lo[j], c[j], v[j])
                lens = self._counts(label)[0].copy()
                lens[made] += 1
            self.bank.update_step(label, None if everyone else made, result.bars)
            row = lens.reshape(1, -1)
            row.setflags(write=False)
            self._lens[label] = row
        skipped = self.state.derived_skipped
        for s in result.skipped.tolist():
            skipped[(self.symbols[s], label)] += 1

    def _counts(self, label: str) -> np.ndarray:
        # Derived bars visible after the step: all of them (a bar is built once its window is
        # over). One read-only (1, n) array per change, shared by the steps' events until the next.
        lens = self._lens[label]
        if lens is None:
            panel = self._panels.get(label)
            lens = (panel.lens.astype(np.int32) if panel is not None else
                    np.array([len(s) for s in self._derived[label]], dtype=np.int32)).reshape(1, -1)
            lens.setflags(write=False)
            self._lens[label] = lens
        return lens
