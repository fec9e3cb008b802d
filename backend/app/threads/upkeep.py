"""DataUpkeep: gap detection and data quality per session; live gap refetch; never blocks the stream."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from app.bars.quality import compute_quality, expected_over
from app.errors import FeedError
from app.metrics.collect import RunMetrics
from app.store.bar import Interval
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.timing.stopwatch import Stopwatch
from app.timing.time_manager import TimeManager

if TYPE_CHECKING:  # live only: a backtest never imports the live modules
    from app.bars.gapfill import GapFiller
    from app.feeds.live_source import FetchBars

__all__ = ["DataUpkeep", "GapFillPlan"]

log = logging.getLogger(__name__)

IDLE_WAKE_S = 1.0  # live: longest sleep between gap-fill rounds when nothing is due
SCAN_DELAY_NS = 20_000_000  # live: scan 20 ms after a step, off the step's way to the strategy


@dataclass(frozen=True)
class GapFillPlan:
    """Live gap filling: where to re-request bars and how often (``gap_filler`` in the config)."""

    fetch: FetchBars
    max_retries: int
    retry_interval_s: float


class DataUpkeep(SessionThread):
    """Computes each session's gaps and quality; in live mode also refetches missing bars.

    Sole writer of ``quality`` and ``fills``. Quality is measured on the base interval
    against the calendar's expected bar starts over the streamed span (early closes respected);
    derived intervals report the base's score (BEHAVIOURS.md 13). With ``enable_session_quality``
    off no gap detection (and no refetch) runs and quality reads 100. The score as of any step
    is ``StrategyContext.session_quality``, computed from the engine's own view so that reading
    it never races this thread.

    Live (`fill` given): after each published step, expected bars before that step's end that
    the series lacks are re-requested through `GapFiller` (``max_retries`` times,
    ``retry_interval_s`` apart). Filled bars and late stream bars count as present; minutes the
    provider confirms empty are "no trades" and leave the expected count. Filled bars are not
    inserted into the series: the strategy has already been shown the steps after them (see
    SESSION_ARCHITECTURE.md, "Live sessions": gap filling).
    """

    def __init__(self, symbols: Sequence[str], base: Interval, tm: TimeManager,
                 inbox: StreamSubscription, metrics: RunMetrics, enabled: bool,
                 stop_token: StopToken, on_failure: FailureSink, fill: GapFillPlan | None = None,
                 stopwatch: Stopwatch | None = None) -> None:
        super().__init__(stop_token, on_failure)
        self.stopwatch = stopwatch or Stopwatch()  # times each scan
        self.symbols = tuple(symbols)
        self.base = base
        self.tm = tm
        self.inbox = inbox
        self.metrics = metrics
        self.enabled = enabled
        self.fill = fill if enabled else None
        self._state: SessionState | None = None
        self._at: tuple[str, int] | None = None  # (session, clock ns) of the work in hand, for a failure
        self.where = self._where
        self._filler: GapFiller | None = None
        self._horizon = 0  # end of the last published step
        self._scanned = [0] * len(self.symbols)  # expected starts below this were scanned
        self._rows = np.zeros(len(self.symbols), dtype=np.int64)
        self._scan_at = 0  # live: when to scan for missing bars next (0: nothing new)

    def run(self) -> None:
        after = 0
        stat = self.metrics.stat("data_upkeep")
        while True:
            status, seq = self.inbox.wait(after, self._timeout_s())
            if status is WaitStatus.TIMEOUT:
                self._refill()
                continue
            if status is not WaitStatus.READY:
                return
            for event in self.inbox.events(after, seq):
                # Stored bars need no refetch: in backtests upkeep's work is the session's
                # gaps and quality once its base bars are complete (steps are not needed).
                if isinstance(event, StepBatch) and self._filler is not None:
                    self._horizon = int(event.ends[-1])
                    self._rows = event.rows_after
                    if not self._scan_at:
                        self._scan_at = self.tm.now_ns() + SCAN_DELAY_NS
                elif isinstance(event, SessionStart) and self.fill is not None:
                    self._begin(event.state)
                elif isinstance(event, SessionEnd):
                    self._at = (event.state.session.isoformat(), event.state.close_ns)
                    t0 = self.stopwatch.now_ns()
                    self._end(event.state)
                    self._at = None
                    stat.record(self.stopwatch.elapsed_ns(t0))
            self.inbox.ack(seq)  # before any REST call: the stream never waits for a refetch
            after = seq
            if self._filler is not None and self._scan_at and self.tm.now_ns() >= self._scan_at:
                self._refill()

    def _where(self) -> tuple[str | None, str | None]:
        # A session's quality is worked out at its close; a live refetch, where the clock stands.
        if self._at is not None:
            return self.tm.format_ns(self._at[1]), self._at[0]
        state = self._state
        if state is None:
            return None, None
        return self.tm.format_ns(self.tm.now_ns()), state.session.isoformat()

    def _timeout_s(self) -> float | None:
        if self._filler is None:
            return None
        due = self._filler.next_due_ns()
        if self._scan_at:
            due = self._scan_at if due is None else min(due, self._scan_at)
        if due is None:
            return IDLE_WAKE_S
        return min(IDLE_WAKE_S, max(0.001, (due - self.tm.now_ns()) / 1e9))

    def _begin(self, state: SessionState) -> None:
        from app.bars.gapfill import GapFiller  # live gap filling only: not a backtest import

        assert self.fill is not None
        self._state = state
        self._filler = GapFiller(self.symbols, self.fill.max_retries, int(self.fill.retry_interval_s * 1e9))
        self._horizon = 0
        self._scanned = [0] * len(self.symbols)
        self._rows = np.zeros(len(self.symbols), dtype=np.int64)

    def _refill(self, *, final: bool = False) -> None:
        filler, state = self._filler, self._state
        if filler is None or state is None or self._horizon == 0:
            return
        now = self.tm.now_ns()
        self._scan_at = 0
        lo, _ = state.streamed  # set by the coordinator before its first step was published
        expected = self.tm.expected_bar_starts(state.session, self.base)
        # A bar is asked for once a later step is published too, so that the answer can show a
        # later bar (and so confirm an empty interval); the session's last one at the end.
        upto = self._horizon if final else self._horizon - self.base.ns
        for s, symbol in enumerate(self.symbols):
            frm = max(lo, self._scanned[s])
            exp = expected[np.searchsorted(expected, frm):np.searchsorted(expected, upto)]  # sorted: O(log n)
            if not exp.shape[0]:
                continue
            present = state.bars[(symbol, self.base.label)].view(int(self._rows[s])).start
            present = present[np.searchsorted(present, frm):]
            filler.scan(symbol, exp, present, now)
            self._scanned[s] = upto
        for request in filler.requests(now if not final else np.iinfo(np.int64).max, self._horizon):
            assert self.fill is not None
            try:
                answer = self.fill.fetch([request.symbol], self.base, request.start_ns, request.end_ns)
                bars = answer.get(request.symbol)
            except FeedError as e:
                if e.fatal:
                    raise
                log.warning("gap refetch for %s failed: %s", request.symbol, e)
                bars = None
            filler.resolve(request, bars, now)
            self._log_outcomes(request.symbol, request.starts)
            self.metrics.stat("gap_refetch").record(self.tm.now_ns() - now)

    def _log_outcomes(self, symbol: str, starts: Sequence[int]) -> None:
        # Each minute named as it is settled (ISO exchange time), after the strategy's decision.
        assert self._filler is not None
        fills = self._filler.symbols[symbol]
        for start in starts:
            what = ("filled after decision (REST)" if start in fills.filled else
                    "no trades (REST holds a later bar, not this one)" if start in fills.no_trades else
                    "unfilled (gave up after gap_filler.max_retries)" if start in fills.missing else None)
            if what is not None:
                log.info("%s: %s %s", what, symbol, self.tm.to_local(start).isoformat())

    def _end(self, state: SessionState) -> None:
        lo, hi = state.streamed
        expected = expected_over(self.tm.expected_bar_starts(state.session, self.base), lo, hi, self.base.ns,
                                 state.close_ns if self.base.is_daily else None)  # the bars over by the end
        if self._filler is not None and self._state is state:
            self._horizon = hi
            self._rows = np.array([len(state.bars[(s, self.base.label)]) for s in self.symbols], dtype=np.int64)
            self._refill(final=True)  # one last try for whatever is still pending
            pending = {s: tuple(f.pending) for s, f in self._filler.symbols.items()}
            self._filler.give_up()
            for symbol, starts in pending.items():
                self._log_outcomes(symbol, starts)
        for symbol in self.symbols:
            bars = state.bars[(symbol, self.base.label)].view()
            report = None
            if self.enabled:
                exp, present = expected, bars.start
                if state.no_bars.get(symbol, {}).get("policy") == "skip":  # left out: nothing expected
                    exp = expected[:0]
                fills = self._filler.symbols[symbol] if self._filler is not None and self._state is state else None
                if fills is not None:
                    state.fills[symbol] = fills
                    exp = np.setdiff1d(expected, np.fromiter(fills.no_trades, np.int64), assume_unique=True)
                    late = [b.start_ns for b in state.late.get(symbol, [])]
                    present = np.union1d(present, np.array([*late, *fills.filled], dtype=np.int64))
                report = compute_quality(exp, present, self.base.ns, state.rejected.get(symbol, {}))
            state.quality[(symbol, self.base.label)] = report
        self._state, self._filler = None, None
