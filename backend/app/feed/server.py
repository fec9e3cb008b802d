"""The local feed server: Alpaca's v2 stock stream and bars endpoint on one 127.0.0.1 port.

One asyncio loop, no threads: a connection handler per websocket client, one emitter task that
streams each replay step when its wall-clock interval closes, and a ``process_request`` hook
that answers ``GET /v2/stocks/bars`` before any websocket upgrade. A client whose upgrade
request says ``Content-Type: application/msgpack`` (as alpaca-py's does) gets binary msgpack
frames with ``t`` as a msgpack Timestamp; every other client gets JSON text frames.
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import math
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import msgpack
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from app.feed.rest import BARS_PATH, BarSource, answer_bars
from app.feed.rest_faults import RateLimit, RestFaults
from app.feeds.live import format_rfc3339, parse_rfc3339_ns

if TYPE_CHECKING:
    from websockets.http11 import Request, Response

    from app.feed.replay import Replay, ReplayBar
    from app.timing.clocks import WallClock

__all__ = ["FeedServer", "ServerOptions"]

log = logging.getLogger(__name__)

WS_PATHS: Final = frozenset({"/v2/iex", "/v2/sip", "/v2/delayed_sip", "/v2/test"})
CHANNELS: Final = (
    "trades", "quotes", "bars", "updatedBars", "dailyBars", "statuses", "lulds", "corrections", "cancelErrors"
)
_SUBSCRIBABLE: Final = frozenset(CHANNELS) - {"corrections", "cancelErrors"}
_BAR_CHANNELS: Final = ("bars", "updatedBars", "dailyBars")
MALFORMED_FRAME: Final = '[{"T":"b","S":"AAPL","o":1.0,'  # cut-off JSON
MALFORMED_MSGPACK: Final = b"\x91\x84\xa1T\xa1b"  # cut-off msgpack (an array of one 4-key map)


LATE_INTERVALS = 1.5
"""A ``--late`` bar is streamed this many intervals after it closes (after its step's grace)."""


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """Behaviour and fault options of one server run (see ``python -m app.feed serve --help``)."""

    port: int = 0
    key: str = "test-key"
    secret: str = "test-secret"
    drops: frozenset[tuple[str, int]] = frozenset()
    lates: frozenset[tuple[str, int]] = frozenset()  # streamed LATE_INTERVALS intervals after they close
    disconnect_after_s: float | None = None
    malformed_after: int | None = None
    reject_auth: bool = False
    stop_after_s: float | None = None
    auth_timeout_s: float = 10.0
    ping_interval_s: float = 54.0
    rest_delay_s: float = 0.0  # answer each REST bars request this late (a slow REST)
    rest_archive: bool = False  # REST serves stored bars at their stored times (history download)
    rate_limit: RateLimit | None = None  # REST answers 429 + Retry-After beyond this many calls
    fail_rest: int = 0  # REST answers 500 this many times ...
    fail_rest_after: int = 0  # ... after this many requests were served


@dataclass(slots=True, eq=False)
class _Client:
    conn: ServerConnection
    msgpack: bool = False
    authenticated: bool = False
    channels: dict[str, set[str]] = field(default_factory=lambda: {ch: set() for ch in CHANNELS})

    def wants(self, channel: str, symbol: str) -> bool:
        subs = self.channels[channel]
        return symbol in subs or "*" in subs


Messages = list[dict[str, Any]]


def _dump(messages: Messages) -> str:
    return json.dumps(messages, separators=(",", ":"))


def _pack(messages: Messages) -> bytes:
    # msgpack mode: bar times travel as Timestamp ext values (alpaca-py calls .to_datetime()).
    out = [{**m, "t": msgpack.Timestamp.from_unix_nano(parse_rfc3339_ns(m["t"]))} if "t" in m else m for m in messages]
    return msgpack.packb(out)


def _error(code: int, msg: str) -> Messages:
    return [{"T": "error", "code": code, "msg": msg}]


class FeedServer:
    """Serve a Replay over the Alpaca protocol until stopped.

    Warnings
    --------
    Runs on one asyncio loop; every method is called from that loop.
    """

    def __init__(self, replay: Replay, options: ServerOptions, clock: WallClock) -> None:
        self.replay = replay
        self.options = options
        self._clock = clock
        self._clients: set[_Client] = set()
        self._stop = asyncio.Event()
        self._emitted: dict[str, int] = {}
        self._bar_frames = 0
        self._malformed_sent = False
        self._bar_type, self._bar_channel = ("d", "dailyBars") if replay.interval.is_daily else ("b", "bars")
        self._rest_source: BarSource = replay
        self._rest_faults = RestFaults(options.rate_limit, options.fail_rest, options.fail_rest_after)

    def serve_rest_from(self, source: BarSource) -> None:
        """Answer ``GET /v2/stocks/bars`` from `source` (an Archive) instead of the replay."""
        self._rest_source = source

    def stop(self) -> None:
        """Ask `run` to finish (safe from a signal handler on the loop)."""
        self._stop.set()

    async def run(self, announce: Callable[[int], None]) -> None:
        """Listen on 127.0.0.1, call `announce(port)`, serve until `stop` or ``stop_after_s``."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop)
        async with serve(
            self._handle, "127.0.0.1", self.options.port, process_request=self._process_request,
            ping_interval=self.options.ping_interval_s, logger=logging.getLogger("app.feed.websockets"),
        ) as server:
            announce(server.sockets[0].getsockname()[1])
            if self.options.stop_after_s is not None:
                loop.call_later(self.options.stop_after_s, self.stop)
            emitter = asyncio.create_task(self._emit_loop())
            await self._stop.wait()
            emitter.cancel()
            await asyncio.gather(emitter, return_exceptions=True)

    # -- HTTP -------------------------------------------------------------------------------

    async def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path, _, query = request.path.partition("?")
        if path == BARS_PATH:
            if self.options.rest_delay_s > 0:
                log.warning("fault: answering REST %.2f s late", self.options.rest_delay_s)
                await asyncio.sleep(self.options.rest_delay_s)
            creds = None if self.options.reject_auth else (self.options.key, self.options.secret)
            fault = self._rest_faults.check(self._clock.now_ns())
            headers: dict[str, str] = {}
            if fault is not None:
                status, body, headers = fault
                log.warning("fault: answering REST with HTTP %d %s", status, headers or "")
            else:
                status, body = answer_bars(
                    query, request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY"),
                    self._rest_source, self._clock.now_ns(), credentials=creds,
                )
            response = conn.respond(status, json.dumps(body, separators=(",", ":")))
            del response.headers["Content-Type"]
            response.headers["Content-Type"] = "application/json"
            for name, value in headers.items():
                response.headers[name] = value
            return response
        if path not in WS_PATHS:
            return conn.respond(404, f"no such path {path}\n")
        return None

    # -- websocket --------------------------------------------------------------------------

    async def _handle(self, conn: ServerConnection) -> None:
        content_type = conn.request.headers.get("Content-Type", "") if conn.request is not None else ""
        client = _Client(conn, msgpack="msgpack" in content_type.lower())
        self._clients.add(client)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.auth_timeout_s
        try:
            await self._send(client, [{"T": "success", "msg": "connected"}])
            while True:
                if client.authenticated:
                    raw = await conn.recv()
                else:
                    try:
                        raw = await asyncio.wait_for(conn.recv(), deadline - loop.time())
                    except TimeoutError:
                        await self._send(client, _error(404, "auth timeout"))
                        await conn.close()
                        return
                await self._on_message(client, raw)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(client)

    async def _on_message(self, client: _Client, raw: str | bytes) -> None:
        try:
            msg = msgpack.unpackb(raw) if client.msgpack and isinstance(raw, bytes) else json.loads(raw)
        except (ValueError, msgpack.UnpackException):
            msg = None
        action = msg.get("action") if isinstance(msg, dict) else None
        if action == "auth":
            await self._send(client, self._auth(client, msg))
        elif action in ("subscribe", "unsubscribe"):
            await self._send(client, self._subscribe(client, action, msg))
        else:
            await self._send(client, _error(400, "invalid syntax"))

    def _auth(self, client: _Client, msg: dict[str, Any]) -> Messages:
        if client.authenticated:
            return _error(403, "already authenticated")
        if self.options.reject_auth or (msg.get("key"), msg.get("secret")) != (self.options.key, self.options.secret):
            return _error(402, "auth failed")
        client.authenticated = True
        return [{"T": "success", "msg": "authenticated"}]

    def _subscribe(self, client: _Client, action: str, msg: dict[str, Any]) -> Messages:
        if not client.authenticated:
            return _error(401, "not authenticated")
        request = {k: v for k, v in msg.items() if k != "action"}
        valid = bool(request) and all(
            ch in _SUBSCRIBABLE and isinstance(syms, list) and syms and all(isinstance(s, str) and s for s in syms)
            for ch, syms in request.items()
        )
        known = set(self.replay.symbols)
        unknown: set[str] = set()
        if valid:
            unknown = {s for ch in _BAR_CHANNELS for s in request.get(ch, []) or [] if s != "*" and s not in known}
        if not valid or (action == "subscribe" and unknown):
            return _error(400, "invalid syntax")
        for ch, syms in request.items():
            targets = [ch, "corrections", "cancelErrors"] if ch == "trades" else [ch]
            for target in targets:
                if action == "subscribe":
                    client.channels[target].update(syms)
                else:
                    client.channels[target].difference_update(syms)
        return [{"T": "subscription", **{ch: sorted(client.channels[ch]) for ch in CHANNELS}}]

    # -- streaming --------------------------------------------------------------------------

    async def _emit_loop(self) -> None:
        replay, opts = self.replay, self.options
        k = replay.history_steps
        updates: list[tuple[int, int, ReplayBar]] = []  # restatements and late bars, by when they are due
        started = self._clock.now_ns()
        disconnect_at = None if opts.disconnect_after_s is None else started + int(opts.disconnect_after_s * 1e9)
        while True:
            now = self._clock.now_ns()
            if disconnect_at is not None and now >= disconnect_at:
                disconnect_at = None
                self._abort_all()
            while k < len(replay) and replay.due_ns(k) <= now:
                await self._emit_step(k, updates)
                k += 1
            while updates and updates[0][0] <= now:
                _, index, bar = heapq.heappop(updates)
                await (self._emit_late(bar) if index < 0 else self._emit_update(bar))
            due = [replay.due_ns(k)] if k < len(replay) else []
            due += [updates[0][0]] if updates else []
            due += [disconnect_at] if disconnect_at is not None else []
            wait_s = (min(due) - self._clock.now_ns()) / 1e9 if due else math.inf
            if wait_s == math.inf:
                log.info("replay finished after %d steps; serving REST until stopped", len(replay))
                return
            await asyncio.sleep(max(wait_s, 0.0))

    def _abort_all(self) -> None:
        log.warning("fault: dropping %d client connections", len(self._clients))
        for client in list(self._clients):
            if client.conn.transport is not None:
                client.conn.transport.abort()

    def _bar_message(self, bar: ReplayBar, kind: str) -> dict[str, Any]:
        volume: float | int = int(bar.volume) if float(bar.volume).is_integer() else bar.volume
        return {"T": kind, "S": bar.symbol, "o": bar.open, "h": bar.high, "l": bar.low, "c": bar.close,
                "v": volume, "t": format_rfc3339(bar.start_ns), "n": 1,
                "vw": round((bar.high + bar.low + bar.close) / 3.0, 6)}

    async def _emit_step(self, k: int, updates: list[tuple[int, int, ReplayBar]]) -> None:
        sent: list[ReplayBar] = []
        for bar in self.replay.step_bars(k):
            nth = self._emitted.get(bar.symbol, 0)
            self._emitted[bar.symbol] = nth + 1
            if (bar.symbol, nth) in self.options.drops:
                log.warning("fault: dropping %s bar #%d at %s", bar.symbol, nth, format_rfc3339(bar.start_ns))
                continue
            if (bar.symbol, nth) in self.options.lates:  # index -1 - index: sent as a bar, not a restatement
                late_ns = self.replay.due_ns(k) + int(LATE_INTERVALS * self.replay.interval.ns)
                heapq.heappush(updates, (late_ns, -1 - bar.index, bar))
                continue
            sent.append(bar)
            if self.replay.is_restated(bar):
                heapq.heappush(updates, (self.replay.update_due_ns(bar), bar.index, bar))
        for client in list(self._clients):
            msgs = [
                self._bar_message(b, self._bar_type)
                for b in sent
                if client.authenticated and client.wants(self._bar_channel, b.symbol)
            ]
            if msgs and await self._send(client, msgs):
                self._bar_frames += 1
                malformed_after = self.options.malformed_after
                if malformed_after is not None and not self._malformed_sent and self._bar_frames >= malformed_after:
                    self._malformed_sent = True
                    log.warning("fault: sending a malformed frame")
                    await self._send_raw(client, MALFORMED_MSGPACK if client.msgpack else MALFORMED_FRAME)

    async def _emit_late(self, bar: ReplayBar) -> None:
        log.warning("fault: streaming %s bar at %s late", bar.symbol, format_rfc3339(bar.start_ns))
        msgs = [self._bar_message(bar, self._bar_type)]
        for client in list(self._clients):
            if client.authenticated and client.wants(self._bar_channel, bar.symbol):
                await self._send(client, msgs)

    async def _emit_update(self, bar: ReplayBar) -> None:
        msgs = [self._bar_message(self.replay.restated(bar), "u")]
        for client in list(self._clients):
            if client.authenticated and client.wants("updatedBars", bar.symbol):
                await self._send(client, msgs)

    async def _send(self, client: _Client, messages: Messages) -> bool:
        return await self._send_raw(client, _pack(messages) if client.msgpack else _dump(messages))

    async def _send_raw(self, client: _Client, frame: str | bytes) -> bool:
        try:
            await asyncio.wait_for(client.conn.send(frame), 5.0)
            return True
        except (ConnectionClosed, TimeoutError):
            return False
