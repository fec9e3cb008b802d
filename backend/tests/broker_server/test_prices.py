"""Price sources: the feed bar interval inference, a store replayed by the server itself, a refusing feed."""

from __future__ import annotations

import pytest
from app.broker.server import ServerOptions
from app.broker.server.prices import BarIntervals, FeedRefusedError, feed_bar

from broker_server.harness import (
    InProcess,
    feed_process,
    next_event,
    order_body,
    rest,
    running_server,
    stream_client,
    write_store,
)

S = 1_000_000_000


@pytest.mark.unit
def test_bar_end_is_start_plus_the_smallest_gap_seen_and_the_first_bar_ends_when_it_arrives():
    intervals = BarIntervals()
    assert intervals.end_ns("A", 10 * S, 11 * S + 5) == 11 * S + 5  # no gap known yet: the arrival
    assert intervals.end_ns("A", 12 * S, 13 * S) == 14 * S  # gap 2 s
    assert intervals.end_ns("B", 20 * S, 21 * S) == 22 * S  # B has no gap yet, but the feed's is known
    assert intervals.end_ns("A", 13 * S, 14 * S) == 14 * S  # gap 1 s now
    assert BarIntervals(60 * S).end_ns("A", 0, 5) == 60 * S


@pytest.mark.unit
def test_feed_messages_other_than_bars_are_ignored_and_bars_become_decimal_bars():
    intervals = BarIntervals(S)
    assert feed_bar({"T": "success", "msg": "authenticated"}, intervals, 0) is None
    bar = feed_bar({"T": "b", "S": "AAPL", "o": 100.1, "h": 101, "l": 99.5, "c": 100.7, "v": 10,
                    "t": "2024-03-01T14:30:00Z"}, intervals, 0)
    assert bar is not None and (bar.symbol, str(bar.open), str(bar.low), bar.end_ns - bar.start_ns) == (
        "AAPL", "100.1", "99.5", S)


@pytest.mark.threads
def test_a_store_replayed_by_the_server_fills_market_orders_at_a_stored_open(tmp_path):
    store = write_store(tmp_path / "store", minutes=30)
    with running_server(ServerOptions(store=store, speed=60)) as srv, stream_client(srv.stream_url) as ws:
        assert rest(srv.base_url, "POST", "/v2/orders", order_body("AAPL", 1))[0] == 200
        assert next_event(ws)["event"] == "new"
        fill = next_event(ws, timeout=20)
    assert fill["event"] == "fill" and float(fill["price"]) in {100.0 + k for k in range(30)}


@pytest.mark.threads
def test_a_feed_that_refuses_the_credentials_stops_the_server_with_the_reason(tmp_path):
    store = write_store(tmp_path / "store", minutes=5)
    with feed_process(store, "--reject-auth", log_dir=tmp_path) as port:
        srv = InProcess(ServerOptions(feed_url=f"ws://127.0.0.1:{port}/v2/iex"))
        srv.start()
        assert srv.thread is not None
        srv.thread.join(20)
        assert not srv.thread.is_alive()
        srv.stop()
    assert srv.server is not None and isinstance(srv.server.failure, FeedRefusedError)
    assert "refused the credentials" in str(srv.server.failure)
