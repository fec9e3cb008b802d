"""DataProcessor: derived bars from complete base sets, real-time indicators, then the engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from app.bars.aggregate import aggregate_bars, aggregate_daily
from app.bars.panel import unfinished_from
from app.indicators.bank import IndicatorBank
from app.metrics.collect import RunMetrics
from app.store.bar import Interval
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.store.value_panel import common_value
from app.sync.hand_over import hand_over
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.threads.step_panel import StepPanel
from app.timing.clocks import Clock
from app.timing.stopwatch import Stopwatch

__all__ = ["DataProcessor"]


class DataProcessor(SessionThread):
    """Builds derived intervals and indicators for each published step, then signals the engine.

    Sole writer of derived series, indicator series and derived-bar counters. A derived bar
    is built only when every base bar of its window is present; windows that finish with a
    hole are skipped and counted. A window is finished when the clock reaches its end.

    Two paths, chosen per batch, with bit-identical results: a batch of many steps (data-driven
    backtests) is worked symbol by symbol, vectorised over its steps (`_step_rows`); a batch of
    one step (live, clock-driven) across all symbols at once (`StepPanel`).
    """

    def __init__(
        self,
        symbols: Sequence[str],
        base: Interval,
        derived: Sequence[Interval],
        indicators: IndicatorBank,
        inbox: StreamSubscription,
        outbox: StreamSubscription,
        metrics: RunMetrics,
        clock: Clock,
        paced: bool,
        stop_token: StopToken,
        on_failure: FailureSink,
        stopwatch: Stopwatch | None = None,
        format_ns: Callable[[int], str] = str,
    ) -> None:
        super().__init__(stop_token, on_failure)
        self._fmt = format_ns  # clock times in a failure's message (the TimeManager's format)
        self.stopwatch = stopwatch or Stopwatch()  # times each batch
        self.symbols = tuple(symbols)
        self.base = base
        self.intraday = tuple(i for i in derived if not i.is_daily and i != base)
        self.daily = tuple(i for i in derived if i.is_daily and i != base)
        self.indicators = indicators
        self.inbox, self.outbox = inbox, outbox
        self.metrics = metrics
        self.clock = clock
        self.paced = paced
        self._state: SessionState | None = None
        self._panel: StepPanel | None = None
        # Per derived interval: each symbol's base rows before the window still open at the
        # last step, and that window's end (the same for every symbol).
        self._from_row: dict[str, np.ndarray] = {}
        self._window_end: dict[str, int] = {}
        self._base_rows = np.zeros(len(self.symbols), dtype=np.int64)
        self._even_rows = 0  # every item of `_base_rows` when they are all equal, else -1
        # Where the processor is, for a failure's message: the session and the steps in hand
        # (a batch's first and last step ends, read from the batch only then: `_where`).
        self._at: tuple[int, int] | StepBatch | None = None
        self._at_session: str | None = None
        self.where = self._where

    def run(self) -> None:
        now_ns = self.stopwatch.now_ns
        after = 0
        stat = self.metrics.stat("data_processor")
        while True:
            status, seq = self.inbox.wait(after)
            if status is not WaitStatus.READY:
                if status is WaitStatus.ENDED:
                    self.outbox.end()
                return
            for event in self.inbox.events(after, seq):
                if isinstance(event, StepBatch):
                    self._at = event
                    t0 = now_ns()
                    self._step(event)
                    items = event.hi - event.lo
                    stat.record_many((now_ns() - t0) // items, items)  # batch time shared
                    if self.paced:
                        # Hand the GIL to the engine now (woken by the step, waiting for it), not
                        # after this thread's ack and wait: the strategy's step starts ~0.1 ms
                        # sooner. A no-op when the engine is not waiting yet.
                        hand_over()
                elif isinstance(event, SessionStart):
                    self._at_session, self._at = event.state.session.isoformat(), None
                    self._begin(event)
                elif isinstance(event, SessionEnd):
                    self._at = (event.state.close_ns, event.state.close_ns)
                    if not self._end(event):
                        return
            self.inbox.ack(seq)
            after = seq

    def _where(self) -> tuple[str | None, str | None]:
        # The steps being derived when it failed ("first to last" for a batch of several).
        at = self._at
        if at is None:
            return None, self._at_session
        if isinstance(at, StepBatch):
            at = (int(at.ends[0]), int(at.ends[-1]))
        first, last = (self._fmt(ns) for ns in at)
        return (first if first == last else f"{first} to {last}"), self._at_session

    def _begin(self, event: SessionStart) -> None:
        state = self._state = event.state
        n = len(self.symbols)
        self._from_row = {i.label: np.zeros(n, dtype=np.int64) for i in self.intraday}
        self._window_end = {}
        self._base_rows = np.zeros(n, dtype=np.int64)
        self._even_rows = 0
        for symbol in self.symbols:
            for interval in (*self.intraday, *self.daily):
                span = (state.close_ns - state.open_ns) // interval.ns + 1
                cap = 1 if interval.is_daily else int(span)
                key = (symbol, interval.label)
                state.bars[key] = BarSeries(f"{symbol}/{interval}", capacity=cap)
                state.derived_skipped[key] = 0
        self.indicators.begin_session(state, self.symbols)
        # The one-step path's panel. Without derived intervals it takes over no series, so a
        # backtest (whose batches are many steps) never builds it; see `_one_step_panel`.
        self._panel = None
        if self.intraday or self.paced:
            self._panel = self._one_step_panel(state)
        if self.paced:  # one step at a time: the indicators' panels ready before the first step
            self.indicators.prepare_steps([self.base.label, *(i.label for i in self.intraday)])
        self.outbox.publish(event)

    def _one_step_panel(self, state: SessionState) -> StepPanel:
        return StepPanel(state, self.symbols, self.base, self.intraday, self.indicators,
                         self._from_row, self._window_end)

    def _step(self, batch: StepBatch) -> None:
        state, panel = self._state, self._panel
        assert state is not None
        one_step = batch.hi - batch.lo == 1
        if one_step and panel is None:  # the first one-step batch of a session
            panel = self._panel = self._one_step_panel(state)
            if self._base_rows.any():  # the per-symbol path ran before: as after `invalidate`
                panel.invalidate()
        r = batch.every_row
        if one_step and panel is not None and r >= 0 and r == self._even_rows and panel.takes_every:
            # The usual live step: every symbol's bar one row on (no per-symbol arithmetic).
            self._base_rows.fill(r + 1)
            self._even_rows = r + 1
            derived = panel.step_every(batch, self._derive_rows)
        elif one_step and panel is not None:
            rows_after = np.asarray(batch.rows_after, dtype=np.int64)
            new = rows_after - self._base_rows
            if panel.accepts(batch, new):
                self._base_rows = rows_after.copy()
                self._even_rows = common_value(self._base_rows)
                derived = panel.step(batch, new, self._base_rows, self._derive_rows)
            else:
                derived = self._step_rows(state, batch)
                panel.invalidate()
        else:  # many steps (a backtest batch): never the panel's
            derived = self._step_rows(state, batch)
            if panel is not None:
                panel.invalidate()
        if self.paced:
            self.outbox.check_overrun(self.clock.now_ns())
        # A new event only for the derived counts: with none to add, the batch as it came.
        self.outbox.publish(batch if not derived and not batch.derived else batch.with_derived(derived))

    def _step_rows(self, state: SessionState, batch: StepBatch) -> dict[str, np.ndarray]:
        # Symbol by symbol, each vectorised over the batch's steps (Python ints: a handful of
        # symbols is the usual backtest, where each numpy call on the way costs more than this).
        label = self.base.label
        rows = self._base_rows.tolist()
        for s, (lo, hi) in enumerate(zip(rows, np.asarray(batch.rows_after).tolist(), strict=True)):
            if hi > lo:
                rows[s] = hi
                self.indicators.update(state, self.symbols[s], label, lo, hi)
        self._base_rows = np.array(rows, dtype=np.int64)
        self._even_rows = common_value(self._base_rows)
        if not self.intraday:
            return {}
        upto = int(batch.ends[-1])
        return {i.label: self._derive_rows(state, i, upto, batch.ends) for i in self.intraday}

    def _derive_rows(self, state: SessionState, interval: Interval, upto: int,
                     ends: np.ndarray) -> np.ndarray:
        """Derive `interval` up to `upto` symbol by symbol; return the bars visible per step."""
        label, t = interval.label, interval.ns
        counts = np.zeros((ends.shape[0], len(self.symbols)), dtype=np.int32)
        if ends.shape[0] and upto < self._window_end.get(label, 0):
            # No window can have finished since last time (one step at a time): every bar
            # already built is visible at each of these steps.
            for s, symbol in enumerate(self.symbols):
                counts[:, s] = len(state.bars[(symbol, label)])
            return counts
        # The window still open at `upto` starts here; its base rows are kept for next time.
        open_window = unfinished_from(state.open_ns, state.close_ns, t, upto)
        from_row = self._from_row[label]
        for s, symbol in enumerate(self.symbols):
            series = state.bars[(symbol, label)]
            base = state.bars[(symbol, self.base.label)].view(int(self._base_rows[s]))
            result = aggregate_bars(base.slice(int(from_row[s]), len(base)), self.base.ns, t,
                                    state.open_ns, upto, state.close_ns)
            before = len(series)
            if len(result.bars):
                series.append(result.bars)
                self.indicators.update(state, symbol, label, before, len(series))
            if result.skipped_starts.shape[0]:
                state.derived_skipped[(symbol, label)] += int(result.skipped_starts.shape[0])
            from_row[s] = int(np.searchsorted(base.start, open_window))
            if ends.shape[0]:
                # Bars visible after each step: those whose end (start + interval) <= its end.
                counts[:, s] = np.searchsorted(series.view().start, ends - np.int64(t),
                                               side="right")
        self._window_end[label] = open_window + t
        return counts

    def _end(self, event: SessionEnd) -> bool:
        state = event.state
        for interval in self.intraday:
            self._derive_rows(state, interval, state.close_ns, np.empty(0, np.int64))
        for symbol in self.symbols if self.daily else ():
            base = state.bars[(symbol, self.base.label)].view()
            for interval in self.daily:
                daily = aggregate_daily(base, state.open_ns)
                if len(daily):
                    state.bars[(symbol, interval.label)].append(daily)
                    self.indicators.update(state, symbol, interval.label, 0, 1)
        seq = self.outbox.publish(event)
        return self.outbox.wait_ack(seq) is WaitStatus.READY

