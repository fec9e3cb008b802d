"""A strategy for the report tests: the SMA crossover that fails at the start of a chosen session."""

from __future__ import annotations

from typing import Any, ClassVar

from app.strategies.base import StrategyContext
from app.strategies.sma_cross import SmaCross


class FailsInSession(SmaCross):
    """SmaCross raising RuntimeError when session number `fail_at` (1-based) starts."""

    params: ClassVar[dict[str, Any]] = {**SmaCross.params, "fail_at": 3}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._sessions = 0

    def on_session_start(self, ctx: StrategyContext) -> None:
        self._sessions += 1
        if self._sessions == int(self.p["fail_at"]):
            raise RuntimeError(f"planned failure in session {self._sessions}")
        super().on_session_start(ctx)
