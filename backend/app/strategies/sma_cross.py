"""SmaCross: long `quantity` when the fast SMA of close crosses above the slow one, flat below."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from app.store.bar import Bar
from app.strategies.base import Strategy, StrategyContext

__all__ = ["SmaCross"]


class SmaCross(Strategy):
    """Moving-average crossover, long only.

    Parameters (``strategy.params``)
    --------------------------------
    fast : int
        Period of the fast SMA (default 10).
    slow : int
        Period of the slow SMA (default 30); must exceed `fast`.
    quantity : int
        Shares bought on a cross above (default 100).
    interval : str or None
        Interval of the SMAs (default: the base interval).
    """

    params: ClassVar[dict[str, Any]] = {"fast": 10, "slow": 30, "quantity": 100, "interval": None}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        fast, slow = int(self.p["fast"]), int(self.p["slow"])
        if not 1 <= fast < slow:
            raise ValueError(f"expected 1 <= fast < slow, received fast={fast}, slow={slow}")
        self._above: dict[str, bool | None] = {}
        self._fast_key = self._slow_key = ""

    @classmethod
    def indicators(cls, params: dict[str, Any], base_interval: str) -> list[dict[str, Any]]:
        p = {**cls.params, **params}
        interval = p["interval"] or base_interval
        return [{"name": "sma", "period": int(p["fast"]), "interval": interval},
                {"name": "sma", "period": int(p["slow"]), "interval": interval}]

    def on_session_start(self, ctx: StrategyContext) -> None:
        interval = self.p["interval"] or ctx.base_interval
        self._fast_key = f"sma_{int(self.p['fast'])}_{interval}"
        self._slow_key = f"sma_{int(self.p['slow'])}_{interval}"
        self._above = dict.fromkeys(ctx.symbols)

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        symbol = bar.symbol
        fast = ctx.indicator(symbol, self._fast_key)
        slow = ctx.indicator(symbol, self._slow_key)
        if math.isnan(fast) or math.isnan(slow):
            return
        above = fast > slow
        was = self._above[symbol]
        self._above[symbol] = above
        if was is None or above == was:
            return
        if above and ctx.position(symbol) == 0:
            ctx.buy(symbol, int(self.p["quantity"]))
        elif not above and ctx.position(symbol) > 0:
            ctx.close(symbol)
