"""Each fault of the local trading server, over real sockets on 127.0.0.1 (server in a thread)."""

from __future__ import annotations

import http.client
import json
import socket
from decimal import Decimal

import pytest
from app.broker.server import Faults, ServerOptions
from websockets.exceptions import ConnectionClosedError, ConnectionClosedOK, InvalidStatus
from websockets.sync.client import connect

from broker_server.harness import next_event, order_body, rest, running_server, stream_client

pytestmark = pytest.mark.threads


def _submit(srv, **kw):
    status, order, _ = rest(srv.base_url, "POST", "/v2/orders", order_body(**kw))
    assert status == 200, order
    return order


def test_reject_every_second_order_answers_accepted_then_a_rejected_event():
    with running_server(ServerOptions(faults=Faults(reject_every=2))) as srv, stream_client(srv.stream_url) as ws:
        first = _submit(srv, client_order_id="a")
        assert next_event(ws)["event"] == "new"
        second = _submit(srv, client_order_id="b")
        assert second["status"] == "accepted"
        rejected = next_event(ws)
        assert rejected["event"] == "rejected" and rejected["order"]["id"] == second["id"]
        assert rejected["order"]["failed_at"] is not None
        assert rest(srv.base_url, "GET", f"/v2/orders/{second['id']}")[1]["status"] == "rejected"
        assert rest(srv.base_url, "GET", f"/v2/orders/{first['id']}")[1]["status"] == "new"


def test_reject_symbols_over_rest_answers_403_and_creates_nothing():
    faults = Faults(reject_symbols=frozenset({"BAD"}), reject_mode="rest")
    with running_server(ServerOptions(faults=faults)) as srv:
        status, body, _ = rest(srv.base_url, "POST", "/v2/orders", order_body("BAD", client_order_id="x"))
        assert (status, body) == (403, {"code": 40310000, "message": "insufficient buying power"})
        assert rest(srv.base_url, "GET", "/v2/orders:by_client_order_id?client_order_id=x")[0] == 404
        assert _submit(srv, symbol="GOOD")["status"] == "new"


def test_fill_delay_applies_the_fill_later_and_a_cancel_before_it_wins():
    with running_server(ServerOptions(faults=Faults(fill_delay_s=0.4))) as srv, stream_client(srv.stream_url) as ws:
        _submit(srv, symbol="AAPL")
        new = next_event(ws)
        srv.push_bar("AAPL", 100)
        fill = next_event(ws)
        assert fill["event"] == "fill" and fill["price"] == "100"
        assert _ns(fill["timestamp"]) - _ns(new["timestamp"]) >= 400_000_000
    with running_server(ServerOptions(faults=Faults(fill_delay_s=60))) as srv, stream_client(srv.stream_url) as ws:
        order = _submit(srv, symbol="AAPL")
        assert next_event(ws)["event"] == "new"
        srv.push_bar("AAPL", 100)
        assert rest(srv.base_url, "DELETE", f"/v2/orders/{order['id']}")[0] == 204
        assert next_event(ws)["event"] == "canceled"
        srv.push_bar("AAPL", 101)
        assert rest(srv.base_url, "GET", "/v2/positions")[1] == []
        assert rest(srv.base_url, "GET", f"/v2/orders/{order['id']}")[1]["filled_qty"] == "0"


def test_partial_fills_split_an_order_into_parts_one_per_bar_that_sum_to_its_qty():
    with running_server(ServerOptions(faults=Faults(partial_fills=3))) as srv, stream_client(srv.stream_url) as ws:
        order = _submit(srv, symbol="AAPL", qty=10)
        assert next_event(ws)["event"] == "new"
        events = []
        for price in (100, 101, 102):
            srv.push_bar("AAPL", price)
            events.append(next_event(ws))
    assert [e["event"] for e in events] == ["partial_fill", "partial_fill", "fill"]
    assert [e["qty"] for e in events] == ["3", "3", "4"] and [e["price"] for e in events] == ["100", "101", "102"]
    assert [e["order"]["filled_qty"] for e in events] == ["3", "6", "10"]
    assert [e["position_qty"] for e in events] == ["3", "6", "10"]
    assert len({e["execution_id"] for e in events}) == 3
    assert Decimal(events[-1]["order"]["filled_avg_price"]) == Decimal(3 * 100 + 3 * 101 + 4 * 102) / 10
    assert events[-1]["order"]["id"] == order["id"]


