"""Strategies that probe visibility within a step and the order API (issue 8), recording what they see.

Each writes to a module-level list the test clears first; the runs are in-process (real threads).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from app.store.bar import Bar, parse_interval
from app.strategies.base import Strategy, StrategyContext

SEEN: list[dict[str, Any]] = []


class VisibilityProbe(Strategy):
    """At every callback, records for every symbol and interval what is visible and what had closed.

    The oracle (`closed`) reads the session's whole published series through the context's
    internals: every bar of it whose end is at or before the clock.
    """

    params: ClassVar[dict[str, Any]] = {"derived": "5m"}

    @classmethod
    def indicators(cls, params: dict[str, Any], base_interval: str) -> list[dict[str, Any]]:
        return [{"name": "sma", "period": 3}]

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        now, base = ctx.now_ns, ctx.base_interval
        seen: dict[tuple[str, str], tuple[int, int | None, int]] = {}
        prices: dict[str, tuple[float | None, float | None]] = {}
        sma: dict[str, tuple[int, int]] = {}
        for symbol in ctx.symbols:
            for label in (base, self.p["derived"]):
                step = parse_interval(label).ns
                view = ctx.bars(symbol, label)
                full = ctx._state.bars[(symbol, label)].view()  # everything published so far
                closed = int(np.searchsorted(full.start + step, now, side="right"))
                newest_end = int(view.start[-1]) + step if len(view) else None
                seen[(symbol, label)] = (len(view), newest_end, closed)
            last = ctx.last_bar(symbol)
            prices[symbol] = (last.close if last else None, ctx._broker.last_price(symbol))
            sma[symbol] = (len(ctx.indicator_values(symbol, f"sma_3_{base}")), len(ctx.bars(symbol)))
        SEEN.append({"now": now, "symbol": bar.symbol, "bar_end": bar.start + parse_interval(base).ns,
                     "seen": seen, "prices": prices, "sma": sma})


ORDERS: list[dict[str, Any]] = []


class OrderLifecycle(Strategy):
    """Session 1: a day limit and two gtc limits far below the market (one cancelled), and a day
    market buy at the close; records ids, cancel results and open orders at each session start."""

    def on_session_start(self, ctx: StrategyContext) -> None:
        self._first = True
        ORDERS.append({"event": "start", "session": ctx.session.isoformat(),
                       "open": [(o.id, o.tif.value) for o in ctx.open_orders()]})

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if bar.symbol != "AAPL":
            return
        first, self._first = self._first, False
        if first and not ORDERS[0].get("placed"):
            low = round(bar.close * 0.5, 2)
            ids = {"day": ctx.buy("AAPL", 10, limit=low),
                   "gtc": ctx.buy("AAPL", 10, limit=low, tif="gtc"),
                   "cancelled": ctx.buy("AAPL", 10, limit=low, tif="gtc")}
            ORDERS[0]["placed"] = ids
            ORDERS.append({"event": "placed", "ids": ids, "open": [o.id for o in ctx.open_orders("AAPL")],
                           "open_spy": ctx.open_orders("SPY")})
            ORDERS.append({"event": "cancel", "first": ctx.cancel(ids["cancelled"]),
                           "again": ctx.cancel(ids["cancelled"]), "unknown": ctx.cancel(999_999),
                           "open": [o.id for o in ctx.open_orders()]})

    def on_session_end(self, ctx: StrategyContext) -> None:
        if "at_close" not in ORDERS[0]:
            ORDERS[0]["at_close"] = ctx.buy("AAPL", 1)  # placed at the close: for the next session


class PendingBuyThenSell(Strategy):
    """On the first AAPL bar: a pending limit buy, then a sell of the same quantity (must be refused)."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if bar.symbol == "AAPL" and not ORDERS:
            buy = ctx.buy("AAPL", 10, limit=round(bar.close * 0.5, 2), tif="gtc")
            ORDERS.append({"buy": buy, "sell": ctx.sell("AAPL", 10)})


