"""SessionCoordinator: the day loop -- teardown, load, stream a session's steps, close."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from app.feeds.base import BarSource
from app.feeds.preload import HistoricalIndicatorSpec, HistorySpec, preload_history
from app.metrics.collect import RunMetrics
from app.store.bar import Interval
from app.store.session_data import SessionData, SessionState
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription, WaitStatus
from app.threads.base import FailureSink, SessionThread
from app.threads.events import SessionEnd, SessionStart
from app.threads.pause import PauseGate
from app.threads.step_sources import StepSource, StreamOutcome
from app.timing.stopwatch import Stopwatch
from app.timing.time_manager import TimeManager

__all__ = ["CoordinatorPlan", "SessionCoordinator"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoordinatorPlan:
    """What the coordinator streams: sessions, symbols and history."""

    sessions: tuple[date, ...]
    symbols: tuple[str, ...]
    base: Interval
    history: tuple[HistorySpec, ...]
    historical_indicators: tuple[HistoricalIndicatorSpec, ...]
    enable_historical_quality: bool


class SessionCoordinator(SessionThread):
    """Owns the trading-day lifecycle; its step source owns the clock and the base series' writes.

    Per session: load a fresh SessionState (history, historical indicators and quality, and the
    step source's base series) while the previous session is finished downstream, activate it
    once every consumer acked the previous session's end (teardown), let the step source stream
    it (its pacing is the mode's: `app.threads.step_sources`) and publish its end. `stopwatch`
    times the loads and each session's real streaming time.
    """

    def __init__(
        self,
        plan: CoordinatorPlan,
        history: BarSource,
        steps: StepSource,
        tm: TimeManager,
        data: SessionData,
        outputs: Sequence[StreamSubscription],
        metrics: RunMetrics,
        stop_token: StopToken,
        on_failure: FailureSink,
        on_session_done: Callable[[int, SessionState], None],
        stopwatch: Stopwatch | None = None,
    ) -> None:
        super().__init__(stop_token, on_failure)
        self.stopwatch = stopwatch or Stopwatch()
        self.plan, self.history, self.steps, self.tm, self.data = plan, history, steps, tm, data
        self.outputs = tuple(outputs)
        self.metrics = metrics
        self.on_session_done = on_session_done
        self.where = self._where
        self._state: SessionState | None = None
        self._loading: date | None = None  # the session being loaded (named by a failure while loading)

    @property
    def gate(self) -> PauseGate:
        """The step source's pause gate (the engine holds at it too)."""
        return self.steps.gate

    def _where(self) -> tuple[str | None, str | None]:
        # The session being loaded when a load fails, else the current one; no time before the
        # first session (the clock has not been set).
        s = self._state
        session = self._loading or (s.session if s is not None else None)
        clock_time = self.tm.format_ns(self.tm.now_ns()) if s is not None else None
        return clock_time, (session.isoformat() if session else None)

    def request_drain(self) -> None:
        """Paced modes (Ctrl-C): end the current session cleanly at the next step; any thread may call it."""
        self.steps.request_drain()

    def pause(self) -> None:
        """Backtests: stop the clock and delivery within one step (BEHAVIOURS 8); any thread may call it.

        Raises
        ------
        ConfigError
            In live mode (the live step source refuses): the market does not wait.
        """
        self.steps.pause()

    def resume(self) -> None:
        """Continue from the same clock time, with no bar lost or repeated (idempotent)."""
        self.steps.resume()

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.steps.close()

    def _run(self) -> None:
        sessions = self.plan.sessions
        last_close: int | None = None
        pending, load_ns = self._timed_load(sessions[0]) if sessions else (None, 0)
        gate, stopwatch = self.steps.gate, self.stopwatch
        load_error: Exception | None = None
        for index in range(len(sessions)):
            if self.stop_token.is_set() or pending is None:
                return
            state = pending
            self._activate(index, state)
            if last_close is not None:
                self.metrics.stat("session_gap").record(state.open_ns - last_close)
            self.metrics.stat("data_loading_initial" if index == 0 else "data_loading_subsequent").record(load_ns)
            t_stream, paused0 = stopwatch.now_ns(), gate.paused_ns
            outcome = self.steps.stream(state)
            if outcome is StreamOutcome.STOPPED:
                return
            if outcome is StreamOutcome.NOT_STARTED:
                break
            last = outcome is not StreamOutcome.CLOSE  # a deadline or a drain ends the run
            end = SessionEnd(index, state)
            seqs = [sub.publish(end) for sub in self.outputs]
            # Load the next session while the consumers finish this one (it stays invisible until
            # activated, so nobody sees two sessions mixed).
            pending, load_ns, load_error = self._load_next(index + 1, last)
            # Teardown must wait until every consumer (and, through the processor, the
            # engine) has finished with this session.
            if not all(s.wait_ack(q) is WaitStatus.READY for s, q in zip(self.outputs, seqs, strict=True)):
                return
            # The session's time as it ran (live: from the real start, e.g. 02:59:23, not its step's 02:59:00).
            lo, hi = state.clock_span
            self.metrics.mark_session_clock(hi - lo, stopwatch.elapsed_ns(t_stream) - (gate.paused_ns - paused0))
            last_close = state.close_ns
            self.metrics.stat("session_duration").record(hi - lo)
            self.on_session_done(index, state)
            if last or load_error is not None:
                break
        if load_error is not None:  # the next session's load failed: raised once this one is recorded
            raise load_error
        for sub in self.outputs:
            sub.end()

    def _load_next(self, index: int, last: bool) -> tuple[SessionState | None, int, Exception | None]:
        # The session at `index` (None past the run's last or when the run ends here); a failed
        # load is returned, and raised by _run once the session in progress is finished and recorded.
        if last or index >= len(self.plan.sessions):
            return None, 0, None
        try:
            state, load_ns = self._timed_load(self.plan.sessions[index])
        except Exception as e:  # noqa: BLE001 -- re-raised by _run
            return None, 0, e
        return state, load_ns, None

    def _timed_load(self, session: date) -> tuple[SessionState, int]:
        t0 = self.stopwatch.now_ns()
        state = self._load(session)
        return state, self.stopwatch.elapsed_ns(t0)

    def _load(self, session: date) -> SessionState:
        # Fills a new, still invisible SessionState: history, then the step source's base series.
        self._loading = session
        open_ns, close_ns = self.tm.session_bounds_ns(session)
        state = self.data.prepare_session(session, open_ns, close_ns, self.tm.is_early_close(session))
        self.history.begin_session(session)
        preload_history(self.history, self.tm, state, self.plan.history, self.plan.historical_indicators,
                        self.plan.symbols, self.plan.enable_historical_quality)
        self.steps.prepare(state)
        self._loading = None
        return state

    def _activate(self, index: int, state: SessionState) -> None:
        self.data.activate(state)
        self._state = state
        tm = self.tm
        log.info("session %s started: %d symbols, open %s, close %s %s%s", state.session, len(self.plan.symbols),
                 f"{tm.to_local(state.open_ns):%H:%M}", f"{tm.to_local(state.close_ns):%H:%M}", tm.timezone,
                 " (early close)" if state.early_close else "")
        self.steps.begin(state)
        for sub in self.outputs:
            sub.publish(SessionStart(index, state))
