"""Values of the local trading server: order requests, orders, executions, stream events, API errors.

Pure: no sockets, no clock. Quantities and prices are `Decimal` (Alpaca sends them as strings);
instants are int ns UTC. `parse_order_request` turns a ``POST /v2/orders`` JSON body into an
`OrderRequest` or raises `ApiError` with the HTTP status, code and message Alpaca answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

__all__ = [
    "OPEN_STATUSES", "STATUS_RANK", "TERMINAL_STATUSES", "ZERO", "ApiError", "Bar", "Event", "Execution", "Order",
    "OrderRequest", "make_id", "parse_order_request", "parse_replace", "to_decimal",
]

ZERO: Final = Decimal(0)
OPEN_STATUSES: Final = frozenset({"accepted", "new", "partially_filled"})
TERMINAL_STATUSES: Final = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})
STATUS_RANK: Final = {"accepted": 0, "new": 1, "partially_filled": 2,
                      "filled": 3, "canceled": 3, "expired": 3, "rejected": 3, "replaced": 3}
"""An order's status only moves to a higher rank (terminal statuses share the top rank and never change)."""

MAX_CLIENT_ID: Final = 128
_ID_NAMESPACE: Final = uuid.UUID("6f1c1f4e-8a4b-4c2e-9a55-1f0b7d2c3e10")


def make_id(seed: str, kind: str, n: int) -> str:
    """Return the deterministic uuid of the `n`-th `kind` ("order", "exec", ...) of a book seeded `seed`."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{seed}:{kind}:{n}"))


class ApiError(Exception):
    """An answer other than 2xx: HTTP `status`, Alpaca `code`, `message`, extra body fields."""

    def __init__(self, status: int, code: int, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {**self.extra, "code": self.code, "message": self.message}


def to_decimal(value: object, name: str) -> Decimal:
    """Return `value` (a string or a number, as Alpaca and alpaca-py send) as a finite Decimal.

    Raises
    ------
    ApiError
        422 / 40010001 naming the field when `value` is not a number.
    """
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ApiError(422, 40010001, f"invalid {name}: expected a decimal string or number, received {value!r}")
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ApiError(422, 40010001, f"invalid {name}: expected a decimal string or number, received {value!r}") \
            from None
    if not out.is_finite():
        raise ApiError(422, 40010001, f"invalid {name}: expected a finite number, received {value!r}")
    return out


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated ``POST /v2/orders`` body (market or limit, day or gtc, by qty)."""

    symbol: str
    qty: Decimal
    side: str
    type: str
    time_in_force: str
    limit_price: Decimal | None = None
    client_order_id: str | None = None
    extended_hours: bool = False
    position_intent: str | None = None


def _check_sub_penny(price: Decimal) -> None:
    allowed = 2 if price >= 1 else 4
    if price != price.quantize(Decimal(1).scaleb(-allowed)):
        raise ApiError(422, 42210000, f"invalid limit_price {price}. sub-penny increment does not fulfill "
                                      "minimum pricing criteria")


def _invalid(message: str) -> ApiError:
    return ApiError(422, 40010001, message)


def _parse_qty(body: dict[str, Any]) -> Decimal:
    if body.get("qty") is not None and body.get("notional") is not None:
        raise ApiError(400, 40010001, "qty and notional are mutually exclusive")
    if body.get("notional") is not None:
        raise _invalid("notional orders are not supported by the local trading server; send qty")
    if body.get("qty") is None:
        raise _invalid("qty is required")
    qty = to_decimal(body["qty"], "qty")
    if qty <= 0:
        raise _invalid(f"qty must be > 0, received {body['qty']!r}")
    return qty


def _parse_terms(body: dict[str, Any]) -> tuple[str, str, str]:
    side = body.get("side")
    if side not in ("buy", "sell"):
        raise _invalid(f"invalid side {side!r}: expected buy or sell")
    kind = body.get("type", body.get("order_type"))
    if kind not in ("market", "limit"):
        raise _invalid(f"order type {kind!r} is not supported by the local trading server (market, limit)")
    tif = body.get("time_in_force")
    if tif not in ("day", "gtc"):
        raise _invalid(f"time_in_force {tif!r} is not supported by the local trading server (day, gtc)")
    order_class = body.get("order_class")
    if order_class not in (None, "", "simple"):
        raise _invalid(f"order_class {order_class!r} is not supported by the local trading server")
    return str(side), str(kind), str(tif)


def _parse_limit(body: dict[str, Any], kind: str) -> Decimal | None:
    if kind != "limit":
        if body.get("limit_price") is not None:
            raise _invalid("limit_price must not be set for a market order")
        return None
    if body.get("limit_price") is None:
        raise _invalid("limit_price is required for limit orders")
    limit_price = to_decimal(body["limit_price"], "limit_price")
    if limit_price <= 0:
        raise _invalid(f"limit_price must be > 0, received {body['limit_price']!r}")
    _check_sub_penny(limit_price)
    return limit_price


