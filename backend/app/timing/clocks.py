"""Clocks: the one place that reads the wall or monotonic clock (with timing/ as a whole)."""

from __future__ import annotations

import math
import time
from datetime import datetime
from typing import Protocol

from app.errors import InvariantError
from app.sync.lock import make_lock
from app.timing.stopwatch import TimeSource

__all__ = ["Clock", "ScaledClock", "SteppedClock", "WallClock", "local_stamp"]

# Durations and waits are measured with the run's `Stopwatch` (app.timing.stopwatch), injected by
# runtime/build.py; nothing outside timing/ reads a counter itself (the architecture test).


def local_stamp() -> str:
    """Return the machine's local wall time as ``YYYYmmdd-HHMMSS`` (for naming run folders)."""
    return datetime.now().astimezone().strftime("%Y%m%d-%H%M%S")


class Clock(Protocol):
    """What every clock offers: the current instant as int64 ns UTC."""

    def now_ns(self) -> int: ...

    def real_seconds_until(self, instant_ns: int) -> float:
        """Return how many real seconds remain until the clock shows `instant_ns` (<= 0: passed)."""
        ...


class SteppedClock:
    """Data-driven clock: moved forward by its single writer (the coordinator), never back.

    Warnings
    --------
    Only the coordinator thread calls `advance_to`; any thread may read `now_ns`.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now_ns = start_ns

    def now_ns(self) -> int:
        return self._now_ns

    def advance_to(self, instant_ns: int) -> None:
        if instant_ns < self._now_ns:
            raise InvariantError(f"clock stepped back from {self._now_ns} to {instant_ns} ns")
        self._now_ns = instant_ns

    def real_seconds_until(self, instant_ns: int) -> float:
        return 0.0


class ScaledClock:
    """Clock-driven replay: virtual time runs `rate` times faster than a real monotonic counter.

    Follows trio's MockClock arithmetic: virtual = virtual_base + (real - real_base) * rate; a
    rate change, a jump or a pause rebases both origins so virtual time never steps back. The
    origins and the running rate (0 while paused) are one tuple, replaced in one assignment, so
    a reader never mixes an old origin with a new rate.

    Parameters
    ----------
    rate : float
        Virtual seconds per real second (> 0).
    start_ns : int
        The virtual instant the clock starts at.
    real_ns : TimeSource
        The real counter (default ``time.monotonic_ns``); a test passes a `ManualTime` and moves
        time itself (``jump``), as with trio's MockClock.

    Warnings
    --------
    The coordinator calls `jump_to` and `set_rate`; `pause` and `resume` come from whichever
    thread drives the pause gate (the main thread on SIGUSR1). The four are serialised by one
    lock, so a pause landing while the coordinator jumps to the next open is never lost; any
    thread may read without it.
    """

    def __init__(self, rate: float, start_ns: int = 0, real_ns: TimeSource = time.monotonic_ns) -> None:
        if rate <= 0:
            raise ValueError(f"expected a rate > 0, received {rate!r}")
        self._rate = float(rate)
        self._real_ns = real_ns
        self._state = (real_ns(), start_ns, self._rate)  # (real base, virtual base, running rate)
        self._lock = make_lock()  # the mutators' read-modify-write of `_state`

    @property
    def rate(self) -> float:
        return self._rate

    @property
    def paused(self) -> bool:
        return self._state[2] == 0.0

    def now_ns(self) -> int:
        real_base, virtual_base, rate = self._state
        return virtual_base + int((self._real_ns() - real_base) * rate)

    def _rebase(self, running_rate: float, virtual_ns: int | None = None) -> None:
        # One real reading: the new origin is where the clock stands at it (or `virtual_ns`).
        real = self._real_ns()
        real_base, virtual_base, rate = self._state
        now = virtual_base + int((real - real_base) * rate)
        self._state = (real, now if virtual_ns is None else virtual_ns, running_rate)

    def set_rate(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"expected a rate > 0, received {rate!r}")
        with self._lock:
            self._rate = float(rate)
            self._rebase(0.0 if self.paused else self._rate)

    def pause(self) -> None:
        """Stop virtual time where it stands (idempotent)."""
        with self._lock:
            self._rebase(0.0)

    def resume(self) -> None:
        """Let virtual time run on from where it was paused (idempotent)."""
        with self._lock:
            self._rebase(self._rate)

    def jump_to(self, instant_ns: int) -> None:
        """Skip forward (between sessions); never back. A paused clock stays paused."""
        with self._lock:
            if instant_ns < self.now_ns():
                return
            self._rebase(self._state[2], instant_ns)

    def real_seconds_until(self, instant_ns: int) -> float:
        _, _, rate = self._state
        remaining = instant_ns - self.now_ns()
        if rate == 0.0:
            return math.inf if remaining > 0 else 0.0
        return remaining / rate / 1e9


class WallClock:
    """Live mode: the system's UTC wall clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    def real_seconds_until(self, instant_ns: int) -> float:
        return (instant_ns - time.time_ns()) / 1e9
