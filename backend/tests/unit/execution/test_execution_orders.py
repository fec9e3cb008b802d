"""Order validation (quantity, limit price), time in force, whole shares, descriptions."""

from __future__ import annotations

import numpy as np
import pytest

from app.execution.orders import Order, OrderSide, OrderType, describe_order, whole_shares


def test_market_order_defaults_and_signed_quantity():
    buy = Order(1, "AAPL", OrderSide.BUY, 10)
    sell = Order(2, "AAPL", OrderSide.SELL, 7, placed_at_ns=5)

    assert buy.type is OrderType.MARKET and buy.limit_price is None and buy.placed_at_ns == 0
    assert buy.signed_quantity == 10
    assert sell.signed_quantity == -7


@pytest.mark.parametrize("quantity", [0, -5, 1.5, True])
def test_quantity_must_be_a_positive_int(quantity):
    message = r"order 3 \(AAPL\): expected quantity to be an int > 0, received"
    with pytest.raises(ValueError, match=message):
        Order(3, "AAPL", OrderSide.BUY, quantity)


@pytest.mark.parametrize("price", [None, 0.0, -1.0, float("nan")])
def test_limit_order_needs_a_positive_limit_price(price):
    message = r"order 4 \(MSFT\): expected limit_price > 0 for a LIMIT order, received"
    with pytest.raises(ValueError, match=message):
        Order(4, "MSFT", OrderSide.SELL, 1, OrderType.LIMIT, price)


def test_market_order_refuses_a_limit_price():
    message = r"expected limit_price None for a MARKET order, received 10.0"
    with pytest.raises(ValueError, match=message):
        Order(5, "MSFT", OrderSide.BUY, 1, OrderType.MARKET, 10.0)


def test_default_time_in_force_is_day_and_the_rule_of_a_rejection_drops_at_fill():
    from app.execution.orders import Rejection, TimeInForce

    order = Order(6, "AAPL", OrderSide.BUY, 1)

    assert order.tif is TimeInForce.DAY and TimeInForce("gtc") is TimeInForce.GTC
    assert Rejection(order, "max_per_trade: order notional 1.00 exceeds 0.50", 0).rule == "max_per_trade"
    assert Rejection(order, "insufficient cash at fill: buy 1 AAPL", 0, at_fill=True).rule == "insufficient cash"


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [(10, 10), (np.int64(3), 3), (10.0, 10), (np.float64(4.0), 4), (2.5, None), (0.999, None), (0, None),
     (-3, None), (-2.0, None), (float("nan"), None), (float("inf"), None), (True, None), ("10", None), (None, None)],
)
def test_whole_shares_accepts_whole_numbers_only(quantity, expected):
    assert whole_shares(quantity) == expected


def test_describe_order():
    from app.execution.orders import TimeInForce

    assert describe_order(Order(1, "AAPL", OrderSide.BUY, 1_000, OrderType.LIMIT, 99.5)) == (
        "buy 1,000 AAPL limit 99.50 day")
    assert describe_order(Order(2, "MSFT", OrderSide.SELL, 5, tif=TimeInForce.GTC)) == "sell 5 MSFT market gtc"
