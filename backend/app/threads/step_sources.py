"""Step sources: where the SessionCoordinator's time steps come from, one implementation per mode.

`runtime/build.py` picks one, once (LEAN's data-feed handler idea): `DataDrivenSteps` (stored
bars, many steps per hand-off, a stepped clock), `ClockDrivenSteps` (stored bars, one step when
the scaled clock reaches its end, overruns counted) or `LiveSteps` (the feed, on the wall clock;
in `threads/live_stream.py`). The coordinator never asks which mode it is in: each source owns
its pacing, its clock moves, its pause gate and its drain.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import date
from enum import Enum
from typing import TYPE_CHECKING, Protocol

import numpy as np

from app.bars.steps import build_steps
from app.feeds.base import BarSource
from app.feeds.missing import MissingBars
from app.metrics.collect import RunMetrics
from app.store.bar import Interval
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.sync.stop import StopToken
from app.sync.subscription import StreamSubscription
from app.threads.events import StepBatch
from app.threads.pause import PauseGate
from app.timing.clocks import ScaledClock, SteppedClock
from app.timing.stopwatch import Stopwatch

if TYPE_CHECKING:
    from app.recording.taps import StepTap

__all__ = ["ClockDrivenSteps", "DataDrivenSteps", "StepSource", "StreamOutcome"]


class StreamOutcome(Enum):
    """How a session's stream ended."""

    CLOSE = "close"  # the session closed: the run goes on to the next session
    DEADLINE = "deadline"  # live.stop_after_seconds ran out: the run ends after this session
    DRAINED = "drained"  # Ctrl-C asked for a clean end: the run ends after this session
    NOT_STARTED = "not_started"  # Ctrl-C while waiting for the open: the run ends, no session
    STOPPED = "stopped"  # the stop token (a failure, or a second Ctrl-C): abandon the session


class StepSource(Protocol):
    """One mode's input to the SessionCoordinator (coordinator thread, except where noted)."""

    gate: PauseGate
    """Passed before each hand-off; the AnalysisEngine holds at it before each step too."""

    def prepare(self, state: SessionState) -> None:
        """Give a loaded, still invisible session its base series (and what its load rejected)."""

    def begin(self, state: SessionState) -> None:
        """Move the clock to `state`'s start; called when the session becomes current."""

    def stream(self, state: SessionState) -> StreamOutcome:
        """Publish the session's steps to the outputs until its close, a drain or a stop."""

    def request_drain(self) -> None:
        """End the current session cleanly at the next step (any thread)."""

    def pause(self) -> None:
        """Stop the clock and delivery within one step (any thread)."""

    def resume(self) -> None:
        """Continue from the same clock time (any thread)."""

    def close(self) -> None:
        """Release what the source holds (the coordinator's last call)."""


class _StoredSteps:
    """Stored bars: each session's base series are views of the loaded arrays, revealed step by step.

    `stopwatch` times each hand-off (the ``coordinator`` stat) and the pause gate's paused time.
    `missing` handles a symbol without base bars in a session (``data.on_missing``; set by
    `runtime.build`, default warn).
    """

    def __init__(self, source: BarSource, symbols: Sequence[str], base: Interval,
                 outputs: Sequence[StreamSubscription], metrics: RunMetrics, stop_token: StopToken,
                 gate: PauseGate, stopwatch: Stopwatch) -> None:
        self.source = source
        self.symbols = tuple(symbols)
        self.base = base
        self.outputs = tuple(outputs)
        self.stat = metrics.stat("coordinator")
        self.stop_token = stop_token
        self.gate = gate
        self.stopwatch = stopwatch
        self._drain = threading.Event()
        self._starts: dict[date, list[np.ndarray]] = {}  # prepared sessions' bar starts, per symbol
        self.missing = MissingBars()
        self.tap: StepTap | None = None  # recording (run.record): each published step and its bars

    def prepare(self, state: SessionState) -> None:
        starts = []
        label = self.base.label
        for symbol in self.symbols:
            load = self.source.session_bars(symbol, state.session)
            if not len(load.bars):
                self.missing.handle(state, symbol, self.base, load)  # fail raises: nothing published
            state.bars[(symbol, label)] = BarSeries(f"{symbol}/{self.base}", preloaded=load.bars)
            starts.append(load.bars.start)
            if load.rejected:
                bucket = state.rejected.setdefault(symbol, {})
                for reason, count in load.rejected.items():
                    bucket[reason] = bucket.get(reason, 0) + count
            if load.repairs:
                state.repairs[symbol] = load.repairs
        self._starts[state.session] = starts

    def request_drain(self) -> None:
        self._drain.set()

    def pause(self) -> None:
        self.gate.pause()

    def resume(self) -> None:
        self.gate.resume()

    def close(self) -> None:
        self._starts.clear()

    def _table(self, state: SessionState) -> tuple[list[BarSeries], np.ndarray, np.ndarray, np.ndarray]:
        # The session's steps: ends, base rows per step and symbol, rows each symbol has after each.
        series = [state.bars[(s, self.base.label)] for s in self.symbols]
        ends, base_idx = build_steps(self._starts.pop(state.session), self.base.ns)
        if self.base.is_daily:  # a daily bar is over at the session's close, not 24 h after the open
            ends = np.minimum(ends, state.close_ns)
        return series, ends, base_idx, (base_idx >= 0).cumsum(axis=0)


