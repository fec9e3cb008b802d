"""Stopwatch and Deadline: real elapsed time for durations and waits, injected where it is needed.

A `Stopwatch` reads one monotonic counter (never a time of day); `runtime/build.py` makes one per
run and hands it to every object that times work or bounds a wait, so no module outside
`timing/` reads a clock itself. A test passes ``Stopwatch(ManualTime())`` and moves time with
``jump`` (trio MockClock style): no sleeps, no wall-clock asserts. `ScaledClock` takes the same
kind of source (``ScaledClock(rate, real_ns=stopwatch.now_ns)``).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from typing import Final

__all__ = ["NEVER", "Deadline", "ManualTime", "Stopwatch", "TimeSource", "process_age_ns", "thread_cpu_ns"]

TimeSource = Callable[[], int]
"""A monotonic counter in ns: ``time.perf_counter_ns``, ``time.monotonic_ns`` or a `ManualTime`."""


class Stopwatch:
    """Measures real durations and sets deadlines on one monotonic counter.

    Hot paths time work with two calls, ``t0 = sw.now_ns()`` ... ``sw.now_ns() - t0``: `now_ns`
    is the source itself (an attribute, not a wrapper method), so a reading costs what calling
    the counter directly costs.
    """

    __slots__ = ("now_ns",)

    def __init__(self, source: TimeSource = time.perf_counter_ns) -> None:
        self.now_ns: TimeSource = source
        """Return the counter's reading in ns (an origin for `elapsed_ns`; not a time of day)."""

    def elapsed_ns(self, since_ns: int) -> int:
        """Return the ns passed since the reading `since_ns`."""
        return self.now_ns() - since_ns

    @property
    def system_wide(self) -> bool:
        """Whether its readings mean the same in another process (the default counter: on Linux
        and macOS one monotonic clock for the whole system), not a `ManualTime` or another source."""
        return self.now_ns is time.perf_counter_ns

    def process_start_ns(self) -> int:
        """Return this counter's reading when the process started (the run's start-up time; real counters)."""
        return self.now_ns() - process_age_ns()

    def deadline(self, timeout_s: float | None) -> Deadline:
        """Return the deadline `timeout_s` from now (`NEVER` for None; a negative timeout has expired)."""
        if timeout_s is None:
            return NEVER
        return Deadline(self.now_ns() + int(timeout_s * 1e9), self.now_ns)


def thread_cpu_ns() -> int:
    """Return the CPU time the calling thread has used since it started, in ns (not wall time)."""
    return time.thread_time_ns()


_IMPORTED_NS: Final = time.perf_counter_ns()  # early in every run: the origin where the kernel's is not available


def process_age_ns() -> int:
    """Return how long this process has been running, in ns (interpreter start-up included).

    From the kernel's start time of the process on Linux (10 ms resolution); elsewhere, since
    the first import of this module, early in start-up.
    """
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        started_ticks = int(fields[19])  # field 22, starttime: clock ticks after boot
        started_ns = started_ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")
        return time.clock_gettime_ns(time.CLOCK_BOOTTIME) - started_ns
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter_ns() - _IMPORTED_NS


class Deadline:
    """The end of a wait, on a stopwatch's counter (CPython queue's ``endtime``/``remaining``).

    `NEVER` (no timeout) answers without reading any counter.
    """

    __slots__ = ("_now_ns", "at_ns")

    def __init__(self, at_ns: int | None, now_ns: TimeSource) -> None:
        self.at_ns = at_ns
        """The counter reading at which the wait ends; None: never."""
        self._now_ns = now_ns

    def remaining_s(self) -> float:
        """Return the seconds left (<= 0: expired; ``math.inf`` for `NEVER`)."""
        if self.at_ns is None:
            return math.inf
        return (self.at_ns - self._now_ns()) / 1e9

    @property
    def expired(self) -> bool:
        return self.at_ns is not None and self._now_ns() >= self.at_ns


def _no_reading() -> int:
    raise AssertionError("NEVER reads no counter")


NEVER: Final = Deadline(None, _no_reading)
"""The deadline of a wait with no timeout."""


class ManualTime:
    """A time source that only moves when told to (tests; trio MockClock's ``jump``).

    Pass it to ``Stopwatch(...)`` and ``ScaledClock(..., real_ns=...)``; the test's thread moves
    time with `jump`, any thread may read it (one attribute load).
    """

    def __init__(self, start_ns: int = 0) -> None:
        self.ns = start_ns

    def __call__(self) -> int:
        return self.ns

    def jump(self, seconds: float) -> None:
        """Move time forward by `seconds` (never back)."""
        if seconds < 0:
            raise ValueError(f"expected seconds >= 0, received {seconds!r}")
        self.ns += int(seconds * 1e9)
