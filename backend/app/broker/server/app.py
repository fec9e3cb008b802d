"""`TradingServer`: the local Alpaca Trading API v2 stand-in, REST and ``trade_updates`` on one port.

One asyncio loop, no threads: an HTTP connection handler per client (`transport`), the stream
hub (`stream`), an optional price task (`prices`), and the pure book (`book`) every change goes
through. Every method runs on the server's loop; from another thread, use
``loop.call_soon_threadsafe`` (the test harness does).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from app.broker.server.book import DEFAULT_CASH, Book
from app.broker.server.faults import Faults, RateLimiter, SubmitCounter
from app.broker.server.orders import Bar, Event
from app.broker.server.persist import read_state, write_state
from app.broker.server.prices import follow_feed, load_store, replay_store
from app.broker.server.rest import Answer, Credentials, route
from app.broker.server.stream import StreamHub
from app.broker.server.transport import HttpRequest, HttpResponse, serve_connection
from app.broker.server.wire import event_json

if TYPE_CHECKING:
    from app.timing.clocks import Clock

__all__ = ["ServerOptions", "TradingServer"]

log = logging.getLogger(__name__)
NS: Final = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """How one server run behaves (``python -m app.broker serve --help`` maps flag for field).

    `positions` seeds positions the run did not open: ``(symbol, qty, avg_entry_price)``. With
    `state_file`, a saved book is loaded at start (seeding and `cash` are then ignored) and
    rewritten after every change. Prices come from `feed_url` (a ``python -m app.feed serve``
    stream), or `store` (replayed here), or only from ``/_control/bar`` / `TradingServer.push_bar`.
    """

    host: str = "127.0.0.1"
    port: int = 0
    key: str = "test-key"
    secret: str = "test-secret"
    cash: Decimal = DEFAULT_CASH
    seed: str = "local"  # ids are uuid5(seed, counter): the same requests give the same ids
    text_frames: bool = False
    market_closed: bool = False
    positions: tuple[tuple[str, Decimal, Decimal], ...] = ()
    state_file: Path | None = None
    feed_url: str | None = None
    feed_key: str = "test-key"
    feed_secret: str = "test-secret"
    feed_interval_s: float | None = None
    store: Path | None = None
    store_interval: str | None = None
    store_symbols: tuple[str, ...] = ()
    speed: int = 1
    stop_after_s: float | None = None
    faults: Faults = field(default_factory=Faults)


class TradingServer:
    """Serve one paper account over the Alpaca Trading API v2 until stopped.

    Raises
    ------
    DataError, ValueError
        At construction, for an unreadable `state_file` or `store` (nothing is listening yet).
    """

    def __init__(self, options: ServerOptions, clock: Clock, book: Book | None = None) -> None:
        self.options = options
        self.clock = clock
        faults = options.faults
        if book is None and options.state_file is not None:
            book = read_state(options.state_file)
        if book is None:
            book = Book(options.cash, seed=options.seed, partial_fills=faults.partial_fills,
                        fill_delay_ns=int(faults.fill_delay_s * NS), market_open=not options.market_closed)
            for symbol, qty, avg in options.positions:
                book.seed_position(symbol, qty, avg)
        self.book = book
        self.counter = SubmitCounter(faults)
        self.limiter = RateLimiter(faults.rate_limit)
        self.hub = StreamHub(options.key, options.secret, text_frames=options.text_frames)
        self.creds = Credentials(options.key, options.secret)
        self.created_ns = clock.now_ns()
        self.port: int | None = None
        self.failure: BaseException | None = None  # a price task's error (the server stopped on it)
        self._stored = None if options.store is None else load_store(
            options.store, options.store_interval, options.speed, list(options.store_symbols) or None)
        self._stop = asyncio.Event()
        self._slot_busy_until_ns = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._advance_handle: asyncio.TimerHandle | None = None
        self._save()

    @property
    def base_url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    @property
    def stream_url(self) -> str:
        return f"ws://{self.options.host}:{self.port}/stream"

    def stop(self) -> None:
        """Ask `run` to finish (safe from a signal handler on the loop)."""
        self._stop.set()

    async def run(self, announce: Callable[[TradingServer], None], *, signals: bool = True) -> None:
        """Listen, call `announce(self)` once bound, serve until `stop` (or SIGINT/SIGTERM, ``stop_after_s``)."""
        loop = asyncio.get_running_loop()
        if signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        server = await asyncio.start_server(self._connection, self.options.host, self.options.port,
                                            limit=64 * 1024)
        try:
            self.port = server.sockets[0].getsockname()[1]
            self._start_prices()
            announce(self)
            if self.options.stop_after_s is not None:
                loop.call_later(self.options.stop_after_s, self.stop)
            await self._stop.wait()
        finally:
            server.close()
            for client in list(self.hub.clients):
                client.abort()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 2.0)
            if self._advance_handle is not None:
                self._advance_handle.cancel()
            self._save()
            if signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.failure = task.exception()
            log.error("%s failed: %s; stopping the server", task.get_name(), self.failure)
            self.stop()

    def _start_prices(self) -> None:
        opts = self.options
        if opts.feed_url is not None:
            interval = None if opts.feed_interval_s is None else int(opts.feed_interval_s * NS)
            self._spawn(follow_feed(opts.feed_url, opts.feed_key, opts.feed_secret, self.push_bar, self.clock,
                                    interval), "feed")
        if self._stored is not None:
            self._spawn(replay_store(*self._stored, self.push_bar, self.clock), "store-replay")

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await serve_connection(reader, writer, self._http, self._upgrade)
        finally:
            self._tasks.discard(task)

    async def _upgrade(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes,
                       headers: dict[str, str]) -> None:
        path = head.split(b" ", 2)[1].split(b"?")[0] if head.count(b" ") >= 2 else b""
        if path != b"/stream":
            writer.write(HttpResponse(404, {"code": 40410000, "message": "no such stream path"}).encode(False))
            writer.close()
            return
        now = self.clock.now_ns()
        if now < self._slot_busy_until_ns:
            log.warning("fault: stream slot busy, refusing an upgrade with 429")
            retry = str(max(1, -(-(self._slot_busy_until_ns - now) // NS)))
            writer.write(HttpResponse(429, {"code": 42910000, "message": "connection limit exceeded"},
                                      {"Retry-After": retry}).encode(False))
            writer.close()
            return
        await self.hub.serve(reader, writer, head, headers.get("content-type", ""))

    # -- REST -------------------------------------------------------------------------------

    async def _http(self, request: HttpRequest) -> HttpResponse | None:
        now = self.clock.now_ns()
        limits: dict[str, str] = {}
        if not request.path.startswith("/_control/"):
            allowed, limits = self.limiter.check(now)
            if not allowed:
                log.warning("fault: rate limit, answering 429 to %s %s", request.method, request.path)
                return HttpResponse(429, {"code": 42910000, "message": "rate limit exceeded"}, limits)
        answer = route(self.book, self.counter, request.method, request.path, request.query, request.headers,
                       request.body, now, self.creds, self.created_ns)
        self._apply(answer.events, save=request.method != "GET")
        if answer.control is not None and answer.control.startswith("drop_stream:"):
            self.drop_streams(answer.control.partition(":")[2])
        if answer.ghost:
            return await self._ghost(answer, limits)
        return HttpResponse(answer.status, answer.body, limits)

    async def _ghost(self, answer: Answer, limits: dict[str, str]) -> HttpResponse | None:
        faults = self.options.faults
        log.warning("fault: order %s created, answer lost (%s)", answer.body.get("client_order_id"), faults.ghost_mode)
        if faults.ghost_mode == "drop":
            return None
        if faults.ghost_mode == "504":
            return HttpResponse(504, {"message": "gateway timeout"}, limits)
        await asyncio.sleep(faults.ghost_stall_s)
        return HttpResponse(answer.status, answer.body, limits)

    # -- book changes -----------------------------------------------------------------------

    def push_bar(self, bar: Bar) -> None:
        """Feed one price bar to the book (fills what it reaches); call on the server's loop."""
        self._apply(self.book.on_bar(bar, self.clock.now_ns()))

    def drop_streams(self, mode: str) -> int:
        """Drop every ``trade_updates`` connection now (``abrupt``, ``clean`` or ``mute``)."""
        self._slot_busy_until_ns = self.clock.now_ns() + int(self.options.faults.slot_busy_s * NS)
        return self.hub.drop_all(mode)

    def _apply(self, events: list[Event], *, save: bool = True) -> None:
        """Publish `events`, save the book, and arm the timer of the next delayed fill."""
        faults = self.options.faults
        for event in events:
            frame = event_json(event, self.book.seed)
            if not self.hub.publish(frame):
                continue  # nobody listening: lost to the socket, as on Alpaca (no replay)
            if faults.dup_events and event.event in ("new", "fill"):
                log.warning("fault: sending %s of %s twice", event.event, event.order.client_order_id)
                self.hub.publish(frame)
            self._count_event()
        if save or events:
            self._save()
        due = self.book.next_due_ns()
        if due is not None:
            if self._advance_handle is not None:
                self._advance_handle.cancel()
            delay = max(0.0, (due - self.clock.now_ns()) / NS)
            self._advance_handle = asyncio.get_running_loop().call_later(delay, self._advance)

    def _advance(self) -> None:
        self._advance_handle = None
        self._apply(self.book.advance(self.clock.now_ns()))

    def _count_event(self) -> None:
        after = self.options.faults.drop_stream_after
        if after is None or self.counter.dropped_stream:
            return
        self.counter.events_sent += 1
        if self.counter.events_sent >= after:
            self.counter.dropped_stream = True
            self.drop_streams(self.options.faults.drop_mode)

    def _save(self) -> None:
        if self.options.state_file is not None:
            write_state(self.book, self.options.state_file)
