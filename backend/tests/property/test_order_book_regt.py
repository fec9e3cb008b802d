"""Hypothesis: the broker's order book and Reg T buying power, for any order, cancel, bar and
session-close sequence (issue 8).

Checked against a naive model kept by the test:

1. Reg T: at every fill, with shorts valued at the last close (the filled symbol at its fill
   price), ``buying_power = cash - 1.5 * short value``; a fill that lowers it leaves it >= 0 (a
   fill that raises it, such as a cover or a sale of a long, is always allowed).
2. `SimulatedBroker.buying_power` equals that formula at the last closes after every bar.
3. Without shorting, an accepted sell never exceeds the position less the pending sells at its
   submission (pending buys are not sellable), and no position goes negative.
4. The open orders are exactly those accepted and not yet filled, rejected at fill, cancelled
   or expired; a session close expires every DAY order placed before it and no GTC order.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.execution.orders import Order, OrderSide, OrderType, TimeInForce
from app.execution.paper import SimulatedBroker
from app.execution.risk import Limits

MIN = 60_000_000_000
SYMBOLS = ("A", "B")
prices = st.integers(min_value=100, max_value=20_000).map(lambda cents: cents / 100)


@st.composite
def bars(draw):
    o, c = draw(prices), draw(prices)
    up, down = draw(st.integers(0, 300)) / 100, draw(st.integers(0, 300)) / 100
    return o, max(o, c) + up, max(0.01, min(o, c) - down), c


@st.composite
def orders(draw):
    kind = draw(st.sampled_from(OrderType))
    limit = draw(prices) if kind is OrderType.LIMIT else None
    return (draw(st.sampled_from(SYMBOLS)), draw(st.sampled_from(OrderSide)), draw(st.integers(1, 400)),
            kind, limit, draw(st.sampled_from(TimeInForce)))


limits_st = st.builds(
    Limits,
    starting_cash=st.sampled_from([5_000.0, 50_000.0]),
    max_per_trade=st.sampled_from([20_000.0, 1e9]),
    max_per_symbol=st.sampled_from([30_000.0, 1e9]),
    max_open_positions=st.integers(1, 2),
    commission_per_share=st.sampled_from([0.0, 0.005]),
    commission_min=st.sampled_from([0.0, 1.0]),
    slippage_bps=st.sampled_from([0.0, 25.0]),
    allow_short=st.booleans(),
)
# Per minute: a bar per symbol, new orders, ids to cancel (indexes into what was placed), and
# whether a session closes after the minute.
steps_st = st.lists(
    st.tuples(st.tuples(bars(), bars()), st.lists(orders(), max_size=3),
              st.lists(st.integers(0, 40), max_size=2), st.integers(0, 5).map(lambda n: n == 0)),
    min_size=1, max_size=30,
)


def _buying_power(cash, held, marks):
    return cash - 1.5 * sum(-q * marks[s] for s, q in held.items() if q < 0)


class _Model:
    # The naive books: cash and positions replayed from the fills, last closes, open order ids.
    def __init__(self, limits):
        self.cash, self.held, self.last = limits.starting_cash, dict.fromkeys(SYMBOLS, 0), {}
        self.open_ids: set[int] = set()

    def bar(self, broker, symbol, start, bar):
        before, rejected = len(broker.fills), len(broker.rejections)
        broker.on_bar(symbol, start, *bar)
        for fill in broker.fills[before:]:  # 1: replay each fill on the naive books
            marks = {**self.last, symbol: fill.price}
            power = _buying_power(self.cash, self.held, marks)
            signed = fill.quantity if fill.side is OrderSide.BUY else -fill.quantity
            self.cash -= signed * fill.price + fill.commission
            self.held[symbol] += signed
            after = _buying_power(self.cash, self.held, marks)
            assert after >= power - 1e-6 or after >= -1e-6, (fill, power, after)
            self.open_ids.discard(fill.order_id)
        self.open_ids.difference_update(r.order.id for r in broker.rejections[rejected:])
        self.last[symbol] = bar[3]

    def submit(self, broker, order, allow_short):
        pending_sells = sum(o.quantity for o in broker.open_orders(order.symbol) if o.side is OrderSide.SELL)
        if broker.submit(order, self.last[order.symbol]) is None:
            self.open_ids.add(order.id)
            if order.side is OrderSide.SELL and not allow_short:  # 3: pending buys are not sellable
                assert order.quantity <= self.held[order.symbol] - pending_sells


@settings(deadline=None)
@given(limits=limits_st, steps=steps_st)
def test_reg_t_and_the_order_book_hold_for_any_sequence(limits, steps):
    broker, model = SimulatedBroker(limits), _Model(limits)
    placed: list[Order] = []
    for minute, (symbol_bars, new_orders, cancels, closes) in enumerate(steps):
        start = minute * MIN
        for symbol, bar in zip(SYMBOLS, symbol_bars, strict=True):
            model.bar(broker, symbol, start, bar)
        # 2 and 3
        expected = _buying_power(model.cash, model.held, model.last)
        assert broker.buying_power == pytest.approx(expected, rel=1e-9, abs=1e-6)
        assert limits.allow_short or min(model.held.values()) >= 0
        for i in (i for i in cancels if i < len(placed)):
            order = broker.cancel(placed[i].id)
            assert (order is not None) == (placed[i].id in model.open_ids)
            model.open_ids.discard(placed[i].id)
        for symbol, side, qty, kind, limit, tif in new_orders:
            placed.append(Order(len(placed) + 1, symbol, side, qty, kind, limit, start + MIN, tif))
            model.submit(broker, placed[-1], limits.allow_short)
        # 4
        assert [o.id for o in broker.open_orders()] == sorted(model.open_ids)
        if closes:
            close_ns = start + MIN
            expired = broker.expire_day_orders(close_ns)
            assert all(o.tif is TimeInForce.DAY and o.placed_at_ns < close_ns for o in expired)
            model.open_ids.difference_update(o.id for o in expired)
            assert all(o.tif is TimeInForce.GTC or o.placed_at_ns >= close_ns for o in broker.open_orders())
