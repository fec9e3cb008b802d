"""Submit, fill and cancel round trips over real sockets: REST (http.client) plus the trade_updates stream."""

from __future__ import annotations

import json

import pytest
from app.broker.server import ServerOptions
from websockets.sync.client import connect

from broker_server.harness import next_event, order_body, rest, running_server, stream_client

pytestmark = pytest.mark.threads


@pytest.fixture(scope="module")
def srv():
    with running_server(ServerOptions()) as server:
        yield server


def test_market_order_fills_at_the_next_bar_open_and_the_stream_reports_new_then_fill(srv):
    with stream_client(srv.stream_url) as ws:
        body = order_body("AAPL", "10", client_order_id="rt-1")
        status, order, headers = rest(srv.base_url, "POST", "/v2/orders", body)
        assert status == 200 and order["status"] == "new" and order["client_order_id"] == "rt-1"
        assert headers["X-Ratelimit-Limit"] == "200"
        new = next_event(ws)
        assert new["event"] == "new" and new["order"]["id"] == order["id"]
        srv.push_bar("AAPL", 101.25, 102, 100, 101.5)
        fill = next_event(ws)
    assert fill["event"] == "fill" and fill["price"] == "101.25" and fill["qty"] == "10"
    assert fill["position_qty"] == "10" and fill["order"]["filled_qty"] == "10"
    assert fill["order"]["filled_avg_price"] == "101.25" and fill["order"]["status"] == "filled"
    status, got, _ = rest(srv.base_url, "GET", f"/v2/orders/{order['id']}")
    assert status == 200 and got["status"] == "filled" and got["filled_at"] is not None
    status, same, _ = rest(srv.base_url, "GET", "/v2/orders:by_client_order_id?client_order_id=rt-1")
    assert status == 200 and same["id"] == order["id"]
    assert rest(srv.base_url, "GET", "/v2/orders%3Aby_client_order_id?client_order_id=rt-1")[1]["id"] == order["id"]
    assert rest(srv.base_url, "GET", "/v2/orders:by_client_order_id?client_order_id=nope")[0] == 404
    status, pos, _ = rest(srv.base_url, "GET", "/v2/positions/AAPL")
    assert status == 200 and pos["qty"] == "10" and pos["avg_entry_price"] == "101.25" and pos["exchange"] == "NASDAQ"


def test_limit_order_waits_until_a_bar_reaches_it_and_cancel_reports_canceled(srv):
    with stream_client(srv.stream_url) as ws:
        body = order_body("MSFT", 5, type="limit", limit_price="50", time_in_force="gtc", client_order_id="rt-2")
        status, order, _ = rest(srv.base_url, "POST", "/v2/orders", body)
        assert status == 200 and next_event(ws)["event"] == "new"
        srv.push_bar("MSFT", 60, 61, 55, 58)  # low 55 > 50: not reached
        status, open_orders, _ = rest(srv.base_url, "GET", "/v2/orders?status=open")
        assert [o["id"] for o in open_orders] == [order["id"]]
        status, body, _ = rest(srv.base_url, "DELETE", f"/v2/orders/{order['id']}")
        assert status == 204 and body is None
        canceled = next_event(ws)
    assert canceled["event"] == "canceled" and canceled["order"]["canceled_at"] is not None
    assert rest(srv.base_url, "DELETE", f"/v2/orders/{order['id']}")[0] == 422
    assert rest(srv.base_url, "GET", "/v2/orders/00000000-0000-4000-8000-000000000000")[0] == 404
    closed = rest(srv.base_url, "GET", "/v2/orders?status=closed&limit=500")[1]
    assert order["id"] in [o["id"] for o in closed]


def test_duplicate_client_order_id_answers_422_must_be_unique(srv):
    assert rest(srv.base_url, "POST", "/v2/orders", order_body("IBM", "1", client_order_id="rt-dup"))[0] == 200
    status, body, _ = rest(srv.base_url, "POST", "/v2/orders", order_body("IBM", "1", client_order_id="rt-dup"))
    assert (status, body) == (422, {"code": 40010001, "message": "client_order_id must be unique"})
    rest(srv.base_url, "DELETE", "/v2/orders")


def test_bad_keys_get_401_and_underscored_headers_403(srv):
    status, body, _ = rest(srv.base_url, "GET", "/v2/account", headers={"APCA-API-KEY-ID": "x",
                                                                         "APCA-API-SECRET-KEY": "y"})
    assert (status, body) == (401, {"code": 40110000, "message": "request is not authorized"})
    status, body, _ = rest(srv.base_url, "GET", "/v2/account", headers={"APCA_API_KEY_ID": "test-key"})
    assert (status, body) == (403, {"message": "forbidden."})


