"""DataUpkeep: gap detection and data quality per session; never blocks the stream."""

from __future__ import annotations

from collections.abc import Sequence

from app.bars.quality import compute_quality
from app.metrics.collect import RunMetrics
from app.store.bar import Interval
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd
from app.timing.clocks import perf_ns
from app.timing.time_manager import TimeManager

__all__ = ["DataUpkeep"]


class DataUpkeep(SessionThread):
    """Computes each session's gaps and quality once its base bars are complete.

    Sole writer of ``quality``. Quality is measured on the base interval
    against the calendar's expected bar starts (early closes respected); derived intervals
    report the base's score (BEHAVIOURS.md 13). With ``enable_session_quality`` off no gap
    detection runs and quality reads 100. The score as of any step (BEHAVIOURS.md 13) is
    ``StrategyContext.session_quality``, computed from the engine's own view so that reading
    it never races this thread.
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

    def run(self) -> None:
        after = 0
        stat = self.metrics.stat("data_upkeep")
        while True:
            status, seq = self.inbox.wait(after)
            if status is not WaitStatus.READY:
                return
            for event in self.inbox.events(after, seq):
                # Stored bars need no refetch: in backtests upkeep's work is the session's
                # gaps and quality once its base bars are complete (steps are not needed).
                if isinstance(event, SessionEnd):
                    t0 = perf_ns()
                    self._end(event.state)
                    stat.record(perf_ns() - t0)
            self.inbox.ack(seq)
            after = seq

    def _end(self, state: SessionState) -> None:
        expected = self.tm.expected_bar_starts(state.session, self.base)
        for symbol in self.symbols:
            bars = state.bars[(symbol, self.base.label)].view()
            if self.enabled:
                report = compute_quality(expected, bars.start, self.base.ns, state.rejected.get(symbol, {}))
            else:
                report = None
            state.quality[(symbol, self.base.label)] = report
