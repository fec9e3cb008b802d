"""Where the trading server's prices come from: the local feed server's stream, or a stored bar replay.

Both call ``on_bar(Bar)`` for every bar, on the server's asyncio loop:

- `follow_feed` subscribes to every symbol's bars on a feed server (``python -m app.feed
  serve``, Alpaca's v2 market-data protocol) and re-dials after a drop. A bar stamped ``t``
  covers ``[t, t + interval)``; the interval is `interval_ns` when given, else the smallest gap
  seen between two bars of a symbol (the first bar of a run, before any gap, ends when it
  arrives: the feed sends a bar when it closes).
- `replay_store` replays a bar store itself (``app.feed.replay``) on the wall clock, for a
  server run without a feed server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from app.broker.server.orders import Bar
from app.feeds.live import parse_rfc3339_ns

if TYPE_CHECKING:
    from app.feed.replay import StoredSteps
    from app.store.bar import Interval
    from app.timing.clocks import Clock

__all__ = ["BarIntervals", "FeedRefusedError", "follow_feed", "load_store", "replay_store"]

log = logging.getLogger(__name__)
OnBar = Callable[[Bar], None]


class FeedRefusedError(RuntimeError):
    """The feed server refused the credentials: re-dialling cannot help."""


def _dec(value: object) -> Decimal:
    return Decimal(str(value))


@dataclass(slots=True)
class BarIntervals:
    """Infers the feed's bar interval from the gaps between one symbol's bar starts."""

    fixed_ns: int | None = None
    last_start: dict[str, int] = field(default_factory=dict)
    smallest_ns: int | None = None

    def end_ns(self, symbol: str, start_ns: int, received_ns: int) -> int:
        """Return the end of the bar of `symbol` starting at `start_ns` (received at `received_ns`)."""
        if self.fixed_ns is not None:
            return start_ns + self.fixed_ns
        previous = self.last_start.get(symbol)
        self.last_start[symbol] = start_ns
        if previous is not None and start_ns > previous:
            gap = start_ns - previous
            self.smallest_ns = gap if self.smallest_ns is None else min(self.smallest_ns, gap)
        return start_ns + self.smallest_ns if self.smallest_ns is not None else received_ns


def feed_bar(message: dict[str, Any], intervals: BarIntervals, received_ns: int) -> Bar | None:
    """Return the `Bar` of one feed message (``T`` = ``b`` or ``d``), None for other messages."""
    if message.get("T") not in ("b", "d"):
        return None
    symbol = str(message["S"])
    start = parse_rfc3339_ns(str(message["t"]))
    return Bar(symbol, start, intervals.end_ns(symbol, start, received_ns), _dec(message["o"]), _dec(message["h"]),
               _dec(message["l"]), _dec(message["c"]))


async def follow_feed(url: str, key: str, secret: str, on_bar: OnBar, clock: Clock,
                      interval_ns: int | None = None) -> None:
    """Stream every bar of the feed at `url` into `on_bar` until cancelled, re-dialling after a drop."""
    intervals = BarIntervals(interval_ns)
    backoff = 0.2
    while True:
        try:
            async with connect(url, open_timeout=10, logger=logging.getLogger("app.broker.websockets")) as ws:
                await ws.recv()  # [{"T":"success","msg":"connected"}]
                await ws.send(json.dumps({"action": "auth", "key": key, "secret": secret}))
                reply = json.loads(await ws.recv())
                if not (isinstance(reply, list) and reply and reply[0].get("msg") == "authenticated"):
                    raise FeedRefusedError(f"feed {url} refused the credentials (--feed-key/--feed-secret): {reply}")
                await ws.send(json.dumps({"action": "subscribe", "bars": ["*"]}))
                log.info("following bars from %s", url)
                backoff = 0.2
                async for raw in ws:
                    messages = json.loads(raw)
                    for message in messages if isinstance(messages, list) else [messages]:
                        bar = feed_bar(message, intervals, clock.now_ns()) if isinstance(message, dict) else None
                        if bar is not None:
                            on_bar(bar)
        except (ConnectionClosed, InvalidHandshake, OSError, TimeoutError, ValueError) as e:
            log.warning("feed %s: %s; re-dialling in %.1f s", url, e, backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 2.0)


def load_store(store: Path, interval_label: str | None, speed: int,
               symbols: list[str] | None) -> tuple[StoredSteps, Interval]:
    """Return the stored bars to replay and the interval they stream at.

    Raises
    ------
    DataError, ValueError
        For a store or speed `app.feed.replay` cannot serve (checked before the server listens).
    """
    from app.feed.replay import load_steps, served_interval  # only a --store run needs the feed package

    stored = load_steps(store, interval_label, symbols, None)
    return stored, served_interval(stored.interval, speed)


async def replay_store(stored: StoredSteps, interval: Interval, on_bar: OnBar, clock: Clock) -> None:
    """Replay `stored` on the wall clock at `interval` (each bar delivered when it closes), then return."""
    from app.feed.replay import Replay

    replay = Replay(stored, interval, clock.now_ns())
    for k in range(len(replay)):
        wait_s = (replay.due_ns(k) - clock.now_ns()) / 1e9
        if wait_s > 0:
            await asyncio.sleep(wait_s)
        for b in replay.step_bars(k):
            on_bar(Bar(b.symbol, b.start_ns, b.start_ns + interval.ns, _dec(b.open), _dec(b.high), _dec(b.low),
                       _dec(b.close)))
    log.info("store replay finished after %d steps", len(replay))
