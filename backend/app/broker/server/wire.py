"""JSON shapes of the Trading API v2: Order, Position, Account, Clock, FILL activity, trade_updates event.

Pure. Decimals travel as strings, instants as RFC 3339 UTC with 9 fractional digits; every field
alpaca-py's models require is present (ALPACA_TRADING.md sections 2.3, 3, 4 and 7).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from app.broker.server.orders import ZERO, Event, Execution, Order, make_id

if TYPE_CHECKING:
    from app.broker.server.book import Book, Position

__all__ = ["account_json", "clock_json", "decimal_text", "event_json", "fill_activity_json", "order_json",
           "position_json", "rfc3339"]

NS: Final = 1_000_000_000
EXCHANGE: Final = "NASDAQ"


def rfc3339(instant_ns: int) -> str:
    """Return `instant_ns` as ``YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ``."""
    seconds, nanos = divmod(int(instant_ns), NS)
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos:09d}Z"


def _opt_time(instant_ns: int | None) -> str | None:
    return None if instant_ns is None else rfc3339(instant_ns)


def decimal_text(value: Decimal) -> str:
    """Return `value` as Alpaca writes decimals: plain digits, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def _opt_decimal(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def asset_id(seed: str, symbol: str) -> str:
    """Return the deterministic asset uuid of `symbol`."""
    return make_id(seed, f"asset-{symbol}", 0)


def order_json(order: Order, seed: str) -> dict[str, Any]:
    """Return the REST Order object (also ``data.order`` in stream events)."""
    return {
        "id": order.id, "client_order_id": order.client_order_id,
        "created_at": rfc3339(order.submitted_ns), "updated_at": rfc3339(order.updated_ns or order.submitted_ns),
        "submitted_at": rfc3339(order.submitted_ns), "filled_at": _opt_time(order.filled_ns),
        "expired_at": _opt_time(order.expired_ns), "canceled_at": _opt_time(order.canceled_ns),
        "failed_at": _opt_time(order.failed_ns), "replaced_at": _opt_time(order.replaced_ns),
        "replaced_by": order.replaced_by, "replaces": order.replaces,
        "expires_at": None, "asset_id": asset_id(seed, order.symbol), "symbol": order.symbol,
        "asset_class": "us_equity", "notional": None, "qty": decimal_text(order.qty),
        "filled_qty": decimal_text(order.filled_qty), "filled_avg_price": _opt_decimal(order.avg_price),
        "order_class": "", "order_type": order.type, "type": order.type, "side": order.side,
        "position_intent": order.position_intent, "time_in_force": order.time_in_force,
        "limit_price": _opt_decimal(order.limit_price), "stop_price": None, "status": order.status,
        "extended_hours": order.extended_hours, "legs": None, "trail_percent": None, "trail_price": None,
        "hwm": None, "source": None, "subtag": None,
    }


def event_json(event: Event, seed: str) -> dict[str, Any]:
    """Return the ``trade_updates`` frame of `event` (``{"stream":"trade_updates","data":{...}}``).

    Every event carries ``execution_id``, ``timestamp``, ``event_id`` (the server's event
    sequence) and ``at``; fills add per-execution ``price``/``qty`` and the signed ``position_qty``.
    """
    data: dict[str, Any] = {"event": event.event, "execution_id": event.execution_id,
                            "timestamp": rfc3339(event.at_ns), "at": rfc3339(event.at_ns),
                            "event_id": f"{event.seq:026d}", "order": order_json(event.order, seed)}
    if event.event in ("fill", "partial_fill"):
        data.update(price=_opt_decimal(event.price), qty=_opt_decimal(event.qty),
                    position_qty=_opt_decimal(event.position_qty))
    return {"stream": "trade_updates", "data": data}


def position_json(pos: Position, price: Decimal | None, seed: str, held: Decimal = ZERO) -> dict[str, Any]:
    """Return the Position object (``current_price`` = the last bar close, else the entry price).

    ``qty_available`` is the signed qty minus the `held` (unsigned) part open closing orders hold.
    """
    current = price if price is not None else pos.avg_entry
    cost = pos.qty * pos.avg_entry
    value = pos.qty * current
    pl = value - cost
    plpc = ZERO if cost == 0 else pl / abs(cost)
    return {
        "asset_id": asset_id(seed, pos.symbol), "symbol": pos.symbol, "exchange": EXCHANGE,
        "asset_class": "us_equity", "asset_marginable": True, "qty": decimal_text(pos.qty),
        "qty_available": decimal_text(pos.qty - held if pos.qty > 0 else pos.qty + held),
        "side": "long" if pos.qty > 0 else "short",
        "avg_entry_price": decimal_text(pos.avg_entry), "market_value": decimal_text(value),
        "cost_basis": decimal_text(cost), "unrealized_pl": decimal_text(pl),
        "unrealized_plpc": decimal_text(plpc.quantize(Decimal("0.000001"))),
        "unrealized_intraday_pl": decimal_text(pl),
        "unrealized_intraday_plpc": decimal_text(plpc.quantize(Decimal("0.000001"))),
        "current_price": decimal_text(current), "lastday_price": decimal_text(pos.avg_entry),
        "change_today": "0",
    }


def account_json(book: Book, created_ns: int) -> dict[str, Any]:
    """Return the Account object (cash account, multiplier 1; no PDT fields, as since 2026-07)."""
    long_value = sum((p.qty * (book.price_of(p.symbol) or p.avg_entry) for p in book.positions.values()
                      if p.qty > 0), ZERO)
    short_value = sum((p.qty * (book.price_of(p.symbol) or p.avg_entry) for p in book.positions.values()
                       if p.qty < 0), ZERO)
    equity = book.equity()
    power = decimal_text(book.buying_power())
    return {
        "id": make_id(book.seed, "account", 0), "account_number": "PALOCAL0001", "status": "ACTIVE",
        "crypto_status": "INACTIVE", "currency": "USD", "cash": decimal_text(book.cash),
        "portfolio_value": decimal_text(equity), "equity": decimal_text(equity),
        "last_equity": decimal_text(book.initial_cash), "long_market_value": decimal_text(long_value),
        "short_market_value": decimal_text(short_value), "buying_power": power, "regt_buying_power": power,
        "non_marginable_buying_power": power, "multiplier": "1", "initial_margin": "0", "maintenance_margin": "0",
        "trading_blocked": False, "transfers_blocked": False, "account_blocked": False,
        "trade_suspended_by_user": False, "shorting_enabled": True, "accrued_fees": "0",
        "pending_transfer_in": "0", "pending_transfer_out": "0", "sma": "0",
        "created_at": rfc3339(created_ns),
    }


def clock_json(now_ns: int, is_open: bool) -> dict[str, Any]:
    """Return the Clock object: the server's own market state (not the exchange calendar).

    Bars are replayed onto today's wall clock at any hour, so the market is open (or closed) by
    the server's switch; ``next_open``/``next_close`` are one hour away in the matching direction.
    """
    hour = 3600 * NS
    return {"timestamp": rfc3339(now_ns), "is_open": is_open,
            "next_open": rfc3339(now_ns + (hour if not is_open else 24 * hour)),
            "next_close": rfc3339(now_ns + hour)}


def fill_activity_json(ex: Execution) -> dict[str, Any]:
    """Return one ``GET /v2/account/activities/FILL`` row."""
    return {"id": ex.id, "activity_type": "FILL", "transaction_time": rfc3339(ex.at_ns),
            "type": "fill" if ex.leaves_qty == 0 else "partial_fill", "price": decimal_text(ex.price),
            "qty": decimal_text(ex.qty), "cum_qty": decimal_text(ex.cum_qty),
            "leaves_qty": decimal_text(ex.leaves_qty), "side": ex.side, "symbol": ex.symbol,
            "order_id": ex.order_id, "order_status": ex.order_status}
