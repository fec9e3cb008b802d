"""StreamSubscription: an Event doorbell plus a published sequence number, one producer, one consumer."""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from app.errors import InvariantError
from app.sync.stop import StopToken
from app.timing.stopwatch import Stopwatch

__all__ = ["StreamSubscription", "SubscriptionStats", "WaitStatus"]

_SLICE_S = 0.2  # every wait re-checks stop/end at least this often
_TRIM_AT = 64  # drop acked events once this many have accumulated


class WaitStatus(enum.Enum):
    READY = "ready"
    ENDED = "ended"
    STOPPED = "stopped"
    TIMEOUT = "timeout"


class SubscriptionStats(NamedTuple):
    signals: int
    waits: int
    acks: int
    overruns: int
    max_lag_ns: int


class StreamSubscription:
    """An append-only event log from one producer thread to one consumer thread.

    The producer appends an event and publishes its sequence number (``seq`` = events so far),
    then rings the data doorbell (a one-shot ``threading.Event``: signal -> wait -> reset).
    The consumer waits for ``seq > after``, reads ``events(after, seq)`` and acks what it has
    finished; a producer that must not run ahead waits for the ack the same way. An Event is
    a flag, not a counter, so the doorbell only wakes; the state is the sequence number, and
    the waiter always clears, then re-checks, then waits (no lost wake-up).

    Warnings
    --------
    `publish`, `end` and `wait_ack` are called by the producer thread only; `wait`, `events`
    and `ack` by the consumer thread only; `statistics` from anywhere. Every wait is woken
    by the run's StopToken; a wait's timeout runs on `stopwatch`.
    """

    def __init__(self, name: str, stop: StopToken, stopwatch: Stopwatch | None = None) -> None:
        self.name = name
        self._stop = stop
        self._stopwatch = stopwatch or Stopwatch()
        # (sequence number of log[0] minus one, log): replaced by one assignment when the
        # producer drops acked events, so a reader never pairs an offset with the wrong list.
        self._log: tuple[int, list[Any]] = (0, [])
        self._published = 0
        self._acked = 0
        self._ended = False
        self._data_bell = threading.Event()
        self._ack_bell = threading.Event()
        stop.register(self._data_bell)
        stop.register(self._ack_bell)
        self._signals = 0
        self._waits = 0
        self._acks = 0
        self.overruns = 0
        self.max_lag_ns = 0

    # -- producer -----------------------------------------------------------------------------
    def publish(self, event: Any) -> int:
        """Append `event`, publish its sequence number and ring the consumer; return the seq.

        Events the consumer has acked are dropped here (by the producer, the log's only
        writer), so a long run holds only the unfinished ones, not every session's state.
        """
        offset, log = self._log
        acked = self._acked
        if acked - offset >= _TRIM_AT:
            log = log[acked - offset :]
            offset = acked
        log.append(event)
        self._log = (offset, log)
        self._published += 1
        self._signals += 1
        self._data_bell.set()
        return self._published

    def end(self) -> None:
        """Mark the stream finished: a waiting consumer returns ENDED once it has read everything."""
        self._ended = True
        self._data_bell.set()

    def check_overrun(self, now_ns: int) -> bool:
        """Before publishing a paced event: count an overrun if the consumer is still busy.

        The lateness is `now_ns` minus the ``due_ns`` of the oldest unfinished event (events
        without one count with lateness 0). Returns True when an overrun was counted.
        """
        acked = self._acked
        if self._published <= acked:
            return False
        oldest = self.events(acked, acked + 1)
        due = getattr(oldest[0], "due_ns", 0) if oldest else 0
        self.overruns += 1
        if due:
            self.max_lag_ns = max(self.max_lag_ns, now_ns - due)
        return True

    @property
    def acked(self) -> int:
        """The highest sequence number the consumer has finished."""
        return self._acked

    @property
    def backlog(self) -> int:
        """Events published but not yet acked by the consumer."""
        return self._published - self._acked

    def wait_ack(self, seq: int, timeout_s: float | None = None) -> WaitStatus:
        """Wait until the consumer has acked `seq` (READY), the stop token is set, or a timeout."""
        return self._wait(self._ack_bell, lambda: self._acked >= seq, timeout_s)

    # -- consumer -----------------------------------------------------------------------------
    def wait(self, after: int, timeout_s: float | None = None) -> tuple[WaitStatus, int]:
        """Wait for an event past `after`; return (status, published seq)."""
        self._waits += 1
        status = self._wait(
            self._data_bell, lambda: self._published > after or self._ended, timeout_s
        )
        if status is WaitStatus.READY and self._published <= after:
            status = WaitStatus.ENDED
        return status, self._published

    def events(self, lo: int, hi: int) -> list[Any]:
        """Return the events with sequence numbers in ``(lo, hi]`` (a list slice: atomic).

        Raises
        ------
        InvariantError
            If `lo` is below what the consumer already acked (those events are gone).
        """
        offset, log = self._log
        if lo < offset:
            raise InvariantError(f"{self.name}: events after {lo} requested, but {offset} were acked and dropped")
        return log[lo - offset : hi - offset]

    def ack(self, seq: int) -> None:
        """Tell the producer every event up to `seq` is finished."""
        if seq < self._acked:
            raise InvariantError(f"{self.name}: ack went back from {self._acked} to {seq}")
        self._acked = seq
        self._acks += 1
        self._ack_bell.set()

    def reset_max_lag(self) -> int:
        """Return the worst lateness since the last reset and start over (between sessions, while
        the producer is idle)."""
        worst, self.max_lag_ns = self.max_lag_ns, 0
        return worst

    def statistics(self) -> SubscriptionStats:
        return SubscriptionStats(self._signals, self._waits, self._acks, self.overruns, self.max_lag_ns)

    # -- shared -------------------------------------------------------------------------------
    def _wait(self, bell: threading.Event, ready: Callable[[], bool], timeout_s: float | None) -> WaitStatus:
        deadline = self._stopwatch.deadline(timeout_s)  # NEVER (no counter read) without a timeout
        while True:
            if ready():
                return WaitStatus.READY
            if self._stop.is_set():
                return WaitStatus.STOPPED
            bell.clear()
            if ready():  # re-check after clearing, or a ring in between is lost
                return WaitStatus.READY
            if self._stop.is_set():
                return WaitStatus.STOPPED
            remaining = deadline.remaining_s()
            if remaining <= 0:
                return WaitStatus.TIMEOUT
            bell.wait(min(_SLICE_S, remaining))
