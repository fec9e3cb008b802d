"""The book's state file: everything a restarted server needs to answer as before (JSON, atomic writes).

Pure functions over a `Book` plus one file read/write. A server started with ``--state-file F``
loads F when it exists and rewrites it after every change, so killing and restarting it keeps
orders, fills, positions and cash (the adapter's reconciliation tests).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from app.broker.server.book import Book, Position
from app.broker.server.orders import Execution, Order
from app.errors import DataError

__all__ = ["dump_book", "load_book", "read_state", "write_state"]

VERSION: Final = 1
_DECIMAL_ORDER_FIELDS: Final = ("qty", "limit_price", "filled_qty", "filled_value")
_DECIMAL_EXEC_FIELDS: Final = ("qty", "price", "cum_qty", "leaves_qty")


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def dump_book(book: Book) -> dict[str, Any]:
    """Return `book` as JSON-ready data (decimals as strings)."""
    return {
        "version": VERSION, "seed": book.seed, "initial_cash": str(book.initial_cash), "cash": str(book.cash),
        "partial_fills": book.partial_fills, "fill_delay_ns": book.fill_delay_ns, "market_open": book.market_open,
        "order_count": book.order_count, "event_count": book.event_count,
        "orders": [{k: _plain(v) for k, v in ((n, getattr(o, n)) for n in Order.__slots__)}
                   for o in sorted(book.orders.values(), key=lambda o: o.seq)],
        "positions": [{"symbol": p.symbol, "qty": str(p.qty), "avg_entry": str(p.avg_entry), "seeded": p.seeded}
                      for p in book.positions.values()],
        "executions": [{k: _plain(v) for k, v in asdict(e).items()} for e in book.executions],
        "last_price": {s: str(p) for s, p in book.last_price.items()},
    }


def load_book(data: dict[str, Any], source: str) -> Book:
    """Rebuild a `Book` from `dump_book` output (delayed fills in flight are dropped: they re-trigger on the next bar).

    Raises
    ------
    DataError
        Naming `source` and the field when the data is not a state this version wrote.
    """
    try:
        if data.get("version") != VERSION:
            raise DataError(source, f"expected state version {VERSION}, received {data.get('version')!r}")
        book = Book(Decimal(data["initial_cash"]), seed=data["seed"], partial_fills=int(data["partial_fills"]),
                    fill_delay_ns=int(data["fill_delay_ns"]), market_open=bool(data["market_open"]))
        book.cash = Decimal(data["cash"])
        book.order_count = int(data["order_count"])
        book.event_count = int(data["event_count"])
        for row in data["orders"]:
            fields: dict[str, Any] = {k: (Decimal(v) if k in _DECIMAL_ORDER_FIELDS and v is not None else v)
                                      for k, v in row.items()}
            order = Order(**fields)
            order.fill_scheduled = False
            book.orders[order.id] = order
            book.by_client_id[order.client_order_id] = order.id
        for row in data["positions"]:
            book.positions[row["symbol"]] = Position(row["symbol"], Decimal(row["qty"]), Decimal(row["avg_entry"]),
                                                     bool(row["seeded"]))
        book.executions = [Execution(**_exec_fields(row)) for row in data["executions"]]
        book.last_price = {s: Decimal(p) for s, p in data["last_price"].items()}
    except (KeyError, TypeError, ValueError, ArithmeticError) as e:
        raise DataError(source, f"expected a trading server state file, could not read it ({e!r})") from None
    return book


def _exec_fields(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (Decimal(v) if k in _DECIMAL_EXEC_FIELDS else v) for k, v in row.items()}


def write_state(book: Book, path: Path) -> None:
    """Write `book` to `path` atomically (a temporary file renamed over it)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dump_book(book), separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def read_state(path: Path) -> Book | None:
    """Return the book saved at `path`, or None when the file does not exist.

    Raises
    ------
    DataError
        When the file exists but is not a readable state file.
    """
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(str(path), f"expected a JSON trading server state file, could not read it ({e})") from None
    if not isinstance(data, dict):
        raise DataError(str(path), "expected a JSON object")
    return load_book(data, str(path))
