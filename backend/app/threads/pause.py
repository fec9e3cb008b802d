"""PauseGate: pause and resume a backtest's delivery, with the clock frozen while paused."""

from __future__ import annotations

import threading

from app.timing.clocks import Clock, ScaledClock, perf_ns

__all__ = ["PauseGate"]


class PauseGate:
    """A gate the coordinator passes before each hand-off (BEHAVIOURS 8).

    Clock-driven: pausing freezes the `ScaledClock`, so the next step never comes due and
    delivery stops within one step; resuming continues from the same virtual time. Data-driven:
    the coordinator waits at the gate before its next hand-off. Wall time spent paused is kept in
    `paused_ns` so the achieved speed leaves it out.

    Warnings
    --------
    `pause` and `resume` may be called from any one thread (the CLI's main thread, a test).
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._open = threading.Event()
        self._open.set()
        self._since = 0
        self.paused_ns = 0

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    def pause(self) -> None:
        """Close the gate and freeze a scaled clock (idempotent)."""
        if self.paused:
            return
        self._since = perf_ns()
        self._open.clear()
        if isinstance(self.clock, ScaledClock):
            self.clock.pause()

    def resume(self) -> None:
        """Reopen the gate; the clock runs on from where it stopped (idempotent)."""
        if not self.paused:
            return
        if isinstance(self.clock, ScaledClock):
            self.clock.resume()
        self.paused_ns += perf_ns() - self._since
        self._open.set()

    def wait_open(self, timeout_s: float) -> bool:
        """Return True once the gate is open, False after `timeout_s` while still paused."""
        return self._open.wait(timeout_s)
