"""Average-cost books: worked examples for adds, partial exits, flips and round trips."""

from __future__ import annotations

import pytest

from app.execution.ledger import ClosedTrade, Ledger, Position
from app.execution.orders import OrderSide


def test_average_cost_worked_example():
    # Arrange
    ledger = Ledger(10_000.0)

    # Act / Assert, fill by fill (commission 1.00 each)
    ledger.apply("X", 100, 10.0, 1.0, 1)  # cash 10,000 - 1,000 - 1
    assert ledger.positions == {"X": Position(100, 10.0)}
    assert ledger.cash == pytest.approx(8_999.0)

    ledger.apply("X", 100, 12.0, 1.0, 2)  # avg (100*10 + 100*12) / 200 = 11
    assert ledger.positions == {"X": Position(200, 11.0)}
    assert ledger.cash == pytest.approx(7_798.0)

    ledger.apply("X", -50, 15.0, 1.0, 3)  # realizes 50 * (15 - 11) = 200; avg unchanged
    assert ledger.positions == {"X": Position(150, 11.0)}
    assert ledger.realized_pnl == pytest.approx(200.0)
    assert ledger.cash == pytest.approx(8_547.0)
    assert ledger.closed_trades == []

    ledger.apply("X", -150, 9.0, 1.0, 4)  # realizes 150 * (9 - 11) = -300
    assert ledger.positions == {}
    assert ledger.realized_pnl == pytest.approx(-100.0)
    assert ledger.total_commission == pytest.approx(4.0)
    assert ledger.cash == pytest.approx(9_896.0)  # 10,000 - 100 realized - 4 commission

    # One round trip: 200 in at 11, out at (50*15 + 150*9) / 200 = 10.5
    assert ledger.closed_trades == [
        ClosedTrade(
            "X", OrderSide.BUY, 200, 11.0, 10.5, 4.0, -104.0, opened_at_ns=1, closed_at_ns=4
        )
    ]


def test_fill_through_zero_closes_the_trip_and_opens_a_short():
    ledger = Ledger(10_000.0)
    ledger.apply("X", 100, 10.0, 2.0, 1)

    ledger.apply("X", -150, 12.0, 3.0, 2)  # closes 100 (commission share 2.0), opens -50 at 12

    assert ledger.positions == {"X": Position(-50, 12.0)}
    assert ledger.realized_pnl == pytest.approx(200.0)
    assert ledger.closed_trades == [
        ClosedTrade("X", OrderSide.BUY, 100, 10.0, 12.0, 4.0, 196.0, opened_at_ns=1, closed_at_ns=2)
    ]
    assert ledger.open_trip_pnl() == pytest.approx(-1.0)  # the short's share of the commission

    ledger.apply("X", 50, 11.0, 1.0, 3)  # short covered 1.00 lower: +50

    assert ledger.positions == {}
    assert ledger.realized_pnl == pytest.approx(250.0)
    assert ledger.closed_trades[1] == ClosedTrade(
        "X", OrderSide.SELL, 50, 12.0, 11.0, 2.0, 48.0, opened_at_ns=2, closed_at_ns=3
    )
    assert ledger.cash == pytest.approx(10_000.0 + 250.0 - 6.0)


def test_market_value_and_unrealized_use_the_marks():
    ledger = Ledger(1_000.0)
    ledger.apply("A", 10, 20.0, 0.0, 1)
    ledger.apply("B", -5, 40.0, 0.0, 1)

    marks = {"A": 25.0, "B": 30.0, "C": 1.0}

    assert ledger.market_value(marks) == pytest.approx(10 * 25.0 - 5 * 30.0)
    assert ledger.unrealized_pnl(marks) == pytest.approx(10 * 5.0 + (-5) * (-10.0))
    assert ledger.position("A") == 10 and ledger.position("B") == -5 and ledger.position("C") == 0