class DataDrivenSteps(_StoredSteps):
    """As fast as the pipeline goes: `batch_steps` steps per hand-off, a stepped clock (deterministic).

    Pausing holds the next hand-off (the stepped clock only moves when a batch is handed off);
    the engine, which may be behind, holds at the same gate before its next step.
    """

    def __init__(self, source: BarSource, symbols: Sequence[str], base: Interval,
                 outputs: Sequence[StreamSubscription], metrics: RunMetrics, stop_token: StopToken,
                 clock: SteppedClock, batch_steps: int, stopwatch: Stopwatch | None = None) -> None:
        stopwatch = stopwatch or Stopwatch()
        super().__init__(source, symbols, base, outputs, metrics, stop_token, PauseGate(stopwatch=stopwatch),
                         stopwatch)
        self.clock = clock
        self.batch_steps = max(1, int(batch_steps))

    def begin(self, state: SessionState) -> None:
        self.clock.advance_to(max(state.open_ns, self.clock.now_ns()))

    def stream(self, state: SessionState) -> StreamOutcome:
        series, ends, base_idx, counts = self._table(state)
        n, step = ends.shape[0], self.batch_steps
        stopwatch_ns = self.stopwatch.now_ns
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            if self.gate.paused:
                held = self._hold()
                if held is not None:
                    if held is StreamOutcome.DRAINED:  # the session ends at the last hand-off
                        state.stream_end_ns = int(ends[lo - 1]) if lo else state.open_ns
                    return held
            t0 = stopwatch_ns()
            for s, sr in enumerate(series):
                sr.publish(int(counts[hi - 1, s]))
            self.clock.advance_to(int(ends[hi - 1]))
            batch = StepBatch(lo, hi, ends[lo:hi], base_idx[lo:hi], counts[hi - 1], due_ns=int(ends[lo]))
            for sub in self.outputs:
                sub.publish(batch)
            self.stat.record((stopwatch_ns() - t0) // (hi - lo))
            if self.tap is not None:  # recording (after the hand-off, outside its timing)
                self.tap.step(state, batch)
        self.clock.advance_to(state.close_ns)
        return StreamOutcome.CLOSE

    def _hold(self) -> StreamOutcome | None:
        while not self.gate.wait_open(0.1):
            if self.stop_token.is_set():
                return StreamOutcome.STOPPED
            if self._drain.is_set():
                return StreamOutcome.DRAINED
        return None


class ClockDrivenSteps(_StoredSteps):
    """A replay a person can watch: each step is handed off when the scaled clock reaches its end.

    A consumer still busy with the previous step when the next is due is counted as an overrun
    (no bar is dropped). Pausing freezes the scaled clock; a drain ends the session where the
    clock stands.
    """

    def __init__(self, source: BarSource, symbols: Sequence[str], base: Interval,
                 outputs: Sequence[StreamSubscription], metrics: RunMetrics, stop_token: StopToken,
                 clock: ScaledClock, stopwatch: Stopwatch | None = None) -> None:
        stopwatch = stopwatch or Stopwatch()
        super().__init__(source, symbols, base, outputs, metrics, stop_token,
                         PauseGate(on_pause=clock.pause, on_resume=clock.resume, stopwatch=stopwatch), stopwatch)
        self.clock = clock

    def begin(self, state: SessionState) -> None:
        self.clock.jump_to(state.open_ns)

    def stream(self, state: SessionState) -> StreamOutcome:
        series, ends, base_idx, counts = self._table(state)
        clock, stopwatch_ns = self.clock, self.stopwatch.now_ns
        for k in range(ends.shape[0]):
            reached = self._wait_until(int(ends[k]))
            if reached is not None:
                return self._cut(state, int(ends[k - 1]) if k else state.open_ns, reached)
            t0 = stopwatch_ns()
            for s, sr in enumerate(series):
                sr.publish(int(counts[k, s]))
            batch = StepBatch(k, k + 1, ends[k : k + 1], base_idx[k : k + 1], counts[k], due_ns=int(ends[k]))
            now = clock.now_ns()
            for sub in self.outputs:
                sub.check_overrun(now)
                sub.publish(batch)
            self.stat.record(stopwatch_ns() - t0)
            if self.tap is not None:  # recording (after the hand-off, outside its timing)
                self.tap.step(state, batch)
        reached = self._wait_until(state.close_ns)
        if reached is not None:
            return self._cut(state, int(ends[-1]) if ends.shape[0] else state.open_ns, reached)
        return StreamOutcome.CLOSE

    def _cut(self, state: SessionState, end_ns: int, reached: StreamOutcome) -> StreamOutcome:
        # A drain ends the session where the paced clock stands (quality counts the bars that
        # ended by then, all of them published).
        if reached is StreamOutcome.DRAINED:
            state.stream_end_ns = min(max(end_ns, self.clock.now_ns()), state.close_ns)
        return reached

    def _wait_until(self, instant_ns: int) -> StreamOutcome | None:
        """Wait on the scaled clock: None when `instant_ns` is reached, else DRAINED or STOPPED."""
        while True:
            remaining = self.clock.real_seconds_until(instant_ns)
            if remaining <= 0:
                return None
            if self._drain.is_set():
                return StreamOutcome.DRAINED
            if self.stop_token.wait(min(remaining, 0.1)):
                return StreamOutcome.STOPPED
