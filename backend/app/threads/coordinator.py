"""SessionCoordinator: the day loop -- teardown, load, stream base bars in time order, close."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from app.bars.steps import build_steps
from app.errors import ConfigError
from app.feeds.base import BarSource
from app.feeds.preload import HistoricalIndicatorSpec, HistorySpec, preload_history
from app.metrics.collect import RunMetrics
from app.store.bar import Interval
from app.store.series import BarSeries
from app.store.session_data import SessionData, SessionState
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd, SessionStart, StepBatch
from app.threads.live_stream import LiveStream, StreamOutcome
from app.threads.pause import PauseGate
from app.timing.clocks import ScaledClock, SteppedClock, perf_ns
from app.timing.time_manager import TimeManager

__all__ = ["CoordinatorPlan", "SessionCoordinator"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoordinatorPlan:
    """What the coordinator streams: sessions, symbols, history and pacing."""

    sessions: tuple[date, ...]
    symbols: tuple[str, ...]
    base: Interval
    history: tuple[HistorySpec, ...]
    historical_indicators: tuple[HistoricalIndicatorSpec, ...]
    enable_historical_quality: bool
    batch_steps: int
    speed_multiplier: float  # 0 = data-driven


class SessionCoordinator(SessionThread):
    """Owns the clock and the trading-day lifecycle; the only writer of base series.

    Per session: load a fresh SessionState (history, historical indicators and quality, the
    day's checked base bars) while the previous session is finished downstream, activate it
    once every consumer acked the previous session's end (teardown), reveal the base bars step by step
    (data-driven: `batch_steps` per hand-off; clock-driven: each when the scaled clock passes
    its end) and finish with the clock at the close.
    """

    def __init__(
        self,
        plan: CoordinatorPlan,
        source: BarSource,
        tm: TimeManager,
        data: SessionData,
        outputs: Sequence[StreamSubscription],
        metrics: RunMetrics,
        stop_token: StopToken,
        on_failure: FailureSink,
        on_session_done: Callable[[int, SessionState], None],
        live: LiveStream | None = None,
    ) -> None:
        super().__init__(stop_token, on_failure)
        self.plan, self.source, self.tm, self.data = plan, source, tm, data
        self.outputs = tuple(outputs)
        self.metrics = metrics
        self.on_session_done = on_session_done
        self.live = live  # live mode: bars come from the feed on the wall clock
        self._drain = threading.Event()  # clock-driven / live: end the session at the next step
        self.gate = PauseGate(tm.clock)  # backtests: pause / resume
        self.where = self._where
        self._state: SessionState | None = None
        self._starts: dict[date, list[np.ndarray]] = {}  # loaded sessions' bar starts, per symbol

    def _where(self) -> tuple[str | None, str | None]:
        s = self._state
        return self.tm.format_ns(self.tm.now_ns()), (s.session.isoformat() if s else None)

    def request_drain(self) -> None:
        """Paced modes (Ctrl-C): end the current session cleanly at the next step; any thread may call it."""
        self._drain.set()
        if self.live is not None:
            self.live.drain_requested.set()

    def pause(self) -> None:
        """Backtests: stop the clock and delivery within one step (BEHAVIOURS 8); any thread may call it.

        Raises
        ------
        ConfigError
            In live mode: the market does not wait.
        """
        if self.live is not None:
            raise ConfigError("live sessions cannot be paused: the market does not wait (Ctrl-C ends the "
                              "session cleanly)", field="mode")
        self.gate.pause()

    def resume(self) -> None:
        """Continue from the same clock time, with no bar lost or repeated (idempotent)."""
        if self.live is not None:
            raise ConfigError("live sessions cannot be paused or resumed", field="mode")
        self.gate.resume()

    def run(self) -> None:
        try:
            self._run()
        finally:
            if self.live is not None:
                self.live.close()

    def _run(self) -> None:
        sessions = self.plan.sessions
        last_close: int | None = None
        pending, load_ns = self._timed_load(sessions[0]) if sessions else (None, 0)
        for index in range(len(sessions)):
            if self.stop_token.is_set() or pending is None:
                return
            state = pending
            self._activate(index, state)
            if last_close is not None:
                self.metrics.stat("session_gap").record(state.open_ns - last_close)
            self.metrics.stat("data_loading_initial" if index == 0 else "data_loading_subsequent").record(load_ns)
            t_stream, paused0 = perf_ns(), self.gate.paused_ns
            outcome = self._stream_live(state) if self.live is not None else self._stream(state)
            if outcome is StreamOutcome.STOPPED:
                return
            if outcome is StreamOutcome.NOT_STARTED:
                break
            last = outcome is not StreamOutcome.CLOSE  # a deadline or a drain ends the run
            end = SessionEnd(index, state)
            seqs = [sub.publish(end) for sub in self.outputs]
            if index + 1 < len(sessions) and not last:
                # Load the next session while the consumers finish this one (it stays
                # invisible until activated, so nobody sees two sessions mixed).
                pending, load_ns = self._timed_load(sessions[index + 1])
            # Teardown must wait until every consumer (and, through the processor, the
            # engine) has finished with this session.
            if not all(s.wait_ack(q) is WaitStatus.READY for s, q in zip(self.outputs, seqs, strict=True)):
                return
            lo, hi = state.streamed  # live runs may stream part of the session
            self.metrics.mark_session_clock(hi - lo, perf_ns() - t_stream - (self.gate.paused_ns - paused0))
            last_close = state.close_ns
            self.metrics.stat("session_duration").record(hi - lo)
            self.on_session_done(index, state)
            if last:
                break
        for sub in self.outputs:
            sub.end()

    def _timed_load(self, session: date) -> tuple[SessionState, int]:
        t0 = perf_ns()
        state = self._load(session)
        return state, perf_ns() - t0

    def _load(self, session: date) -> SessionState:
        # Fills a new, still invisible SessionState: history, then each symbol's checked base
        # bars as a preloaded (unpublished) series, plus their starts for the step table.
        open_ns, close_ns = self.tm.session_bounds_ns(session)
        state = self.data.prepare_session(session, open_ns, close_ns, self.tm.is_early_close(session))
        preload_history(self.source, self.tm, state, self.plan.history, self.plan.historical_indicators,
                        self.plan.symbols, self.plan.enable_historical_quality)
        if self.live is not None:  # base series start empty; the feed fills them as the session runs
            self.live.prepare(state)
            return state
        starts = []
        for symbol in self.plan.symbols:
            load = self.source.session_bars(symbol, session)
            state.bars[(symbol, self.plan.base.label)] = BarSeries(f"{symbol}/{self.plan.base}", preloaded=load.bars)
            starts.append(load.bars.start)
            if load.rejected:
                bucket = state.rejected.setdefault(symbol, {})
                for reason, count in load.rejected.items():
                    bucket[reason] = bucket.get(reason, 0) + count
            if load.repairs:
                state.repairs[symbol] = load.repairs
        self._starts[session] = starts
        return state

    def _activate(self, index: int, state: SessionState) -> None:
        self.data.activate(state)
        self._state = state
        clock = self.tm.clock
        if isinstance(clock, ScaledClock):
            clock.jump_to(state.open_ns)
        elif isinstance(clock, SteppedClock):
            clock.advance_to(max(state.open_ns, clock.now_ns()))
        for sub in self.outputs:
            sub.publish(SessionStart(index, state))

    def _stream_live(self, state: SessionState) -> StreamOutcome:
        assert self.live is not None
        stat = self.metrics.stat("coordinator")

        def publish(batch: StepBatch) -> None:
            t0 = perf_ns()
            now = self.tm.now_ns()
            for sub in self.outputs:
                sub.check_overrun(now)
                sub.publish(batch)
            stat.record(perf_ns() - t0)

        return self.live.stream(state, publish)

    def _stream(self, state: SessionState) -> StreamOutcome:
        base = self.plan.base
        series = [state.bars[(s, base.label)] for s in self.plan.symbols]
        ends, base_idx = build_steps(self._starts.pop(state.session), base.ns)
        if base.is_daily:  # a daily bar is over at the session's close, not 24 h after the open
            ends = np.minimum(ends, state.close_ns)
        # Rows each symbol has after step k: running count of its bars up to k.
        counts = (base_idx >= 0).cumsum(axis=0)
        paced = self.plan.speed_multiplier > 0
        step = 1 if paced else self.plan.batch_steps
        stat = self.metrics.stat("coordinator")
        for lo in range(0, ends.shape[0], step):
            hi = min(lo + step, ends.shape[0])
            if paced:
                reached = self._wait_until(int(ends[lo]))
                if reached is not True:
                    return self._cut(state, int(ends[lo - 1]) if lo else state.open_ns, reached)
            if not paced and self.gate.paused:
                held = self._hold()
                if held is not True:
                    return self._cut(state, int(ends[lo - 1]) if lo else state.open_ns, held)
            t0 = perf_ns()
            for s, sr in enumerate(series):
                sr.publish(int(counts[hi - 1, s]))
            if not paced:
                self.tm.clock.advance_to(int(ends[hi - 1]))  # type: ignore[attr-defined]
            batch = StepBatch(lo, hi, ends[lo:hi], base_idx[lo:hi], counts[hi - 1], due_ns=int(ends[lo]))
            for sub in self.outputs:
                if paced:
                    sub.check_overrun(self.tm.now_ns())
                sub.publish(batch)
            stat.record((perf_ns() - t0) // (hi - lo))
        if paced:
            reached = self._wait_until(state.close_ns)
            if reached is not True:
                return self._cut(state, int(ends[-1]) if ends.shape[0] else state.open_ns, reached)
        if not paced:
            self.tm.clock.advance_to(state.close_ns)  # type: ignore[attr-defined]
        return StreamOutcome.CLOSE

    def _cut(self, state: SessionState, end_ns: int, reached: StreamOutcome) -> StreamOutcome:
        # A drain ends the session where the paced clock stands (quality counts the bars that
        # ended by then, all of them published).
        if reached is StreamOutcome.DRAINED:  # the session ran until now on the paced clock
            state.stream_end_ns = min(max(end_ns, self.tm.now_ns()), state.close_ns)
        return reached

    def _hold(self) -> bool | StreamOutcome:
        # Data-driven pause: no hand-off until resumed (the stepped clock does not move).
        while not self.gate.wait_open(0.1):
            if self.stop_token.is_set():
                return StreamOutcome.STOPPED
            if self._drain.is_set():
                return StreamOutcome.DRAINED
        return True

    def _wait_until(self, instant_ns: int) -> bool | StreamOutcome:
        """Wait on the paced clock: True when `instant_ns` is reached, else DRAINED or STOPPED."""
        while True:
            remaining = self.tm.clock.real_seconds_until(instant_ns)
            if remaining <= 0:
                return True
            if self._drain.is_set():
                return StreamOutcome.DRAINED
            if self.stop_token.wait(min(remaining, 0.1)):
                return StreamOutcome.STOPPED
