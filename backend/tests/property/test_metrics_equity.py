"""Hypothesis: the equity series a run records matches equity rebuilt from its fills.

The AnalysisEngine samples ``broker.equity`` after each step. Rebuilding it naively, cash from
the fill list (``starting_cash - sum(signed_qty * price + commission)``) plus each position
(the signed sum of its fills) at that step's closes, must give the same series; the run
summary's final equity and drawdown then follow from that series. The per-symbol P&L of any
span (a session) adds up to the span's equity change, and the open positions' unrealised P&L
is the broker's.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.execution.orders import Order, OrderSide
from app.execution.paper import SimulatedBroker
from app.execution.risk import Limits
from app.metrics.stats import compute_run_summary, open_positions, symbol_pnl

MIN = 60_000_000_000
SYMBOLS = ("A", "B", "C")
START_CASH = 100_000.0
closes = st.integers(min_value=500, max_value=50_000).map(lambda cents: cents / 100)
step = st.tuples(
    st.tuples(closes, closes, closes),
    st.lists(
        st.tuples(st.sampled_from(SYMBOLS), st.sampled_from(OrderSide), st.integers(1, 40)),
        max_size=3,
    ),
)


def _rebuild(fills, marks, starting_cash):
    cash, held = starting_cash, {}
    for f in fills:
        signed = f.quantity if f.side is OrderSide.BUY else -f.quantity
        cash -= signed * f.price + f.commission
        held[f.symbol] = held.get(f.symbol, 0) + signed
    return cash + sum(q * marks[s] for s, q in held.items())


@settings(deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=30), allow_short=st.booleans())
def test_recorded_equity_matches_equity_rebuilt_from_fills(steps, allow_short):
    # Arrange
    limits = Limits(START_CASH, 20_000.0, 40_000.0, 2, 0.005, 1.0, 5.0, allow_short)
    broker = SimulatedBroker(limits)
    recorded, rebuilt, times = [], [], []
    oid = 0
    # Act: bars open at the previous close, the strategy trades at each step's close
    for minute, (prices, orders) in enumerate(steps):
        start = minute * MIN
        for symbol, close in zip(SYMBOLS, prices, strict=True):
            o = broker.last_price(symbol) or close
            broker.on_bar(symbol, start, o, max(o, close), min(o, close), close)
        times.append(start + MIN)
        recorded.append(broker.equity)
        rebuilt.append(_rebuild(broker.fills, dict(zip(SYMBOLS, prices, strict=True)), START_CASH))
        for symbol, side, qty in orders:
            oid += 1
            order = Order(oid, symbol, side, qty, placed_at_ns=start + MIN)
            broker.submit(order, broker.last_price(symbol))

    # Assert
    assert recorded == pytest.approx(rebuilt, rel=1e-9, abs=1e-6)
    summary = compute_run_summary(
        np.array(times), np.array(recorded), [recorded[-1]], broker.closed_trades, START_CASH,
        len(broker.fills), 3 * len(steps),
    )
    assert summary["trading"]["final_equity"] == pytest.approx(rebuilt[-1], rel=1e-9)
    peak, worst = START_CASH, 0.0
    for value in rebuilt:
        peak = max(peak, value)
        worst = max(worst, (peak - value) / peak * 100.0)
    assert summary["trading"]["max_drawdown_pct"] == pytest.approx(worst, rel=1e-6, abs=1e-9)


def _books(broker):
    return {s: (p.quantity, p.avg_price, broker.last_price(s)) for s, p in broker.positions.items()}


@settings(deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=30), allow_short=st.booleans(), data=st.data())
def test_per_symbol_pnl_of_each_span_adds_up_to_its_equity_change(steps, allow_short, data):
    # Arrange: the steps cut into spans ("sessions") at drawn points
    cuts = sorted(data.draw(st.sets(st.integers(1, len(steps)), max_size=3)) | {len(steps)})
    limits = Limits(START_CASH, 20_000.0, 40_000.0, 2, 0.005, 1.0, 5.0, allow_short)
    broker = SimulatedBroker(limits)
    oid, lo = 0, 0
    for hi in cuts:
        equity0, fills0, books0 = broker.equity, len(broker.fills), _books(broker)
        # Act
        for minute in range(lo, hi):
            prices, orders = steps[minute]
            start = minute * MIN
            for symbol, close in zip(SYMBOLS, prices, strict=True):
                o = broker.last_price(symbol) or close
                broker.on_bar(symbol, start, o, max(o, close), min(o, close), close)
            for symbol, side, qty in orders:
                oid += 1
                broker.submit(Order(oid, symbol, side, qty, placed_at_ns=start + MIN), broker.last_price(symbol))
        by_symbol = symbol_pnl(broker.fills[fills0:], books0, _books(broker))
        # Assert
        assert sum(v["pnl"] for v in by_symbol.values()) == pytest.approx(broker.equity - equity0, abs=1e-6)
        assert sum(v["fills"] for v in by_symbol.values()) == len(broker.fills) - fills0
        assert list(by_symbol) == sorted(by_symbol)
        lo = hi
    held = open_positions(_books(broker))
    assert {s: p["quantity"] for s, p in held.items()} == {s: p.quantity for s, p in broker.positions.items()}
    assert sum(p["unrealized_pnl"] for p in held.values()) == pytest.approx(broker.unrealized_pnl, abs=1e-6)
    whole = symbol_pnl(broker.fills, {}, _books(broker))
    assert sum(v["pnl"] for v in whole.values()) == pytest.approx(broker.equity - START_CASH, abs=1e-6)
