"""The official alpaca-py client reads our local server's REST bars like Alpaca's (conformance oracle).

alpaca-py (a test-only dependency) parses the historical bars endpoint with its own models and
pagination: it must get exactly the bars our adapter gets, with the same values. Its stream
client speaks msgpack (binary frames, Timestamp ext for ``t``): it must receive our bars as
``Bar`` objects.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from app.feeds.alpaca import AlpacaFeed
from app.store.bar import parse_interval
from live_support import KEY, MSFT_MISSING_MINUTE, N_MINUTES, SECRET, run_server, stored_open

alpaca_historical = pytest.importorskip("alpaca.data.historical")
from alpaca.data.enums import DataFeed  # noqa: E402
from alpaca.data.requests import StockBarsRequest  # noqa: E402
from alpaca.data.timeframe import TimeFrame  # noqa: E402


def test_alpaca_py_pages_through_the_same_bars_our_adapter_fetches(store, tmp_path):
    with run_server(store, "--interval", "1m", "--history-steps", str(N_MINUTES), log_dir=tmp_path) as server:
        end = datetime.now(UTC)
        start = end - timedelta(hours=2)
        client = alpaca_historical.StockHistoricalDataClient(KEY, SECRET, url_override=server.rest_url)
        barset = client.get_stock_bars(StockBarsRequest(
            symbol_or_symbols=["AAPL", "MSFT"], timeframe=TimeFrame.Minute, start=start, end=end, feed=DataFeed.IEX))
        feed = AlpacaFeed(server.ws_url, server.rest_url, KEY, SECRET, ["AAPL", "MSFT"], parse_interval("1m"))
        ours = feed.fetch_bars(["AAPL", "MSFT"], parse_interval("1m"), int(start.timestamp() * 1e9), int(end.timestamp() * 1e9))
        feed.close()
    theirs = barset.data
    assert len(theirs["AAPL"]) == N_MINUTES and len(theirs["MSFT"]) == N_MINUTES - 1
    for symbol in ("AAPL", "MSFT"):
        minutes = [m for m in range(N_MINUTES) if not (symbol == "MSFT" and m == MSFT_MISSING_MINUTE)]
        assert [b.open for b in theirs[symbol]] == [stored_open(symbol, m) for m in minutes]
        assert [int(b.timestamp.timestamp() * 1e9) for b in theirs[symbol]] == ours[symbol].start.tolist()
        assert [b.close for b in theirs[symbol]] == ours[symbol].close.tolist()
        assert [b.volume for b in theirs[symbol]] == ours[symbol].volume.tolist()


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # alpaca-py uses websockets.legacy
def test_alpaca_py_stream_client_receives_bars_in_msgpack(store, tmp_path):
    import asyncio

    from alpaca.data.live import StockDataStream

    received = []
    with run_server(store, "--interval", "1m", "--speed", "60", log_dir=tmp_path) as server:
        stream = StockDataStream(KEY, SECRET, url_override=server.ws_url)

        async def on_bar(bar) -> None:
            received.append(bar)
            if len(received) >= 4:
                await stream.stop_ws()

        stream.subscribe_bars(on_bar, "AAPL", "MSFT")
        asyncio.run(asyncio.wait_for(stream._run_forever(), 20))
    assert len(received) >= 4
    assert {b.symbol for b in received} == {"AAPL", "MSFT"}
    opens = [b.open for b in received if b.symbol == "AAPL"]
    first = round(opens[0] - stored_open("AAPL", 0))  # the client may join after the first step
    assert opens == [stored_open("AAPL", first + m) for m in range(len(opens))]
    first = received[0]
    stamps = [b.timestamp for b in received if b.symbol == "AAPL"]
    assert first.timestamp.tzinfo is not None and all(t.microsecond == 0 for t in stamps)
    assert all((b - a).total_seconds() == 1 for a, b in zip(stamps, stamps[1:]))  # 1m stored at speed 60
    assert first.high >= first.open >= first.low and first.volume == 1000