def test_stream_drop_abrupt_after_n_events_loses_the_gap_and_rest_has_the_truth():
    faults = Faults(drop_stream_after=2, drop_mode="abrupt")
    with running_server(ServerOptions(faults=faults)) as srv:
        with stream_client(srv.stream_url) as ws:
            order = _submit(srv, symbol="AAPL")
            assert next_event(ws)["event"] == "new"
            srv.push_bar("AAPL", 100)
            assert next_event(ws)["event"] == "fill"  # the 2nd event, then the drop
            with pytest.raises(ConnectionClosedError) as info:
                ws.recv(timeout=10)
            assert info.value.rcvd is None  # no close frame: 1006 to the client
        second = _submit(srv, symbol="AAPL")  # its `new` is lost: nobody listens
        with stream_client(srv.stream_url) as ws:
            srv.push_bar("AAPL", 101)
            fill = next_event(ws)  # no replay: the first event after reconnecting is the fill
            assert fill["event"] == "fill" and fill["order"]["id"] == second["id"]
        assert rest(srv.base_url, "GET", f"/v2/orders/{order['id']}")[1]["status"] == "filled"


def test_stream_drop_clean_sends_a_close_frame_and_slot_busy_refuses_upgrades_with_429():
    faults = Faults(drop_stream_after=1, drop_mode="clean", slot_busy_s=60)
    with running_server(ServerOptions(faults=faults)) as srv:
        with stream_client(srv.stream_url) as ws:
            _submit(srv)
            assert next_event(ws)["event"] == "new"
            with pytest.raises(ConnectionClosedOK) as info:
                ws.recv(timeout=10)
            assert info.value.rcvd is not None and info.value.rcvd.code == 1000
        with pytest.raises(InvalidStatus) as refused:
            connect(srv.stream_url, open_timeout=10)
        assert refused.value.response.status_code == 429


def test_stream_drop_mute_keeps_the_socket_open_but_sends_nothing_more():
    with running_server(ServerOptions()) as srv:
        with stream_client(srv.stream_url) as muted:
            assert rest(srv.base_url, "POST", "/_control/drop_stream", {"mode": "mute"})[0] == 200
            with stream_client(srv.stream_url) as fresh:
                _submit(srv)
                assert next_event(fresh)["event"] == "new"
            muted.ping().wait(10)  # still alive: answers pings
            with pytest.raises(TimeoutError):
                muted.recv(timeout=0.3)


