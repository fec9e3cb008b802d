"""SessionThread: a named, non-daemon pipeline thread whose failure stops the whole run."""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from app.errors import ThreadStuckError
from app.sync.stop import StopToken
from app.threads.watchdog import CallbackInterrupted
from app.timing.stopwatch import thread_cpu_ns

__all__ = ["FailureSink", "SessionThread", "ThreadFailure"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThreadFailure:
    """The first exception a pipeline thread raised, with where the run was."""

    thread: str
    error: BaseException
    clock_time: str | None = None
    session: str | None = None


FailureSink = Callable[[ThreadFailure], None]


class SessionThread(abc.ABC):
    """Base of the four pipeline threads (thread name = class name).

    Warnings
    --------
    `start`, `stop` and `join` are called from the main thread only. `run` executes on the
    new thread and must return promptly once ``self.stop_token`` is set. Any exception,
    BaseException included, reaches the supervisor through `on_failure`; none is swallowed.
    """

    def __init__(self, stop_token: StopToken, on_failure: FailureSink) -> None:
        self.name = type(self).__name__
        self.stop_token = stop_token
        self._on_failure = on_failure
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=False)
        self.where: Callable[[], tuple[str | None, str | None]] = lambda: (None, None)
        self.on_exit: Callable[[], None] = lambda: None  # the supervisor's wake-up
        self.cpu_ns: int | None = None  # the thread's CPU time, once it has ended

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.stop_token.set(reason=f"{self.name}.stop()")

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def ident(self) -> int | None:
        """The OS-level thread id (None before `start`): what the watchdog samples."""
        return self._thread.ident

    def join(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)
        if self._thread.is_alive():  # join() returns None even on timeout
            raise ThreadStuckError(self.name, timeout_s)

    @abc.abstractmethod
    def run(self) -> None:
        """Process events until the input ends or a stop is requested."""

    def _main(self) -> None:
        try:
            self.run()
        except BaseException as e:  # reported to the supervisor (logged with exc_info), never swallowed
            clock_time, session = self.where()
            if isinstance(e, CallbackInterrupted):  # the watchdog or a stop freed a stuck callback: no bug here
                log.warning("%s: its stuck strategy callback was interrupted", self.name)
            else:
                log.error("%s failed: %s: %s", self.name, type(e).__name__, e, exc_info=e)
            self._on_failure(ThreadFailure(self.name, e, clock_time, session))
        finally:
            self.cpu_ns = thread_cpu_ns()
            self.on_exit()
