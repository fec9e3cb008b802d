"""RunControls: pause and resume a run from outside it (the CLI's SIGUSR1, a test, an embedding app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from app.errors import ConfigError

if TYPE_CHECKING:
    from app.runtime.build import Pipeline

__all__ = ["RunControls"]


class RunControls:
    """A handle on the pipeline `run` builds: pause, resume, toggle, and periodic status lines.

    Before the pipeline exists (or after it ended) the calls do nothing and say so. In live
    mode they raise `ConfigError` (BEHAVIOURS 29: live cannot be paused).
    """

    def __init__(self, on_status: Callable[[str], None] | None = None, every_s: float = 10.0) -> None:
        self._pipeline: Pipeline | None = None
        self.on_status = on_status  # gets a status line every `every_s` while the run goes on
        self._every_ns = int(every_s * 1e9)
        self._next_ns = 0

    def tick(self) -> None:
        """Called by the supervisor on the main thread; emits a status line when one is due (on the run's stopwatch)."""
        p = self._pipeline
        if self.on_status is None or p is None:
            return
        now = p.stopwatch.now_ns()
        if not self._next_ns:
            self._next_ns = now + self._every_ns
        elif now >= self._next_ns:
            self._next_ns = now + self._every_ns
            self.on_status(self.status())

    def status(self) -> str:
        """One line: mode, clock, bars and steps so far, equity (read without locks: a snapshot)."""
        p = self._pipeline
        if p is None:
            return "not running"
        results = p.engine.results
        paused = " (paused)" if self.paused else ""
        current, now = p.data.current, p.tm.now_ns()
        if current is not None and now < current.open_ns:
            paused = f" (waiting for the open at {p.tm.format_ns(current.open_ns)})"
        # The engine's last equity point, not broker.equity: that walks the positions the engine
        # thread is changing. A list's last item is safe to read from another thread.
        last = results.log.last_equity()
        equity = last if last is not None else p.config.trading.starting_cash
        return (f"[{p.metrics.mode}] {_clock(p) or 'before the first session'}{paused} | bars {results.bars:,} | "
                f"steps {results.steps:,} | sessions done {p.rollup.count} | equity {equity:,.2f}")

    def bind(self, pipeline: Pipeline | None) -> None:
        self._pipeline = pipeline

    @property
    def paused(self) -> bool:
        return self._pipeline is not None and self._pipeline.coordinator.gate.paused

    def pause(self) -> str:
        """Pause; return a line saying where the clock stands."""
        p = self._pipeline
        if p is None:
            return "nothing to pause yet"
        p.coordinator.pause()
        return f"paused {_at(p)}"

    def resume(self) -> str:
        p = self._pipeline
        if p is None:
            return "nothing to resume"
        p.coordinator.resume()
        return f"resumed {_at(p)}"

    def toggle(self) -> str:
        """Pause a running run or resume a paused one; live runs answer with the reason they cannot."""
        try:
            return self.resume() if self.paused else self.pause()
        except ConfigError as e:
            return e.message


def _clock(p: Pipeline) -> str | None:
    # None before the first session: the clock has not been set (it would read 1969-12-31 19:00).
    return p.tm.format_ns(p.tm.now_ns()) if p.data.current is not None else None


def _at(p: Pipeline) -> str:
    clock = _clock(p)
    return f"at {clock}" if clock else "before the first session"
