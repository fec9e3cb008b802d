"""A strategy whose every decision shows what it saw (for the recording and replay tests)."""

from __future__ import annotations

import logging

import numpy as np
from app.store.bar import Bar
from app.strategies.base import Strategy, StrategyContext

log = logging.getLogger("app.strategy")


class DecidesEveryBar(Strategy):
    """At every bar: cancel the symbol's open order, then place a limit buy (never filled) of as
    many shares as the symbol has bars over the last three intervals (its history counts: a run
    joining late has the session's earlier bars there), at half the bar's close.

    A bar missing at decision changes the next three decisions of its symbol (then they agree
    again); a restated close changes that bar's limit. Logs each bar it decides on.
    """

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        for order in ctx.open_orders(bar.symbol):
            ctx.cancel(order.id)
        shown = ctx.bars(bar.symbol).start
        starts = np.concatenate([ctx.history(bar.symbol, ctx.base_interval).start, shown])
        span = ctx.now_ns - bar.start  # one interval
        recent = int((starts > bar.start - 3 * span).sum())
        ctx.buy(bar.symbol, recent, limit=round(bar.close * 0.5, 2))
        log.info("DecidesEveryBar: %s bar %d decided", bar.symbol, len(shown))
