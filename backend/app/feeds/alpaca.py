"""AlpacaFeed: the Alpaca Market Data v2 bar stream (websocket) with reconnect and REST gap fill.

Synchronous: every call runs on the caller's thread (the coordinator). The websockets sync client
keeps one library-internal reader thread per open connection (plus its keepalive pinger); both end
when the connection closes, and `close` closes it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from app.errors import ConfigError, FeedError
from app.feeds._alpaca_wire import BAR_TYPES, decode_frame, parse_bar, parse_block, truncate_raw
from app.feeds.alpaca_rest import AlpacaRest, bars_to_arrays
from app.feeds.live import Backoff, BarDeduper, FeedStats, LiveBar
from app.feeds.live_block import BarBlock
from app.timing.clocks import WallClock
from app.timing.stopwatch import Deadline, Stopwatch

if TYPE_CHECKING:
    from app.store.bar import BarArrays, Interval

__all__ = ["AlpacaFeed"]

log = logging.getLogger(__name__)
_wire_log = logging.getLogger(__name__ + ".wire")
_wire_log.setLevel(logging.INFO)  # websockets logs every frame at DEBUG, and the auth frame has the secret

FATAL_CODES: Final = {
    400: "invalid syntax", 401: "not authenticated", 402: "auth failed", 403: "already authenticated",
    404: "auth timeout", 405: "symbol limit exceeded", 408: "v2 not enabled",
    409: "insufficient subscription", 410: "invalid subscribe action for this feed",
}
LONG_BACKOFF_S: Final = 60.0  # after 406 connection limit exceeded
_FEEDS: Final = ("iex", "sip", "delayed_sip", "test")


class _TransientFeedError(Exception):
    def __init__(self, detail: str, floor_s: float = 0.0) -> None:
        super().__init__(detail)
        self.floor_s = floor_s


class AlpacaFeed:
    """A LiveFeed for Alpaca's v2 stock stream and historical bars endpoint.

    Parameters
    ----------
    stream_url : str
        Full websocket URL ending in the feed, e.g. ``wss://stream.data.alpaca.markets/v2/iex``.
    rest_url : str
        REST base, e.g. ``https://data.alpaca.markets``.
    key, secret : str
        API credentials (use `from_env`); never logged or put in an error message.
    symbols : list of str
        Symbols to subscribe, fixed for the feed's life.
    interval : Interval
        Base interval: ``1m`` (``bars`` + ``updatedBars``), ``1d`` (``dailyBars``) or ``1s``
        (``bars``; only the local feed server has 1 s bars: real Alpaca is refused at connect).
    feed : str
        ``iex``, ``sip``, ``delayed_sip`` or ``test``; must be the stream URL's last segment,
        and is sent as REST ``feed`` so gap fill reads the same feed as the stream.
    clock_ns : callable
        Wall clock for ``received_ns`` and the backfill window (default `WallClock`).
    stopwatch : Stopwatch
        Real time for `poll`'s timeout, the handshake's bound and the reconnect and backfill
        retry times (default a monotonic `Stopwatch`).
    reconnect_initial_s, reconnect_max_s : float
        Backoff schedule after a disconnect (jittered, seeded by `seed`).
    timeout_s : float
        Bound for each handshake step and each REST request.
    connect_attempts : int
        Attempts `connect` makes when the network (not the provider) fails.
    sleep : callable
        Blocking sleep used between attempts (connect, REST retries, a reconnect slot within
        `poll`'s timeout). A sleep that returns True -- a stop token's ``wait`` -- means the run
        is ending: `connect` and REST retries give up at once.

    Warnings
    --------
    One thread calls every method. `stats` is written by that thread only.
    """

    def __init__(
        self,
        stream_url: str,
        rest_url: str,
        key: str,
        secret: str,
        symbols: list[str],
        interval: Interval,
        *,
        feed: str = "iex",
        clock_ns: Callable[[], int] | None = None,
        reconnect_initial_s: float = 1.0,
        reconnect_max_s: float = 60.0,
        seed: int = 0,
        timeout_s: float = 10.0,
        connect_attempts: int = 3,
        sleep: Callable[[float], object] = time.sleep,
        stopwatch: Stopwatch | None = None,
    ) -> None:
        if interval.label not in ("1s", "1m", "1d"):
            raise ConfigError(f"expected a base interval of 1s, 1m or 1d for Alpaca, received {interval.label!r}",
                              field="interval")
        path_feed = urllib.parse.urlsplit(stream_url).path.rstrip("/").rsplit("/", 1)[-1]
        if feed not in _FEEDS or path_feed != feed:
            raise ConfigError(
                f"expected feed one of {list(_FEEDS)} matching the stream URL's last segment, received feed {feed!r} "
                f"and URL {stream_url!r}", field="feed",
            )
        if not symbols:
            raise ConfigError("expected at least one symbol, received []", field="symbols")
        self.stats = FeedStats()
        self._stream_url = stream_url
        self._key, self._secret = key, secret
        self._symbols = sorted(set(symbols))
        self._symbol_set = frozenset(self._symbols)  # per bar: `in` a set, not a list
        self._last: tuple[str, ...] = ()  # the last block's symbols, in its order
        self._interval = interval
        self._clock_ns = clock_ns or WallClock().now_ns
        self._stopwatch = sw = stopwatch or Stopwatch()
        self._timeout_s = timeout_s
        self._connect_attempts = max(1, connect_attempts)
        self._sleep = sleep
        self._backoff = Backoff(reconnect_initial_s, reconnect_max_s, seed=seed)
        self._rest_url, self._feed = rest_url, feed
        self._rest = AlpacaRest(
            rest_url, key, secret, feed=feed, stats=self.stats, clock_ns=self._clock_ns, sleep=sleep,
            timeout_s=timeout_s,
        )
        self._deduper = BarDeduper()
        self._channels = ["dailyBars"] if interval.is_daily else ["bars", "updatedBars"]
        self._wanted_types = {"d"} if interval.is_daily else {"b", "u"}
        self._ws: ClientConnection | None = None
        self._closed = False
        self._pending: list[LiveBar] = []
        self._next_attempt = sw.deadline(0)  # no reconnect is held back yet
        self._since_ns: int | None = None  # backfill from here after the next reconnect
        self._backfill_due = False
        self._backfill_retry = sw.deadline(0)
        self._last_start_ns: int | None = None

    @classmethod
    def from_env(
        cls,
        key_env: str,
        secret_env: str,
        stream_url: str,
        rest_url: str,
        *args: Any,
        environ: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> AlpacaFeed:
        """Build a feed with credentials read from the environment variables `key_env` and `secret_env`.

        `stream_url`, `rest_url`, `args` and `kwargs` are passed on to the constructor around the credentials.

        Raises
        ------
        ConfigError
            If a variable is unset or empty (the message names the variable, never a value).
        """
        env = os.environ if environ is None else environ
        for name in (key_env, secret_env):
            if not env.get(name):
                raise ConfigError(
                    f"expected environment variable {name} to hold the Alpaca credential, received nothing", field=name
                )
        return cls(stream_url, rest_url, env[key_env], env[secret_env], *args, **kwargs)

    @property
    def in_sync(self) -> bool:
        """True while connected and no REST backfill is outstanding (see `LiveFeed.in_sync`)."""
        return self._ws is not None and not self._backfill_due

    def forget_before(self, start_ns: int) -> None:
        """Drop dedupe memory of bars starting before `start_ns` (called at each session start)."""
        self._deduper.forget_before(start_ns)

    @property
    def symbols(self) -> list[str]:
        """The subscribed symbols, sorted."""
        return list(self._symbols)

    def connect(self, backfill_from_ns: int | None = None) -> None:
        """Connect, authenticate and subscribe (blocking, bounded by `timeout_s` per step).

        With `backfill_from_ns`, bars that closed between that instant and the subscription are
        fetched from REST by the next `poll` (and `in_sync` is False until they are).

        Raises
        ------
        FeedError
            Fatal: bad credentials (402), feed not in plan (409), auth timeout (404), a refused or
            incomplete subscription (unknown symbols), 1 s bars asked of real Alpaca, or the
            network still failing after `connect_attempts` attempts.
        """
        host = urllib.parse.urlsplit(self._stream_url).hostname or ""
        if self._interval.label == "1s" and host.endswith("alpaca.markets"):
            raise FeedError(
                f"Alpaca has no 1-second bars ({self._stream_url}); use base interval 1m, or the local feed "
                "server (python -m app.feed serve) for 1s sessions", fatal=True,
            )
        self._closed = False
        for attempt in range(1, self._connect_attempts + 1):
            try:
                self._open()
                self._since_ns = self._clock_ns() if backfill_from_ns is None else backfill_from_ns
                self._backfill_due = backfill_from_ns is not None
                if backfill_from_ns is not None:
                    self._last_start_ns = None  # a new stream (e.g. the next session) starts here
                return
            except _TransientFeedError as e:
                if attempt == self._connect_attempts:
                    raise FeedError(f"could not connect after {attempt} attempts: {e}", fatal=True) from None
                delay = self._backoff.next_delay_s(e.floor_s)
                log.warning("connect attempt %d failed (%s); retrying in %.2f s", attempt, e, delay)
                if self._sleep(delay) is True:
                    return  # stopping: the caller sees its stop token and ends

    def poll(self, timeout_s: float) -> list[LiveBar]:
        """Return the bars received within `timeout_s` (maybe none), in arrival order.

        Reconnects (with backoff, never sleeping past the timeout), re-authenticates,
        re-subscribes and backfills the missed span from REST inside the call. Duplicates are
        dropped; a restated bar comes back with kind ``"updated"``. Raises `FeedError` when the
        provider refuses the session (see `connect`); never for a dropped socket.
        """
        return self.poll_blocks(timeout_s, blocks=False)  # type: ignore[return-value]  # no blocks asked

    def poll_blocks(self, timeout_s: float, *, blocks: bool = True) -> list[LiveBar | BarBlock]:
        """`poll`, each frame of plain first deliveries of one start as one `BarBlock` (`parse_block`)."""
        if self._closed:
            return []
        deadline = self._stopwatch.deadline(max(timeout_s, 0.0))
        out: list[LiveBar | BarBlock]
        out, self._pending = list(self._pending), []
        while not out and not self._closed:
            if self._ws is None:
                if not self._reconnect(deadline, out):
                    break
                continue
            if self._backfill_due and self._backfill_retry.expired:
                self._backfill(out)
                if out:
                    break
            remaining = deadline.remaining_s()
            if remaining <= 0:
                break
            try:
                raw = self._ws.recv(timeout=remaining)
            except TimeoutError:
                break
            except ConnectionClosed as e:
                self._on_disconnect(e)
                continue
            self._handle_frame(raw, out, blocks=blocks)
        return out

    def fetch_bars(self, symbols: list[str], interval: Interval, start_ns: int, end_ns: int) -> dict[str, BarArrays]:
        """Return bars with ``start_ns <= start < end_ns`` per symbol from REST (every page).

        Raises
        ------
        FeedError
            Fatal for refused keys or parameters, not fatal for network trouble (see AlpacaRest).
        """
        return bars_to_arrays(self._rest.fetch(sorted(set(symbols)), interval, start_ns, end_ns), sorted(set(symbols)))

    def rest_fetcher(self, retries: int = 3, timeout_s: float | None = None
                     ) -> Callable[[list[str], Interval, int, int], dict[str, BarArrays]]:
        """Return a REST bar fetcher with its own connection state (gap fill, the fill at grace).

        Same URL, credentials and feed as this feed; its counters are not this feed's `stats`.
        `retries` are the fetcher's own (gap fill retries at its own pace: pass 0); `timeout_s`
        bounds each request (default this feed's `timeout_s`).
        """
        rest = AlpacaRest(self._rest_url, self._key, self._secret, feed=self._feed, stats=FeedStats(),
                          clock_ns=self._clock_ns, sleep=self._sleep,
                          timeout_s=self._timeout_s if timeout_s is None else timeout_s, retries=retries)

        def fetch(symbols: list[str], interval: Interval, start_ns: int, end_ns: int) -> dict[str, BarArrays]:
            wanted = sorted(set(symbols))
            return bars_to_arrays(rest.fetch(wanted, interval, start_ns, end_ns), wanted)

        return fetch

    def close(self) -> None:
        """Close the connection (idempotent); a later close code 1006 is not a reconnect."""
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()

    # -- connection -------------------------------------------------------------------------

    def _open(self) -> None:
        try:
            ws = ws_connect(
                self._stream_url, open_timeout=self._timeout_s, close_timeout=2.0, ping_interval=20.0,
                ping_timeout=20.0, logger=_wire_log, user_agent_header="session-coordinator", legacy=True,
            )
        except InvalidStatus as e:
            status = e.response.status_code
            if 400 <= status < 500:
                raise FeedError(
                    f"{self._stream_url} refused the websocket upgrade: HTTP {status}", code=status, fatal=True
                ) from None
            raise _TransientFeedError(f"HTTP {status} on upgrade") from None
        except InvalidURI as e:
            raise FeedError(
                f"expected a ws:// or wss:// stream URL, received {self._stream_url!r} ({e})", fatal=True
            ) from None
        except (OSError, WebSocketException) as e:
            raise _TransientFeedError(f"{type(e).__name__}: {e}") from None
        except AssertionError:
            # websockets' sync client trips an internal assert when the server resets the
            # connection while the upgrade request is still being sent (a server refusing us):
            # a refusal like any other, retried with backoff (tests/live/test_reconnect_backoff.py).
            raise _TransientFeedError("connection reset during the websocket upgrade") from None
        try:
            self._handshake(ws)
        except BaseException:
            ws.close()
            raise
        self._ws = ws

    def _handshake(self, ws: ClientConnection) -> None:
        deadline = self._stopwatch.deadline(self._timeout_s)
        self._await_control(ws, deadline, "connected")
        ws.send(json.dumps({"action": "auth", "key": self._key, "secret": self._secret}))
        self._await_control(ws, deadline, "authenticated")
        ws.send(json.dumps({"action": "subscribe", **dict.fromkeys(self._channels, self._symbols)}))
        ack = self._await_control(ws, deadline, "subscription")
        missing = {
            ch: sorted(set(self._symbols) - set(ack.get(ch) or []))
            for ch in self._channels
            if "*" not in (ack.get(ch) or [])
        }
        missing = {ch: syms for ch, syms in missing.items() if syms}
        if missing:
            raise FeedError(f"subscription ack lacks symbols {missing} (unknown symbols?)", fatal=True)

    def _await_control(self, ws: ClientConnection, deadline: Deadline, want: str) -> dict[str, Any]:
        while True:
            remaining = deadline.remaining_s()
            try:
                raw = ws.recv(timeout=max(remaining, 0.0))
            except TimeoutError:
                raise _TransientFeedError(f"no {want!r} message within {self._timeout_s:g} s") from None
            except ConnectionClosed as e:
                code = e.rcvd.code if e.rcvd else 1006
                raise _TransientFeedError(f"connection closed while waiting for {want!r} (code {code})") from None
            for msg in self._handle_frame(raw, self._pending):
                if msg.get("T") == "error":
                    self._raise_error(msg, during=want)
                if want == "subscription" and msg.get("T") == "subscription":
                    return msg
                if msg.get("T") == "success" and msg.get("msg") == want:
                    return msg

    def _raise_error(self, msg: dict[str, Any], during: str) -> None:
        code, text = msg.get("code"), str(msg.get("msg", ""))[:200]
        if code == 400 and during == "subscription":
            raise FeedError(
                f"subscribe to {self._symbols} refused ({text}): unknown or badly formatted symbol",
                code=400,
                fatal=True,
            )
        if code == 402:
            raise FeedError(f"{self._stream_url}: {text}; check the API key and secret", code=402, fatal=True)
        if code == 406:
            raise _TransientFeedError(f"error 406 {text}", floor_s=LONG_BACKOFF_S)
        if isinstance(code, int) and code in FATAL_CODES:
            raise FeedError(f"{self._stream_url}: {text} (while waiting for {during!r})", code=code, fatal=True)
        raise _TransientFeedError(f"error {code} {text}")

    def _on_disconnect(self, e: ConnectionClosed) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()
        if self._closed:
            return
        code = e.rcvd.code if e.rcvd else 1006
        delay = self._backoff.next_delay_s()
        log.warning("stream disconnected (code %d); reconnecting in %.2f s", code, delay)
        self._next_attempt = self._stopwatch.deadline(delay)

    def _reconnect(self, deadline: Deadline, out: list[Any]) -> bool:
        if not self._next_attempt.expired:
            wait_s = min(self._next_attempt.remaining_s(), deadline.remaining_s())
            if wait_s > 0:
                self._sleep(wait_s)
            if not self._next_attempt.expired:
                return False
        try:
            self._open()
        except _TransientFeedError as e:
            delay = self._backoff.next_delay_s(e.floor_s)
            log.warning("reconnect failed (%s); next attempt in %.2f s", e, delay)
            self._next_attempt = self._stopwatch.deadline(delay)
            return not deadline.expired
        self.stats.reconnects += 1
        self._backoff.reset()
        self._backfill_due = True
        self._backfill(out)
        return True

    def _backfill(self, out: list[Any]) -> None:
        iv = self._interval.ns
        start = self._last_start_ns if self._last_start_ns is not None else self._since_ns
        end = self._clock_ns() - iv + 1  # only bars whose interval has closed
        if start is None or end <= start:
            self._backfill_due = False
            return
        if self._last_start_ns is None:
            start -= start % iv
        try:
            bars = self._rest.fetch(self._symbols, self._interval, start, end)
        except FeedError as e:
            if e.fatal:
                raise
            self._backfill_retry = self._stopwatch.deadline(self._backoff.initial_s)
            log.warning("backfill failed (%s); retrying in %.2f s", e, self._backoff.initial_s)
            return
        self._backfill_due = False
        for bar in bars:
            self._deliver(bar, out, final=True)
        log.info("backfilled %s .. %s: %d bars fetched", start, end, len(bars))

    # -- frames -----------------------------------------------------------------------------

    def _handle_frame(self, raw: str | bytes, out: list[Any], *, blocks: bool = False) -> list[dict[str, Any]]:
        self.stats.messages += 1
        try:
            msgs = decode_frame(raw)
        except ValueError as e:
            self.stats.malformed += 1
            log.warning("malformed frame (%s): %s", e, truncate_raw(raw))
            return []
        received, wanted = self._clock_ns(), self._wanted_types
        block = parse_block(msgs, received, self._symbol_set, self._last) if blocks and "b" in wanted else None
        if block is not None and self._deduper.offer_block(block.symbols, block.start_ns, block.values):
            self._last = block.symbols  # the next frame's, most likely (`parse_block`)
            self.stats.bars += len(block)  # every key new: first deliveries, as a block
            self._note_start(block.start_ns)
            out.append(block)
            return msgs
        symbols, deliver = self._symbol_set, self._deliver  # per bar: locals
        for msg in msgs:
            kind = msg["T"]
            if kind in wanted:
                try:
                    bar = parse_bar(msg, received, BAR_TYPES[kind])
                except ValueError as e:
                    self.stats.malformed += 1
                    log.warning("malformed bar message (%s): %s", e, truncate_raw(json.dumps(msg)))
                    continue
                if bar.symbol in symbols:
                    deliver(bar, out, final=False)
                    continue
            if kind == "error":
                code = msg.get("code")
                self.stats.count_error(code if isinstance(code, int) else -1)
                log.warning("provider error frame: %s", truncate_raw(json.dumps(msg)))
                if self._ws is not None and code in FATAL_CODES and code != 400:
                    self._raise_error(msg, during="bars")
            elif kind not in ("success", "subscription"):
                self.stats.unexpected += 1
                log.warning("unexpected message: %s", truncate_raw(json.dumps(msg)))
        return msgs

    def _deliver(self, bar: LiveBar, out: list[Any], *, final: bool) -> None:
        result, known = self._deduper.offer(bar, final=final)
        if result is None:
            self.stats.duplicates_dropped += 1
            return
        if known:
            self.stats.updated_bars += 1
        else:
            self.stats.bars += 1
            self.stats.backfilled_bars += int(final)
        self._note_start(bar.start_ns)
        out.append(dataclasses.replace(result, origin="backfill") if final else result)

    def _note_start(self, start_ns: int) -> None:
        if self._last_start_ns is None or start_ns > self._last_start_ns:
            self._last_start_ns = start_ns
