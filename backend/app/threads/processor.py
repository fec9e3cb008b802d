"""DataProcessor: derived bars from complete base sets, real-time indicators, then the engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from app.bars.aggregate import aggregate_bars, aggregate_daily
from app.indicators.bank import IndicatorBank
from app.metrics.collect import RunMetrics
from app.store.bar import Interval
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.timing.clocks import Clock, perf_ns

__all__ = ["DataProcessor"]


class DataProcessor(SessionThread):
    """Builds derived intervals and indicators for each published step, then signals the engine.

    Sole writer of derived series, indicator series and derived-bar counters. A derived bar
    is built only when every base bar of its window is present; windows that finish with a
    hole are skipped and counted. A window is finished when the clock reaches its end.
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
    ) -> None:
        super().__init__(stop_token, on_failure)
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
        self._from_row: dict[tuple[int, str], int] = {}
        self._window_end: dict[tuple[int, str], int] = {}  # end of the window still open at the last step
        self._base_rows = [0] * len(self.symbols)

    def run(self) -> None:
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
                    t0 = perf_ns()
                    self._step(event)
                    items = event.hi - event.lo
                    stat.record_many((perf_ns() - t0) // items, items)  # batch time shared by its steps
                elif isinstance(event, SessionStart):
                    self._begin(event)
                elif isinstance(event, SessionEnd) and not self._end(event):
                    return
            self.inbox.ack(seq)
            after = seq

    def _begin(self, event: SessionStart) -> None:
        state = self._state = event.state
        self._from_row.clear()
        self._window_end.clear()
        self._base_rows = [0] * len(self.symbols)
        for symbol in self.symbols:
            for interval in (*self.intraday, *self.daily):
                cap = 1 if interval.is_daily else (state.close_ns - state.open_ns) // interval.ns + 1
                state.bars[(symbol, interval.label)] = BarSeries(f"{symbol}/{interval}", capacity=int(cap))
                state.derived_skipped[(symbol, interval.label)] = 0
        self.indicators.begin_session(state, self.symbols)
        self.outbox.publish(event)

    def _step(self, batch: StepBatch) -> None:
        state = self._state
        assert state is not None
        upto = int(batch.ends[-1])
        derived: dict[str, np.ndarray] = {}
        for s, symbol in enumerate(self.symbols):
            new_rows = int(batch.rows_after[s])
            if new_rows > self._base_rows[s]:
                self.indicators.update(state, symbol, self.base.label, self._base_rows[s], new_rows)
                self._base_rows[s] = new_rows
        for interval in self.intraday:
            counts = np.zeros((batch.hi - batch.lo, len(self.symbols)), dtype=np.int32)
            for s, symbol in enumerate(self.symbols):
                counts[:, s] = self._derive(state, s, symbol, interval, upto, batch.ends)
            derived[interval.label] = counts
        if self.paced:
            self.outbox.check_overrun(self.clock.now_ns())
        self.outbox.publish(dataclasses.replace(batch, derived=derived))

    def _derive(self, state: SessionState, s: int, symbol: str, interval: Interval, upto: int,
                ends: np.ndarray) -> np.ndarray | int:
        key = (s, interval.label)
        series = state.bars[(symbol, interval.label)]
        if ends.shape[0] and upto < self._window_end.get(key, 0):
            # No window can have finished since last time (the live path, one step at a time):
            # every bar already built is visible at each of these steps.
            return len(series)
        base = state.bars[(symbol, self.base.label)].view(self._base_rows[s])
        lo = self._from_row.get(key, 0)
        result = aggregate_bars(base.slice(lo, len(base)), self.base.ns, interval.ns,
                                state.open_ns, upto, state.close_ns)
        before = len(series)
        if len(result.bars):
            series.append(result.bars)
            self.indicators.update(state, symbol, interval.label, before, len(series))
        if result.skipped_starts.shape[0]:
            state.derived_skipped[(symbol, interval.label)] += int(result.skipped_starts.shape[0])
        # The window still open at `upto` starts here; its base rows are kept for next time.
        open_window = state.open_ns + ((upto - state.open_ns) // interval.ns) * interval.ns
        self._from_row[key] = int(np.searchsorted(base.start, open_window))
        self._window_end[key] = open_window + interval.ns
        # Bars visible after each step: those whose end (start + interval) <= the step's end.
        return np.searchsorted(series.view().start, ends - np.int64(interval.ns), side="right").astype(np.int32)

    def _end(self, event: SessionEnd) -> bool:
        state = event.state
        for s, symbol in enumerate(self.symbols):
            for interval in self.intraday:
                self._derive(state, s, symbol, interval, state.close_ns, np.empty(0, np.int64))
            base = state.bars[(symbol, self.base.label)].view()
            for interval in self.daily:
                daily = aggregate_daily(base, state.open_ns)
                if len(daily):
                    state.bars[(symbol, interval.label)].append(daily)
                    self.indicators.update(state, symbol, interval.label, 0, 1)
        seq = self.outbox.publish(event)
        return self.outbox.wait_ack(seq) is WaitStatus.READY
