"""SimulatedBroker: when and at what price orders fill, costs, and checks at submission and fill."""

from __future__ import annotations

import pytest

from app.execution.orders import Fill, Order, OrderSide, OrderType
from app.execution.paper import SimulatedBroker
from app.execution.risk import Limits

MIN = 60_000_000_000  # one minute in ns


def _broker(**overrides):
    fields = {
        "starting_cash": 100_000.0,
        "max_per_trade": 50_000.0,
        "max_per_symbol": 50_000.0,
        "max_open_positions": 5,
        **overrides,
    }
    return SimulatedBroker(Limits(**fields))


def _bar(broker, minute, o, h=None, low=None, c=None, symbol="AAPL"):
    h = max(o, c or o) if h is None else h
    low = min(o, c or o) if low is None else low
    return broker.on_bar(symbol, minute * MIN, o, h, low, o if c is None else c)


def _market(oid, side, qty, minute, symbol="AAPL"):
    return Order(oid, symbol, side, qty, placed_at_ns=minute * MIN)


def _limit(oid, side, qty, price, minute, symbol="AAPL"):
    return Order(oid, symbol, side, qty, OrderType.LIMIT, price, minute * MIN)


def test_market_order_fills_at_the_next_bars_open_not_the_signal_bar():
    # Arrange: the strategy saw the bar [0, 1) at clock 1 and buys
    broker = _broker()
    assert _bar(broker, 0, 100.0, c=100.5) == []
    assert broker.submit(_market(1, OrderSide.BUY, 10, 1), ref_price=100.5) is None

    # Act: a bar stamped before the order was placed must not fill it
    early = _bar(broker, 0, 99.0, c=99.5)
    fills = _bar(broker, 1, 101.0, c=102.0)

    # Assert
    assert early == []
    assert fills == [Fill(1, "AAPL", OrderSide.BUY, 10, 101.0, 0.0, 1 * MIN)]
    assert broker.fills == fills
    assert broker.position("AAPL") == 10
    assert broker.last_price("AAPL") == 102.0
    assert broker.pending_orders == []


def test_slippage_and_commission_arithmetic():
    # Arrange: 10 bps slippage, 0.005/share with a 1.00 minimum
    broker = _broker(commission_per_share=0.005, commission_min=1.0, slippage_bps=10.0)
    _bar(broker, 0, 100.0)
    broker.submit(_market(1, OrderSide.BUY, 100, 1), 100.0)

    # Act / Assert: buy pays 101 * 1.001 = 101.101, commission max(1.00, 0.50) = 1.00
    (buy,) = _bar(broker, 1, 101.0, c=101.5)
    assert buy.price == pytest.approx(101.101)
    assert buy.commission == 1.0
    assert broker.cash == pytest.approx(100_000.0 - 10_110.1 - 1.0)
    assert broker.equity == pytest.approx(broker.cash + 100 * 101.5)

    # Sell receives 102 * 0.999 = 101.898
    broker.submit(_market(2, OrderSide.SELL, 100, 2), 101.5)
    (sell,) = _bar(broker, 2, 102.0)
    assert sell.price == pytest.approx(101.898)
    assert broker.cash == pytest.approx(100_000.0 - 10_110.1 - 1.0 + 10_189.8 - 1.0)
    assert broker.realized_pnl == pytest.approx(100 * (101.898 - 101.101))
    assert broker.total_commission == 2.0
    (trade,) = broker.closed_trades
    assert trade.pnl == pytest.approx(79.7 - 2.0)


def test_per_share_commission_above_the_minimum():
    broker = _broker(commission_per_share=0.005, commission_min=1.0)
    _bar(broker, 0, 10.0)
    broker.submit(_market(1, OrderSide.BUY, 1_000, 1), 10.0)
    (fill,) = _bar(broker, 1, 10.0)
    assert fill.commission == pytest.approx(5.0)
    assert broker.cash == pytest.approx(100_000.0 - 10_000.0 - 5.0)


