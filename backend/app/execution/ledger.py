"""Ledger: cash, positions, average-cost realized P&L and round trips of one account (pure).

Accounting
----------
A fill of signed quantity ``d`` (buy > 0) at price ``p`` with commission ``c`` moves cash by
``-(d * p) - c``. When it adds to a position (or opens one) the average price becomes the
quantity-weighted mean; when it reduces a position of quantity ``q`` and average ``a`` it
realizes ``closed * (p - a) * sign(q)`` with ``closed = min(|d|, |q|)`` and leaves ``a``
unchanged; a fill through zero closes the position and opens the remainder at ``p``.
Commissions are not part of ``realized_pnl``; they are summed in ``total_commission``.

With ``unrealized_pnl = sum(q * (last - a))`` this keeps, after every fill::

    cash + sum(q * last) == starting_cash + realized_pnl + unrealized_pnl - total_commission

because ``cash + sum(q * a)`` changes by exactly ``gross - c`` on each fill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from app.execution.orders import BUY, SELL, OrderSide

__all__ = ["ClosedTrade", "Ledger", "Position", "equity_points"]


@dataclass(frozen=True, slots=True)
class Position:
    """A held position: signed `quantity` (negative = short) and average entry price."""

    quantity: int
    avg_price: float


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """One round trip: from flat to a position and back to flat (or through zero).

    `side` is the entry side (BUY = long trade). `quantity` is the total quantity entered
    (= exited); `entry_price` / `exit_price` are quantity-weighted averages; `commission`
    covers the trip's entry and exit fills (a fill through zero is split pro rata); `pnl` is
    ``(exit_price - entry_price) * quantity * (+1 long, -1 short) - commission``.
    """

    symbol: str
    side: OrderSide
    quantity: int
    entry_price: float
    exit_price: float
    commission: float
    pnl: float
    opened_at_ns: int
    closed_at_ns: int


class _Book:
    # Mutable per-symbol state: the position plus its running round trip.
    __slots__ = (
        "avg", "commission", "entry_notional", "entry_qty", "exit_notional", "gross", "long",
        "opened_at_ns", "qty",
    )

    def __init__(self) -> None:
        self.qty = 0
        self.avg = 0.0
        self.start_trip(0, long=True)

    def start_trip(self, at_ns: int, *, long: bool) -> None:
        self.entry_qty = 0
        self.entry_notional = 0.0
        self.exit_notional = 0.0
        self.gross = 0.0
        self.commission = 0.0
        self.opened_at_ns = at_ns
        self.long = long


class Ledger:
    """The books of one account: apply fills, read cash, positions and P&L.

    Parameters
    ----------
    starting_cash : float
        Opening cash balance.

    Warnings
    --------
    Not thread-safe; owned by one broker.
    """

    def __init__(self, starting_cash: float) -> None:
        self.starting_cash = float(starting_cash)
        self._cash = self.starting_cash
        self._books: dict[str, _Book] = {}
        self._open: list[tuple[str, _Book]] | None = []  # non-flat books in book order; None: stale
        self._closed: list[ClosedTrade] = []
        self._realized = 0.0
        self._commission = 0.0

    def apply(
        self, symbol: str, signed_quantity: int, price: float, commission: float, at_ns: int
    ) -> None:
        """Book a fill of `signed_quantity` (buy > 0) shares of `symbol` at `price`."""
        self._open = None  # quantities change below
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = _Book()
        self._cash -= signed_quantity * price + commission
        self._commission += commission
        q = book.qty
        if q == 0 or (q > 0) == (signed_quantity > 0):
            _add(book, signed_quantity, price, commission, at_ns)
            return
        closed = min(abs(signed_quantity), abs(q))
        gross = closed * (price - book.avg) * (1 if q > 0 else -1)
        share = commission * closed / abs(signed_quantity)
        self._realized += gross
        book.gross += gross
        book.exit_notional += closed * price
        book.commission += share
        book.qty = q + signed_quantity
        if book.qty != 0 and (book.qty > 0) == (q > 0):
            return  # partial exit: the average cost is unchanged
        self._close_trip(symbol, book, at_ns)
        remainder, book.qty, book.avg = book.qty, 0, 0.0
        if remainder != 0:  # went through zero: the remainder opens a new trip
            _add(book, remainder, price, commission - share, at_ns)

    def _close_trip(self, symbol: str, book: _Book, at_ns: int) -> None:
        qty = book.entry_qty
        self._closed.append(
            ClosedTrade(
                symbol=symbol,
                side=BUY if book.long else SELL,
                quantity=qty,
                entry_price=book.entry_notional / qty,
                exit_price=book.exit_notional / qty,
                commission=book.commission,
                pnl=book.gross - book.commission,
                opened_at_ns=book.opened_at_ns,
                closed_at_ns=at_ns,
            )
        )

    @property
    def cash(self) -> float:
        """Cash balance: starting cash - buys + sells - commissions."""
        return self._cash

    @property
    def realized_pnl(self) -> float:
        """Gross P&L of closed quantity, commissions excluded."""
        return self._realized

    @property
    def total_commission(self) -> float:
        """Commissions of every fill booked so far."""
        return self._commission

    @property
    def closed_trades(self) -> list[ClosedTrade]:
        """Completed round trips in closing order (the ledger's own list: do not modify)."""
        return self._closed

    @property
    def positions(self) -> dict[str, Position]:
        """Return the non-flat positions by symbol (a new dict, in first-trade order)."""
        return {s: Position(b.qty, b.avg) for s, b in self._books.items() if b.qty != 0}

    def open_symbols(self) -> set[str]:
        """Return the symbols with a non-flat position (the keys of `positions`, cheaper)."""
        return {s for s, _ in self._open_books()}

    def short_value(self, last: Mapping[str, float], symbol: str | None = None, price: float = 0.0) -> float:
        """Return the market value of the short positions (> 0), in book order.

        Each is valued at its symbol's `last` close (its average price before any), `symbol`'s
        at `price` (a fill's).
        """
        total = 0.0
        for s, b in self._books.items():
            q = b.qty
            if q < 0:
                total -= q * (price if s == symbol else last.get(s, b.avg))
        return total

    def _open_books(self) -> list[tuple[str, _Book]]:
        # The non-flat books in book order, cached until the next fill (`apply` clears it).
        open_ = self._open
        if open_ is None:
            open_ = self._open = [(s, b) for s, b in self._books.items() if b.qty != 0]
        return open_

    def holding(self, symbol: str) -> tuple[float, int] | None:
        """Return ``(cash, signed quantity of symbol)``, or None when another symbol is held.

        With it, `account` at a price ``p`` of `symbol` is ``cash + qty * p`` (``cash + 0.0``
        when flat), the same floats: the engine computes a batch's equity points from it.
        """
        open_ = self._open_books()
        if not open_:
            return self._cash, 0
        if len(open_) == 1 and open_[0][0] == symbol:
            return self._cash, open_[0][1].qty
        return None

    def position(self, symbol: str) -> int:
        """Return the signed quantity held in `symbol` (0 when flat)."""
        book = self._books.get(symbol)
        return book.qty if book is not None else 0

    def account(self, last: Mapping[str, float]) -> tuple[float, float]:
        """Return ``(cash + market_value(last), cash)``: the same floats, in one call.

        The engine's equity point per step: `market_value`'s body is inlined here to save a call
        per step (an A/B on verify/ was within this machine's noise either way).
        """
        cash = self._cash
        if not self._books:
            return cash + 0.0, cash
        open_ = self._open  # `_open_books` inlined: one call less on the per-step path
        if open_ is None:
            open_ = self._open = [(s, b) for s, b in self._books.items() if b.qty != 0]
        if not open_:
            return cash + 0, cash
        if len(open_) == 1:
            s, b = open_[0]
            return cash + b.qty * last[s], cash
        return cash + sum(b.qty * last[s] for s, b in open_), cash

    def market_value(self, last: Mapping[str, float]) -> float:
        """Return ``sum(q * last[symbol])`` over the open positions."""
        if not self._books:
            return 0.0
        open_ = self._open_books()
        if len(open_) == 1:  # the same float as sum() of one term (0 + x == x)
            s, b = open_[0]
            return b.qty * last[s]
        return sum(b.qty * last[s] for s, b in open_)

    def unrealized_pnl(self, last: Mapping[str, float]) -> float:
        """Return ``sum(q * (last[symbol] - avg_price))`` over the open positions."""
        return sum(b.qty * (last[s] - b.avg) for s, b in self._books.items() if b.qty != 0)

    def open_trip_pnl(self) -> float:
        """Return realized gross minus commissions of the round trips still open."""
        return sum(b.gross - b.commission for b in self._books.values() if b.qty != 0)


def _add(book: _Book, signed: int, price: float, commission: float, at_ns: int) -> None:
    if book.qty == 0:
        book.start_trip(at_ns, long=signed > 0)
    new = book.qty + signed
    book.avg = (abs(book.qty) * book.avg + abs(signed) * price) / abs(new)
    book.qty = new
    book.entry_qty += abs(signed)
    book.entry_notional += abs(signed) * price
    book.commission += commission


def equity_points(at: list[int], cashes: list[float], qtys: list[int],
                  closes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(equity, cash)`` per step of one symbol's account from its changes alone.

    From step ``at[i]`` on (ascending, the first 0) the cash is ``cashes[i]`` and the symbol's
    quantity ``qtys[i]`` (`Ledger.holding` after each change); ``closes[k]`` is the symbol's price
    at step k. Equity is ``cash + qty * close`` as `Ledger.account` computes it (int to float,
    the product, then the sum: the same IEEE operations, so the same floats), ``cash + 0.0``
    when flat.
    """
    n = closes.shape[0]
    lengths = [b - a for a, b in zip(at, [*at[1:], n], strict=True)]
    cash = np.repeat(np.array(cashes, dtype=np.float64), lengths)
    qty = np.repeat(np.array(qtys, dtype=np.float64), lengths)
    return np.where(qty != 0, cash + qty * closes, cash + 0.0), cash
