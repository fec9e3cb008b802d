"""Order validation answers (Alpaca's codes) and wire shapes (every event kind parses with alpaca-py's models)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from app.broker.server.book import Book
from app.broker.server.orders import ApiError, Bar, OrderRequest, parse_order_request
from app.broker.server.wire import event_json, order_json, rfc3339

pytestmark = pytest.mark.unit

models = pytest.importorskip("alpaca.trading.models")

GOOD = {"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "limit_price": "150",
        "time_in_force": "day"}


@pytest.mark.parametrize(("change", "status", "code", "words"), [
    ({"limit_price": "290.123"}, 422, 42210000, "sub-penny increment"),
    ({"notional": "100"}, 400, 40010001, "mutually exclusive"),
    ({"type": "stop"}, 422, 40010001, "order type 'stop' is not supported"),
    ({"symbol": ""}, 422, 40010001, "symbol is required"),
    ({"qty": "abc"}, 422, 40010001, "invalid qty"),
    ({"qty": 0}, 422, 40010001, "qty must be > 0"),
    ({"side": "short"}, 422, 40010001, "invalid side"),
    ({"time_in_force": "ioc"}, 422, 40010001, "time_in_force 'ioc'"),
    ({"client_order_id": "x" * 129}, 422, 40010001, "no more than 128 characters"),
    ({"type": "market"}, 422, 40010001, "limit_price must not be set for a market order"),
])
def test_invalid_order_bodies_get_alpacas_status_and_code(change, status, code, words):
    with pytest.raises(ApiError) as info:
        parse_order_request({**GOOD, **change})
    assert (info.value.status, info.value.code) == (status, code) and words in info.value.message


def test_qty_and_prices_are_accepted_as_strings_or_numbers_and_sub_dollar_prices_take_four_decimals():
    req = parse_order_request({**GOOD, "qty": 2.5, "limit_price": 150.25})
    assert (req.qty, req.limit_price) == (Decimal("2.5"), Decimal("150.25"))
    assert parse_order_request({**GOOD, "limit_price": "0.1234"}).limit_price == Decimal("0.1234")


def test_every_event_kind_parses_as_an_alpaca_py_trade_update():
    book = Book(partial_fills=2)
    seen = []
    _, evs = book.submit(OrderRequest("AAPL", Decimal(4), "buy", "market", "day"), 1)
    seen += evs
    seen += book.on_bar(Bar("AAPL", 1, 2, *(Decimal(100),) * 4), 2)
    seen += book.on_bar(Bar("AAPL", 2, 3, *(Decimal(101),) * 4), 3)
    _, evs = book.submit(OrderRequest("AAPL", Decimal(1), "sell", "limit", "gtc", Decimal(500)), 4)
    seen += evs
    seen += book.replace(evs[0].order.id, {"limit_price": Decimal(501)}, 5)[1]
    seen += book.cancel_all(6)[1]
    seen += book.submit(OrderRequest("AAPL", Decimal(1), "sell", "limit", "day", Decimal(500)), 7)[1]
    seen += book.expire_day_orders(8)
    seen += book.submit(OrderRequest("AAPL", Decimal(1), "sell", "market", "day"), 9, reject="fault")[1]
    kinds = [e.event for e in seen]
    assert kinds == ["new", "partial_fill", "fill", "new", "replaced", "new", "canceled", "new", "expired", "rejected"]
    for event in seen:
        update = models.TradeUpdate(**event_json(event, book.seed)["data"])
        assert str(update.order.id) == event.order.id and update.event == event.event
    fill = models.TradeUpdate(**event_json(seen[2], book.seed)["data"])
    assert (fill.qty, fill.price, fill.position_qty) == (2, 101, 4)
    assert models.Order(**order_json(seen[2].order, book.seed)).filled_avg_price == "100.5"


def test_times_are_rfc3339_utc_with_nine_fractional_digits():
    assert rfc3339(1_700_000_000_123_456_789) == "2023-11-14T22:13:20.123456789Z"
    assert rfc3339(1_700_000_000_000_000_000) == "2023-11-14T22:13:20.000000000Z"
