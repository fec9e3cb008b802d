"""Progress while a user waits: a tqdm bar on a terminal, a plain line every 10 s elsewhere.

`Progress` counts finished items (sessions, sweep runs, downloaded days) towards a total and
shows it on a stream (stderr by default), in one of three ways:

- **a terminal** (``stream.isatty()``): a tqdm bar, ``done/total``, percent, elapsed, ETA and
  the rate, plus the optional work rate (``152,310 bars/s``) and the ``**postfix`` items of the
  last `update`. tqdm is imported only when the bar is first drawn, so a run that never shows
  one does not pay for the import; its monitor thread is off (tqdm's redraw happens on `update`).
- **a pipe, a file or CI**: one plain line at most every `interval` seconds (10 by default),
  written on `update` / `refresh` once the interval has passed, and a final line at `close` if
  any line was written (a run shorter than the interval prints nothing)::

      backtest: 120/250 sessions (48%), 9.6 sessions/s, 152,310 bars/s, elapsed 0:12, ETA 0:13
      backtest: done 250/250 sessions in 0:25, 9.9 sessions/s, 150,044 bars/s

- **quiet** (``quiet=True``): nothing, and nothing imported.

Other lines for the same stream (log messages) go through `write`, which puts them above a
drawn bar instead of through it. Nothing is shown before `delay` seconds (``delay=2`` keeps
short runs free of a bar that flashes). Lines are written only from `update`, `refresh` and
`close`: there is no timer thread; a caller whose items take longer than the interval calls
`refresh` from its wait loop. Calls come from one thread at a time (the caller's;
`app.runtime.run` calls its progress callback on the coordinator thread), `write` from any.

Two environment variables change the timing for every user (CI logs, tests):
``APP_PROGRESS_INTERVAL`` (seconds between plain lines, default 10) and ``APP_PROGRESS_DELAY``
(seconds before anything is shown; overrides the caller's `delay`). A bad value is a
`ValueError` naming the variable.

Example::

    with Progress(len(tasks), "runs", "sweep", quiet=args.quiet) as bar:
        for future in as_completed(futures):
            bar.update(1, failed=failures)
"""

from __future__ import annotations

import math
import os
import sys
from types import TracebackType
from typing import Any, Final, TextIO

from app.timing.stopwatch import Stopwatch

__all__ = ["DEFAULT_INTERVAL_S", "ENV_DELAY", "ENV_INTERVAL", "Progress", "format_duration", "format_rate"]

DEFAULT_INTERVAL_S: Final = 10.0
ENV_INTERVAL: Final = "APP_PROGRESS_INTERVAL"
ENV_DELAY: Final = "APP_PROGRESS_DELAY"


