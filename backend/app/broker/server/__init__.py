"""Local Alpaca Trading API v2 server: orders, positions, account, clock and ``trade_updates`` on 127.0.0.1.

``python -m app.broker serve [--port 0] [--feed-url URL | --store DIR] [faults]`` stands in for
``paper-api.alpaca.markets`` in tests: REST under ``/v2`` and the stream at ``/stream`` on one
port. Market orders fill at the open of the next bar of the feed, limits when the bar reaches
them; fault options reject, delay, split fills, drop the stream, rate-limit and lose submit
answers. Layers: `orders`/`book` (pure matching, positions, cash), `wire` (JSON shapes),
`rest` (routes), `stream` (websocket protocol), `transport` (HTTP/1.1), `prices` (bar sources),
`persist` (state file), `app` (`TradingServer`, the asyncio loop), `cli`.
"""

from __future__ import annotations

from app.broker.server.app import ServerOptions, TradingServer
from app.broker.server.faults import Faults

__all__ = ["Faults", "ServerOptions", "TradingServer"]
