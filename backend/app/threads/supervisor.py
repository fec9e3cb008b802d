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
from app.threads.watchdog import CallbackWatchdog
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
        self.interrupted_by: str | None = None  # "SIGTERM" when that signal ended the run (None: Ctrl-C)
        # Paced runs (clock-driven, live): the first Ctrl-C asks the coordinator to end the session
        # cleanly (its report kept); a second one, or no clean end within the join timeout, stops
        # every thread.
        self.drain: Callable[[], None] | None = None
        self.heartbeat: Callable[[], None] | None = None  # called on the main thread every wait slice
        self.watchdog: CallbackWatchdog | None = None  # the strategy callbacks' (checked every wait slice)
        self.watched = "AnalysisEngine"  # the thread the watchdog samples (named in its failure)
        self.release_grace_s = 1.0  # on a stop, how long a callback may keep running before it is interrupted

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
        except KeyboardInterrupt as e:
            self.interrupted = True
            self.interrupted_by = getattr(e, "signal_name", None)
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
            self._release_stuck_callback()
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
            if self.watchdog is not None:
                self._check_watchdog(self.watchdog)
            if self.heartbeat is not None:
                try:
                    self.heartbeat()
                except Exception:  # a status line must never take the run (and its reports) down
                    log.exception("status heartbeat failed; no more status lines this run")
                    self.heartbeat = None

    def _check_watchdog(self, watchdog: CallbackWatchdog) -> None:
        error = watchdog.check()
        if error is None:
            return
        log.error("%s", error)
        log.info("the stuck thread's stack (%s):\n%s", error.method, error.stack)  # run.log (INFO and up)
        self.record_failure(ThreadFailure(self.watched, error, error.bar_time, error.session))
        watchdog.release()

    def _release_stuck_callback(self) -> None:
        # On a stop (Ctrl-C, SIGTERM, a failure elsewhere), a strategy callback still running the
        # same call after the grace period will not return by itself: interrupt it so its
        # thread can be joined and the run can end with its reports.
        watchdog = self.watchdog
        if watchdog is None or not watchdog.in_callback():
            return
        frame = watchdog.current_frame()
        deadline = self.stopwatch.deadline(self.release_grace_s)
        while not deadline.expired:
            self._exited.wait(0.05)
            if watchdog.current_frame() is not frame:
                return
        watchdog.release()

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