@pytest.mark.parametrize(
    ("bar", "expected"),
    [
        ((100.0, 100.5, 98.5, 99.5), 99.0),  # trades through the limit: fills at the limit
        ((98.0, 98.5, 97.0, 98.0), 98.0),  # opens below the limit: fills at the open
        ((100.0, 100.5, 99.0, 99.5), 99.0),  # touches the limit exactly
        ((100.0, 100.5, 99.5, 100.0), None),  # never reaches the limit
    ],
)
def test_buy_limit_fill_rule(bar, expected):
    broker = _broker(slippage_bps=25.0)  # limits get no slippage
    broker.submit(_limit(1, OrderSide.BUY, 10, 99.0, 0), 100.0)

    fills = broker.on_bar("AAPL", 0, *bar)

    assert [f.price for f in fills] == ([] if expected is None else [expected])
    assert len(broker.pending_orders) == (1 if expected is None else 0)


@pytest.mark.parametrize(
    ("bar", "expected"),
    [
        ((100.0, 101.5, 99.5, 100.0), 101.0),
        ((102.0, 102.5, 101.5, 102.0), 102.0),
        ((100.0, 101.0, 99.5, 100.0), 101.0),
        ((100.0, 100.9, 99.5, 100.0), None),
    ],
)
def test_sell_limit_fill_rule(bar, expected):
    broker = _broker(allow_short=True)
    broker.submit(_limit(1, OrderSide.SELL, 10, 101.0, 0), 100.0)

    fills = broker.on_bar("AAPL", 0, *bar)

    assert [f.price for f in fills] == ([] if expected is None else [expected])


def test_unfilled_limit_stays_pending_until_a_later_bar_reaches_it():
    broker = _broker()
    broker.submit(_limit(1, OrderSide.BUY, 10, 99.0, 0), 100.0)

    assert broker.on_bar("AAPL", 0, 100.0, 100.5, 99.5, 100.0) == []
    assert broker.on_bar("MSFT", 0, 50.0, 50.0, 10.0, 50.0) == []  # another symbol never fills it
    fills = broker.on_bar("AAPL", MIN, 99.8, 99.9, 98.0, 98.5)

    assert [(f.price, f.filled_at_ns) for f in fills] == [(99.0, MIN)]


def test_market_buy_that_would_overdraw_cash_is_rejected_at_fill():
    # Arrange: 99 x 100 = 9,900 fits 10,000 at submission; the bar gaps up to 105
    broker = _broker(starting_cash=10_000.0, max_per_trade=20_000.0, max_per_symbol=20_000.0)
    _bar(broker, 0, 100.0)
    assert broker.submit(_market(1, OrderSide.BUY, 99, 1), 100.0) is None

    # Act
    fills = _bar(broker, 1, 105.0)

    # Assert
    assert fills == []
    (rejection,) = broker.rejections
    assert rejection.at_ns == MIN and rejection.order.id == 1
    assert rejection.reason == (
        "insufficient cash at fill: buy 99 AAPL at 105.00 needs 10,395.00 "
        "including commission 0.00, cash 10,000.00"
    )
    assert broker.cash == 10_000.0 and broker.position("AAPL") == 0 and broker.pending_orders == []


def test_a_pending_buy_is_not_sellable():
    # Arrange: a market buy is pending, nothing is held yet (issue 8: the pending buy used to
    # count as exposure, so the sell was accepted and then refused at fill without a log line)
    broker = _broker(starting_cash=10_000.0, max_per_trade=20_000.0, max_per_symbol=20_000.0)
    _bar(broker, 0, 100.0)
    assert broker.submit(_market(1, OrderSide.BUY, 50, 1), 100.0) is None

    # Act
    refused = broker.submit(_market(2, OrderSide.SELL, 50, 1), 100.0)
    _bar(broker, 1, 100.0)
    accepted = broker.submit(_market(3, OrderSide.SELL, 50, 2), 100.0)

    # Assert: refused at submission while only pending, accepted once the buy filled
    assert refused is not None and not refused.at_fill
    assert refused.reason == "no shorting: sell 50 AAPL exceeds position 0 (allow_short is false)"
    assert refused.rule == "no shorting"
    assert accepted is None
    assert [f.order_id for f in _bar(broker, 2, 100.0)] == [3]
    assert broker.position("AAPL") == 0


