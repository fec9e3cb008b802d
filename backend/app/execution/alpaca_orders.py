"""Wire forms of the run's orders for the Trading API, and Orders read back from it (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from app.execution.alpaca_state import decimal_or_none
from app.execution.orders import Order, OrderSide, OrderType, TimeInForce

__all__ = ["order_body", "order_from_wire", "price_text"]


def price_text(price: float) -> str:
    """Return a limit price as Alpaca takes it: 2 decimals at or above $1, 4 below (no sub-penny)."""
    return f"{price:.2f}" if price >= 1.0 else f"{price:.4f}"


def order_body(order: Order, client_id: str, *, extended_hours: bool = False) -> dict[str, Any]:
    """Return the ``POST /v2/orders`` body of `order` (decimals as strings, ALPACA_TRADING.md 2.1)."""
    body: dict[str, Any] = {
        "symbol": order.symbol, "qty": str(order.quantity), "side": order.side.value,
        "type": order.type.value, "time_in_force": order.tif.value, "client_order_id": client_id,
    }
    if order.type is OrderType.LIMIT:
        assert order.limit_price is not None
        body["limit_price"] = price_text(order.limit_price)
    if extended_hours:
        body["extended_hours"] = True
    return body


def order_from_wire(wire: Mapping[str, Any], order_id: int, placed_at_ns: int) -> Order | None:
    """Return the Order a broker Order object describes (an adopted one), or None if we cannot hold it.

    Only whole-share market and limit orders are ours to hold; any other kind (a stop, a
    notional order) returns None.
    """
    qty = decimal_or_none(wire.get("qty"))
    kind = wire.get("type") or wire.get("order_type")
    side = wire.get("side")
    if qty is None or qty <= 0 or not float(qty).is_integer() or kind not in ("market", "limit") \
            or side not in ("buy", "sell") or not isinstance(wire.get("symbol"), str):
        return None
    limit = decimal_or_none(wire.get("limit_price")) if kind == "limit" else None
    if kind == "limit" and (limit is None or not math.isfinite(limit) or limit <= 0):
        return None
    tif = TimeInForce.GTC if wire.get("time_in_force") == "gtc" else TimeInForce.DAY
    return Order(order_id, wire["symbol"], OrderSide(side), int(qty),
                 OrderType(kind), limit, placed_at_ns, tif)
