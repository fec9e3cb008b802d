"""PendingBook: pending quantities per side, reserves, cancel, take, day expiry."""

from __future__ import annotations

from app.execution.book import PendingBook
from app.execution.orders import Order, OrderSide, OrderType, TimeInForce

MIN = 60_000_000_000


def _order(oid, side=OrderSide.BUY, qty=10, symbol="AAPL", minute=0, tif=TimeInForce.DAY):
    return Order(oid, symbol, side, qty, OrderType.LIMIT, 100.0, minute * MIN, tif)


def test_quantities_reserves_and_orders_follow_adds_and_cancels():
    # Arrange
    book = PendingBook()
    book.add(_order(1), 1_000.0)
    book.add(_order(2, OrderSide.SELL, 4), 0.0)
    book.add(_order(3, symbol="MSFT"), 500.0)

    # Act / Assert
    assert book.quantities("AAPL") == (10, 4) and book.quantities("SPY") == (0, 0)
    assert book.reserved == 1_500.0
    assert [o.id for o in book.orders()] == [1, 2, 3] and [o.id for o in book.orders("MSFT")] == [3]
    assert 2 in book and 9 not in book
    assert book.cancel(1).id == 1 and book.cancel(1) is None and book.cancel(9) is None
    assert book.quantities("AAPL") == (0, 4) and book.reserved == 500.0
    assert [o.id for o in book.cancel_all("AAPL")] == [2] and "AAPL" not in book.by_symbol
    assert [o.id for o in book.cancel_all()] == [3] and book.orders() == [] and book.by_symbol == {}


def test_take_removes_the_triggered_orders_in_submission_order():
    book = PendingBook()
    for oid in (1, 2, 3):
        book.add(_order(oid, qty=oid), 0.0)

    taken = book.take("AAPL", lambda order: 99.0 if order.id != 2 else None)

    assert [(o.id, price) for o, price in taken] == [(1, 99.0), (3, 99.0)]
    assert [o.id for o in book.orders()] == [2] and book.quantities("AAPL") == (2, 0)
    assert book.take("AAPL", lambda order: None) == [] and book.quantities("AAPL") == (2, 0)


def test_day_orders_placed_before_the_close_expire_gtc_and_later_ones_stay():
    book = PendingBook()
    book.add(_order(1, minute=10), 0.0)
    book.add(_order(2, minute=10, tif=TimeInForce.GTC), 0.0)
    book.add(_order(3, minute=390, symbol="MSFT"), 0.0)  # placed at the close: for the next session

    expired = book.expire_day(390 * MIN)

    assert [o.id for o in expired] == [1]
    assert [o.id for o in book.orders()] == [2, 3]
    assert [o.id for o in book.expire_day(2 * 390 * MIN)] == [3]