def test_submission_rejection_is_returned_and_recorded():
    broker = _broker(max_per_trade=1_000.0)
    order = _market(7, OrderSide.BUY, 20, 3)

    rejection = broker.submit(order, 100.0)

    assert rejection is not None and rejection.order is order and rejection.at_ns == 3 * MIN
    assert rejection.reason.startswith("max_per_trade: order notional 2,000.00 exceeds 1,000.00")
    assert broker.rejections == [rejection]
    assert broker.pending_orders == []


def test_pending_buys_reserve_cash():
    broker = _broker(starting_cash=10_000.0)
    assert broker.submit(_market(1, OrderSide.BUY, 60, 0), 100.0) is None

    rejection = broker.submit(_market(2, OrderSide.BUY, 50, 0, symbol="MSFT"), 100.0)

    assert rejection is not None
    assert rejection.reason == (
        "insufficient cash: buy 50 MSFT needs 5,000.00 including commission 0.00, "
        "available 4,000.00"
    )


def test_pending_orders_count_as_open_positions_until_cancelled():
    broker = _broker(max_open_positions=1)
    broker.submit(_market(1, OrderSide.BUY, 10, 0), 100.0)

    rejection = broker.submit(_market(2, OrderSide.BUY, 10, 0, symbol="MSFT"), 100.0)
    assert rejection is not None and rejection.reason.startswith("max_open_positions: opening MSFT")

    assert [o.id for o in broker.cancel_all("AAPL")] == [1]
    assert broker.submit(_market(3, OrderSide.BUY, 10, 0, symbol="MSFT"), 100.0) is None


def test_pending_sells_count_against_the_position():
    broker = _broker()
    _bar(broker, 0, 100.0)
    broker.submit(_market(1, OrderSide.BUY, 10, 1), 100.0)
    _bar(broker, 1, 100.0)
    assert broker.submit(_market(2, OrderSide.SELL, 10, 2), 100.0) is None

    rejection = broker.submit(_market(3, OrderSide.SELL, 1, 2), 100.0)

    assert rejection is not None
    assert rejection.reason == (
        "no shorting: sell 1 AAPL exceeds position 10 less pending sells 10 (allow_short is false)"
    )


def test_cancel_all_without_symbol_cancels_everything_in_order():
    broker = _broker()
    broker.submit(_market(1, OrderSide.BUY, 1, 0), 10.0)
    broker.submit(_market(2, OrderSide.BUY, 1, 0, symbol="MSFT"), 10.0)
    broker.submit(_market(3, OrderSide.BUY, 1, 0), 10.0)

    assert [o.id for o in broker.cancel_all()] == [1, 3, 2]
    assert broker.pending_orders == []
    assert _bar(broker, 1, 10.0) == []
    assert broker.cancel_all() == []


def test_submit_refuses_a_bad_reference_price():
    broker = _broker()
    with pytest.raises(ValueError, match=r"order 1 \(AAPL\): expected ref_price > 0, received nan"):
        broker.submit(_market(1, OrderSide.BUY, 1, 0), float("nan"))


def test_equity_and_unrealized_follow_the_last_close():
    broker = _broker()
    broker.submit(_market(1, OrderSide.BUY, 10, 0), 100.0)
    _bar(broker, 0, 100.0, c=110.0)

    assert broker.equity == pytest.approx(100_000.0 + 100.0)
    assert broker.unrealized_pnl == pytest.approx(100.0)
    assert broker.positions["AAPL"].avg_price == 100.0

    _bar(broker, 1, 110.0, c=90.0)
    assert broker.equity == pytest.approx(100_000.0 - 100.0)
