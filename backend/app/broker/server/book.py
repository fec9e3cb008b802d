"""The local trading server's order book: submit, cancel, fill on bars, positions and cash.

Pure and deterministic: no sockets, no clock, no randomness. Every call takes the instant
`now_ns` and returns the stream `Event`s it produced, in order. Ids are uuid5 of (seed, counter).

Fill rule (the simulated broker's "next bar open"): an order working since ``working_ns`` fills
on the first bar of its symbol that ends after ``working_ns``, i.e. the bar in progress when it
was sent, whose open is the first price after the bar the strategy saw. A market order fills at
that bar's open; a buy limit at ``min(open, limit)`` when ``low <= limit``, a sell limit at
``max(open, limit)`` when ``high >= limit``. With ``partial_fills = N`` an order fills in N parts
of near-equal whole shares, one part per bar. With ``fill_delay_ns`` a fill found on a bar is
applied that much later (`advance`); a cancel before then wins. While the market is closed,
new orders stay ``accepted`` and become ``new`` when it opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Final

from app.broker.server.orders import (
    ZERO,
    ApiError,
    Bar,
    Event,
    Execution,
    Order,
    OrderRequest,
    make_id,
)

__all__ = ["Book", "Position"]

DEFAULT_CASH: Final = Decimal(100_000)


@dataclass(slots=True)
class Position:
    """A signed position (short < 0) and its average entry price; `seeded` = not opened by fills."""

    symbol: str
    qty: Decimal
    avg_entry: Decimal
    seeded: bool = False


@dataclass(frozen=True, slots=True)
class _Scheduled:
    due_ns: int
    order_id: str
    qty: Decimal
    price: Decimal


class Book:
    """Orders, positions and cash of one paper account."""

    def __init__(
        self, cash: Decimal = DEFAULT_CASH, *, seed: str = "local", partial_fills: int = 1, fill_delay_ns: int = 0,
        market_open: bool = True,
    ) -> None:
        if partial_fills < 1:
            raise ValueError(f"expected partial_fills >= 1, received {partial_fills}")
        self.seed = seed
        self.initial_cash = Decimal(cash)
        self.cash = Decimal(cash)
        self.partial_fills = partial_fills
        self.fill_delay_ns = fill_delay_ns
        self.market_open = market_open
        self.orders: dict[str, Order] = {}
        self.by_client_id: dict[str, str] = {}
        self.positions: dict[str, Position] = {}
        self.executions: list[Execution] = []
        self.last_price: dict[str, Decimal] = {}
        self.order_count = 0
        self.event_count = 0
        self._scheduled: list[_Scheduled] = []

    # -- queries ------------------------------------------------------------------------------

    def get(self, order_id: str) -> Order:
        """Return the order `order_id`, or raise 404 / 40410000."""
        order = self.orders.get(order_id)
        if order is None:
            raise ApiError(404, 40410000, "order not found")
        return order

    def get_by_client_id(self, client_order_id: str) -> Order:
        """Return the order sent with `client_order_id`, or raise 404 / 40410000."""
        order_id = self.by_client_id.get(client_order_id)
        if order_id is None:
            raise ApiError(404, 40410000, "order not found")
        return self.orders[order_id]

    def price_of(self, symbol: str) -> Decimal | None:
        """Return the last bar close of `symbol`, else its position's entry price, else None."""
        if symbol in self.last_price:
            return self.last_price[symbol]
        pos = self.positions.get(symbol)
        return None if pos is None else pos.avg_entry

    def reserved_for_buys(self) -> Decimal:
        """Return the cash held by open buy orders (remaining qty at limit or last price)."""
        total = ZERO
        for order in self.orders.values():
            if order.is_open and order.side == "buy":
                price = order.limit_price if order.limit_price is not None else self.price_of(order.symbol)
                total += order.remaining * (price or ZERO)
        return total

    def held_for_orders(self, symbol: str) -> Decimal:
        """Return how much of `symbol`'s position open orders on the closing side hold (unsigned)."""
        pos = self.positions.get(symbol)
        if pos is None:
            return ZERO
        closing = "sell" if pos.qty > 0 else "buy"
        held = sum((o.remaining for o in self.orders.values()
                    if o.is_open and o.symbol == symbol and o.side == closing), ZERO)
        return min(held, abs(pos.qty))

    def buying_power(self) -> Decimal:
        return max(ZERO, self.cash - self.reserved_for_buys())

    def equity(self) -> Decimal:
        return self.cash + sum((p.qty * (self.price_of(p.symbol) or p.avg_entry) for p in self.positions.values()),
                               ZERO)

    def next_due_ns(self) -> int | None:
        """Return when the earliest delayed fill is due, or None."""
        return min((s.due_ns for s in self._scheduled), default=None)

    # -- changes ------------------------------------------------------------------------------

    def _event(self, name: str, order: Order, now_ns: int, execution_id: str | None = None,
               price: Decimal | None = None, qty: Decimal | None = None,
               position_qty: Decimal | None = None) -> Event:
        self.event_count += 1
        exec_id = execution_id or make_id(self.seed, "event", self.event_count)
        return Event(name, order.copy(), now_ns, exec_id, self.event_count, price, qty, position_qty)

    def submit(self, req: OrderRequest, now_ns: int, *, reject: str | None = None) -> tuple[Order, list[Event]]:
        """Accept `req`; return the order as the POST answers it and the events that follow.

        `reject` (a fault) makes the order ``rejected`` right after it is accepted.

        Raises
        ------
        ApiError
            422 / 40010001 for a `client_order_id` already used (by any order, canceled included);
            403 / 40310000 when a buy costs more than the buying power (at its limit, else the last price).
        """
        if req.client_order_id is not None and req.client_order_id in self.by_client_id:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        if req.side == "buy":
            price = req.limit_price if req.limit_price is not None else self.price_of(req.symbol)
            if price is not None and req.qty * price > self.buying_power():
                raise ApiError(403, 40310000, "insufficient buying power", buying_power=_text(self.buying_power()),
                               cost_basis=_text(req.qty * price))
        order = self._register(req, now_ns)
        answer = order.copy()
        events: list[Event] = []
        if reject is not None:
            order.status, order.failed_ns, order.updated_ns = "rejected", now_ns, now_ns
            events.append(self._event("rejected", order, now_ns))
        elif self.market_open:
            events.append(self._make_working(order, now_ns))
            answer = order.copy()
        return answer, events

    def _register(self, req: OrderRequest, now_ns: int) -> Order:
        self.order_count += 1
        n = self.order_count
        parts = max(1, min(self.partial_fills, int(req.qty))) if req.qty >= 1 else 1
        order = Order(
            make_id(self.seed, "order", n), req.client_order_id or make_id(self.seed, "client", n), req.symbol,
            req.side, req.type, req.time_in_force, req.qty, req.limit_price, req.extended_hours, n, now_ns,
            updated_ns=now_ns, parts_left=parts, position_intent=req.position_intent,
        )
        self.orders[order.id] = order
        self.by_client_id[order.client_order_id] = order.id
        return order

    def replace(self, order_id: str, changes: dict[str, object], now_ns: int) -> tuple[Order, list[Event]]:
        """Replace an unfilled working order by a new one (``PATCH /v2/orders/{id}``).

        `changes` holds validated ``qty``, ``limit_price`` (Decimal), ``time_in_force`` and
        ``client_order_id`` (str). The old order becomes ``replaced`` (event ``replaced``, old
        order), the new one ``new`` with ``replaces`` = the old id (event ``new``).

        Raises
        ------
        ApiError
            404 unknown id; 422 not replaceable (not working, partly filled, or a duplicate
            client id); 403 / 40310000 "order parameters are not changed".
        """
        old = self.get(order_id)
        if old.status == "accepted":
            raise ApiError(422, 42210000, "unable to replace order, order isn't sent to exchange yet")
        if old.status != "new" or old.filled_qty > 0:
            raise ApiError(422, 42210000, f"order is not replaceable (status {old.status}, filled {old.filled_qty})")
        client_id = changes.get("client_order_id")
        if isinstance(client_id, str) and client_id in self.by_client_id:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        qty = changes.get("qty", old.qty)
        limit = changes.get("limit_price", old.limit_price)
        tif = changes.get("time_in_force", old.time_in_force)
        assert isinstance(qty, Decimal) and isinstance(tif, str) and (limit is None or isinstance(limit, Decimal))
        if (qty, limit, tif) == (old.qty, old.limit_price, old.time_in_force) and client_id is None:
            raise ApiError(403, 40310000, "order parameters are not changed")
        self._scheduled = [s for s in self._scheduled if s.order_id != order_id]
        req = OrderRequest(old.symbol, qty, old.side, old.type, tif, limit,
                           client_id if isinstance(client_id, str) else None, old.extended_hours, old.position_intent)
        order = self._register(req, now_ns)
        order.replaces = old.id
        old.status, old.replaced_ns, old.replaced_by, old.updated_ns = "replaced", now_ns, order.id, now_ns
        old.fill_scheduled = False
        events = [self._event("replaced", old, now_ns)]
        if self.market_open:
            events.append(self._make_working(order, now_ns))
        return order.copy(), events

    def _make_working(self, order: Order, now_ns: int) -> Event:
        order.status, order.working_ns, order.updated_ns = "new", now_ns, now_ns
        return self._event("new", order, now_ns)

    def set_market_open(self, is_open: bool, now_ns: int) -> list[Event]:
        """Open or close the market; opening makes every ``accepted`` order ``new``."""
        self.market_open = is_open
        if not is_open:
            return []
        return [self._make_working(o, now_ns) for o in self._by_seq() if o.status == "accepted"]

    def _by_seq(self) -> list[Order]:
        return sorted(self.orders.values(), key=lambda o: o.seq)

    def cancel(self, order_id: str, now_ns: int) -> list[Event]:
        """Cancel an open order (a pending delayed fill is dropped).

        Raises
        ------
        ApiError
            404 / 40410000 for an unknown id; 422 / 42210000 when the order is no longer cancelable.
        """
        order = self.get(order_id)
        if not order.is_open:
            raise ApiError(422, 42210000, f"order is not cancelable (status {order.status})")
        self._scheduled = [s for s in self._scheduled if s.order_id != order_id]
        order.fill_scheduled = False
        order.status, order.canceled_ns, order.updated_ns = "canceled", now_ns, now_ns
        return [self._event("canceled", order, now_ns)]

    def refuse_cancel(self, order_id: str, now_ns: int) -> list[Event]:
        """Answer a cancel that lost the race (a fault): ``order_cancel_rejected``, the order stays working.

        Raises
        ------
        ApiError
            As `cancel`: 404 unknown, 422 no longer cancelable.
        """
        order = self.get(order_id)
        if not order.is_open:
            raise ApiError(422, 42210000, f"order is not cancelable (status {order.status})")
        return [self._event("order_cancel_rejected", order, now_ns)]

    def cancel_all(self, now_ns: int) -> tuple[list[str], list[Event]]:
        """Cancel every open order; return their ids and the events."""
        ids, events = [], []
        for order in self._by_seq():
            if order.is_open:
                ids.append(order.id)
                events += self.cancel(order.id, now_ns)
        return ids, events

    def expire_day_orders(self, now_ns: int) -> list[Event]:
        """End the trading day: every open ``day`` order becomes ``expired``."""
        events = []
        for order in self._by_seq():
            if order.is_open and order.time_in_force == "day":
                self._scheduled = [s for s in self._scheduled if s.order_id != order.id]
                order.fill_scheduled = False
                order.status, order.expired_ns, order.updated_ns = "expired", now_ns, now_ns
                events.append(self._event("expired", order, now_ns))
        return events

    def seed_position(self, symbol: str, qty: Decimal, avg_entry: Decimal) -> None:
        """Add a position the run did not open (reported as is by ``GET /v2/positions``)."""
        if qty == 0:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = Position(symbol, Decimal(qty), Decimal(avg_entry), seeded=True)

    def on_bar(self, bar: Bar, now_ns: int) -> list[Event]:
        """Record `bar`'s close as the symbol's price and fill the open orders it reaches."""
        self.last_price[bar.symbol] = bar.close
        events: list[Event] = []
        if not self.market_open:
            return events
        for order in self._by_seq():
            if (order.symbol != bar.symbol or order.status not in ("new", "partially_filled")
                    or order.fill_scheduled or order.working_ns is None or bar.end_ns <= order.working_ns):
                continue
            price = _fill_price(order, bar)
            if price is None:
                continue
            qty = order.remaining if order.parts_left <= 1 else max(
                Decimal(1), (order.remaining / order.parts_left).to_integral_value(ROUND_FLOOR))
            order.fill_scheduled = True
            self._scheduled.append(_Scheduled(now_ns + self.fill_delay_ns, order.id, qty, price))
        return events + self.advance(now_ns)

    def advance(self, now_ns: int) -> list[Event]:
        """Apply every delayed fill due at `now_ns`, earliest first."""
        due = sorted((s for s in self._scheduled if s.due_ns <= now_ns), key=lambda s: (s.due_ns, s.order_id))
        self._scheduled = [s for s in self._scheduled if s.due_ns > now_ns]
        return [self._execute(self.orders[s.order_id], s.qty, s.price, now_ns) for s in due]

    def _execute(self, order: Order, qty: Decimal, price: Decimal, now_ns: int) -> Event:
        signed = qty if order.side == "buy" else -qty
        pos = self.positions.get(order.symbol)
        old = pos.qty if pos is not None else ZERO
        new = old + signed
        if new == 0:
            self.positions.pop(order.symbol, None)
        elif pos is None or old == 0 or (old > 0) != (new > 0):
            self.positions[order.symbol] = Position(order.symbol, new, price)
        else:
            avg = pos.avg_entry if abs(new) < abs(old) else (old * pos.avg_entry + signed * price) / new
            pos.qty, pos.avg_entry = new, avg
        self.cash -= signed * price
        order.filled_qty += qty
        order.filled_value += qty * price
        order.parts_left = max(1, order.parts_left - 1)
        order.fill_scheduled = False
        done = order.filled_qty >= order.qty
        order.status = "filled" if done else "partially_filled"
        order.updated_ns = now_ns
        if done:
            order.filled_ns = now_ns
        exec_n = len(self.executions) + 1
        exec_id = make_id(self.seed, "exec", exec_n)
        self.executions.append(Execution(exec_id, order.id, order.symbol, order.side, qty, price, now_ns,
                                         order.filled_qty, order.remaining, order.status))
        return self._event("fill" if done else "partial_fill", order, now_ns, exec_id, price, qty, new)


def _fill_price(order: Order, bar: Bar) -> Decimal | None:
    if order.type == "market":
        return bar.open
    limit = order.limit_price
    assert limit is not None  # a limit order always has one (parse_order_request)
    if order.side == "buy":
        return min(bar.open, limit) if bar.low <= limit else None
    return max(bar.open, limit) if bar.high >= limit else None


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f") if value != 0 else "0"
