"""Test harness for the local trading server: in-process (a thread with its own loop) or as a subprocess.

Importable from any test (``backend/tests`` is on the path)::

    from broker_server.harness import KEY, SECRET, rest, running_server, server_process, stream_client

    with running_server(ServerOptions(faults=Faults(partial_fills=2))) as srv:
        status, order = rest(srv.base_url, "POST", "/v2/orders", {...})
        srv.push_bar("AAPL", 100.0)          # a bar that ends now: fills orders working before it
        srv.restart()                         # same port, same book (state kept)

``rest`` speaks plain ``http.client`` with the default key headers; ``stream_client`` opens
``/stream`` with websockets' sync client, authenticates and listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from app.broker.server import ServerOptions, TradingServer
from app.broker.server.book import Book
from app.broker.server.orders import Bar
from app.store.bar import BarArrays, parse_interval
from app.store.files import write_bars
from app.timing.clocks import WallClock
from websockets.sync.client import ClientConnection, connect

BACKEND = Path(__file__).resolve().parents[2]
KEY, SECRET = "test-key", "test-secret"
AUTH = {"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET}
READY = "trading server listening on "


def rest(base_url: str, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
         timeout: float = 10.0) -> tuple[int, Any, dict[str, str]]:
    """Send one request; return (status, decoded JSON body or None, response headers)."""
    host, port = base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        payload = None if body is None else json.dumps(body)
        hdrs = dict(AUTH if headers is None else headers)
        if payload is not None:
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, payload, hdrs)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None), dict(resp.getheaders())
    finally:
        conn.close()


def order_body(symbol: str = "AAPL", qty: Any = "10", side: str = "buy", client_order_id: str | None = None,
               **extra: Any) -> dict[str, Any]:
    body = {"symbol": symbol, "qty": qty, "side": side, "type": "market", "time_in_force": "day", **extra}
    if client_order_id is not None:
        body["client_order_id"] = client_order_id
    return body


@contextmanager
def stream_client(stream_url: str, *, listen: bool = True, key: str = KEY, secret: str = SECRET,
                  **kwargs: Any) -> Iterator[ClientConnection]:
    """Open the stream, authenticate (SDK form) and listen to trade_updates; close on exit."""
    with connect(stream_url, open_timeout=10, **kwargs) as ws:
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}}))
        verdict = json.loads(ws.recv(timeout=10))
        assert verdict["data"]["status"] == "authorized", verdict
        if listen:
            ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
            ack = json.loads(ws.recv(timeout=10))
            assert ack == {"stream": "listening", "data": {"streams": ["trade_updates"]}}, ack
        yield ws


def next_event(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    """Return the ``data`` of the next trade_updates frame."""
    frame = json.loads(ws.recv(timeout=timeout))
    assert frame["stream"] == "trade_updates", frame
    return frame["data"]


@dataclass
class InProcess:
    """A server running on its own loop in a thread; methods are called from the test thread."""

    options: ServerOptions
    book: Book | None = None
    server: TradingServer | None = None
    loop: asyncio.AbstractEventLoop | None = None
    thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return self.server.base_url

    @property
    def stream_url(self) -> str:
        assert self.server is not None
        return self.server.stream_url

    def start(self) -> None:
        ready = threading.Event()
        self.server = TradingServer(self.options, WallClock(), self.book)
        server = self.server

        def main() -> None:
            async def go() -> None:
                self.loop = asyncio.get_running_loop()
                await server.run(lambda _s: ready.set(), signals=False)
            try:
                asyncio.run(go())
            except BaseException as e:  # noqa: BLE001 - reported by stop()
                self.errors.append(e)
                ready.set()

        self.thread = threading.Thread(target=main, name="trading-server")
        self.thread.start()
        assert ready.wait(10), "server did not start"
        assert not self.errors, self.errors

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop and return its result."""
        assert self.loop is not None

        async def run() -> Any:
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def push_bar(self, symbol: str, open_: float, high: float | None = None, low: float | None = None,
                 close: float | None = None, *, end_ns: int | None = None) -> None:
        """Feed a bar; without `end_ns` it ends now (fills the orders working before this call)."""
        assert self.server is not None
        server = self.server

        def push() -> None:
            end = server.clock.now_ns() if end_ns is None else end_ns
            o = Decimal(str(open_))
            c = Decimal(str(close if close is not None else open_))
            h = Decimal(str(high)) if high is not None else max(o, c)
            low_ = Decimal(str(low)) if low is not None else min(o, c)
            server.push_bar(Bar(symbol, end, end, o, h, low_, c))
        self.call(push)

    def stop(self) -> None:
        if self.server is not None and self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: the server stopped itself
                self.loop.call_soon_threadsafe(self.server.stop)
        if self.thread is not None:
            self.thread.join(15)
            assert not self.thread.is_alive(), "server thread did not stop"
        assert not self.errors, self.errors

    def restart(self) -> None:
        """Stop and start again on the same port with the same book (open sockets are dropped)."""
        assert self.server is not None
        port, book = self.server.port, self.server.book
        self.stop()
        self.options = _with_port(self.options, port)
        self.book = None if self.options.state_file is not None else book
        self.start()


