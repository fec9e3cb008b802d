"""REST routes of the local trading server: one request in, (status, JSON body, events) out.

Pure apart from the `Book` it mutates: no sockets, the instant is passed in. The transport
(`app.broker.server.http`) writes the answer, publishes the events on ``trade_updates`` and
plays the ghost-submit fault. Routes: ALPACA_TRADING.md section 7; ``/_control/...`` are the
test controls (no auth, no rate limit): bars, market open/close, end of day, stream drop, seeding.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from app.broker.server.orders import ApiError, Bar, Event, parse_order_request, parse_replace, to_decimal
from app.broker.server.wire import (
    account_json,
    clock_json,
    fill_activity_json,
    order_json,
    position_json,
)
from app.feeds.live import parse_rfc3339_ns

if TYPE_CHECKING:
    from app.broker.server.book import Book
    from app.broker.server.faults import SubmitCounter

__all__ = ["Answer", "Credentials", "route"]

_ORDER_ID: Final = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
UNAUTHORIZED: Final = ApiError(401, 40110000, "request is not authorized")


@dataclass(frozen=True, slots=True)
class Credentials:
    key: str
    secret: str


@dataclass(slots=True)
class Answer:
    """What to send back: HTTP status, JSON body (None = empty), events to publish, side effects."""

    status: int
    body: Any = None
    events: list[Event] = field(default_factory=list)
    ghost: bool = False  # the order was created but the answer must be lost (fault)
    control: str | None = None  # a transport-level control action ("drop_stream:<mode>")


def _error(err: ApiError) -> Answer:
    return Answer(err.status, err.body())


def _params(query: str) -> dict[str, str]:
    return {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}


def _json_body(body: bytes) -> Any:
    if not body.strip():
        return {}
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(422, 40010001, "request body is not valid JSON") from None


def route(
    book: Book, counter: SubmitCounter, method: str, path: str, query: str, headers: dict[str, str], body: bytes,
    now_ns: int, creds: Credentials, created_ns: int,
) -> Answer:
    """Answer one REST request (`headers` keys lower-cased)."""
    try:
        if path.startswith("/_control/"):
            return _control(book, method, path, _json_body(body), now_ns)
        if "apca_api_key_id" in headers or "apca_api_secret_key" in headers:
            return Answer(403, {"message": "forbidden."})
        if (headers.get("apca-api-key-id"), headers.get("apca-api-secret-key")) != (creds.key, creds.secret):
            return _error(UNAUTHORIZED)
        path = path.replace("%3A", ":").replace("%3a", ":")  # /v2/orders%3Aby_client_order_id, if encoded
        return _v2(book, counter, method, path, _params(query), body, now_ns, created_ns)
    except ApiError as e:
        return _error(e)


def _v2(book: Book, counter: SubmitCounter, method: str, path: str, params: dict[str, str], body: bytes,
        now_ns: int, created_ns: int) -> Answer:
    seed = book.seed
    if path == "/v2/account" and method == "GET":
        return Answer(200, account_json(book, created_ns))
    if path == "/v2/clock" and method == "GET":
        return Answer(200, clock_json(now_ns, book.market_open))
    if path == "/v2/account/activities/FILL" and method == "GET":
        return Answer(200, _fill_activities(book, params))
    if path == "/v2/orders:by_client_order_id" and method == "GET":
        return Answer(200, order_json(book.get_by_client_id(params.get("client_order_id", "")), seed))
    answer = None
    if path == "/v2/orders" or path.startswith("/v2/orders/"):
        answer = _orders(book, counter, method, path, params, body, now_ns)
    elif path == "/v2/positions" or path.startswith("/v2/positions/"):
        answer = _positions(book, counter, method, path, params, now_ns)
    if answer is None:
        raise ApiError(404, 40410000, f"endpoint not found: {method} {path}")
    return answer


def _orders(book: Book, counter: SubmitCounter, method: str, path: str, params: dict[str, str], body: bytes,
            now_ns: int) -> Answer | None:
    if path == "/v2/orders":
        if method == "POST":
            return _submit(book, counter, _json_body(body), now_ns)
        if method == "GET":
            return Answer(200, [order_json(o, book.seed) for o in _list_orders(book, params)])
        if method == "DELETE":
            ids, events = book.cancel_all(now_ns)
            return Answer(207, [{"id": i, "status": 200} for i in ids], events)
        return None
    order_id = path.removeprefix("/v2/orders/")
    if not _ORDER_ID.match(order_id):
        raise ApiError(422, 40010001, f"invalid order id {order_id!r}")
    if method == "GET":
        return Answer(200, order_json(book.get(order_id), book.seed))
    if method == "DELETE":
        if counter.faults.cancel_race:
            return Answer(204, None, book.refuse_cancel(order_id, now_ns))
        return Answer(204, None, book.cancel(order_id, now_ns))
    if method == "PATCH":
        order, events = book.replace(order_id, parse_replace(_json_body(body), book.get(order_id).type), now_ns)
        return Answer(200, order_json(order, book.seed), events)
    return None


def _positions(book: Book, counter: SubmitCounter, method: str, path: str, params: dict[str, str],
               now_ns: int) -> Answer | None:
    if path == "/v2/positions":
        if method == "GET":
            return Answer(200, [position_json(p, book.price_of(p.symbol), book.seed, book.held_for_orders(p.symbol))
                                for p in sorted(book.positions.values(), key=lambda p: p.symbol)])
        return _close_all(book, counter, params, now_ns) if method == "DELETE" else None
    symbol = urllib.parse.unquote(path.removeprefix("/v2/positions/"))
    if method == "GET":
        pos = book.positions.get(symbol)
        if pos is None:
            raise ApiError(404, 40410000, "position does not exist")
        return Answer(200, position_json(pos, book.price_of(symbol), book.seed, book.held_for_orders(symbol)))
    return _close_one(book, counter, symbol, params, now_ns) if method == "DELETE" else None


def _submit(book: Book, counter: SubmitCounter, payload: Any, now_ns: int) -> Answer:
    number = counter.next_post()
    req = parse_order_request(payload)
    if req.client_order_id is not None and req.client_order_id in book.by_client_id:
        raise ApiError(422, 40010001, "client_order_id must be unique")
    mode = counter.reject_mode(req.symbol)
    if mode == "rest":
        raise ApiError(403, 40310000, "insufficient buying power")
    order, events = book.submit(req, now_ns, reject="fault" if mode == "async" else None)
    return Answer(200, order_json(order, book.seed), events, ghost=counter.is_ghost(number))


def _time_param(params: dict[str, str], name: str) -> int | None:
    text = params.get(name)
    if not text:
        return None
    try:
        return parse_rfc3339_ns(text)
    except ValueError:
        raise ApiError(422, 40010001, f"invalid {name} {text!r}: expected an RFC 3339 time") from None


def _list_orders(book: Book, params: dict[str, str]) -> list[Any]:
    status = params.get("status", "open")
    if status not in ("open", "closed", "all"):
        raise ApiError(422, 40010001, f"invalid status {status!r}: expected open, closed or all")
    try:
        limit = int(params.get("limit", "50"))
    except ValueError:
        raise ApiError(422, 40010001, f"invalid limit {params.get('limit')!r}") from None
    limit = max(1, min(limit, 500))
    symbols = {s for s in params.get("symbols", "").split(",") if s}
    side = params.get("side")
    after, until = _time_param(params, "after"), _time_param(params, "until")
    orders = [o for o in book.orders.values()
              if (status == "all" or o.is_open == (status == "open"))
              and (not symbols or o.symbol in symbols) and (side is None or o.side == side)
              and (after is None or o.submitted_ns > after) and (until is None or o.submitted_ns < until)]
    orders.sort(key=lambda o: o.seq, reverse=params.get("direction", "desc") != "asc")
    return orders[:limit]


def _close_one(book: Book, counter: SubmitCounter, symbol: str, params: dict[str, str], now_ns: int) -> Answer:
    pos = book.positions.get(symbol)
    if pos is None:
        raise ApiError(404, 40410000, "position does not exist")
    qty = abs(pos.qty)
    if "qty" in params:
        qty = min(qty, to_decimal(params["qty"], "qty"))
    elif "percentage" in params:
        qty = (qty * to_decimal(params["percentage"], "percentage") / 100).quantize(Decimal(1))
    req = parse_order_request({"symbol": symbol, "qty": str(qty), "side": "sell" if pos.qty > 0 else "buy",
                               "type": "market", "time_in_force": "day"})
    order, events = book.submit(req, now_ns)
    return Answer(200, order_json(order, book.seed), events)


def _close_all(book: Book, counter: SubmitCounter, params: dict[str, str], now_ns: int) -> Answer:
    events: list[Event] = []
    if params.get("cancel_orders") == "true":
        events += book.cancel_all(now_ns)[1]
    out = []
    for symbol in sorted(book.positions):
        answer = _close_one(book, counter, symbol, {}, now_ns)
        events += answer.events
        out.append({"symbol": symbol, "status": 200, "body": answer.body})
    return Answer(207, out, events)


def _fill_activities(book: Book, params: dict[str, str]) -> list[Any]:
    rows = list(book.executions)
    if params.get("direction", "desc") != "asc":
        rows.reverse()
    token = params.get("page_token")
    if token:
        ids = [r.id for r in rows]
        rows = rows[ids.index(token) + 1:] if token in ids else []
    size = int(params.get("page_size", "100") or "100")
    return [fill_activity_json(r) for r in rows[:max(1, min(size, 100))]]


def _control(book: Book, method: str, path: str, payload: Any, now_ns: int) -> Answer:
    if method != "POST" or not isinstance(payload, dict):
        raise ApiError(422, 40010001, f"{path}: expected POST with a JSON object body")
    name = path.removeprefix("/_control/")
    if name == "bar":
        bar = control_bar(payload, now_ns)
        return Answer(200, {"symbol": bar.symbol}, book.on_bar(bar, now_ns))
    if name == "market":
        is_open = payload.get("open")
        if not isinstance(is_open, bool):
            raise ApiError(422, 40010001, f"{path}: expected {{\"open\": true|false}}, received {payload!r}")
        return Answer(200, {"is_open": is_open}, book.set_market_open(is_open, now_ns))
    if name == "end_of_day":
        return Answer(200, {}, book.expire_day_orders(now_ns))
    if name == "position":
        symbol = payload.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise ApiError(422, 40010001, f"{path}: expected symbol, qty and avg_entry_price")
        book.seed_position(symbol, to_decimal(payload.get("qty"), "qty"),
                           to_decimal(payload.get("avg_entry_price"), "avg_entry_price"))
        return Answer(200, {"symbol": symbol})
    if name == "drop_stream":
        mode = payload.get("mode", "abrupt")
        if mode not in ("abrupt", "clean", "mute"):
            raise ApiError(422, 40010001, f"{path}: expected mode abrupt, clean or mute, received {mode!r}")
        return Answer(200, {"mode": mode}, control=f"drop_stream:{mode}")
    raise ApiError(404, 40410000, f"unknown control {path}: expected bar, market, end_of_day, position, drop_stream")


def control_bar(payload: dict[str, Any], now_ns: int) -> Bar:
    """Return the bar of a ``/_control/bar`` body ``{symbol, open, high?, low?, close?, end_ns?}``.

    A bar without ``end_ns`` ends now: it fills the orders working before this request.
    """
    symbol = payload.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise ApiError(422, 40010001, "/_control/bar: expected symbol and open")
    o = to_decimal(payload.get("open"), "open")
    c = to_decimal(payload.get("close", payload.get("open")), "close")
    h = to_decimal(payload.get("high", max(o, c)), "high")
    low = to_decimal(payload.get("low", min(o, c)), "low")
    end = payload.get("end_ns", now_ns)
    start = payload.get("start_ns", end)
    if not isinstance(end, int) or not isinstance(start, int):
        raise ApiError(422, 40010001, "/_control/bar: start_ns and end_ns must be integers (ns UTC)")
    return Bar(symbol, start, end, o, h, low, c)
