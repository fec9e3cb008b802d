"""A minimal asyncio HTTP/1.1 server: keep-alive requests with bodies, and hand-off of websocket upgrades.

websockets' own server refuses request bodies (POST), so REST needs this; an upgrade request is
passed, already read, to the stream hub. Only what Alpaca's clients send is supported:
``Content-Length`` bodies (no chunked uploads), one request at a time per connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Final

__all__ = ["HttpRequest", "HttpResponse", "serve_connection"]

log = logging.getLogger(__name__)
MAX_HEAD: Final = 64 * 1024
MAX_BODY: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass(slots=True)
class HttpResponse:
    status: int
    body: Any = None  # JSON-ready, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self, keep_alive: bool) -> bytes:
        payload = b"" if self.body is None else json.dumps(self.body, separators=(",", ":")).encode()
        reason = HTTPStatus(self.status).phrase if self.status in HTTPStatus._value2member_map_ else "Unknown"
        lines = [f"HTTP/1.1 {self.status} {reason}"]
        headers = {**self.headers, "Content-Length": str(len(payload)),
                   "Connection": "keep-alive" if keep_alive else "close"}
        if self.body is not None:
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


Handler = Callable[[HttpRequest], Awaitable[HttpResponse | None]]
Upgrade = Callable[[asyncio.StreamReader, asyncio.StreamWriter, bytes, dict[str, str]], Awaitable[None]]


def _parse_head(head: bytes) -> tuple[str, str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    path, _, query = target.partition("?")
    return method.upper(), path, query, headers


async def serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler,
                           upgrade: Upgrade) -> None:
    """Answer requests on one connection until the client closes it or asks to.

    `handler` returns None to drop the connection without an answer (the ghost-submit fault).
    """
    try:
        while await _one_request(reader, writer, handler, upgrade):
            pass
    except (ConnectionError, asyncio.IncompleteReadError, ValueError) as e:
        log.info("connection ended: %r", e)
    finally:
        if not writer.is_closing():
            writer.close()


def _refuse(writer: asyncio.StreamWriter, status: int, message: str) -> bool:
    writer.write(HttpResponse(status, {"code": 40010001, "message": message}).encode(False))
    return False


async def _one_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler,
                       upgrade: Upgrade) -> bool:
    """Serve one request; return whether the connection stays open for another."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return False
    try:
        method, path, query, headers = _parse_head(head)
    except ValueError:
        return _refuse(writer, 400, "malformed request")
    if headers.get("upgrade", "").lower() == "websocket":
        await upgrade(reader, writer, head, headers)
        return False
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _refuse(writer, 411, "send a Content-Length body")
    length = int(headers.get("content-length", "0") or "0")
    if length > MAX_BODY:
        return _refuse(writer, 413, "request body too large")
    body = await reader.readexactly(length) if length else b""
    response = await handler(HttpRequest(method, path, query, headers, body))
    if response is None:
        writer.transport.abort()
        return False
    keep_alive = headers.get("connection", "").lower() != "close"
    writer.write(response.encode(keep_alive))
    await writer.drain()
    return keep_alive
