"""The ``trade_updates`` stream at ``ws://HOST:PORT/stream``: handshake, auth, listen, fan-out, drops.

The HTTP transport hands over an upgrade request it has already read; websockets' Sans-I/O
`ServerProtocol` does the RFC 6455 framing on the same asyncio streams, so REST and the stream
share one port as on Alpaca. Frames are one JSON object each, binary by default (as paper
sends), text with ``text_frames``; a client whose upgrade says ``Content-Type:
application/msgpack`` gets msgpack. `answer_message` (pure) is the auth/listen protocol.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import msgpack
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol

__all__ = ["StreamClient", "StreamHub", "answer_message"]

log = logging.getLogger(__name__)


def _authorization(status: str, action: str) -> dict[str, Any]:
    return {"stream": "authorization", "data": {"status": status, "action": action}}


@dataclass(slots=True)
class Session:
    """Protocol state of one stream connection."""

    authenticated: bool = False
    streams: list[str] = field(default_factory=list)


def answer_message(session: Session, msg: object, key: str, secret: str) -> tuple[list[dict[str, Any]], bool]:
    """Return the replies to one client message and whether to close the connection after them.

    Auth (either form): the next frame is the verdict, ``authorized`` or ``unauthorized`` (then
    close). ``listen`` answers the full set of streams listened to; before auth it answers
    ``unauthorized``/``listen``. Anything else gets ``{"action":"error",...}`` and a close.
    """
    action = msg.get("action") if isinstance(msg, dict) else None
    data = msg.get("data") if isinstance(msg, dict) and isinstance(msg.get("data"), dict) else {}
    assert isinstance(data, dict)
    if action in ("authenticate", "auth"):
        assert isinstance(msg, dict)
        given = (data.get("key_id"), data.get("secret_key")) if action == "authenticate" else (
            msg.get("key"), msg.get("secret"))
        if given == (key, secret):
            session.authenticated = True
            return [_authorization("authorized", "authenticate")], False
        return [_authorization("unauthorized", "authenticate")], True
    if action == "listen":
        if not session.authenticated:
            return [_authorization("unauthorized", "listen")], False
        streams = data.get("streams")
        if not isinstance(streams, list) or not all(isinstance(s, str) for s in streams):
            return [{"action": "error", "data": {"error_message": "listen: expected data.streams, a list"}}], True
        session.streams = [s for s in streams if s == "trade_updates"]
        return [{"stream": "listening", "data": {"streams": list(session.streams)}}], False
    text = f"unknown action {action!r}" if action is not None else "invalid message: expected a JSON object"
    return [{"action": "error", "data": {"error_message": text}}], True


class StreamClient:
    """One upgraded connection: Sans-I/O protocol plus the asyncio writer."""

    def __init__(self, proto: ServerProtocol, writer: asyncio.StreamWriter, *, use_msgpack: bool, text: bool) -> None:
        self.proto = proto
        self.writer = writer
        self.msgpack = use_msgpack
        self.text = text
        self.session = Session()
        self.muted = False

    @property
    def listening(self) -> bool:
        return self.session.authenticated and "trade_updates" in self.session.streams and not self.muted

    def flush(self) -> None:
        for data in self.proto.data_to_send():
            if data:
                self.writer.write(data)
            elif self.writer.can_write_eof() and not self.writer.is_closing():
                self.writer.write_eof()

    def send(self, obj: dict[str, Any]) -> None:
        if self.proto.state is not State.OPEN:
            return
        if self.msgpack:
            self.proto.send_binary(msgpack.packb(obj))
        else:
            raw = json.dumps(obj, separators=(",", ":")).encode()
            (self.proto.send_text if self.text else self.proto.send_binary)(raw)
        self.flush()

    def close(self, code: int = 1000) -> None:
        if self.proto.state is State.OPEN:
            self.proto.send_close(code, "")
            self.flush()

    def abort(self) -> None:
        transport = self.writer.transport
        transport.abort()

    def decode(self, payload: bytes, opcode: Opcode) -> object:
        try:
            if self.msgpack and opcode is Opcode.BINARY:
                return msgpack.unpackb(payload)
            return json.loads(payload)
        except (ValueError, msgpack.UnpackException):
            return None


class StreamHub:
    """Every stream connection of the server; publishes events to those listening."""

    def __init__(self, key: str, secret: str, *, text_frames: bool) -> None:
        self.key = key
        self.secret = secret
        self.text_frames = text_frames
        self.clients: set[StreamClient] = set()

    @property
    def listeners(self) -> int:
        return sum(1 for c in self.clients if c.listening)

    def publish(self, frame: dict[str, Any]) -> int:
        """Send `frame` to every listening client; return how many got it."""
        sent = 0
        for client in list(self.clients):
            if client.listening:
                client.send(frame)
                sent += 1
        return sent

    def drop_all(self, mode: str) -> int:
        """Drop every connection: ``abrupt`` (reset), ``clean`` (close 1000) or ``mute`` (silence)."""
        clients = list(self.clients)
        log.warning("fault: dropping %d trade_updates connections (%s)", len(clients), mode)
        for client in clients:
            if mode == "abrupt":
                client.abort()
            elif mode == "clean":
                client.close(1000)
            else:
                client.muted = True
        return len(clients)

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes,
                    content_type: str) -> None:
        """Complete the upgrade whose request bytes are `head`, then run the connection to its end."""
        proto = ServerProtocol(max_size=1 << 20, logger=logging.getLogger("app.broker.websockets"))
        proto.receive_data(head)
        requests = proto.events_received()
        if not requests:
            writer.transport.abort()
            return
        response = proto.accept(requests[0])  # type: ignore[arg-type]
        proto.send_response(response)
        client = StreamClient(proto, writer, use_msgpack="msgpack" in content_type.lower(), text=self.text_frames)
        client.flush()
        if response.status_code != 101:
            writer.close()
            return
        self.clients.add(client)
        try:
            await self._read_loop(client, reader)
        except (ConnectionError, OSError):
            pass
        finally:
            self.clients.discard(client)
            writer.close()

    async def _read_loop(self, client: StreamClient, reader: asyncio.StreamReader) -> None:
        proto = client.proto
        partial: list[bytes] = []
        first = Opcode.TEXT
        while proto.state is not State.CLOSED:
            data = await reader.read(65536)
            if data:
                proto.receive_data(data)
            else:
                proto.receive_eof()
            for event in proto.events_received():
                if not isinstance(event, Frame) or event.opcode not in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                    continue
                if event.opcode is not Opcode.CONT:
                    first = event.opcode
                partial.append(bytes(event.data))
                if event.fin:
                    self._on_message(client, client.decode(b"".join(partial), first))
                    partial.clear()
            client.flush()
            if not data:
                return

    def _on_message(self, client: StreamClient, msg: object) -> None:
        replies, close = answer_message(client.session, msg, self.key, self.secret)
        for reply in replies:
            client.send(reply)
        if close:
            client.close(1000 if client.session.authenticated else 1008)
