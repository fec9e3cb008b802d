"""TradingClient's idempotent submit against a scripted HTTP server on 127.0.0.1 (real sockets)."""

from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from app.execution.alpaca_trading import BrokerError, BrokerRejectedError, TradingClient

pytestmark = pytest.mark.threads

ORDER = {"id": "b-1", "client_order_id": "run-000001", "status": "new", "filled_qty": "0"}
BODY = {"symbol": "AAPL", "qty": "1", "side": "buy", "type": "market", "time_in_force": "day",
        "client_order_id": "run-000001"}


@contextmanager
def scripted(answers):
    """Serve `answers` [(status, body or None, headers)] in order; yield (base URL, requests seen)."""
    seen: list[tuple[str, str]] = []
    queue = list(answers)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.append((self.command, self.path))
            status, body, headers = queue.pop(0)
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_DELETE = _answer  # noqa: N815 -- http.server's handler names

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def client(url):
    return TradingClient(url, "k", "s", timeout_s=2, sleep=lambda s: False)


def test_a_5xx_then_a_duplicate_ends_with_the_brokers_order_and_no_second_one():
    answers = [(504, None, {}), (404, {"code": 40410000, "message": "order not found"}, {}),
               (422, {"code": 40010001, "message": "client_order_id must be unique"}, {}), (200, ORDER, {})]
    with scripted(answers) as (url, seen):
        c = client(url)
        assert c.submit(BODY) == ORDER
    assert [m for m, _ in seen] == ["POST", "GET", "POST", "GET"]
    assert seen[1][1] == "/v2/orders:by_client_order_id?client_order_id=run-000001"
    assert c.adopted == 1


def test_a_422_that_is_not_a_duplicate_is_a_rejection_not_a_lookup():
    answers = [(422, {"code": 40010001, "message": "qty must be > 0"}, {})]
    with scripted(answers) as (url, seen), pytest.raises(BrokerRejectedError, match="HTTP 422 qty must be > 0"):
        client(url).submit(BODY)
    assert [m for m, _ in seen] == ["POST"]


def test_a_429_waits_its_retry_after_then_sends_again():
    waits = []
    answers = [(429, {"message": "too many requests"}, {"Retry-After": "0"}), (404, None, {}), (200, ORDER, {})]
    with scripted(answers) as (url, seen):
        c = TradingClient(url, "k", "s", timeout_s=2, sleep=lambda s: waits.append(s) and False)
        assert c.submit(BODY) == ORDER
    assert [m for m, _ in seen] == ["POST", "GET", "POST"] and len(waits) == 1


def test_refused_keys_name_the_variables_not_the_values():
    with scripted([(401, {"code": 40110000, "message": "request is not authorized"}, {})]) as (url, _), \
            pytest.raises(BrokerError, match=r"HTTP 401 request is not authorized \(check broker.key_env") as e:
        TradingClient(url, "KEY-4711", "SECRET-4711", timeout_s=2, sleep=lambda s: False).account()
    assert "4711" not in str(e.value)