def test_stream_refuses_bad_keys_and_listen_before_auth(srv):
    with connect(srv.stream_url, open_timeout=10) as ws:
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert json.loads(ws.recv(timeout=10)) == {
            "stream": "authorization", "data": {"status": "unauthorized", "action": "listen"}}
        ws.send(json.dumps({"action": "auth", "key": "bad", "secret": "bad"}))
        assert json.loads(ws.recv(timeout=10))["data"] == {"status": "unauthorized", "action": "authenticate"}


def test_replace_answers_the_new_order_and_the_stream_sends_replaced_then_new(srv):
    with stream_client(srv.stream_url) as ws:
        body = order_body("NVDA", 4, type="limit", limit_price="10", time_in_force="gtc", client_order_id="rp-1")
        old = rest(srv.base_url, "POST", "/v2/orders", body)[1]
        assert next_event(ws)["event"] == "new"
        assert rest(srv.base_url, "PATCH", f"/v2/orders/{old['id']}", {"limit_price": "10"})[:2] == (
            403, {"code": 40310000, "message": "order parameters are not changed"})
        status, new, _ = rest(srv.base_url, "PATCH", f"/v2/orders/{old['id']}",
                              {"limit_price": "11.5", "qty": "6", "client_order_id": "rp-2"})
        assert status == 200 and new["id"] != old["id"] and new["replaces"] == old["id"]
        assert (new["limit_price"], new["qty"], new["client_order_id"], new["status"]) == ("11.5", "6", "rp-2", "new")
        replaced, fresh = next_event(ws), next_event(ws)
    assert replaced["event"] == "replaced" and replaced["order"]["id"] == old["id"]
    assert replaced["order"]["status"] == "replaced" and replaced["order"]["replaced_by"] == new["id"]
    assert fresh["event"] == "new" and fresh["order"]["id"] == new["id"]
    assert rest(srv.base_url, "PATCH", f"/v2/orders/{old['id']}", {"qty": "1"})[0] == 422
    srv.push_bar("NVDA", 11, 12, 11, 11)
    filled = rest(srv.base_url, "GET", f"/v2/orders/{new['id']}")[1]
    assert (filled["status"], filled["filled_qty"], filled["filled_avg_price"]) == ("filled", "6", "11")


def test_order_listing_filters_by_submission_time_symbol_and_side_and_orders_by_direction(srv):
    a = rest(srv.base_url, "POST", "/v2/orders", order_body("LST", 1, type="limit", limit_price="1"))[1]
    b = rest(srv.base_url, "POST", "/v2/orders", order_body("LST", 1, side="sell", type="limit", limit_price="999"))[1]
    listed = rest(srv.base_url, "GET", "/v2/orders?status=open&symbols=LST&direction=asc")[1]
    assert [o["id"] for o in listed] == [a["id"], b["id"]]
    after = rest(srv.base_url, "GET", f"/v2/orders?status=all&symbols=LST&after={a['submitted_at']}")[1]
    assert [o["id"] for o in after] == [b["id"]]
    until = rest(srv.base_url, "GET", f"/v2/orders?status=all&symbols=LST&until={b['submitted_at']}")[1]
    assert [o["id"] for o in until] == [a["id"]]
    assert [o["id"] for o in rest(srv.base_url, "GET", "/v2/orders?symbols=LST&side=sell")[1]] == [b["id"]]
    assert rest(srv.base_url, "GET", "/v2/orders?after=yesterday")[0] == 422
    assert rest(srv.base_url, "DELETE", "/v2/orders")[0] == 207


def test_frames_are_binary_json_by_default_text_on_request_and_msgpack_for_a_msgpack_client():
    import msgpack

    with running_server(ServerOptions(text_frames=True)) as text_srv, stream_client(text_srv.stream_url) as ws:
        rest(text_srv.base_url, "POST", "/v2/orders", order_body())
        assert isinstance(ws.recv(timeout=10), str)
    with running_server(ServerOptions()) as srv:
        with stream_client(srv.stream_url) as ws:
            rest(srv.base_url, "POST", "/v2/orders", order_body())
            raw = ws.recv(timeout=10)
            assert isinstance(raw, bytes) and json.loads(raw)["data"]["event"] == "new"
        with connect(srv.stream_url, open_timeout=10,
                     additional_headers={"Content-Type": "application/msgpack"}) as ws:
            ws.send(msgpack.packb({"action": "auth", "key": "test-key", "secret": "test-secret"}))
            assert msgpack.unpackb(ws.recv(timeout=10))["data"]["status"] == "authorized"
            ws.send(msgpack.packb({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            assert msgpack.unpackb(ws.recv(timeout=10))["stream"] == "listening"
            rest(srv.base_url, "POST", "/v2/orders", order_body())
            event = msgpack.unpackb(ws.recv(timeout=10))
            assert event["stream"] == "trade_updates" and event["data"]["event"] == "new"
