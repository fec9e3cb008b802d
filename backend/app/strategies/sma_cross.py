"""SmaCross: long `quantity` when the fast SMA of close crosses above the slow one, flat below."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from app.store.bar import Bar
from app.strategies.base import Strategy, StrategyContext

__all__ = ["SmaCross"]


class SmaCross(Strategy):
    """Moving-average crossover, long only.

    Buys `quantity` (a market day order) when the fast SMA crosses above the slow one while
    flat, and closes the position when it crosses below. A cross is a change of sign of
    ``fast - slow`` between two bars where both SMAs are ready.

    The cross state is kept across sessions by default: the SMAs are warm from the trailing
    history at each session start, so the first bar of a session is compared with the last
    bar of the previous one, and a cross at the open is traded (as the textbook strategy, and
    other engines, do). With ``reset_each_session: true`` the state is forgotten at each
    session start, so the first signal of a session only sets the state (the behaviour before
    issue 8).

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
    reset_each_session : bool
        Forget the cross state at each session start (default False).
    """

    params: ClassVar[dict[str, Any]] = {"fast": 10, "slow": 30, "quantity": 100, "interval": None,
                                        "reset_each_session": False}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        fast, slow = int(self.p["fast"]), int(self.p["slow"])
        if not 1 <= fast < slow:
            raise ValueError(f"expected 1 <= fast < slow, received fast={fast}, slow={slow}")
        if not isinstance(self.p["reset_each_session"], bool):
            raise ValueError(f"expected reset_each_session to be true or false, "
                             f"received {self.p['reset_each_session']!r}")
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
        if self.p["reset_each_session"] or not self._above:
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
