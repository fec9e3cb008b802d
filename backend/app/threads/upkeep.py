"""DataUpkeep: gap detection and data quality per session; never blocks the stream."""

from __future__ import annotations

from collections.abc import Sequence

from app.bars.quality import compute_quality, live_quality
from app.metrics.collect import RunMetrics
from app.store.bar import Interval
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.timing.clocks import perf_ns
from app.timing.time_manager import TimeManager

__all__ = ["DataUpkeep"]


class DataUpkeep(SessionThread):
    """Keeps each session's quality current: live score per step, gaps and final score at close.

    Sole writer of ``quality`` and ``live_quality``. Quality is measured on the base interval
    against the calendar's expected bar starts (early closes respected); derived intervals
    report the base's score (BEHAVIOURS.md 13). With ``enable_session_quality`` off no gap
    detection runs and quality reads 100.
    """

    def __init__(self, symbols: Sequence[str], base: Interval, tm: TimeManager,
                 inbox: StreamSubscription, metrics: RunMetrics, enabled: bool,
                 stop_token: StopToken, on_failure: FailureSink) -> None:
        super().__init__(stop_token, on_failure)
        self.symbols = tuple(symbols)
        self.base = base
        self.tm = tm
        self.inbox = inbox
        self.metrics = metrics
        self.enabled = enabled
        self._state: SessionState | None = None
        self._rows = [0] * len(self.symbols)

    def run(self) -> None:
        after = 0
        stat = self.metrics.stat("data_upkeep")
        while True:
            status, seq = self.inbox.wait(after)
            if status is not WaitStatus.READY:
                return
            for event in self.inbox.events(after, seq):
                t0 = perf_ns()
                if isinstance(event, StepBatch):
                    self._step(event)
                elif isinstance(event, SessionStart):
                    self._state = event.state
                    self._rows = [0] * len(self.symbols)
                elif isinstance(event, SessionEnd):
                    self._end(event.state)
                stat.record(perf_ns() - t0)
            self.inbox.ack(seq)
            after = seq

    def _step(self, batch: StepBatch) -> None:
        state = self._state
        if state is None or not self.enabled:
            return
        now = int(batch.ends[-1])
        newest = batch.base_idx.max(axis=0)
        for s, symbol in enumerate(self.symbols):
            if newest[s] >= 0:
                self._rows[s] = int(newest[s]) + 1
            state.live_quality[(symbol, self.base.label)] = live_quality(
                state.open_ns, state.close_ns, now, self.base.ns, self._rows[s])

    def _end(self, state: SessionState) -> None:
        expected = self.tm.expected_bar_starts(state.session, self.base)
        for symbol in self.symbols:
            bars = state.bars[(symbol, self.base.label)].view()
            if self.enabled:
                report = compute_quality(expected, bars.start, self.base.ns, state.rejected.get(symbol, {}))
            else:
                report = None
            state.quality[(symbol, self.base.label)] = report
