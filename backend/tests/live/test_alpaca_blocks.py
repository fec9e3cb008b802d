"""AlpacaFeed.poll_blocks against the local feed server: a frame's bars as one BarBlock, the same
bars (values, counters, dedupe) as `poll` hands over one by one (real sockets)."""

from __future__ import annotations

import time

import pytest
from app.feeds.alpaca import AlpacaFeed
from app.feeds.live_block import BarBlock
from app.store.bar import parse_interval
from live_support import KEY, SECRET, run_server

ONE_S = parse_interval("1s")
SYMBOLS = ["AAPL", "MSFT"]


@pytest.fixture(scope="module")
def server(store, tmp_path_factory):
    with run_server(store, "--interval", "1m", "--speed", "60", "--history-steps", "5",
                    log_dir=tmp_path_factory.mktemp("logs")) as srv:
        yield srv


def key(bar):
    return (bar.symbol, bar.start_ns, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.trade_count,
            bar.vwap, bar.kind, bar.origin)


def test_blocks_hold_the_same_bars_as_one_by_one_polls(server):
    # Arrange: two feeds on the same stream, one asking for blocks
    blocked = AlpacaFeed(server.ws_url, server.rest_url, KEY, SECRET, SYMBOLS, ONE_S, timeout_s=5.0)
    single = AlpacaFeed(server.ws_url, server.rest_url, KEY, SECRET, SYMBOLS, ONE_S, timeout_s=5.0)
    try:
        blocked.connect()
        single.connect()
        items, bars = [], []
        # Act: poll both for a few steps
        end = time.monotonic() + 3.5
        while (left := end - time.monotonic()) > 0:
            items += blocked.poll_blocks(min(0.2, left))
            bars += single.poll(0.001)
        bars += single.poll(0.5)
        items += blocked.poll_blocks(0.05)
    finally:
        blocked.close()
        single.close()
    # Assert: frames came as blocks; their bars are those the other feed parsed one by one
    blocks = [i for i in items if isinstance(i, BarBlock)]
    assert len(blocks) >= 2 and all(sorted(b.symbols) == SYMBOLS for b in blocks)
    expanded = [b for i in items for b in (i.bars() if isinstance(i, BarBlock) else [i])]
    common = {b.start_ns for b in expanded} & {b.start_ns for b in bars}
    assert len(common) >= 2
    assert sorted(key(b) for b in expanded if b.start_ns in common) == sorted(
        key(b) for b in bars if b.start_ns in common)
    # Counted and remembered as first deliveries: the same frame again is a duplicate
    assert blocked.stats.bars == len(expanded) and blocked.stats.duplicates_dropped == 0
    assert all(blocked._deduper.has(s, blk.start_ns) for blk in blocks for s in blk.symbols)
