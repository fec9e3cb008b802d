"""The state of the run's orders at the broker, from ``trade_updates`` events and REST snapshots (pure).

Events can repeat (the same ``execution_id`` resent), arrive after a REST snapshot that already
showed them, or be lost while the stream was down and then seen only in a REST order. One rule
makes all of these safe: an order's executions are the growth of its cumulative ``filled_qty``
(``ALPACA_TRADING.md`` sections 4 and 6.4). An update whose ``filled_qty`` is not above what
is known adds nothing, a terminal status never reopens, and an ``execution_id`` seen before is
ignored. So every share the broker filled is applied once, whichever way it was learnt.

An execution's price is the event's own ``price`` when the event's ``qty`` is exactly the
growth; otherwise (a REST snapshot, or several executions learnt at once) it is what the
growth of ``filled_avg_price * filled_qty`` gives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from app.feeds.live import parse_rfc3339_ns

__all__ = ["TERMINAL", "BrokerStats", "Execution", "OrderTracker", "OrderUpdate", "TrackedOrder", "decimal_or_none",
           "wire_time_ns"]

TERMINAL: Final = frozenset({"filled", "canceled", "expired", "rejected", "replaced"})


def decimal_or_none(value: Any) -> float | None:
    """Return a wire decimal (a string or a number) as a float; None for null or unreadable text."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return None
    return out if math.isfinite(out) else None


def wire_time_ns(text: Any, default: int | None) -> Any:
    """Return an RFC 3339 wire time as int ns UTC, or `default` when it is absent or unreadable."""
    if isinstance(text, str):
        try:
            return parse_rfc3339_ns(text)
        except ValueError:
            pass
    return default


def _shares(value: Any) -> int:
    number = decimal_or_none(value)
    return 0 if number is None or number <= 0 else int(number + 1e-9)


@dataclass(frozen=True, slots=True)
class Execution:
    """`quantity` shares of order `client_id` executed at `price` (learnt from `source`)."""

    client_id: str
    quantity: int
    price: float
    at_ns: int
    source: str  # "stream" or "rest"


@dataclass(frozen=True, slots=True)
class OrderUpdate:
    """What one event or snapshot changed: new executions, and the terminal status it reached."""

    client_id: str
    executions: tuple[Execution, ...] = ()
    ended: str | None = None


@dataclass(slots=True)
class TrackedOrder:
    """One order of the run as the broker has reported it so far."""

    client_id: str
    broker_id: str | None = None
    status: str = "unsent"
    filled_qty: int = 0
    filled_notional: float = 0.0
    ended: bool = False
    executions: set[str] = field(default_factory=set)


class OrderTracker:
    """The run's orders by client order id, updated from events and snapshots.

    Warnings
    --------
    Not thread-safe: the broker adapter owns it, on the AnalysisEngine thread (and the main
    thread once the pipeline threads have been joined).
    """

    def __init__(self) -> None:
        self._orders: dict[str, TrackedOrder] = {}

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._orders

    def register(self, client_id: str) -> TrackedOrder:
        """Start tracking `client_id` (before its order is sent); return its state."""
        return self._orders.setdefault(client_id, TrackedOrder(client_id))

    def get(self, client_id: str) -> TrackedOrder | None:
        """Return the state of `client_id`, or None when it is not tracked."""
        return self._orders.get(client_id)

    def open_ids(self) -> list[str]:
        """Return the client ids of the tracked orders not yet terminal, in registration order."""
        return [cid for cid, o in self._orders.items() if not o.ended]

    def apply(self, order: Mapping[str, Any], at_ns: int, *, source: str, execution_id: str | None = None,
              price: Any = None, qty: Any = None) -> OrderUpdate | None:
        """Apply an Order object (``data.order`` of an event, or a REST body) and return what changed.

        Parameters
        ----------
        order : mapping
            The broker's Order: ``client_order_id``, ``id``, ``status``, ``filled_qty`` and
            ``filled_avg_price`` are read; other fields are ignored.
        at_ns : int
            When the executions learnt here happened (the event's timestamp, or the order's
            ``filled_at``/``updated_at`` for a snapshot).
        source : str
            ``"stream"`` or ``"rest"``, recorded on the executions.
        execution_id, price, qty : optional
            The event's own fields (fill and partial_fill events).

        Returns
        -------
        OrderUpdate or None
            None when the order is not one of the tracked ones.
        """
        cid = order.get("client_order_id")
        tracked = self._orders.get(cid) if isinstance(cid, str) else None
        if tracked is None:
            return None
        if execution_id:
            if execution_id in tracked.executions:
                return OrderUpdate(tracked.client_id)  # a resent event: nothing new
            tracked.executions.add(execution_id)
        if tracked.broker_id is None and isinstance(order.get("id"), str):
            tracked.broker_id = order["id"]
        executions = self._grow(tracked, order, at_ns, source, price, qty)
        ended = None
        status = order.get("status")
        if isinstance(status, str) and not tracked.ended:
            tracked.status = status
            if status in TERMINAL:
                tracked.ended = True
                ended = status
        return OrderUpdate(tracked.client_id, executions, ended)

    def mark_ended(self, client_id: str, status: str) -> bool:
        """Mark `client_id` terminal with `status` (an order the broker never took); False if it was."""
        tracked = self._orders.get(client_id)
        if tracked is None or tracked.ended:
            return False
        tracked.status, tracked.ended = status, True
        return True

    @staticmethod
    def _grow(tracked: TrackedOrder, order: Mapping[str, Any], at_ns: int, source: str, price: Any,
              qty: Any) -> tuple[Execution, ...]:
        cum = _shares(order.get("filled_qty"))
        delta = cum - tracked.filled_qty
        if delta <= 0:
            return ()  # nothing new (a repeat, or older than what is known)
        avg = decimal_or_none(order.get("filled_avg_price"))
        own = decimal_or_none(price)
        if own is not None and _shares(qty) == delta:
            fill_price = own
        elif avg is not None:
            fill_price = (avg * cum - tracked.filled_notional) / delta
        elif own is not None:
            fill_price = own
        else:
            raise ValueError(f"order {tracked.client_id}: filled_qty grew to {cum} without a price "
                             f"(filled_avg_price {order.get('filled_avg_price')!r})")
        tracked.filled_qty = cum
        tracked.filled_notional = avg * cum if avg is not None else tracked.filled_notional + delta * fill_price
        return (Execution(tracked.client_id, delta, fill_price, at_ns, source),)


@dataclass
class BrokerStats:
    """Counters of the broker link, for the report (written on the thread that owns the broker)."""

    orders_sent: int = 0
    rejected_by_broker: int = 0
    unknown_after_submit: int = 0
    canceled: int = 0
    fills_from_stream: int = 0
    fills_from_rest: int = 0
    duplicate_events: int = 0
    other_orders_events: int = 0
    malformed_events: int = 0
    stream_connects: int = 0
    reconciles: int = 0
    reconcile_failures: int = 0
    adopted_from_earlier: int = 0
