"""LiveSteps: the live `StepSource` -- a `LiveStream` on the wall clock, one step per hand-off;
StepEmitter: appends a closed live step to the base series and publishes it.

Live only: imported by `runtime/build.py`'s live branch (and re-exported by `live_stream`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

import numpy as np

from app.errors import ConfigError
from app.feeds.live_block import BarBlock
from app.feeds.live_steps import ClosedStep
from app.metrics.collect import RunMetrics
from app.store.bar import BarArrays
from app.store.panel import BarPanel
from app.store.session_data import SessionState
from app.sync.hand_over import hand_over
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
    """Appends a closed step's bars to the base series (one `BarPanel` write for all symbols) and
    publishes it as a one-step StepBatch."""

    def __init__(self, panel: BarPanel, base_ns: int, publish: Callable[[StepBatch], None]) -> None:
        self.panel = panel
        self.base_ns = base_ns
        self.publish = publish
        self.k = 0
        self._in_order = list(range(len(panel.series)))  # a block's slots when in the symbols' order

    def emit(self, step: ClosedStep) -> None:
        entries, blocks = step.bars, step.blocks
        n = len(entries)
        if len(blocks) == 1 and blocks[0][0] == self._in_order and entries.count(blocks[0][1]) == n:
            # The common step: one frame held every symbol's bar, in the symbols' order.
            block = blocks[0][1]
            r = self.panel.append_all(step.start_ns, block.values)
            if r is not None:
                at = np.empty((1, n), dtype=np.int64)
                at.fill(r)
                rows_after = np.empty(n, dtype=np.int64)
                rows_after.fill(r + 1)
                self._publish(step, at, rows_after, max(0, block.received_ns), self.panel.row(r), r)
                return
        if blocks:
            which, values, received = _block_columns(step)
        else:
            bars = [b for b in entries if b is not None]
            which = None if len(bars) == n else np.array(
                [s for s, b in enumerate(entries) if b is not None], dtype=np.int64)
            # The step's bars as columns (float -> float64: exact), appended as they are handed over.
            values = np.array(list(map(_OHLCV, bars)), dtype=np.float64).reshape(-1, 5).T.copy()
            received = max(0, *map(_RECEIVED, bars))  # 0 when none (as before)
        k = n if which is None else which.shape[0]
        cols = BarArrays(np.full(k, step.start_ns, dtype=np.int64), *values)
        rows = self.panel.append_step(which, cols)
        idx = np.full(n, -1, dtype=np.int64)
        idx[slice(None) if which is None else which] = rows
        self._publish(step, idx.reshape(1, -1), self.panel.lens.copy(), received, cols)

    def _publish(self, step: ClosedStep, idx: np.ndarray, rows_after: np.ndarray, received: int,
                 bars: BarArrays, every_row: int = -1) -> None:
        end = step.start_ns + self.base_ns
        self.publish(StepBatch(self.k, self.k + 1, np.array([end], dtype=np.int64), idx, rows_after,
                               due_ns=end, received_ns=received, bars=bars, every_row=every_row))
        self.k += 1


def _block_columns(step: ClosedStep) -> tuple[np.ndarray | None, np.ndarray, int]:  # the general case
    """Return (the symbols with a bar, None for all; their ``(5, k)`` OHLCV; the latest receipt) of
    a step holding blocks: each block's columns scattered to its symbols, then any single bar
    (a replacement of a block's bar, or a bar filed one at a time) over them."""
    entries = step.bars
    n = len(entries)
    grid = np.empty((5, n), dtype=np.float64)
    received = 0
    for slots, block in step.blocks:
        grid[:, slots] = block.values
        if any(entries[s] is block for s in slots):  # some bar of it is still the step's
            received = max(received, block.received_ns)
    have = n
    for s, entry in enumerate(entries):
        if entry is None:
            have -= 1
        elif not isinstance(entry, BarBlock):
            grid[:, s] = _OHLCV(entry)
            received = max(received, entry.received_ns)
    if have == n:
        return None, grid, received
    which = np.array([s for s, e in enumerate(entries) if e is not None], dtype=np.int64)
    return which, grid[:, which], received


_OHLCV = attrgetter("open", "high", "low", "close", "volume")
_RECEIVED = attrgetter("received_ns")


class LiveSteps:
    """The live `StepSource`: a `LiveStream` on the wall clock, publishing each step as it closes.

    The market does not wait: `pause` and `resume` refuse with the reason (BEHAVIOURS 29), and
    the gate never closes. A drain (Ctrl-C) ends the session at the last step that was over.
    `stopwatch` times each hand-off (the ``coordinator`` stat). ``outputs[0]`` is the processor's
    subscription: a step goes there first, to the others a moment later (see `_publish`).
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
        self._unsettled: list[tuple[StepBatch, int]] = []  # (batch, when) published to the processor only

    def prepare(self, state: SessionState) -> None:
        self.live.prepare(state)

    def begin(self, state: SessionState) -> None:
        """The wall clock needs no moving."""

    def stream(self, state: SessionState) -> StreamOutcome:
        self._state = state
        try:
            return self.live.stream(state, self._publish, settle=self._settle)
        finally:
            self._settle()  # a stop or a failure mid-stream: what was published is handed on

    def _publish(self, batch: StepBatch) -> None:
        # To the processor (the first output) now; to the others (DataUpkeep) and the recording in
        # `_settle`, which the stream calls once the step is on its way (after a short hold): here,
        # their wake-up and the recording's ~15 us a symbol would take the GIL from the processor
        # and the engine while they take the step.
        stopwatch = self.stopwatch
        t0 = stopwatch.now_ns()
        first = self.outputs[0]
        now = self.live.tm.now_ns()
        first.check_overrun(now)
        first.publish(batch)
        self.stat.record(stopwatch.now_ns() - t0)
        self._unsettled.append((batch, now))
        hand_over()  # the GIL to the woken processor now, not after the stream's next lines

    def _settle(self) -> None:
        """Hand the steps published since the last call to the other outputs and the recording."""
        batches, self._unsettled = self._unsettled, []
        if not batches:
            return
        now = self.live.tm.now_ns()
        for sub in self.outputs[1:]:
            for batch, _ in batches:
                sub.check_overrun(now)
                sub.publish(batch)
        if self.tap is not None:
            assert self._state is not None
            for batch, published in batches:
                self.tap.step(self._state, batch, published_ns=published)

    def request_drain(self) -> None:
        self.live.drain_requested.set()

    def pause(self) -> None:
        raise ConfigError("live sessions cannot be paused: the market does not wait (Ctrl-C ends the "
                          "session cleanly)", field="mode")

    def resume(self) -> None:
        raise ConfigError("live sessions cannot be paused or resumed", field="mode")

    def close(self) -> None:
        self.live.close()
