"""A strategy that keeps, at each session's end, every value of its indicators (tests compare runs)."""

from __future__ import annotations

from typing import Any, ClassVar

from app.strategies.base import StrategyContext
from app.strategies.sma_cross import SmaCross

DUMPS: list[tuple[int, str, str, bytes]] = []  # (session open, symbol, key, values as bytes)

EXTRA: tuple[tuple[str, int], ...] = (("ema", 7), ("rsi", 5), ("atr", 4))


class IndicatorDump(SmaCross):
    """Trades like SmaCross; also asks for ema, rsi and atr, and dumps all values at the close."""

    params: ClassVar[dict[str, Any]] = dict(SmaCross.params)

    @classmethod
    def indicators(cls, params: dict[str, Any], base_interval: str) -> list[dict[str, Any]]:
        return [*super().indicators(params, base_interval),
                *({"name": name, "period": period, "interval": base_interval} for name, period in EXTRA)]

    def on_session_end(self, ctx: StrategyContext) -> None:
        interval = ctx.base_interval
        keys = [self._fast_key, self._slow_key, *(f"{n}_{p}_{interval}" for n, p in EXTRA)]
        for symbol in ctx.symbols:
            for key in keys:
                DUMPS.append((ctx.session_open_ns, symbol, key, ctx.indicator_values(symbol, key).tobytes()))
