"""Strategies used by tests: a recorder (no-lookahead evidence) and failure injectors."""

from __future__ import annotations

from typing import Any, ClassVar

from app.store.bar import Bar
from app.strategies.base import Strategy, StrategyContext
from app.strategies.sma_cross import SmaCross

RECORDS: list[dict[str, Any]] = []


class Recorder(SmaCross):
    """Trades like SmaCross and records, at every bar, the newest data it can see."""

    params: ClassVar[dict[str, Any]] = {**SmaCross.params, "derived": "5m", "busy_ms": 0.0}

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if self.p["busy_ms"]:
            import time

            time.sleep(float(self.p["busy_ms"]) / 1000)
        derived = ctx.bars(bar.symbol, self.p["derived"])
        base = ctx.bars(bar.symbol)
        RECORDS.append({
            "now": ctx.now_ns,
            "bar_start": bar.start,
            "base_newest_start": int(base.start[-1]) if len(base) else None,
            "derived_newest_start": int(derived.start[-1]) if len(derived) else None,
            "sma_len": len(ctx.indicator_values(bar.symbol, self._fast_key)),
            "base_len": len(base),
            "quality": ctx.session_quality(bar.symbol),
            "open": ctx.session_open_ns,
        })
        super().on_bar(ctx, bar)


class FailAtBar(Strategy):
    """Raises ZeroDivisionError at the n-th bar (to test failure handling)."""

    params: ClassVar[dict[str, Any]] = {"n": 100}

    def on_session_start(self, ctx: StrategyContext) -> None:
        self._seen = getattr(self, "_seen", 0)

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        self._seen += 1
        if self._seen >= int(self.p["n"]):
            1 / 0  # noqa: B018 - the failure under test


class SlowStrategy(Strategy):
    """Burns `busy_ms` of wall time per bar, to make clock-driven stages overrun."""

    params: ClassVar[dict[str, Any]] = {"busy_ms": 5.0}

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        import time

        end = time.perf_counter() + float(self.p["busy_ms"]) / 1000
        while time.perf_counter() < end:
            pass


class AsksForNonsense(Strategy):
    """Declares an indicator that does not exist (a strategy bug the config check must catch)."""

    @classmethod
    def indicators(cls, params: dict[str, Any], base_interval: str) -> list[dict[str, Any]]:
        return [{"name": "macdx", "period": 3}]


class IgnoresStop(Strategy):
    """Never returns from on_bar (a strategy bug): the run must still end, not hang."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        import logging
        import time

        logging.getLogger("app.strategy").warning("IgnoresStop: stuck in on_bar")  # tests wait for this
        while True:
            time.sleep(0.05)


LIVE_RECORDS: list[dict[str, Any]] = []


class LiveRecorder(Strategy):
    """Records every bar it is shown, with the run's clock and the wall clock at the callback."""

    params: ClassVar[dict[str, Any]] = {"derived": "5s"}

    @classmethod
    def indicators(cls, params: dict[str, Any], base_interval: str) -> list[dict[str, Any]]:
        return [{"name": "sma", "period": 3}]

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        import time

        derived = ctx.bars(bar.symbol, self.p["derived"])
        history = ctx.history(bar.symbol, ctx.base_interval)
        LIVE_RECORDS.append({
            "history_opens": history.open.tolist(), "sma": ctx.indicator(bar.symbol, f"sma_3_{ctx.base_interval}"),
            "symbol": bar.symbol, "start": int(bar.start), "open": float(bar.open), "now": int(ctx.now_ns),
            "wall": time.time_ns(), "derived_newest_end": int(derived.start[-1]) + 5_000_000_000 if len(derived) else None,
        })
