"""PauseGate: pause and resume a backtest's delivery, with the clock frozen while paused."""

from __future__ import annotations

import threading
from collections.abc import Callable

from app.timing.stopwatch import Stopwatch

__all__ = ["PauseGate"]


def _nothing() -> None:
    return None


class PauseGate:
    """A gate the step source passes before each hand-off, and the engine before each step (BEHAVIOURS 8).

    The step source that owns the gate says what pausing means for its clock: the clock-driven
    source passes its `ScaledClock`'s ``pause``/``resume`` as `on_pause`/`on_resume`, so the next
    step never comes due and delivery stops within one step, and resuming continues from the same
    virtual time; the data-driven source's stepped clock only moves when it hands off, so it passes
    nothing. Real time spent paused (on `stopwatch`) is kept in `paused_ns` so the achieved speed
    leaves it out.

    Warnings
    --------
    `pause` and `resume` may be called from any one thread (the CLI's main thread, a test).
    """

    def __init__(self, on_pause: Callable[[], None] = _nothing, on_resume: Callable[[], None] = _nothing,
                 stopwatch: Stopwatch | None = None) -> None:
        self._on_pause, self._on_resume = on_pause, on_resume
        self._stopwatch = stopwatch or Stopwatch()
        self._open = threading.Event()
        self._open.set()
        self._since = 0
        self.paused_ns = 0
        self.paused = False
        """True between `pause` and `resume` (a plain attribute: read on the per-step path)."""

    def pause(self) -> None:
        """Close the gate and freeze the owner's clock (idempotent)."""
        if self.paused:
            return
        self._since = self._stopwatch.now_ns()
        self.paused = True
        self._open.clear()
        self._on_pause()

    def resume(self) -> None:
        """Reopen the gate; the clock runs on from where it stopped (idempotent)."""
        if not self.paused:
            return
        self._on_resume()
        self.paused_ns += self._stopwatch.elapsed_ns(self._since)
        self.paused = False
        self._open.set()

    def wait_open(self, timeout_s: float) -> bool:
        """Return True once the gate is open, False after `timeout_s` while still paused."""
        return self._open.wait(timeout_s)
