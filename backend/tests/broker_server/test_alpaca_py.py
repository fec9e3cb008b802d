"""Conformance oracle: the official alpaca-py client drives the local trading server (ALPACA_TRADING.md section 7).

alpaca-py parses every answer with its pydantic models; any validation error is a server bug.
"""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import pytest
from app.broker.server import ServerOptions

from broker_server.harness import KEY, SECRET, running_server

pytestmark = pytest.mark.threads

trading = pytest.importorskip("alpaca.trading.client")
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce  # noqa: E402
from alpaca.trading.requests import GetOrdersRequest, LimitOrderRequest, MarketOrderRequest  # noqa: E402


def test_alpaca_py_trading_client_submits_reads_cancels_and_closes():
    options = ServerOptions(positions=(("TSLA", Decimal(3), Decimal(200)),))
    with running_server(options) as srv:
        client = trading.TradingClient(KEY, SECRET, paper=True, url_override=srv.base_url)
        assert client.get_account().status == "ACTIVE"
        assert client.get_clock().is_open is True
        order = client.submit_order(MarketOrderRequest(symbol="AAPL", qty=4, side=OrderSide.BUY,
                                                       time_in_force=TimeInForce.DAY, client_order_id="py-1"))
        assert order.status == OrderStatus.NEW and order.client_order_id == "py-1"
        assert client.get_order_by_client_id("py-1").id == order.id
        srv.push_bar("AAPL", 120.5)
        filled = client.get_order_by_id(order.id)
        assert filled.status == OrderStatus.FILLED and float(filled.filled_avg_price) == 120.5
        limit = client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, limit_price=1.5,
                                                      time_in_force=TimeInForce.GTC))
        client.cancel_order_by_id(limit.id)
        assert client.get_order_by_id(limit.id).status == OrderStatus.CANCELED
        client.submit_order(LimitOrderRequest(symbol="AAPL", qty=1, side=OrderSide.BUY, limit_price=1.5,
                                              time_in_force=TimeInForce.GTC))
        assert [r.status for r in client.cancel_orders()] == [200]
        every = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500))
        assert len(every) == 3
        assert {p.symbol: p.qty for p in client.get_all_positions()} == {"AAPL": "4", "TSLA": "3"}
        assert client.get_open_position("TSLA").avg_entry_price == "200"
        closed = client.close_all_positions(cancel_orders=True)
        assert sorted(r.symbol for r in closed) == ["AAPL", "TSLA"]
        srv.push_bar("AAPL", 121)
        srv.push_bar("TSLA", 210)
        assert client.get_all_positions() == []


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # alpaca-py's stream uses websockets.legacy
def test_alpaca_py_trading_stream_receives_new_and_fill():
    from alpaca.trading.stream import TradingStream

    with running_server(ServerOptions()) as srv:
        stream = TradingStream(KEY, SECRET, paper=True, url_override=srv.stream_url)
        updates = []

        async def on_update(update) -> None:
            updates.append(update)
            if update.event == "fill":
                await stream.stop_ws()

        stream.subscribe_trade_updates(on_update)
        errors: list[BaseException] = []

        def run() -> None:
            try:
                asyncio.run(asyncio.wait_for(stream._run_forever(), 30))
            except BaseException as e:  # noqa: BLE001 - checked below
                errors.append(e)

        thread = threading.Thread(target=run, name="alpaca-py-stream")
        thread.start()
        deadline = time.monotonic() + 20
        while srv.call(lambda: srv.server.hub.listeners) == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        client = trading.TradingClient(KEY, SECRET, paper=True, url_override=srv.base_url)
        order = client.submit_order(MarketOrderRequest(symbol="MSFT", qty=2, side=OrderSide.SELL,
                                                       time_in_force=TimeInForce.DAY))
        srv.push_bar("MSFT", 300.25)
        thread.join(40)
        assert not thread.is_alive() and not errors, errors
    assert [u.event for u in updates] == ["new", "fill"]
    fill = updates[-1]
    assert fill.order.id == order.id and fill.price == 300.25 and fill.qty == 2 and fill.position_qty == -2
