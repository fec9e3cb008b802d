"""LiveSteps: the live `StepSource` -- a `LiveStream` on the wall clock, one step per hand-off;
StepEmitter: appends a closed live step to the base series and publishes it.

Live only: imported by `runtime/build.py`'s live branch (and re-exported by `live_stream`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from app.errors import ConfigError
from app.feeds.live_steps import ClosedStep
from app.metrics.collect import RunMetrics
from app.store.series import BarSeries
from app.store.session_data import SessionState
from app.sync.subscription import StreamSubscription
from app.threads.events import StepBatch
from app.threads.pause import PauseGate
from app.threads.step_sources import StreamOutcome
from app.timing.stopwatch import Stopwatch

if TYPE_CHECKING:
    from app.recording.taps import StepTap
    from app.threads.live_stream import LiveStream

__all__ = ["LiveSteps", "StepEmitter"]


class StepEmitter:
    """Appends a closed step's bars to the base series and publishes it as a one-step StepBatch."""

    def __init__(self, series: list[BarSeries], base_ns: int, publish: Callable[[StepBatch], None]) -> None:
        self.series = series
        self.base_ns = base_ns
        self.publish = publish
        self.rows = [len(s) for s in series]
        self.k = 0

    def emit(self, step: ClosedStep) -> None:
        idx = np.full((1, len(self.series)), -1, dtype=np.int64)
        received = 0
        for s, bar in enumerate(step.bars):
            if bar is None:
                continue
            self.series[s].append_one(bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume)
            idx[0, s] = self.rows[s]
            self.rows[s] += 1
            received = max(received, bar.received_ns)
        end = step.start_ns + self.base_ns
        self.publish(StepBatch(self.k, self.k + 1, np.array([end], dtype=np.int64), idx,
                               np.array(self.rows, dtype=np.int64), due_ns=end, received_ns=received))
        self.k += 1


class LiveSteps:
    """The live `StepSource`: a `LiveStream` on the wall clock, publishing each step as it closes.

    The market does not wait: `pause` and `resume` refuse with the reason (BEHAVIOURS 29), and
    the gate never closes. A drain (Ctrl-C) ends the session at the last step that was over.
    `stopwatch` times each hand-off (the ``coordinator`` stat).
    """

    def __init__(self, stream: LiveStream, outputs: Sequence[StreamSubscription], metrics: RunMetrics,
                 stopwatch: Stopwatch | None = None) -> None:
        self.live = stream
        self.outputs = tuple(outputs)
        self.stat = metrics.stat("coordinator")
        self.stopwatch = stopwatch or Stopwatch()
        self.gate = PauseGate(stopwatch=self.stopwatch)
        self.tap: StepTap | None = None  # recording: each published step and the bars it held
        self._state: SessionState | None = None
        self._unrecorded: list[StepBatch] = []  # published, not yet given to `tap`

    def prepare(self, state: SessionState) -> None:
        self.live.prepare(state)

    def begin(self, state: SessionState) -> None:
        """The wall clock needs no moving."""

    def stream(self, state: SessionState) -> StreamOutcome:
        self._state = state
        try:
            return self.live.stream(state, self._publish, settle=self._record)
        finally:
            self._record()  # a stop or a failure mid-stream: what was published is still recorded

    def _publish(self, batch: StepBatch) -> None:
        stopwatch = self.stopwatch
        t0 = stopwatch.now_ns()
        now = self.live.tm.now_ns()
        for sub in self.outputs:
            sub.check_overrun(now)
            sub.publish(batch)
        self.stat.record(stopwatch.now_ns() - t0)
        if self.tap is not None:
            # Recorded by `_record`, which the stream calls once the step is on its way (after a
            # short hold): here, the recording's ~15 us a symbol would hold the GIL while the
            # processor and the engine wait to take the step.
            self._unrecorded.append(batch)

    def _record(self) -> None:
        """Write the steps published since the last call to the recording (coordinator thread)."""
        batches, self._unrecorded = self._unrecorded, []
        if self.tap is not None and batches:
            assert self._state is not None
            for batch in batches:
                self.tap.step(self._state, batch)

    def request_drain(self) -> None:
        self.live.drain_requested.set()

    def pause(self) -> None:
        raise ConfigError("live sessions cannot be paused: the market does not wait (Ctrl-C ends the "
                          "session cleanly)", field="mode")

    def resume(self) -> None:
        raise ConfigError("live sessions cannot be paused or resumed", field="mode")

    def close(self) -> None:
        self.live.close()
