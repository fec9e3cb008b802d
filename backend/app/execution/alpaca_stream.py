"""The ``trade_updates`` WebSocket: connect, authenticate, listen, read events (no threads of its own).

The handshake follows ``ALPACA_TRADING.md`` section 4: the SDK auth form
(``{"action":"authenticate","data":{"key_id","secret_key"}}``), whose verdict is the next frame,
then ``listen`` to ``trade_updates`` and its ``listening`` ack. Frames are one JSON object each,
text or binary. There is no replay: events sent while the socket was down are lost to it, which
is why the broker adapter reconciles over REST after every connect.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from app.execution.alpaca_trading import BrokerError

__all__ = ["StreamDownError", "TradeStream", "decode_events"]

log = logging.getLogger(__name__)
_wire_log = logging.getLogger(__name__ + ".wire")
_wire_log.setLevel(logging.INFO)  # websockets logs every frame at DEBUG, and the auth frame has the secret


class StreamDownError(Exception):
    """The connection failed or dropped; the caller backs off and connects again."""


def decode_events(raw: str | bytes) -> list[dict[str, Any]]:
    """Return the ``trade_updates`` ``data`` objects in one frame (text or binary JSON); [] for others."""
    try:
        msg = json.loads(raw)
    except ValueError:
        return []
    items = msg if isinstance(msg, list) else [msg]
    return [m["data"] for m in items
            if isinstance(m, dict) and m.get("stream") == "trade_updates" and isinstance(m.get("data"), dict)]


class TradeStream:
    """One ``trade_updates`` connection at a time.

    Parameters
    ----------
    url : str
        ``ws(s)://host/stream``.
    key, secret : str
        Credentials (sent in the auth frame only; never logged).
    timeout_s : float
        Bound of the connect and of each handshake step.
    deadline : callable
        ``deadline(seconds)`` returns an object with ``remaining_s()`` (a Stopwatch's).

    Warnings
    --------
    One thread calls every method (the TradeUpdates thread).
    """

    def __init__(self, url: str, key: str, secret: str, *, timeout_s: float,
                 deadline: Callable[[float], Any]) -> None:
        self.url = url
        self._key, self._secret = key, secret
        self._timeout_s = timeout_s
        self._deadline = deadline
        self._ws: ClientConnection | None = None

    @property
    def is_open(self) -> bool:
        return self._ws is not None

    def open(self) -> list[dict[str, Any]]:
        """Connect, authenticate and listen; return events that came before the ``listening`` ack.

        Raises
        ------
        BrokerError
            Refused credentials, or a URL that is not a WebSocket (the run cannot go on).
        StreamDownError
            The network or the server failed (try again later).
        """
        try:
            ws = ws_connect(self.url, open_timeout=self._timeout_s, close_timeout=1.0, ping_interval=10.0,
                            ping_timeout=30.0, logger=_wire_log, user_agent_header="session-coordinator",
                            legacy=True)
        except InvalidStatus as e:
            raise StreamDownError(f"HTTP {e.response.status_code} on upgrade") from None
        except InvalidURI as e:
            raise BrokerError(f"broker.stream_url: expected a ws:// or wss:// URL, received {self.url!r} ({e})") \
                from None
        except (OSError, WebSocketException) as e:
            raise StreamDownError(f"{type(e).__name__}: {e}") from None
        try:
            early = self._handshake(ws)
        except BaseException:
            ws.close()
            raise
        self._ws = ws
        return early

    def _handshake(self, ws: ClientConnection) -> list[dict[str, Any]]:
        deadline = self._deadline(self._timeout_s)
        ws.send(json.dumps({"action": "authenticate", "data": {"key_id": self._key, "secret_key": self._secret}}))
        verdict = self._control(ws, deadline)
        raw_data = verdict.get("data")
        data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
        if verdict.get("stream") != "authorization" or data.get("status") != "authorized":
            detail = data.get("message") or data.get("status") or verdict
            raise BrokerError(f"{self.url} refused the trading keys: {detail} (check broker.key_env / "
                              "broker.secret_env; paper and live keys differ)")
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        early: list[dict[str, Any]] = []
        while True:
            msg = self._control(ws, deadline)
            if msg.get("stream") == "listening":
                streams = (msg.get("data") or {}).get("streams") or []
                if "trade_updates" not in streams:
                    raise BrokerError(f"{self.url} did not listen to trade_updates (ack {streams!r})")
                return early
            if msg.get("stream") == "trade_updates" and isinstance(msg.get("data"), dict):
                early.append(msg["data"])

    def _control(self, ws: ClientConnection, deadline: Any) -> dict[str, Any]:
        try:
            raw = ws.recv(timeout=max(deadline.remaining_s(), 0.0))
        except TimeoutError:
            raise StreamDownError(f"no handshake reply within {self._timeout_s} s") from None
        except ConnectionClosed as e:
            raise StreamDownError(f"closed during the handshake ({e})") from None
        try:
            msg = json.loads(raw)
        except ValueError:
            raise StreamDownError(f"unreadable handshake frame {raw[:80]!r}") from None
        if isinstance(msg, dict) and msg.get("action") == "error":
            raise BrokerError(f"{self.url}: {(msg.get('data') or {}).get('error_message', msg)}")
        return msg if isinstance(msg, dict) else {}

    def recv(self, timeout_s: float) -> list[dict[str, Any]]:
        """Return the events received within `timeout_s` (maybe none).

        Raises
        ------
        StreamDownError
            When the connection dropped (it is closed; `open` again).
        """
        ws = self._ws
        if ws is None:
            raise StreamDownError("not connected")
        try:
            raw = ws.recv(timeout=timeout_s)
        except TimeoutError:
            return []
        except ConnectionClosed as e:
            self.close()
            raise StreamDownError(f"closed ({e})") from None
        return decode_events(raw)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()
