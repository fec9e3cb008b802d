"""StopToken: one per run; setting it wakes every registered waiter and records why."""

from __future__ import annotations

import threading

__all__ = ["StopToken"]


class StopToken:
    """A run-wide stop request that wakes every wait registered with it.

    Warnings
    --------
    Any thread may call `set`, `is_set`, `wait` and `register`; the first reason wins.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._doorbells: list[threading.Event] = []
        self.reason: str | None = None

    def register(self, doorbell: threading.Event) -> None:
        """Ring `doorbell` when the token is set (immediately if it already is)."""
        with self._lock:
            self._doorbells.append(doorbell)
        if self._event.is_set():
            doorbell.set()

    def set(self, reason: str = "stop requested") -> None:
        """Request a stop; idempotent, never blocks for long."""
        with self._lock:
            if self.reason is None:
                self.reason = reason
            bells = list(self._doorbells)
        self._event.set()
        for bell in bells:
            bell.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the token; return True once it is set."""
        return self._event.wait(timeout_s)