def test_rate_limit_answers_429_with_retry_after_and_zero_remaining():
    with running_server(ServerOptions(faults=Faults(rate_limit=3))) as srv:
        remaining = [rest(srv.base_url, "GET", "/v2/clock")[2]["X-Ratelimit-Remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        status, body, headers = rest(srv.base_url, "GET", "/v2/account")
        assert (status, body["code"]) == (429, 42910000)
        assert headers["X-Ratelimit-Remaining"] == "0" and 1 <= int(headers["Retry-After"]) <= 60
        assert int(headers["X-Ratelimit-Reset"]) >= 1


@pytest.mark.parametrize("mode", ["drop", "504", "stall"])
def test_ghost_submit_creates_the_order_the_retry_gets_422_and_the_lookup_finds_it(mode):
    faults = Faults(ghost_submits=frozenset({1}), ghost_mode=mode, ghost_stall_s=30)
    with running_server(ServerOptions(faults=faults)) as srv:
        body = order_body("AAPL", client_order_id="ghost-1")
        if mode == "504":
            assert rest(srv.base_url, "POST", "/v2/orders", body)[0] == 504
        else:
            expected = http.client.RemoteDisconnected if mode == "drop" else socket.timeout
            with pytest.raises(expected):
                rest(srv.base_url, "POST", "/v2/orders", body, timeout=0.5 if mode == "stall" else 10)
        status, answer, _ = rest(srv.base_url, "POST", "/v2/orders", body)
        assert (status, answer["message"]) == (422, "client_order_id must be unique")
        status, found, _ = rest(srv.base_url, "GET", "/v2/orders:by_client_order_id?client_order_id=ghost-1")
        assert status == 200 and found["status"] == "new"
        assert len(rest(srv.base_url, "GET", "/v2/orders?status=all")[1]) == 1


def test_dup_events_resends_new_and_fill_with_the_same_execution_id():
    with running_server(ServerOptions(faults=Faults(dup_events=True))) as srv, stream_client(srv.stream_url) as ws:
        _submit(srv)
        a, b = next_event(ws), next_event(ws)
        srv.push_bar("AAPL", 100)
        c, d = next_event(ws), next_event(ws)
    assert (a, c) == (b, d) and a["event"] == "new" and c["event"] == "fill"


def test_cancel_race_answers_204_then_order_cancel_rejected_and_the_order_still_fills():
    with running_server(ServerOptions(faults=Faults(cancel_race=True))) as srv, stream_client(srv.stream_url) as ws:
        order = _submit(srv)
        assert next_event(ws)["event"] == "new"
        assert rest(srv.base_url, "DELETE", f"/v2/orders/{order['id']}")[0] == 204
        refused = next_event(ws)
        assert refused["event"] == "order_cancel_rejected" and refused["order"]["status"] == "new"
        srv.push_bar("AAPL", 100)
        assert next_event(ws)["event"] == "fill"
        assert rest(srv.base_url, "DELETE", f"/v2/orders/{order['id']}")[0] == 422


def test_seeded_position_is_reported_and_counts_in_equity():
    options = ServerOptions(cash=Decimal(1000), positions=(("TSLA", Decimal(5), Decimal(200)),))
    with running_server(options) as srv:
        [pos] = rest(srv.base_url, "GET", "/v2/positions")[1]
        assert (pos["symbol"], pos["qty"], pos["avg_entry_price"], pos["side"]) == ("TSLA", "5", "200", "long")
        account = rest(srv.base_url, "GET", "/v2/account")[1]
        assert (account["cash"], account["equity"]) == ("1000", "2000")
        _submit(srv, symbol="TSLA", qty=2, side="sell", type="limit", limit_price="999")
        assert rest(srv.base_url, "GET", "/v2/positions/TSLA")[1]["qty_available"] == "3"


def test_market_closed_holds_orders_accepted_until_it_opens():
    with running_server(ServerOptions(market_closed=True)) as srv, stream_client(srv.stream_url) as ws:
        assert rest(srv.base_url, "GET", "/v2/clock")[1]["is_open"] is False
        order = _submit(srv)
        assert order["status"] == "accepted"
        srv.push_bar("AAPL", 100)
        assert rest(srv.base_url, "GET", f"/v2/orders/{order['id']}")[1]["status"] == "accepted"
        assert rest(srv.base_url, "POST", "/_control/market", {"open": True})[0] == 200
        assert next_event(ws)["event"] == "new"
        srv.push_bar("AAPL", 101)
        assert next_event(ws)["price"] == "101"


def test_end_of_day_expires_day_orders_and_keeps_gtc():
    with running_server(ServerOptions()) as srv, stream_client(srv.stream_url) as ws:
        day = _submit(srv, type="limit", limit_price="1")
        gtc = _submit(srv, type="limit", limit_price="1", time_in_force="gtc")
        assert [next_event(ws)["event"] for _ in range(2)] == ["new", "new"]
        assert rest(srv.base_url, "POST", "/_control/end_of_day", {})[0] == 200
        expired = next_event(ws)
        assert expired["event"] == "expired" and expired["order"]["id"] == day["id"]
        assert rest(srv.base_url, "GET", f"/v2/orders/{gtc['id']}")[1]["status"] == "new"


def test_restart_in_process_keeps_orders_positions_and_cash_on_the_same_port(tmp_path):
    with running_server(ServerOptions(state_file=tmp_path / "state.json")) as srv:
        first = _submit(srv, client_order_id="before")
        srv.push_bar("AAPL", 100)
        port = srv.server.port
        srv.restart()
        assert srv.server.port == port
        assert rest(srv.base_url, "GET", f"/v2/orders/{first['id']}")[1]["status"] == "filled"
        assert rest(srv.base_url, "GET", "/v2/positions/AAPL")[1]["qty"] == "10"
        assert rest(srv.base_url, "GET", "/v2/account")[1]["cash"] == "99000"
        second = _submit(srv, client_order_id="after")
        assert second["id"] != first["id"]
        assert rest(srv.base_url, "POST", "/v2/orders", order_body(client_order_id="before"))[0] == 422
    saved = json.loads((tmp_path / "state.json").read_text())
    assert [o["client_order_id"] for o in saved["orders"]] == ["before", "after"]


def _ns(text: str) -> int:
    from app.feeds.live import parse_rfc3339_ns
    return parse_rfc3339_ns(text)
