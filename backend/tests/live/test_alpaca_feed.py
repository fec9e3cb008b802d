"""AlpacaFeed against the local feed server: live bars, reconnect + backfill, faults (real sockets)."""

from __future__ import annotations

import logging
import time

import app.feeds.alpaca as alpaca_module
import pytest
from app.errors import ConfigError, FeedError
from app.feeds.alpaca import AlpacaFeed
from app.store.bar import parse_interval
from live_support import KEY, SECRET, run_server

S = 1_000_000_000
ONE_S = parse_interval("1s")
BASE = {"AAPL": 100.0, "MSFT": 200.0}


@pytest.fixture
def feeds():
    made = []
    yield made
    for feed in made:
        feed.close()


def new_feed(server, feeds=None, *, secret=SECRET, symbols=("AAPL", "MSFT"), **kwargs):
    feed = AlpacaFeed(server.ws_url, server.rest_url, KEY, secret, list(symbols), kwargs.pop("interval", ONE_S),
                      timeout_s=5.0, **kwargs)
    if feeds is not None:
        feeds.append(feed)
    return feed


def collect(feed, seconds):
    """Poll for `seconds`; return [(bar, malformed count when poll returned)]."""
    out, end = [], time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        out += [(b, feed.stats.malformed) for b in feed.poll(min(0.5, left))]
    return out


def truth(feed, bars):
    """REST's view of the span the stream covered, as {(symbol, start): (open, close)}."""
    lo, hi = min(b.start_ns for b in bars), max(b.start_ns for b in bars) + S
    got = feed.fetch_bars(["AAPL", "MSFT"], ONE_S, lo, hi)
    return {(s, int(t)): (o, c) for s, a in got.items() for t, o, c in zip(a.start, a.open, a.close)}


# -- a clean session ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def plain(store, tmp_path_factory):
    with run_server(store, "--interval", "1m", "--speed", "60", "--history-steps", "5",
                    log_dir=tmp_path_factory.mktemp("logs")) as srv:
        yield srv


