"""The import's progress for the data CLI: rows read (the total is not known yet), then rows parsed.

`python -m app.data import` passes an `ImportProgress` to `import_bars` as its row callback; each
pass is one `app.progress.Progress` (a tqdm bar on a terminal, a line every 10 s off one), shown
once the import has lasted `delay` seconds. ``--quiet`` shows nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

from app.progress import Progress
from app.timing.stopwatch import Stopwatch

__all__ = ["ImportProgress"]


class ImportProgress:
    """A `RowProgress` (``(pass, rows done, rows in all or None)``) drawn as one bar per pass."""

    def __init__(self, label: str, *, quiet: bool = False, delay: float = 2.0, stream: TextIO | None = None,
                 tty: bool | None = None, stopwatch: Stopwatch | None = None) -> None:
        self.label = label
        self.quiet = quiet
        self.delay_s = delay
        self.stream = stream
        self.tty = tty
        self.watch = stopwatch or Stopwatch()
        self.t0 = self.watch.now_ns()
        self.phase: str | None = None
        self.bar: Progress | None = None

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        bar = self.bar
        if bar is None or phase != self.phase:
            if bar is not None:
                bar.close()
            left = max(0.0, self.delay_s - self.watch.elapsed_ns(self.t0) / 1e9)  # the delay counts from the start
            bar = self.bar = Progress(total, "rows", f"{self.label}: {phase}", quiet=self.quiet, delay=left,
                                      stream=self.stream, tty=self.tty, stopwatch=self.watch)
            self.phase = phase
        if total != bar.total:
            bar.set_total(total)
        bar.update(done - bar.done)

    def close(self, stopped: bool = False) -> None:
        """End the last pass's bar (idempotent)."""
        if self.bar is not None:
            self.bar.close(stopped)

    def __enter__(self) -> ImportProgress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(stopped=kind is not None)
