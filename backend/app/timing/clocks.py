"""Clocks: the one place that reads the wall or monotonic clock (with timing/ as a whole)."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

from app.errors import InvariantError

__all__ = ["Clock", "ScaledClock", "SteppedClock", "WallClock", "local_stamp", "monotonic_ns", "perf_ns"]

perf_ns = time.perf_counter_ns
"""High-resolution counter for measuring durations (never a time of day)."""

monotonic_ns = time.monotonic_ns
"""Monotonic counter for deadlines."""


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
    """Clock-driven replay: virtual time runs `rate` times faster than the monotonic clock.

    Follows trio's MockClock arithmetic: virtual = virtual_base + (real - real_base) * rate; a
    rate change or a jump rebases both origins so virtual time never steps back.

    Warnings
    --------
    Only the coordinator calls `jump_to` and `set_rate`; any thread may read.
    """

    def __init__(self, rate: float, start_ns: int = 0) -> None:
        if rate <= 0:
            raise ValueError(f"expected a rate > 0, received {rate!r}")
        self._rate = float(rate)
        self._base = (time.monotonic_ns(), start_ns)

    @property
    def rate(self) -> float:
        return self._rate

    def now_ns(self) -> int:
        real_base, virtual_base = self._base
        return virtual_base + int((time.monotonic_ns() - real_base) * self._rate)

    def set_rate(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"expected a rate > 0, received {rate!r}")
        now = self.now_ns()
        self._base = (time.monotonic_ns(), now)
        self._rate = float(rate)

    def jump_to(self, instant_ns: int) -> None:
        """Skip forward (between sessions); never back."""
        if instant_ns < self.now_ns():
            return
        self._base = (time.monotonic_ns(), instant_ns)

    def real_seconds_until(self, instant_ns: int) -> float:
        return (instant_ns - self.now_ns()) / self._rate / 1e9


class WallClock:
    """Live mode: the system's UTC wall clock."""

    def now_ns(self) -> int:
        return time.time_ns()

    def real_seconds_until(self, instant_ns: int) -> float:
        return (instant_ns - time.time_ns()) / 1e9
