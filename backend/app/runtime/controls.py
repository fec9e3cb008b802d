"""RunControls: pause and resume a run from outside it (the CLI's SIGUSR1, a test, an embedding app)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.errors import ConfigError

if TYPE_CHECKING:
    from app.runtime.build import Pipeline

__all__ = ["RunControls"]


class RunControls:
    """A handle on the pipeline `run` builds: pause, resume, toggle.

    Before the pipeline exists (or after it ended) the calls do nothing and say so. In live
    mode they raise `ConfigError` (BEHAVIOURS 29: live cannot be paused).
    """

    def __init__(self) -> None:
        self._pipeline: Pipeline | None = None

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
        return f"paused at {p.tm.format_ns(p.tm.now_ns())}"

    def resume(self) -> str:
        p = self._pipeline
        if p is None:
            return "nothing to resume"
        p.coordinator.resume()
        return f"resumed at {p.tm.format_ns(p.tm.now_ns())}"

    def toggle(self) -> str:
        """Pause a running run or resume a paused one; live runs answer with the reason they cannot."""
        try:
            return self.resume() if self.paused else self.pause()
        except ConfigError as e:
            return e.message