class SellsWhatItLacks(Strategy):
    """Sells 1 share of every bar's symbol while flat: each order refused by 'no shorting'."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        ctx.sell(bar.symbol, 1)


class SellsWhatItLacksThenFails(Strategy):
    """As SellsWhatItLacks, then raises on the session's 25th bar: the run stops inside the session."""

    def on_session_start(self, ctx: StrategyContext) -> None:
        self.seen = 0

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        self.seen += 1
        if self.seen == 25:
            raise RuntimeError("probe: fails on the 25th bar")
        ctx.sell(bar.symbol, 1)


class AllIn(Strategy):
    """At each close, buys all the cash affords at that close (for the next session); sells on the
    next bar. A session opening above the previous close then finds too little cash: a rejection
    at fill."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        if ctx.position(bar.symbol) > 0:
            ctx.close(bar.symbol)

    def on_session_end(self, ctx: StrategyContext) -> None:
        for symbol in ctx.symbols:
            last = ctx.last_bar(symbol)
            if last is not None and ctx.position(symbol) == 0:
                ORDERS.append({"buy": ctx.buy(symbol, math.floor(ctx.cash / (last.close * 1.0001 + 0.005)))})


class BadOrder(Strategy):
    """Submits one malformed order on its first bar: a fractional quantity or an unknown tif."""

    params: ClassVar[dict[str, Any]] = {"quantity": 2.5, "tif": "day"}

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        ctx.buy(bar.symbol, self.p["quantity"], tif=self.p["tif"])


class Shorter(Strategy):
    """Shorts AAPL, then tries to spend the proceeds on SPY and to short MSFT (Reg T)."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        state = ORDERS[0] if ORDERS else None
        if state is None and bar.symbol == "AAPL":
            quantity = math.floor(0.9 * ctx.cash / bar.close)  # a short worth 90% of the account
            ORDERS.append({"short": ctx.sell("AAPL", quantity)})
        elif state is not None and "spy_big" not in state and bar.symbol == "SPY" and ctx.position("AAPL") < 0:
            aapl, msft = ctx.last_bar("AAPL"), ctx.last_bar("MSFT")
            assert aapl is not None and msft is not None
            state["cash"], state["buying_power"] = ctx.cash, ctx.buying_power
            state["short_value"] = -ctx.position("AAPL") * aapl.close
            power = ctx.buying_power
            state["spy_big"] = ctx.buy("SPY", math.floor(1.2 * power / bar.close))
            state["spy_small"] = ctx.buy("SPY", math.floor(0.25 * power / bar.close))
            # Needs half its value (about 47,500) of the 0.75 x power (about 41,000) left.
            state["short_more"] = ctx.sell("MSFT", math.floor(95_000 / msft.close))


class RandomTrader(Strategy):
    """Trades one symbol at random (seeded): market and limit buys and sells, shorts, closes.

    Every kind of account change the paper broker makes (fills long and short, rejections at
    fill, limits that wait) at unpredictable bars: the engine's equity points must not depend
    on how it works them out.
    """

    params: ClassVar[dict[str, Any]] = {"seed": 0, "rate": 0.05}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._rng = np.random.default_rng(int(self.p["seed"]))

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        rng = self._rng
        if rng.random() >= float(self.p["rate"]):
            return
        what = int(rng.integers(5))
        qty = int(rng.integers(1, 200))
        if what == 0:
            ctx.buy(bar.symbol, qty)
        elif what == 1:
            ctx.sell(bar.symbol, qty)
        elif what == 2:
            ctx.buy(bar.symbol, qty, limit=round(bar.close * (1 - 0.002 * rng.random()), 2), tif="gtc")
        elif what == 3:
            ctx.sell(bar.symbol, qty, limit=round(bar.close * (1 + 0.002 * rng.random()), 2))
        else:
            ctx.close(bar.symbol)
