"""AlpacaBroker's decisions before and after sending, against a scripted client (no sockets)."""

from __future__ import annotations

import queue

import pytest
from app.execution.alpaca_broker import AlpacaBroker
from app.execution.alpaca_trading import BrokerError, BrokerRejectedError
from app.execution.orders import Order, OrderSide, OrderType
from app.execution.risk import Limits

pytestmark = pytest.mark.unit

LIMITS = Limits(100_000.0, 20_000.0, 20_000.0, 2)


class ScriptedClient:
    """Answers the broker's calls from a script; records every body sent."""

    def __init__(self, submit=None, lookup=None):
        self.sent: list[dict] = []
        self._submit = submit or (lambda body: {"id": "b-" + body["client_order_id"], "status": "new",
                                                "client_order_id": body["client_order_id"], "filled_qty": "0"})
        self._lookup = lookup or (lambda cid: None)
        self.adopted = self.requests = self.retries = 0

    def submit(self, body):
        self.sent.append(body)
        return self._submit(body)

    def order_by_client_id(self, cid):
        return self._lookup(cid)

    def order(self, broker_id):
        return None

    def orders(self, status="open", after=None):
        return []

    def positions(self):
        return []


def make(client, *, market_open=True, extended=False):
    broker = AlpacaBroker(LIMITS, client, "run", queue.SimpleQueue(), now_ns=lambda: 10**18,
                          format_ns=lambda ns: "T", market_open=lambda ns: market_open, extended_hours=extended)
    broker.mark(("AAPL", 0, 100.0, 101.0, 99.0, 100.0, 1.0))
    return broker


def test_risk_limits_refuse_an_order_before_anything_is_sent():
    client = ScriptedClient()
    broker = make(client)
    rejection = broker.submit(Order(1, "AAPL", OrderSide.BUY, 500), 100.0)  # 50,000 > max_per_trade
    assert rejection is not None and rejection.rule == "max_per_trade"
    assert client.sent == []


def test_outside_the_session_orders_are_refused_unless_extended_hours_and_limit():
    closed = ScriptedClient()
    assert make(closed, market_open=False).submit(Order(1, "AAPL", OrderSide.BUY, 1), 100.0).rule == "market closed"
    extended = ScriptedClient()
    broker = make(extended, market_open=False, extended=True)
    assert broker.submit(Order(1, "AAPL", OrderSide.BUY, 1), 100.0).rule == "extended hours"
    assert broker.submit(Order(2, "AAPL", OrderSide.BUY, 1, OrderType.LIMIT, 99.5), 100.0) is None
    assert extended.sent == [{"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit", "time_in_force": "day",
                              "client_order_id": "run-000001", "limit_price": "99.50", "extended_hours": True}]


def test_a_broker_refusal_is_a_rejection_and_frees_the_order():
    def refuse(body):
        raise BrokerRejectedError("HTTP 403 insufficient buying power", status=403)

    broker = make(ScriptedClient(submit=refuse))
    rejection = broker.submit(Order(1, "AAPL", OrderSide.BUY, 10), 100.0)
    assert rejection.reason == "broker: HTTP 403 insufficient buying power" and rejection.rule == "broker"
    assert broker.open_orders() == [] and broker.stats.rejected_by_broker == 1


def test_an_unanswered_submit_stays_open_until_a_reconcile_finds_the_broker_never_had_it():
    def silent(body):
        raise BrokerError("submit run-000001: no answer after 3 attempts (TimeoutError)")

    broker = make(ScriptedClient(submit=silent))
    assert broker.submit(Order(1, "AAPL", OrderSide.BUY, 10), 100.0) is None
    assert [o.id for o in broker.open_orders()] == [1]  # unknown: still counted against the limits
    broker.reconcile()
    assert broker.open_orders() == []
    assert broker.rejections[-1].reason.startswith("broker: no such order at the broker")


def test_events_repeated_or_for_other_orders_change_nothing():
    broker = make(ScriptedClient())
    broker.submit(Order(1, "AAPL", OrderSide.BUY, 10), 100.0)
    fill = {"event": "fill", "execution_id": "x1", "price": "100.5", "qty": "10", "timestamp": "2024-01-02T00:00:01Z",
            "order": {"id": "b-run-000001", "client_order_id": "run-000001", "status": "filled", "filled_qty": "10",
                      "filled_avg_price": "100.5"}}
    other = {**fill, "order": {**fill["order"], "client_order_id": "someone-else"}}
    for item in (fill, fill, other):
        broker.inbox.put(("event", item))
    broker.sync(poll=False)
    assert [(f.quantity, f.price) for f in broker.fills] == [(10, 100.5)]
    assert broker.position("AAPL") == 10 and broker.cash == pytest.approx(100_000 - 1005)
    assert (broker.stats.duplicate_events, broker.stats.other_orders_events) == (1, 1)


def test_a_reconnect_of_either_stream_triggers_a_reconcile():
    feed = {"reconnects": 0}
    broker = AlpacaBroker(LIMITS, ScriptedClient(), "run", queue.SimpleQueue(), now_ns=lambda: 0,
                          format_ns=lambda ns: "T", market_open=lambda ns: True, poll_s=3600,
                          feed_reconnects=lambda: feed["reconnects"])
    bar = ("AAPL", 0, 100.0, 101.0, 99.0, 100.0, 1.0)
    broker.mark(bar)
    assert broker.stats.reconciles == 0
    broker.inbox.put(("connected", 1))  # trade_updates (re)connected
    broker.mark(bar)
    assert broker.stats.reconciles == 1
    feed["reconnects"] += 1  # the market-data stream reconnected
    broker.mark(bar)
    assert broker.stats.reconciles == 2
    broker.inbox.put(("connected", 2))
    broker.sync(poll=False)  # a drain inside a strategy callback: the reconcile waits for the next bar
    assert broker.stats.reconciles == 2
    broker.mark(bar)
    assert broker.stats.reconciles == 3