def _with_port(options: ServerOptions, port: int | None) -> ServerOptions:
    from dataclasses import replace
    return replace(options, port=port or 0)


@contextmanager
def running_server(options: ServerOptions | None = None) -> Iterator[InProcess]:
    """Run a `TradingServer` in a thread for the `with` block."""
    srv = InProcess(options or ServerOptions())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def write_store(root: Path, symbols: tuple[str, ...] = ("AAPL",), minutes: int = 120) -> Path:
    """Write 1m bars from 2024-03-01 14:30Z: the k-th open is 100 + k (AAPL), 200 + k (the next symbol), ..."""
    first = int(np.datetime64("2024-03-01T14:30:00", "ns").astype(np.int64))
    start = first + np.arange(minutes, dtype=np.int64) * 60 * 10**9
    for i, symbol in enumerate(symbols):
        opens = 100.0 * (i + 1) + np.arange(float(minutes))
        write_bars(root, parse_interval("1m"), symbol,
                   BarArrays(start, opens, opens + 0.5, opens - 0.5, opens + 0.25, np.full(minutes, 1000.0)))
    return root


@contextmanager
def feed_process(store: Path, *args: str, log_dir: Path) -> Iterator[int]:
    """Run ``python -m app.feed serve --store STORE --port 0 --speed 60 ARGS`` (1s bars); yield its port."""
    log_path = log_dir / f"feed-{time.monotonic_ns()}.log"
    cmd = [sys.executable, "-m", "app.feed", "serve", "--store", str(store), "--port", "0", "--speed", "60", *args]
    with open(log_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PYTHONPATH": str(BACKEND)})
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("feed server listening on 127.0.0.1:"), (line, log_path.read_text())
        yield int(line.split("127.0.0.1:")[1].split()[0])
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


@dataclass(frozen=True)
class Process:
    base_url: str
    stream_url: str
    proc: subprocess.Popen[str]
    log_path: Path


@contextmanager
def server_process(*args: str, log_dir: Path, timeout_s: float = 20.0) -> Iterator[Process]:
    """Run ``python -m app.broker serve --port 0 ARGS``; read the ready line; terminate on exit."""
    log_path = log_dir / f"trading-server-{time.monotonic_ns()}.log"
    cmd = [sys.executable, "-m", "app.broker", "serve", "--port", "0", *args]
    env = {**os.environ, "PYTHONPATH": str(BACKEND)}
    with open(log_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], timeout_s)
        line = proc.stdout.readline() if ready else ""
        if not line.startswith(READY):
            raise AssertionError(f"server did not start: {line!r}; log: {log_path.read_text()}")
        base = line.removeprefix(READY).split()[0]
        yield Process(base, base.replace("http://", "ws://") + "/stream", proc, log_path)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