def _parse_client_id(body: dict[str, Any]) -> str | None:
    client_id = body.get("client_order_id")
    if client_id is not None and (not isinstance(client_id, str) or not client_id):
        raise _invalid(f"client_order_id must be a non-empty string, received {client_id!r}")
    if client_id is not None and len(client_id) > MAX_CLIENT_ID:
        raise _invalid(f"client_order_id must be no more than {MAX_CLIENT_ID} characters")
    return client_id


def parse_order_request(body: object) -> OrderRequest:
    """Validate a ``POST /v2/orders`` JSON body as Alpaca does (for the order kinds this server fills).

    Raises
    ------
    ApiError
        400 when both ``qty`` and ``notional`` are set; 422 for a missing or invalid field, a
        sub-penny limit price, or an order kind the local server does not fill (stop, trailing,
        bracket, notional, ioc/fok/opg/cls).
    """
    if not isinstance(body, dict):
        raise _invalid("request body must be a JSON object")
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise _invalid("symbol is required")
    qty = _parse_qty(body)
    side, kind, tif = _parse_terms(body)
    limit_price = _parse_limit(body, kind)
    extended = body.get("extended_hours", False)
    if not isinstance(extended, bool):
        raise _invalid(f"extended_hours must be a boolean, received {extended!r}")
    if extended and (kind != "limit" or tif != "day"):
        raise _invalid("extended hours order must be DAY limit orders")
    intent = body.get("position_intent")
    return OrderRequest(symbol.strip(), qty, side, kind, tif, limit_price, _parse_client_id(body), extended,
                        intent if isinstance(intent, str) else None)


def parse_replace(body: object, order_type: str) -> dict[str, object]:
    """Validate a ``PATCH /v2/orders/{id}`` body: qty, limit_price (limit orders), time_in_force, client_order_id.

    Raises
    ------
    ApiError
        422 naming the field for an invalid value or a field the local server does not replace.
    """
    if not isinstance(body, dict):
        raise _invalid("request body must be a JSON object")
    unknown = sorted(k for k, v in body.items() if v is not None
                     and k not in ("qty", "limit_price", "time_in_force", "client_order_id"))
    if unknown:
        raise _invalid(f"replacing {', '.join(unknown)} is not supported by the local trading server")
    out: dict[str, object] = {}
    if body.get("qty") is not None:
        out["qty"] = _parse_qty({"qty": body["qty"]})
    if body.get("limit_price") is not None:
        if order_type != "limit":
            raise _invalid("limit_price can only be replaced on a limit order")
        out["limit_price"] = _parse_limit({"limit_price": body["limit_price"]}, "limit")
    if body.get("time_in_force") is not None:
        if body["time_in_force"] not in ("day", "gtc"):
            raise _invalid(f"time_in_force {body['time_in_force']!r} is not supported by the local trading server")
        out["time_in_force"] = body["time_in_force"]
    client_id = _parse_client_id(body)
    if client_id is not None:
        out["client_order_id"] = client_id
    return out


@dataclass(slots=True)
class Order:
    """One order's full state (the book mutates it; events carry frozen copies)."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal
    limit_price: Decimal | None
    extended_hours: bool
    seq: int
    submitted_ns: int
    status: str = "accepted"
    filled_qty: Decimal = ZERO
    filled_value: Decimal = ZERO
    updated_ns: int = 0
    working_ns: int | None = None  # when it became `new` (bars ending after this can fill it)
    filled_ns: int | None = None
    canceled_ns: int | None = None
    expired_ns: int | None = None
    failed_ns: int | None = None
    parts_left: int = 1
    fill_scheduled: bool = False
    position_intent: str | None = None
    replaced_ns: int | None = None
    replaced_by: str | None = None
    replaces: str | None = None

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.filled_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> Decimal | None:
        return None if self.filled_qty == 0 else self.filled_value / self.filled_qty

    def copy(self) -> Order:
        return Order(**{name: getattr(self, name) for name in self.__slots__})


@dataclass(frozen=True, slots=True)
class Execution:
    """One fill or partial fill (a row of the FILL activities)."""

    id: str
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    at_ns: int
    cum_qty: Decimal
    leaves_qty: Decimal
    order_status: str


@dataclass(frozen=True, slots=True)
class Event:
    """One ``trade_updates`` event: its name, the order as it stands after it, and fill details."""

    event: str
    order: Order
    at_ns: int
    execution_id: str
    seq: int
    price: Decimal | None = None
    qty: Decimal | None = None
    position_qty: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Bar:
    """A price bar covering ``[start_ns, end_ns)``: orders working before `end_ns` may fill on it."""

    symbol: str
    start_ns: int
    end_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
