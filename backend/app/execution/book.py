"""PendingBook: a broker's accepted, unfilled orders per symbol, and what each sets aside (pure)."""

from __future__ import annotations

from collections.abc import Callable

from app.execution.orders import BUY, DAY, Order

__all__ = ["PendingBook"]


class _Pending:
    __slots__ = ("order", "reserve")

    def __init__(self, order: Order, reserve: float) -> None:
        self.order = order
        self.reserve = reserve


class PendingBook:
    """The pending orders of one account, per symbol in submission order.

    Each order carries its `reserve`: the buying power its fill is expected to use, set aside
    until it leaves the book (filled, rejected at fill, cancelled or expired). Order ids are
    unique while pending.

    Warnings
    --------
    Not thread-safe; owned by one broker (the AnalysisEngine thread).
    """

    __slots__ = ("_qty", "_symbol_of", "by_symbol")

    def __init__(self) -> None:
        # symbol -> pending items; the broker's per-bar path reads it directly (no empty lists)
        self.by_symbol: dict[str, list[_Pending]] = {}
        self._qty: dict[str, list[int]] = {}  # symbol -> [pending buys, pending sells]
        self._symbol_of: dict[int, str] = {}  # order id -> symbol

    def __contains__(self, order_id: object) -> bool:
        return order_id in self._symbol_of

    def add(self, order: Order, reserve: float) -> None:
        """Put `order` on the book, setting aside `reserve` of buying power."""
        self.by_symbol.setdefault(order.symbol, []).append(_Pending(order, reserve))
        self._qty.setdefault(order.symbol, [0, 0])[0 if order.side is BUY else 1] += order.quantity
        self._symbol_of[order.id] = order.symbol

    def quantities(self, symbol: str) -> tuple[int, int]:
        """Return the pending (buys, sells) quantities of `symbol`."""
        qty = self._qty.get(symbol)
        return (qty[0], qty[1]) if qty is not None else (0, 0)

    @property
    def reserved(self) -> float:
        """The buying power set aside by every pending order."""
        return sum(p.reserve for pending in self.by_symbol.values() for p in pending)

    def orders(self, symbol: str | None = None) -> list[Order]:
        """Return the pending orders of `symbol` (submission order), or of all symbols (id order)."""
        if symbol is not None:
            return [p.order for p in self.by_symbol.get(symbol, ())]
        return sorted((p.order for pending in self.by_symbol.values() for p in pending), key=lambda o: o.id)

    def take(self, symbol: str, trigger: Callable[[Order], float | None]) -> list[tuple[Order, float]]:
        """Remove and return, in submission order, `symbol`'s orders for which `trigger` gives a price."""
        taken: list[tuple[Order, float]] = []
        keep: list[_Pending] = []
        for item in self.by_symbol[symbol]:
            price = trigger(item.order)
            if price is None:
                keep.append(item)
            else:
                taken.append((item.order, price))
        if taken:
            self._remove(symbol, keep, [order for order, _ in taken])
        return taken

    def cancel(self, order_id: int) -> Order | None:
        """Remove pending order `order_id` and return it (None when it is not pending)."""
        symbol = self._symbol_of.get(order_id)
        if symbol is None:
            return None
        pending = self.by_symbol[symbol]
        order = next(p.order for p in pending if p.order.id == order_id)
        self._remove(symbol, [p for p in pending if p.order is not order], [order])
        return order

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Remove the pending orders of `symbol` (all symbols when None); return them, per symbol."""
        cancelled: list[Order] = []
        for s in list(self.by_symbol) if symbol is None else [symbol]:
            orders = [p.order for p in self.by_symbol.get(s, ())]
            if orders:
                self._remove(s, [], orders)
            cancelled.extend(orders)
        return cancelled

    def expire_day(self, close_ns: int) -> list[Order]:
        """Remove and return the DAY orders placed before `close_ns`, per symbol in submission order."""
        expired: list[Order] = []
        for s in list(self.by_symbol):
            keep: list[_Pending] = []
            gone: list[Order] = []
            for p in self.by_symbol[s]:
                if p.order.tif is DAY and p.order.placed_at_ns < close_ns:
                    gone.append(p.order)
                else:
                    keep.append(p)
            if gone:
                self._remove(s, keep, gone)
                expired.extend(gone)
        return expired

    def _remove(self, symbol: str, keep: list[_Pending], orders: list[Order]) -> None:
        # Take `orders` off `symbol`'s book, leaving `keep` pending.
        qty = self._qty[symbol]
        for order in orders:
            del self._symbol_of[order.id]
            qty[0 if order.side is BUY else 1] -= order.quantity
        if keep:
            self.by_symbol[symbol] = keep
        else:
            del self.by_symbol[symbol]
            del self._qty[symbol]
