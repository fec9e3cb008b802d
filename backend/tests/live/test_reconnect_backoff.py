"""The reconnect backoff against a real local server that refuses N connections in a row.

`Gate` is a TCP server on 127.0.0.1: it closes the next N connections at once (or answers them
``HTTP 503``), and forwards the others to the local feed server. The feed's sleep is injected
and moves a `ManualTime` stopwatch instead of waiting, so the schedule is read from the sleeps
the feed asked for: no long sleeps, no timed asserts.
"""

from __future__ import annotations

import math
import selectors
import socket
import threading
from collections.abc import Iterator

import pytest
from app.errors import FeedError
from app.feeds.alpaca import AlpacaFeed
from app.store.bar import parse_interval
from app.timing.stopwatch import ManualTime, Stopwatch
from live_support import KEY, SECRET, run_server

INITIAL_S, MAX_S = 0.5, 3.0
HTTP_503 = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class Gate:
    """Refuses the next `refuse` connections (closed once read, answered `answer`, or reset when `answer`
    is None), forwards the rest."""

    def __init__(self, upstream: tuple[str, int] | None = None, refuse: int = 0, answer: bytes | None = b"") -> None:
        self.upstream, self.refuse, self.answer = upstream, refuse, answer
        self.refused = self.forwarded = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.listener, selectors.EVENT_READ)
        self._stop = threading.Event()
        self._drop = threading.Event()
        self._dropped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="gate", daemon=True)
        self._thread.start()

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v2/iex"

    def drop_and_refuse(self, n: int) -> None:
        """Close every forwarded connection (a dropped socket) and refuse the next `n`."""
        self.refuse = n
        self._dropped.clear()
        self._drop.set()
        assert self._dropped.wait(10), "the gate did not drop its connections"

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for key in list(self._sel.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        self._sel.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            if self._drop.is_set():
                for key in list(self._sel.get_map().values()):
                    if key.fileobj is not self.listener:
                        self._sel.unregister(key.fileobj)
                        key.fileobj.close()  # type: ignore[union-attr]
                self._drop.clear()
                self._dropped.set()
            for key, _ in self._sel.select(0.02):
                if key.fileobj is self.listener:
                    self._accept()
                else:
                    self._pump(key)

    def _accept(self) -> None:
        conn, _ = self.listener.accept()
        if self.refuse > 0 or self.upstream is None:
            self.refuse -= 1
            self.refused += 1
            if self.answer is None:  # closed on the unread request: the client's send is reset
                conn.close()
                return
            _read_request(conn)  # as a server does
            if self.answer:
                conn.sendall(self.answer)
            conn.close()
            return
        up = socket.create_connection(self.upstream, timeout=5)
        self.forwarded += 1
        self._sel.register(conn, selectors.EVENT_READ, up)
        self._sel.register(up, selectors.EVENT_READ, conn)

    def _pump(self, key: selectors.SelectorKey) -> None:
        src, dst = key.fileobj, key.data
        try:
            data = src.recv(65536)  # type: ignore[union-attr]
        except OSError:
            data = b""
        if data:
            try:
                dst.sendall(data)
                return
            except OSError:
                pass
        for sock in (src, dst):
            if sock in {k.fileobj for k in self._sel.get_map().values()}:
                self._sel.unregister(sock)
            sock.close()


def _read_request(conn: socket.socket) -> None:
    conn.settimeout(5.0)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
    except OSError:
        return


@pytest.fixture
def gates() -> Iterator[list[Gate]]:
    made: list[Gate] = []
    yield made
    for gate in made:
        gate.close()


def _feed(ws_url: str, rest_url: str, sleeps: list[float], time: ManualTime, **kw: object) -> AlpacaFeed:
    def sleep(seconds: float) -> None:  # the schedule, without waiting it (never a nanosecond short)
        sleeps.append(seconds)
        time.ns += math.ceil(seconds * 1e9)

    return AlpacaFeed(ws_url, rest_url, KEY, SECRET, ["AAPL", "MSFT"], parse_interval("1s"), timeout_s=5.0,
                      reconnect_initial_s=INITIAL_S, reconnect_max_s=MAX_S, seed=3, sleep=sleep,
                      stopwatch=Stopwatch(time), **kw)  # type: ignore[arg-type]


def assert_doubling_and_capped(delays: list[float]) -> None:
    """Delay k is in [base_k / 2, base_k] (jitter 0.5), base_k = min(MAX_S, INITIAL_S * 2**k)."""
    bases = [min(MAX_S, INITIAL_S * 2**k) for k in range(len(delays))]
    for k, (delay, base) in enumerate(zip(delays, bases, strict=True)):
        assert base / 2 <= delay <= base, f"delay {k} is {delay}; expected within [{base / 2}, {base}]"
    for k in range(len(delays) - 1):
        if bases[k + 1] == 2 * bases[k]:  # below the cap each delay is at least the one before
            assert delays[k + 1] >= delays[k], delays
    assert max(delays) <= MAX_S and bases[-1] == MAX_S  # the schedule reached the cap and stayed under it


@pytest.mark.parametrize("answer", [b"", HTTP_503, None], ids=["closed", "http-503", "reset"])
def test_connect_backs_off_between_refusals_and_gives_up_after_its_attempts(gates, answer):
    gate = Gate(refuse=1000, answer=answer)
    gates.append(gate)
    sleeps: list[float] = []
    feed = _feed(gate.ws_url, "http://127.0.0.1:9", sleeps, ManualTime(), connect_attempts=7)
    with pytest.raises(FeedError, match="could not connect after 7 attempts") as caught:
        feed.connect()
    assert caught.value.fatal
    assert gate.refused == 7  # bounded: exactly connect_attempts connections were tried
    assert len(sleeps) == 6  # a wait between two attempts, none after the last
    assert_doubling_and_capped(sleeps)


def test_a_poll_never_waits_past_its_timeout_and_its_attempts_are_bounded(gates):
    gate = Gate(refuse=1000)
    gates.append(gate)
    sleeps: list[float] = []
    time = ManualTime()
    feed = _feed(gate.ws_url, "http://127.0.0.1:9", sleeps, time)
    assert feed.poll(20.0) == []  # the server never answers: the poll ends at its timeout, empty
    assert sum(sleeps) == pytest.approx(20.0) and time.ns == pytest.approx(20e9)
    # One attempt at once, then one after each wait that ran out before the timeout.
    assert gate.refused == len(sleeps)
    assert gate.refused <= 1 + 2 + 20.0 / (MAX_S / 2)  # the doubling part, then at least MAX_S/2 apart
    assert_doubling_and_capped(sleeps[:-1])  # the last wait was cut short by the poll's timeout
    feed.close()


@pytest.fixture(scope="module")
def feed_server(store, tmp_path_factory):
    with run_server(store, "--interval", "1m", "--speed", "60", "--history-steps", "5",
                    log_dir=tmp_path_factory.mktemp("logs")) as srv:
        yield srv


def test_after_a_drop_reconnect_waits_grow_through_n_refusals_then_it_reconnects(gates, feed_server):
    refusals = 5
    gate = Gate(upstream=("127.0.0.1", feed_server.port))
    gates.append(gate)
    sleeps: list[float] = []
    feed = _feed(gate.ws_url, feed_server.rest_url, sleeps, ManualTime())
    try:
        feed.connect()
        before = feed.poll(30.0)  # real bars through the gate (the recv waits in real time)
        assert before and sleeps == []
        gate.drop_and_refuse(refusals)
        after: list = []
        while not after:
            after = feed.poll(60.0)
    finally:
        feed.close()
    assert (gate.refused, gate.forwarded) == (refusals, 2)
    assert feed.stats.reconnects == 1
    # One wait after the drop, one after each refusal: the schedule doubles from the drop on.
    assert len(sleeps) == refusals + 1
    assert_doubling_and_capped(sleeps)
    assert min(b.start_ns for b in after) > max(b.start_ns for b in before)  # the stream goes on
