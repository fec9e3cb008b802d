"""Strategies that misbehave on purpose, for the fault suite (tests/faults)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, ClassVar

from app.store.bar import Bar
from app.strategies.base import Strategy, StrategyContext
from app.strategies.sma_cross import SmaCross

log = logging.getLogger("app.strategy")


class _StuckAt(Strategy):
    """Calls `stuck` inside ``on_bar`` at its `at`-th bar (a strategy bug)."""

    params: ClassVar[dict[str, Any]] = {"at": 3}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.at = int(self.p["at"])
        self.seen = 0

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        self.seen += 1
        if self.seen == self.at:
            self.stuck()

    def stuck(self) -> None:
        raise NotImplementedError


class SpinsForever(_StuckAt):
    """Loops forever in pure Python inside ``on_bar`` (it can be interrupted)."""

    def stuck(self) -> None:
        log.warning("SpinsForever: stuck in on_bar")  # tests wait for this
        n = 0
        while True:
            n += 1


class BlocksForever(_StuckAt):
    """Blocks forever in a C call (a lock wait) inside ``on_bar``: it cannot be interrupted."""

    def stuck(self) -> None:
        log.warning("BlocksForever: blocked in on_bar")
        threading.Event().wait()


class SlowSessions(SmaCross):
    """SmaCross that takes `pause_s` at each session end (so a test can act between sessions)."""

    params: ClassVar[dict[str, Any]] = {**SmaCross.params, "pause_s": 0.3}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.pause_s = float(self.p["pause_s"])

    def on_session_end(self, ctx: StrategyContext) -> None:
        super().on_session_end(ctx)
        time.sleep(self.pause_s)