def test_every_streamed_bar_arrives_once_in_order_and_restamped(plain, feeds):
    # Arrange
    feed = new_feed(plain, feeds)
    feed.connect()
    # Act
    bars = [b for b, _ in collect(feed, 3.5)]
    # Assert: arrival order is (start, symbol) order, one bar per key, each closed when received
    assert len(bars) >= 4
    assert [(b.start_ns, b.symbol) for b in bars] == sorted({(b.start_ns, b.symbol) for b in bars})
    assert all(b.kind == "bar" and b.start_ns % S == 0 and b.received_ns >= b.start_ns + S for b in bars)
    # stored minute m is streamed at second anchor + m: open - base - start_s is one constant
    assert len({b.open - BASE[b.symbol] - b.start_ns // S for b in bars}) == 1
    assert {(b.symbol, b.start_ns): (b.open, b.close) for b in bars} == truth(feed, bars)
    assert (feed.stats.bars, feed.stats.duplicates_dropped, feed.stats.malformed) == (len(bars), 0, 0)


def test_fetch_bars_returns_history_with_end_exclusive(plain, feeds):
    feed = new_feed(plain, feeds)
    first = feed.fetch_bars(["AAPL"], ONE_S, 0, 2**62)["AAPL"]
    start0 = int(first.start[0])
    got = feed.fetch_bars(["MSFT", "AAPL"], ONE_S, start0, start0 + 3 * S)
    assert list(got) == ["AAPL", "MSFT"]
    assert list(got["AAPL"].open) == [100.0, 101.0, 102.0]
    assert list(got["MSFT"].start - start0) == [0, S, 2 * S]


def test_close_is_idempotent_and_poll_after_close_is_empty(plain):
    feed = new_feed(plain)
    feed.connect()
    feed.close()
    feed.close()
    assert feed.poll(0.2) == []


def test_bad_credentials_fail_fast_after_one_connection(plain, monkeypatch):
    calls = []

    def counting_connect(*args, **kwargs):
        calls.append(1)
        return real_connect(*args, **kwargs)

    real_connect = alpaca_module.ws_connect
    monkeypatch.setattr(alpaca_module, "ws_connect", counting_connect)
    feed = new_feed(plain, secret="wrong-secret-xyz")
    with pytest.raises(FeedError, match=r"^feed error 402: ws://127\.0\.0\.1:\d+/v2/iex: auth failed; check the API key and secret$") as info:
        feed.connect()
    assert info.value.fatal and "wrong-secret-xyz" not in str(info.value)
    assert len(calls) == 1


def test_unknown_symbol_is_fatal_and_named(plain, feeds):
    feed = new_feed(plain, feeds, symbols=("AAPL", "ZZQQX"))
    with pytest.raises(FeedError, match=r"feed error 400: subscribe to \['AAPL', 'ZZQQX'\] refused \(invalid syntax\): unknown or badly formatted symbol"):
        feed.connect()


def test_rest_with_bad_keys_is_fatal_403(plain, feeds):
    feed = new_feed(plain, feeds, secret="nope")
    with pytest.raises(FeedError, match=r"feed error 403: REST http://127\.0\.0\.1:\d+/v2/stocks/bars answered HTTP 403: forbidden"):
        feed.fetch_bars(["AAPL"], ONE_S, 0, 10 * S)


def test_one_second_bars_from_real_alpaca_are_refused_at_connect():
    feed = AlpacaFeed("wss://stream.data.alpaca.markets/v2/iex", "https://data.alpaca.markets", "k", "s", ["AAPL"], ONE_S)
    with pytest.raises(FeedError, match=r"Alpaca has no 1-second bars .*use base interval 1m, or the local feed server"):
        feed.connect()


def test_feed_must_match_the_stream_url():
    with pytest.raises(ConfigError, match=r"feed: expected feed one of .* matching the stream URL's last segment, received feed 'sip'"):
        AlpacaFeed("ws://127.0.0.1:1/v2/iex", "http://127.0.0.1:1", "k", "s", ["AAPL"], ONE_S, feed="sip")


def test_from_env_names_the_missing_variable():
    with pytest.raises(ConfigError, match=r"APCA_SECRET: expected environment variable APCA_SECRET to hold the Alpaca credential"):
        AlpacaFeed.from_env("APCA_KEY", "APCA_SECRET", "ws://h/v2/iex", "http://h", ["AAPL"], ONE_S, environ={"APCA_KEY": "x"})


def test_reject_auth_option_answers_402(store, tmp_path):
    with run_server(store, "--interval", "1m", "--speed", "60", "--reject-auth", log_dir=tmp_path) as srv:
        feed = new_feed(srv)
        with pytest.raises(FeedError, match=r"feed error 402: .*auth failed"):
            feed.connect()


@pytest.mark.parametrize("args, interval, step_s", [
    (("--interval", "1m", "--history-steps", "3"), "1m", 60),
    (("--interval", "1d", "--history-steps", "2"), "1d", 86400),
])
def test_fetch_bars_minute_and_daily_timeframes(store, tmp_path, args, interval, step_s):
    root = store / "daily" if interval == "1d" else store
    with run_server(root, *args, log_dir=tmp_path) as srv:
        feed = new_feed(srv, interval=parse_interval(interval))
        got = feed.fetch_bars(["AAPL"], parse_interval(interval), 0, 2**62)["AAPL"]
    steps = [int(t) // S for t in got.start]
    assert len(steps) == int(args[-1]) and all(b - a == step_s for a, b in zip(steps, steps[1:]))
    assert steps[0] % step_s == 0 and got.open[0] == 100.0


# -- a session with faults ---------------------------------------------------------------------

class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines = []

    def emit(self, record):
        self.lines.append(f"{record.name} {record.getMessage()}")


@pytest.fixture(scope="module")
def faulty(store, tmp_path_factory):
    """Run one 8 s session against drop + malformed + restatements + one disconnect."""
    capture, root = _Capture(), logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        # The dropped bar is the 3rd streamed one (due 3 s after the anchor), so a client that
        # takes up to ~2 s to connect still sees its neighbours on the stream.
        with run_server(store, "--interval", "1m", "--speed", "60", "--history-steps", "2", "--drop", "AAPL:2",
                        "--malformed-after", "2", "--updated-bars", "--disconnect-after", "5.2",
                        log_dir=tmp_path_factory.mktemp("logs")) as srv:
            # backoff 2.2 s with jitter 0.5 waits >= 1.1 s: at least one bar closes while disconnected
            feed = new_feed(srv, reconnect_initial_s=2.2, reconnect_max_s=5.0)
            try:
                feed.connect()
                received = collect(feed, 8.0)
                rest = truth(feed, [b for b, _ in received])
            finally:
                feed.close()
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
    return feed, received, rest, "\n".join(capture.lines)


def test_reconnect_backfills_with_no_bar_lost_or_duplicated(faulty):
    feed, received, rest, _ = faulty
    bars = [b for b, _ in received]
    firsts = [b.key for b in bars if b.kind == "bar"]
    assert len(firsts) == len(set(firsts))
    final = {}
    for b in bars:
        final[b.key] = (b.open, b.close)
    last = max(b.start_ns for b in bars)
    dropped = dropped_key(rest)
    expected = {k: v for k, v in rest.items() if k[1] < last and k != dropped}
    assert {k: v for k, v in final.items() if k[1] < last} == expected
    assert (feed.stats.reconnects, feed.stats.backfilled_bars >= 1) == (1, True)


def dropped_key(rest):
    # --history-steps 2 --drop AAPL:2: the 3rd streamed AAPL bar is stored minute 4, open 104
    (key,) = [k for k, (o, _) in rest.items() if k[0] == "AAPL" and o == 104.0]
    return key


def test_dropped_bar_is_missing_from_the_stream_and_found_by_fetch_bars(faulty):
    _, received, rest, _ = faulty
    streamed = {b.key for b, _ in received}
    key = dropped_key(rest)
    assert key not in streamed
    assert ("AAPL", key[1] - S) in streamed and ("AAPL", key[1] + S) in streamed


def test_malformed_frame_is_counted_and_the_stream_goes_on(faulty):
    feed, received, _, log_text = faulty
    assert feed.stats.malformed == 1
    assert sum(1 for _, malformed in received if malformed == 1) >= 3
    assert 'malformed frame (expected a JSON frame, received invalid JSON' in log_text
    assert '[{"T":"b","S":"AAPL","o":1.0,' in log_text


def test_restatements_replace_bars_and_are_counted(faulty):
    feed, received, _, _ = faulty
    updated = [b for b, _ in received if b.kind == "updated"]
    originals = {b.key: b for b, _ in received if b.kind == "bar"}
    assert updated and feed.stats.updated_bars == len(updated)
    for u in updated:
        assert u.close == pytest.approx(originals[u.key].close + 0.02)


def test_credentials_never_reach_the_logs(faulty):
    _, _, _, log_text = faulty
    assert "stream disconnected" in log_text and "backfilled" in log_text
    assert KEY not in log_text and SECRET not in log_text
