"""Supervisor: start the pipeline threads, wait for done-or-first-failure, stop and join them all."""

from __future__ import annotations

import faulthandler
import logging
import sys
import threading
from collections.abc import Callable, Sequence

from app.errors import SessionAborted, ThreadStuckError
from app.sync.stop import StopToken
from app.threads.base import SessionThread, ThreadFailure
from app.timing.stopwatch import Stopwatch

__all__ = ["Supervisor"]

log = logging.getLogger(__name__)


class Supervisor:
    """Owns the run's threads and the first failure among them.

    Warnings
    --------
    `run` is called from the main thread only (signals, Ctrl-C included, arrive there);
    `record_failure` is the FailureSink every thread calls.
    """

    def __init__(self, stop: StopToken, join_timeout_s: float, stopwatch: Stopwatch | None = None) -> None:
        self.stop = stop
        self.join_timeout_s = join_timeout_s
        self.stopwatch = stopwatch or Stopwatch()  # bounds the clean-end wait after a first Ctrl-C
        self.failure: ThreadFailure | None = None
        self.secondary: list[ThreadFailure] = []
        self._lock = threading.Lock()
        self._exited = threading.Event()  # rung by each thread as it ends
        self._finished = 0
        self.interrupted = False
        # Paced runs (clock-driven, live): the first Ctrl-C asks the coordinator to end the session
        # cleanly (its report kept); a second one, or no clean end within the join timeout, stops
        # every thread.
        self.drain: Callable[[], None] | None = None
        self.heartbeat: Callable[[], None] | None = None  # called on the main thread every wait slice

    def record_failure(self, failure: ThreadFailure) -> None:
        with self._lock:
            if self.failure is None:
                self.failure = failure
            else:
                self.secondary.append(failure)
        self.stop.set(reason=f"{failure.thread} failed")

    def _thread_exited(self) -> None:
        with self._lock:
            self._finished += 1
        self._exited.set()

    def run(self, threads: Sequence[SessionThread]) -> None:
        """Start `threads` (consumers first), wait until all finish or one fails, join all.

        Raises
        ------
        SessionAborted
            From the first thread failure (``from`` the original exception).
        KeyboardInterrupt
            After stopping and joining every thread, when the user pressed Ctrl-C.
        ThreadStuckError
            When a thread does not stop within the join timeout (stacks are dumped first).
        """
        started: list[SessionThread] = []
        try:
            for thread in threads:
                thread.on_exit = self._thread_exited
                thread.start()
                started.append(thread)
            self._wait_done(started, None)
        except KeyboardInterrupt:
            self.interrupted = True
            if self.drain is not None and len(started) == len(threads):
                log.warning("interrupted: ending the session cleanly (Ctrl-C again to stop at once)")
                self.drain()
                try:
                    self._wait_done(started, self.join_timeout_s)
                except KeyboardInterrupt:
                    pass
            self.stop.set(reason="interrupted")
        finally:
            self.stop.set(reason="run finished")
            self._join_all(started)
        if self.interrupted:
            raise KeyboardInterrupt
        if self.failure is not None:
            f = self.failure
            raise SessionAborted(f.thread, f.error, clock_time=f.clock_time, session=f.session) from f.error

    def _wait_done(self, started: Sequence[SessionThread], timeout_s: float | None) -> None:
        deadline = self.stopwatch.deadline(timeout_s)
        while not self.stop.is_set() and not deadline.expired:
            self._exited.clear()  # clear, then check: a ring after this is not lost
            if self._finished >= len(started):
                return
            # Woken as soon as a thread ends (a failure also sets the stop token);
            # short slices so Ctrl-C arrives promptly.
            self._exited.wait(0.2)
            if self.heartbeat is not None:
                try:
                    self.heartbeat()
                except Exception:  # a status line must never take the run (and its reports) down
                    log.exception("status heartbeat failed; no more status lines this run")
                    self.heartbeat = None

    def _join_all(self, threads: Sequence[SessionThread]) -> None:
        stuck: list[str] = []
        for thread in threads:
            try:
                thread.join(self.join_timeout_s)
            except KeyboardInterrupt:  # a second Ctrl-C while joining: keep joining
                self.interrupted = True
                thread.join(self.join_timeout_s)
            except ThreadStuckError:
                stuck.append(thread.name)
        if stuck:
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            raise ThreadStuckError(", ".join(stuck), self.join_timeout_s)
