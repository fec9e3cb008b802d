"""Hypothesis: the simulated account stays consistent for any order and bar sequence.

Identities checked after every bar (up to float rounding):

1. ``equity == cash + sum(q * last)``;
2. ``cash + sum(q * last) == starting_cash + realized_pnl + unrealized_pnl - total_commission``;
3. ``cash == starting_cash - sum(signed_qty * price) - sum(commission)`` over the fills, and each
   position equals the signed sum of its fills (a naive replay of the fill list);
4. ``sum(trade.pnl for closed trades) + open_trip_pnl == realized_pnl - total_commission``;
5. no fill happens on a bar that started before its order was placed, a limit buy never pays
   above its limit and a limit sell never receives below it, and without shorting no position
   goes negative.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.execution.orders import Order, OrderSide, OrderType
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
    side = draw(st.sampled_from(OrderSide))
    kind = draw(st.sampled_from(OrderType))
    limit = draw(prices) if kind is OrderType.LIMIT else None
    return draw(st.sampled_from(SYMBOLS)), side, draw(st.integers(1, 60)), kind, limit


limits_st = st.builds(
    Limits,
    starting_cash=st.sampled_from([5_000.0, 50_000.0, 1_000_000.0]),
    max_per_trade=st.sampled_from([2_000.0, 20_000.0, 1e9]),
    max_per_symbol=st.sampled_from([5_000.0, 1e9]),
    max_open_positions=st.integers(1, 2),
    commission_per_share=st.sampled_from([0.0, 0.005, 0.01]),
    commission_min=st.sampled_from([0.0, 1.0]),
    slippage_bps=st.sampled_from([0.0, 5.0, 25.0]),
    allow_short=st.booleans(),
)
steps_st = st.lists(
    st.tuples(st.tuples(bars(), bars()), st.lists(orders(), max_size=3), st.booleans()),
    min_size=1,
    max_size=25,
)


@settings(deadline=None)
@given(limits=limits_st, steps=steps_st)
def test_account_identities_hold_for_any_sequence(limits, steps):
    broker = SimulatedBroker(limits)
    placed = {}
    oid = 0
    for minute, (symbol_bars, new_orders, cancel) in enumerate(steps):
        start = minute * MIN
        for symbol, bar in zip(SYMBOLS, symbol_bars, strict=True):
            for fill in broker.on_bar(symbol, start, *bar):
                _check_fill(fill, placed[fill.order_id], bar, start)
        _check_identities(broker, limits)
        if cancel:
            broker.cancel_all(SYMBOLS[minute % 2])
        for symbol, side, qty, kind, limit in new_orders:
            oid += 1
            order = Order(oid, symbol, side, qty, kind, limit, start + MIN)
            placed[oid] = order
            broker.submit(order, broker.last_price(symbol))


def _check_fill(fill, order, bar, start):
    o, h, low, _ = bar
    assert order.placed_at_ns <= start == fill.filled_at_ns
    if order.type is OrderType.LIMIT:
        assert low <= fill.price <= h
        if order.side is OrderSide.BUY:
            assert fill.price <= order.limit_price
        else:
            assert fill.price >= order.limit_price
    else:
        assert fill.price == pytest.approx(o, rel=0.0026)


def _check_identities(broker, limits):
    approx = lambda x: pytest.approx(x, rel=1e-9, abs=1e-6)  # noqa: E731
    positions = broker.positions
    last = {s: broker.last_price(s) for s in positions}
    market_value = sum(p.quantity * last[s] for s, p in positions.items())
    # 1 and 2
    assert broker.equity == approx(broker.cash + market_value)
    assert broker.cash + market_value == approx(
        limits.starting_cash + broker.realized_pnl + broker.unrealized_pnl - broker.total_commission
    )
    # 3: naive replay of the fills
    cash, held = limits.starting_cash, {}
    for f in broker.fills:
        signed = f.quantity if f.side is OrderSide.BUY else -f.quantity
        cash -= signed * f.price + f.commission
        held[f.symbol] = held.get(f.symbol, 0) + signed
    assert broker.cash == approx(cash)
    assert {s: q for s, q in held.items() if q} == {s: p.quantity for s, p in positions.items()}
    # 4
    closed = sum(t.pnl for t in broker.closed_trades)
    net = broker.realized_pnl - broker.total_commission
    assert closed + broker.ledger.open_trip_pnl() == approx(net)
    # 5
    if not limits.allow_short:
        assert all(p.quantity > 0 for p in positions.values())
