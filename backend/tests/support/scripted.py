"""Deterministic control of a real run from a test: no sleeps, no wall-clock counts.

- `install` makes `app.runtime.run.run` build its pipeline on a `ManualTime` (the run's
  `Stopwatch` and so the `ScaledClock` of clock-driven runs read it: real time moves only when
  the test or the strategy jumps it, trio MockClock style) and a `SeenGate` (a `PauseGate`
  that says which threads are waiting at it while it is closed).
- `Scripted` is the strategy of those runs: it records every bar with the step's end and the
  paced clock, moves the manual time by `Script.kick_s` at each session start and
  `Script.cost_s` per bar (work that "takes" real time), and holds at bar `Script.hold_at`
  until the test releases it.
- `Background` runs `run()` on a helper thread so the test thread can act while it runs;
  `ObservedControls` counts the supervisor's heartbeat ticks; `wait_for` waits on a condition
  with a generous deadline (never sleep-then-assert).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from app.runtime.controls import RunControls
from app.store.bar import Bar
from app.strategies.base import Strategy, StrategyContext
from app.threads.pause import PauseGate
from app.timing.stopwatch import ManualTime, Stopwatch

WAIT_S = 60.0
"""How long a test waits for something the run must do (generous: the machine may be loaded)."""


def wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    """Return once `predicate()` holds; fail the test, saying `what`, after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.002)


@dataclass
class Script:
    """What `Scripted` does in the current test (one run at a time)."""

    time: ManualTime | None = None
    kick_s: float = 0.0  # manual seconds jumped at each session start (makes the first steps due)
    cost_s: float = 0.0  # manual seconds jumped per bar, before it may hold
    hold_at: int | None = None  # the bar (1-based, counted over the run) at which on_bar holds
    started: threading.Event = field(default_factory=threading.Event)  # a session started
    reached: threading.Event = field(default_factory=threading.Event)  # holding at `hold_at`
    release: threading.Event = field(default_factory=threading.Event)  # set by the test
    bars: list[tuple[int, int, int]] = field(default_factory=list)  # (bar start, step end, paced clock)
    pipeline: Any = None  # the run's Pipeline, once built

    def clock_ns(self) -> int:
        return int(self.pipeline.tm.now_ns()) if self.pipeline is not None else 0


SCRIPT = Script()


class SeenGate(PauseGate):
    """A PauseGate that rings, per thread name, when a thread starts waiting at it while closed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._seen: dict[str, threading.Event] = {}

    def waiting(self, thread_name: str) -> threading.Event:
        return self._seen.setdefault(thread_name, threading.Event())

    def wait_open(self, timeout_s: float) -> bool:
        if self.paused:
            self.waiting(threading.current_thread().name).set()
        return super().wait_open(timeout_s)


def install(monkeypatch: pytest.MonkeyPatch, manual: ManualTime | None = None, **script: Any) -> Script:
    """Make `run()` build on `manual` (if given) with a `SeenGate`; return the fresh `SCRIPT`."""
    import app.runtime.run as run_module
    import app.threads.step_sources as step_sources

    global SCRIPT
    SCRIPT = Script(time=manual, **script)
    real_build = run_module.build

    def build(config: Any, *args: Any, **kwargs: Any) -> Any:
        if manual is not None:
            kwargs["stopwatch"] = Stopwatch(manual)
        pipeline = real_build(config, *args, **kwargs)
        SCRIPT.pipeline = pipeline
        return pipeline

    monkeypatch.setattr(run_module, "build", build)
    monkeypatch.setattr(step_sources, "PauseGate", SeenGate)
    return SCRIPT


class Scripted(Strategy):
    """Records each bar; moves the manual time as `SCRIPT` says; holds where it says."""

    params: ClassVar[dict[str, Any]] = {}

    def on_session_start(self, ctx: StrategyContext) -> None:
        s = SCRIPT
        if s.time is not None and s.kick_s:
            s.time.jump(s.kick_s)
        s.started.set()

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        s = SCRIPT
        s.bars.append((int(bar.start), int(ctx.now_ns), s.clock_ns()))
        if s.time is not None and s.cost_s:
            s.time.jump(s.cost_s)
        if len(s.bars) == s.hold_at:
            s.reached.set()
            if not s.release.wait(WAIT_S):
                raise AssertionError("the test never released the held bar")


class LogsAtBar(Strategy):
    """Logs "LogsAtBar: bar N seen" once, at its n-th bar: a CLI test waits for that line in run.log."""

    params: ClassVar[dict[str, Any]] = {"n": 3}

    def on_session_start(self, ctx: StrategyContext) -> None:
        self._seen = getattr(self, "_seen", 0)

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        self._seen += 1
        if self._seen == int(self.p["n"]):
            logging.getLogger("app.strategy").warning("LogsAtBar: bar %d seen", self._seen)


class ObservedControls(RunControls):
    """RunControls that counts the supervisor's heartbeat ticks (each wait slice of the main loop)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ticks = 0
        self.tick_errors: list[BaseException] = []
        self._ticked = threading.Condition()

    def tick(self) -> None:
        try:
            super().tick()
        except Exception as e:
            self.tick_errors.append(e)
            raise
        finally:
            with self._ticked:
                self.ticks += 1
                self._ticked.notify_all()

    def wait_ticks(self, n: int, timeout_s: float = WAIT_S) -> None:
        """Wait until `n` more heartbeat ticks happened."""
        with self._ticked:
            target = self.ticks + n
            assert self._ticked.wait_for(lambda: self.ticks >= target, timeout_s), f"fewer than {n} ticks"


class Lines:
    """A list of status lines the test can wait on."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._fail_with = fail_with

    def __call__(self, line: str) -> None:
        with self._cond:
            self.lines.append(line)
            self._cond.notify_all()
        if self._fail_with is not None:
            raise self._fail_with

    def wait_count(self, n: int, timeout_s: float = WAIT_S) -> list[str]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.lines) >= n, timeout_s), f"fewer than {n} lines: {self.lines}"
            return list(self.lines)


class Background:
    """Call `fn(*args, **kwargs)` on a helper thread; `result` joins it and returns or re-raises."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._value: Any = None
        self._error: BaseException | None = None

        def target() -> None:
            try:
                self._value = fn(*args, **kwargs)
            except BaseException as e:  # noqa: BLE001 - handed to the test thread by result()
                self._error = e

        self._thread = threading.Thread(target=target, name="test-run")
        self._thread.start()

    def wait(self, event: threading.Event, what: str, timeout_s: float = WAIT_S) -> None:
        """Wait until `event` is set; fail at once, with the run's error, if the run ends first."""
        deadline = time.monotonic() + timeout_s
        while not event.wait(0.01):
            if not self._thread.is_alive():
                self.result()  # re-raises the run's error
                raise AssertionError(f"the run ended before {what}")
            assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"

    def abandon(self) -> None:
        """After a failed test: release a held bar, stop the run's threads and join them (errors dropped)."""
        SCRIPT.release.set()
        if SCRIPT.pipeline is not None:
            SCRIPT.pipeline.stop.set(reason="the test failed")
        self._thread.join(WAIT_S)

    def result(self, timeout_s: float = WAIT_S) -> Any:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), f"the run did not end within {timeout_s} s"
        if self._error is not None:
            raise self._error
        return self._value
