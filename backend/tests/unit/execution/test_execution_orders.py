"""Order validation: quantity and limit price."""

from __future__ import annotations

import pytest

from app.execution.orders import Order, OrderSide, OrderType


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
