"""Local feed server: stored bars served live over Alpaca's v2 stream and bars REST on 127.0.0.1.

``python -m app.feed serve --store DIR --port P [--speed N] [--start DATE]`` re-stamps stored bars
onto the wall clock so a live session (``AlpacaFeed``) sees them as live; fault options drop bars,
cut connections, send a malformed frame or refuse credentials. Runs one asyncio loop, no threads.
Imports ``app.store``, ``app.feeds.live`` and ``app.timing``; nothing imports this package.
"""

from __future__ import annotations

from app.feed.cli import main

__all__ = ["main"]