class Progress:
    """Progress of `total` items of `unit` (plural: ``"sessions"``), titled `desc`.

    Parameters
    ----------
    total : int or None
        Items expected (None: unknown, no percent nor ETA; `set_total` sets it later).
    unit : str
        What an item is, plural (``"sessions"``, ``"runs"``, ``"files"``).
    desc : str
        The title at the start of the bar or line (``"backtest"``).
    quiet : bool
        Show nothing.
    stream : TextIO or None
        Where to write (None: ``sys.stderr`` at construction).
    delay : float
        Seconds before anything is shown (``APP_PROGRESS_DELAY`` overrides it).
    interval : float or None
        Seconds between plain lines off a terminal (None: ``APP_PROGRESS_INTERVAL`` or 10).
    work_unit : str or None
        A second, finer count whose rate is shown (``"bars"``: ``152,310 bars/s``); each
        `update` passes the work done since the last one as ``work=``.
    tty : bool or None
        Force the terminal bar (True) or plain lines (False); None asks ``stream.isatty()``.
    stopwatch : Stopwatch or None
        The elapsed-time source (tests pass ``Stopwatch(ManualTime())``).
    """

    def __init__(self, total: int | None, unit: str = "items", desc: str = "", *, quiet: bool = False,
                 stream: TextIO | None = None, delay: float = 0.0, interval: float | None = None,
                 work_unit: str | None = None, tty: bool | None = None, stopwatch: Stopwatch | None = None) -> None:
        self.total = total
        self.unit = unit
        self.desc = desc
        self.quiet = quiet
        self.stream: TextIO = sys.stderr if stream is None else stream
        self.delay_s = _env_seconds(ENV_DELAY, delay)
        self.interval_s = _env_seconds(ENV_INTERVAL, DEFAULT_INTERVAL_S if interval is None else interval)
        self.work_unit = work_unit
        self.tty = _isatty(self.stream) if tty is None else tty
        self.done = 0
        self.work = 0.0
        self.postfix: dict[str, Any] = {}
        self.lines = 0
        """Plain lines written so far (off a terminal)."""
        self.closed = False
        self._watch = stopwatch or Stopwatch()
        self._t0 = self._watch.now_ns()
        self._last_line_s = 0.0
        self._bar: Any = None  # the tqdm bar, once drawn

    # -- the caller's side -------------------------------------------------------------------

    def update(self, n: int = 1, work: float = 0.0, **postfix: Any) -> None:
        """Count `n` more items done (and `work` more units of work); `postfix` items are shown after."""
        self.done += n
        self.work += work
        if postfix:
            self.postfix.update(postfix)
        self.refresh()

    def set_total(self, total: int | None) -> None:
        """Change the expected count (a sweep learns it after expanding its grid)."""
        self.total = total
        if self._bar is not None:
            self._bar.total = total
            self._bar.refresh()

    def refresh(self) -> None:
        """Redraw the bar, or write the plain line when the interval has passed (cheap otherwise)."""
        if self.quiet or self.closed:
            return
        elapsed = self.elapsed_s()
        if elapsed < self.delay_s:
            return
        if self.tty:
            self._draw(elapsed)
        elif elapsed - self._last_line_s >= self.interval_s:
            self._last_line_s = elapsed
            self._write(self.line(elapsed))

    def close(self, stopped: bool = False) -> None:
        """End the display: the bar's last state stays on the terminal; off one, a final line
        (``done`` or, with `stopped`, ``stopped at``) if any line was written. Idempotent."""
        if self.closed:
            return
        if not self.quiet:
            if self._bar is not None:
                self._draw(self.elapsed_s())
                self._bar.close()
            elif not self.tty and self.lines:
                self._write(self.final_line(self.elapsed_s(), stopped))
        self.closed = True

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(stopped=kind is not None)

    @property
    def drawing(self) -> bool:
        """True while a terminal bar is on screen: other lines for the stream go through `write`."""
        return self._bar is not None and not self.closed

    def write(self, text: str) -> None:
        """Write a line (a log message) without breaking the bar: above it while it is drawn."""
        if self.drawing:
            self._bar.write(text, file=self.stream)  # clears the bar, writes, redraws (tqdm's lock)
        else:
            self.stream.write(text + "\n")
            self.stream.flush()

    # -- what is shown -----------------------------------------------------------------------

    def elapsed_s(self) -> float:
        """Seconds since this progress was made."""
        return self._watch.elapsed_ns(self._t0) / 1e9

    def line(self, elapsed: float) -> str:
        """The plain line for `elapsed` seconds: count, percent, rates, elapsed and ETA, postfix."""
        rate = self.done / elapsed if elapsed > 0 else math.nan
        if self.total is None:
            parts = [f"{self.done:,} {self.unit}"]
        else:
            pct = 100 * self.done // self.total if self.total else 100
            parts = [f"{self.done:,}/{self.total:,} {self.unit} ({pct}%)"]
        parts += self._rates(elapsed)
        parts.append(f"elapsed {format_duration(elapsed)}")
        if self.total is not None and self.done < self.total:
            eta = (self.total - self.done) / rate if rate > 0 else math.nan
            parts.append(f"ETA {format_duration(eta)}")
        parts += self._postfix_items()
        return f"{self.desc}: {', '.join(parts)}" if self.desc else ", ".join(parts)

    def final_line(self, elapsed: float, stopped: bool = False) -> str:
        """The last plain line: how many items in how long, and the rates."""
        of = f"/{self.total:,}" if self.total is not None else ""
        parts = [f"{'stopped at' if stopped else 'done'} {self.done:,}{of} {self.unit} in {format_duration(elapsed)}",
                 *self._rates(elapsed), *self._postfix_items()]
        return f"{self.desc}: {', '.join(parts)}" if self.desc else ", ".join(parts)

    def _rates(self, elapsed: float) -> list[str]:
        if elapsed <= 0:
            return []
        rates = [f"{format_rate(self.done / elapsed)} {self.unit}/s"]
        if self.work_unit is not None:
            rates.append(f"{format_rate(self.work / elapsed)} {self.work_unit}/s")
        return rates

    def _postfix_items(self) -> list[str]:
        return [f"{key}={value}" for key, value in self.postfix.items()]

    def _write(self, text: str) -> None:
        self.lines += 1
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw(self, elapsed: float) -> None:
        bar = self._bar
        extra = ", ".join([*self._rates(elapsed)[1:], *self._postfix_items()])
        if bar is None:
            bar = self._bar = _make_bar(self.total, self.unit, self.desc, self.stream)
            bar.start_t -= elapsed  # count from this progress' start, not the bar's first drawing
            bar.n = self.done
            bar.set_postfix_str(extra)  # the first drawing
            return
        bar.set_postfix_str(extra, refresh=False)
        bar.update(self.done - bar.n)  # redraws at most every mininterval


def _make_bar(total: int | None, unit: str, desc: str, stream: TextIO) -> Any:
    from tqdm import tqdm  # lazily: only a run that shows a bar imports it

    class _Bar(tqdm):
        monitor_interval = 0  # no monitor thread: every redraw comes from update()

    # smoothing=0: the rate (and the ETA) is the average since the start, steady for backtests.
    return _Bar(total=total, unit=unit.rstrip("s") if unit.endswith("s") else unit, desc=desc, file=stream,
                **_size(stream), leave=True, mininterval=0.2, smoothing=0,
                delay=1e-9)  # a delay: not drawn at 0 on creation (the caller sets n, then draws)


def _size(stream: TextIO) -> dict[str, int]:
    # tqdm sizes the bar to the terminal; a terminal reporting 0 x 0 (a pty nobody sized, some
    # CI runners) would get no bar at all: 80 x 24 then.
    try:
        size = os.get_terminal_size(stream.fileno())
    except (AttributeError, ValueError, OSError):  # not a file, closed, or no size
        return {}
    return {"ncols": size.columns or 80, "nrows": size.lines or 24}


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _env_seconds(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return float(default)
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"environment variable {name}={text!r}: expected a number of seconds >= 0")
    return value


def format_duration(seconds: float) -> str:
    """``0:07``, ``12:03``, ``1:02:03``; ``?`` when unknown (NaN or infinite)."""
    if not math.isfinite(seconds):
        return "?"
    total = int(seconds + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_rate(per_second: float) -> str:
    """``152,310`` at 100/s and above, ``9.6`` below, ``?`` when unknown."""
    if not math.isfinite(per_second):
        return "?"
    return f"{per_second:,.0f}" if per_second >= 100 else f"{per_second:.1f}"
