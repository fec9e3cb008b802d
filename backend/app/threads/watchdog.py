"""CallbackWatchdog: a strategy callback that does not return fails the run instead of hanging it.

It runs on the main thread (the supervisor calls `check` every wait slice), so the per-bar path
pays nothing: it samples the engine thread's stack. When the same call of a strategy callback
(the same frame object: a new call is a new frame) is seen for `timeout_s`, the run fails with
`StrategyTimeoutError`, naming the method, the symbol and bar time, and the stuck stack.

A stuck thread cannot be killed, but it can be interrupted: `release` raises
`CallbackInterrupted` in it at its next bytecode (``PyThreadState_SetAsyncExc``), which ends an
endless loop in Python code. A thread blocked inside a C call (a socket read, a sleep, a lock)
gets it only when the call returns: the supervisor's join then times out, and the main thread
writes the outputs from what the finished sessions left (`app.runtime.run`).
"""

from __future__ import annotations

import ctypes
import logging
import sys
import traceback
from collections.abc import Callable
from types import FrameType
from typing import Any

from app.errors import StrategyTimeoutError
from app.store.bar import Bar
from app.timing.stopwatch import Stopwatch

__all__ = ["CALLBACKS", "CallbackInterrupted", "CallbackWatchdog"]

log = logging.getLogger(__name__)

CALLBACKS = ("on_bar", "on_session_start", "on_session_end")
"""The strategy methods the engine calls (the watchdog watches the strategy's own versions)."""


class CallbackInterrupted(BaseException):
    """Raised inside a stuck strategy callback to free its thread (a BaseException: ``except
    Exception`` in strategy code does not swallow it)."""


class CallbackWatchdog:
    """Watches one thread's calls of `strategy`'s callbacks (see the module doc).

    Warnings
    --------
    `check` and `release` are called from the main thread only.
    """

    def __init__(self, strategy: Any, ident: Callable[[], int | None], timeout_s: float,
                 stopwatch: Stopwatch, format_ns: Callable[[int], str],
                 session: Callable[[], str | None]) -> None:
        self.strategy_name = type(strategy).__name__
        self._codes = {}
        for name in CALLBACKS:
            func = getattr(type(strategy), name, None)
            code = getattr(func, "__code__", None)
            if code is not None:
                self._codes[code] = name
        self._ident = ident
        self.timeout_ns = int(timeout_s * 1e9)
        self.timeout_s = timeout_s
        self._stopwatch = stopwatch
        self._format_ns = format_ns
        self._session = session
        self._frame: FrameType | None = None  # held: its identity stays unique while we hold it
        self._since_ns = 0
        self.fired: StrategyTimeoutError | None = None
        self.enabled = timeout_s > 0  # off: `check` never fires; `release` still frees a callback on a stop

    def _callback_frame(self) -> FrameType | None:
        ident = self._ident()
        if ident is None:
            return None
        frame = sys._current_frames().get(ident)
        found = None
        while frame is not None:  # the outermost strategy callback on the stack
            if frame.f_code in self._codes:
                found = frame
            frame = frame.f_back
        return found

    def check(self) -> StrategyTimeoutError | None:
        """Sample the thread; return the error once a callback ran `timeout_s` (once per run)."""
        if self.fired is not None or not self.enabled:
            return None
        frame = self._callback_frame()
        now = self._stopwatch.now_ns()
        if frame is None or frame is not self._frame:
            self._frame, self._since_ns = frame, now
            return None
        if now - self._since_ns < self.timeout_ns:
            return None
        self.fired = self._error(frame, (now - self._since_ns) / 1e9)
        self._frame = None
        return self.fired

    def _error(self, frame: FrameType, running_s: float) -> StrategyTimeoutError:
        method = self._codes[frame.f_code]
        bar = next((v for v in frame.f_locals.values() if isinstance(v, Bar)), None)
        ident = self._ident()
        inner = sys._current_frames().get(ident) if ident is not None else None
        stack = "".join(traceback.format_stack(inner or frame))
        return StrategyTimeoutError(
            f"{self.strategy_name}.{method}", self.timeout_s, running_s,
            symbol=bar.symbol if bar is not None else None,
            bar_time=self._format_ns(bar.start) if bar is not None else None,
            session=self._session(), stack=stack)

    def current_frame(self) -> FrameType | None:
        """The frame of the strategy callback the thread is in now (None when it is not in one)."""
        return self._callback_frame()

    def in_callback(self) -> bool:
        """Whether the thread is inside a strategy callback right now."""
        return self._callback_frame() is not None

    def release(self) -> bool:
        """Raise `CallbackInterrupted` in the thread if it is inside a strategy callback.

        Returns whether it was asked (it takes effect at the thread's next bytecode).
        """
        ident = self._ident()
        if ident is None or not self.in_callback():
            return False
        done = ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(CallbackInterrupted))
        if done == 1:
            log.warning("interrupting %s's stuck callback on its thread", self.strategy_name)
        return bool(done == 1)
