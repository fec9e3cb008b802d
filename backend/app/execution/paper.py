"""SimulatedBroker: deterministic paper trading against base bars (no clock, no threads).

Fill rules
----------
* An order placed at clock time ``t`` may fill only on a bar whose ``start >= t``, so a
  signal computed on bar ``k`` fills on bar ``k + 1`` at the earliest (no look-ahead).
* MARKET: fills at the bar's open; a buy pays ``open * (1 + bps / 1e4)``, a sell receives
  ``open * (1 - bps / 1e4)``.
* LIMIT: a buy fills when ``low <= limit`` at ``min(open, limit)``; a sell fills when
  ``high >= limit`` at ``max(open, limit)``; no slippage.
* Unfilled orders stay pending until filled, cancelled (`cancel`, `cancel_all`) or, for DAY
  orders, expired at their session's close (`expire_day_orders`; see `TimeInForce`).
* Commission per fill: ``max(commission_min, quantity * commission_per_share)``.
* At fill time the order is checked again against the account as it is then: a sell that
  would go short while shorting is not allowed, or a fill that would take buying power below
  0 (Reg T, see ``app.execution.risk``: short proceeds are not buying power), is rejected
  with a reason instead of filled.

Every rejection, at submission or at fill, is appended to `rejections` and passed to
`on_rejection` (the StrategyContext logs it).

Accounting is the Ledger's (average-cost method, see ``app.execution.ledger``): after every
call ``equity == cash + sum(q * last) == starting_cash + realized_pnl + unrealized_pnl -
total_commission``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from operator import itemgetter
from typing import ClassVar, Final, cast

from app.execution.book import PendingBook
from app.execution.ledger import ClosedTrade, Ledger, Position
from app.execution.orders import BUY, MARKET, SELL, Fill, Order, Rejection
from app.execution.risk import (
    SHORT_MARGIN,
    LimitsLike,
    buying_power_effect,
    check_and_reserve,
    estimate_commission,
    shortfall_reason,
)

__all__ = ["SimulatedBroker"]


_BPS: Final = 1e4
_SYMBOL, _CLOSE = itemgetter(0), itemgetter(5)  # a Bar's symbol and close


class _RiskView:
    # The PortfolioView the risk check sees: holdings, pending orders, Reg T buying power.
    __slots__ = ("_broker",)

    def __init__(self, broker: SimulatedBroker) -> None:
        self._broker = broker

    @property
    def buying_power(self) -> float:
        b = self._broker
        return b.buying_power - b._book.reserved

    @property
    def open_positions(self) -> int:
        b = self._broker
        return len(b._ledger.open_symbols() | b._book.by_symbol.keys())

    def position(self, symbol: str) -> int:
        return self._broker._ledger.position(symbol)

    def pending(self, symbol: str) -> tuple[int, int]:
        return self._broker._book.quantities(symbol)


def _no_listener(rejection: Rejection) -> None:
    pass


class SimulatedBroker:
    """A paper account that fills orders from the next base bars, deterministically.

    Parameters
    ----------
    limits : LimitsLike
        Starting cash, risk limits and the cost model (commission, slippage, shorting).

    Attributes
    ----------
    on_rejection : callable
        Called with each `Rejection` as it is recorded, at submission or at fill (default: a
        no-op; the StrategyContext sets it to log them).

    Warnings
    --------
    Single-threaded: only the AnalysisEngine thread calls it. It never reads a clock; all
    times come from orders and bars. Call `on_bar` for every new base bar, in time order,
    before the strategy sees that bar.
    """

    steady_between_fills: ClassVar[bool] = True
    """The account (cash, positions) changes only at a `mark` that returns True (this broker's
    own fills): the engine then computes a batch's equity points from the changes alone."""

    def __init__(self, limits: LimitsLike) -> None:
        self._limits = limits
        self._bps = limits.slippage_bps / _BPS
        self._ledger = Ledger(limits.starting_cash)
        self._last: dict[str, float] = {}
        self._book = PendingBook()
        self._pending = self._book.by_symbol  # the per-bar path's lookup (the book's own dict)
        self._fills: list[Fill] = []
        self._rejections: list[Rejection] = []
        self._rejections_forgotten = 0  # rejections dropped by `forget_rejections` (counted, not kept)
        self._fills_forgotten = 0  # fills dropped by `forget_fills` (counted, not kept)
        self._expired: list[Order] = []
        self._view = _RiskView(self)
        self.on_rejection: Callable[[Rejection], None] = _no_listener

    # -- orders -------------------------------------------------------------------------

    def submit(self, order: Order, ref_price: float) -> Rejection | None:
        """Risk-check `order` against `ref_price` (the last close) and queue it.

        Pending orders count towards every limit (see `check_order`): a pending buy adds to
        the symbol's position for ``max_per_symbol`` but is never sellable; a pending sell
        takes from what may still be sold; what an order may use of the buying power
        (its cost, or the Reg T margin of a short) is set aside until it fills, is cancelled
        or expires (proceeds of pending sells are not counted).

        Returns
        -------
        Rejection or None
            The rejection (also appended to `rejections`), or None when the order is pending.

        Raises
        ------
        ValueError
            If `ref_price` is not a finite number > 0, or `order.id` is already pending.
        """
        if not (isinstance(ref_price, (int, float)) and math.isfinite(ref_price) and ref_price > 0):
            raise ValueError(
                f"order {order.id} ({order.symbol}): expected ref_price > 0, received {ref_price!r}"
            )
        if order.id in self._book:
            raise ValueError(f"order {order.id} ({order.symbol}): an order with this id is already pending")
        reason, reserve = check_and_reserve(order, ref_price, self._view, self._limits)
        if reason is not None:
            return self._reject(Rejection(order, reason, order.placed_at_ns))
        self._book.add(order, reserve)
        return None

    def cancel(self, order_id: int) -> Order | None:
        """Cancel the pending order `order_id`; return it, or None when it is not pending
        (unknown, filled, rejected, expired or already cancelled)."""
        return self._book.cancel(order_id)

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel the pending orders of `symbol` (all symbols when None); return them."""
        return self._book.cancel_all(symbol)

    def expire_day_orders(self, close_ns: int) -> list[Order]:
        """Expire the pending DAY orders placed before `close_ns` (a session's close).

        A DAY order placed at or after the close is for the next session and stays pending.

        Returns
        -------
        list of Order
            The expired orders, per symbol in submission order (also appended to `expired`).
        """
        expired = self._book.expire_day(close_ns)
        self._expired.extend(expired)
        return expired

    def _reject(self, rejection: Rejection) -> Rejection:
        self._rejections.append(rejection)
        self.on_rejection(rejection)
        return rejection

    # -- bars -------------------------------------------------------------------------

    def on_bar(
        self, symbol: str, start_ns: int, open_: float, high: float, low: float, close: float
    ) -> list[Fill]:
        """Fill the pending orders of `symbol` on a new base bar, then mark it at `close`.

        Returns
        -------
        list of Fill
            Fills executed on this bar, in submission order (empty when none).
        """
        fills = self._match(symbol, start_ns, open_, high, low) if symbol in self._pending else []
        self._last[symbol] = close
        return fills

    def mark(self, bar: tuple[str, int, float, float, float, float, float]) -> bool:
        """`on_bar` for a `Bar` (the engine's per-bar path: no list of fills is built).

        Returns True when orders of the bar's symbol were pending, so that the account may
        have changed (`steady_between_fills`); False when only the mark moved.
        """
        symbol, start_ns, open_, high, low, close, _ = bar
        if symbol in self._pending:
            self._match(symbol, start_ns, open_, high, low)
            self._last[symbol] = close
            return True
        self._last[symbol] = close
        return False

    def mark_all(self, bars: Sequence[tuple[str, int, float, float, float, float, float]]) -> None:
        """`mark` each of `bars` in order (a step's bars, one per symbol): one dict update when
        no order of their symbols is pending (nothing to match, only the marks move)."""
        pending = self._pending
        if pending and not pending.keys().isdisjoint(map(_SYMBOL, bars)):
            for bar in bars:
                self.mark(bar)
            return
        self._last.update(zip(map(_SYMBOL, bars), map(_CLOSE, bars), strict=True))

    def holding(self, symbol: str) -> tuple[float, int] | None:
        """Return ``(cash, signed quantity of symbol)``, or None when another symbol is held
        (see `Ledger.holding`)."""
        return self._ledger.holding(symbol)

    def account(self) -> tuple[float, float]:
        """Return ``(equity, cash)`` in one call (the engine's equity point per step)."""
        return self._ledger.account(self._last)

    def account_probe(self) -> Callable[[], tuple[float, float]]:
        """Return a no-argument callable equal to `account` (one frame less on the per-step path)."""
        return partial(self._ledger.account, self._last)

    def _match(self, symbol: str, start_ns: int, open_: float, high: float, low: float) -> list[Fill]:
        price_of = self._trigger_price

        def trigger(order: Order) -> float | None:
            return price_of(order, start_ns, open_, high, low)

        fills: list[Fill] = []
        for order, price in self._book.take(symbol, trigger):
            fill = self._execute(order, price, start_ns)
            if fill is not None:
                fills.append(fill)
        return fills

    def _trigger_price(
        self, order: Order, start_ns: int, open_: float, high: float, low: float
    ) -> float | None:
        if order.placed_at_ns > start_ns:
            return None  # placed after this bar opened: filling here would look ahead
        buy = order.side is BUY
        if order.type is MARKET:
            return open_ * (1.0 + self._bps) if buy else open_ * (1.0 - self._bps)
        limit = cast(float, order.limit_price)  # set for every LIMIT order (Order.__post_init__)
        if buy:
            return min(open_, limit) if low <= limit else None
        return max(open_, limit) if high >= limit else None

    def _execute(self, order: Order, price: float, at_ns: int) -> Fill | None:
        qty, symbol = order.quantity, order.symbol
        commission = estimate_commission(qty, self._limits)
        held = self._ledger.position(symbol)
        reason = None
        if order.side is SELL and not self._limits.allow_short and qty > held:
            reason = (
                f"no shorting at fill: sell {qty:,} {symbol} exceeds position {held:,} "
                "(allow_short is false)"
            )
        else:
            effect = buying_power_effect(held, order.signed_quantity, price, commission)
            if effect < 0:
                shorts = self._short_value(symbol, price)
                power = self._ledger.cash - SHORT_MARGIN * shorts
                if power + effect < 0:
                    label = "cash" if shorts == 0 else "buying power"
                    reason = shortfall_reason(order, price, -effect, commission, power, held, label,
                                        " at fill")
        if reason is not None:
            self._reject(Rejection(order, reason, at_ns, at_fill=True))
            return None
        self._ledger.apply(symbol, order.signed_quantity, price, commission, at_ns)
        fill = Fill(order.id, symbol, order.side, qty, price, commission, at_ns)
        self._fills.append(fill)
        return fill

    def _short_value(self, symbol: str | None = None, price: float = 0.0) -> float:
        # Market value of the short positions, `symbol`'s valued at `price` (the fill's).
        return self._ledger.short_value(self._last, symbol, price)

    # -- account ----------------------------------------------------------------------

    @property
    def cash(self) -> float:
        """Cash balance (starting cash - buys + sells - commissions)."""
        return self._ledger.cash

    @property
    def equity(self) -> float:
        """Cash plus every position valued at its symbol's last close."""
        return self._ledger.cash + self._ledger.market_value(self._last)

    @property
    def buying_power(self) -> float:
        """Cash less the Reg T requirement: 150% of the short positions' value at their last
        close (pending orders not deducted)."""
        return self._ledger.cash - SHORT_MARGIN * self._short_value()

    @property
    def realized_pnl(self) -> float:
        """Gross P&L of closed quantity (average-cost method), commissions excluded."""
        return self._ledger.realized_pnl

    @property
    def unrealized_pnl(self) -> float:
        """Sum over positions of ``quantity * (last close - avg_price)``."""
        return self._ledger.unrealized_pnl(self._last)

    @property
    def total_commission(self) -> float:
        """Commissions paid on every fill so far."""
        return self._ledger.total_commission

    @property
    def positions(self) -> dict[str, Position]:
        """Return the non-flat positions by symbol (a new dict)."""
        return self._ledger.positions

    def position(self, symbol: str) -> int:
        """Return the signed quantity held in `symbol` (0 when flat)."""
        return self._ledger.position(symbol)

    def last_price(self, symbol: str) -> float | None:
        """Return the last close seen for `symbol`, or None before its first bar."""
        return self._last.get(symbol)

    @property
    def pending_orders(self) -> list[Order]:
        """Return the accepted, unfilled orders, per symbol in submission order (a new list)."""
        return [p.order for pending in self._pending.values() for p in pending]

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the pending orders (of `symbol`, or all) in submission (id) order."""
        return self._book.orders(symbol)

    @property
    def expired(self) -> list[Order]:
        """Every DAY order expired so far, in expiry order (do not modify)."""
        return self._expired

    @property
    def fills(self) -> list[Fill]:
        """The fills since the last `forget_fills` (all of them if never called), in execution
        order (the broker's own list: do not modify)."""
        return self._fills

    @property
    def filled_count(self) -> int:
        """How many fills the whole run made (forgotten ones included)."""
        return self._fills_forgotten + len(self._fills)

    def forget_fills(self) -> None:
        """Drop the fills kept so far (their count stays in `filled_count`).

        The run calls it once a session's fills are journaled and folded into its totals, so a
        long run does not hold every fill to the end.
        """
        self._fills_forgotten += len(self._fills)
        self._fills.clear()

    @property
    def rejections(self) -> list[Rejection]:
        """The rejections since the last `forget_rejections` (all of them if never called), at
        submission or at fill (do not modify)."""
        return self._rejections

    @property
    def rejected_count(self) -> int:
        """How many orders were rejected in the whole run (forgotten ones included)."""
        return self._rejections_forgotten + len(self._rejections)

    def forget_rejections(self) -> None:
        """Drop the rejections kept so far (their count stays in `rejected_count`).

        The engine calls it once a session's rejections are in its record: a run with many
        rejections (a tight ``max_open_positions`` on many symbols: ~15,000 a year) would
        otherwise hold every one of them to the end.
        """
        self._rejections_forgotten += len(self._rejections)
        self._rejections.clear()

    @property
    def closed_trades(self) -> list[ClosedTrade]:
        """Every completed round trip, in closing order (do not modify)."""
        return self._ledger.closed_trades

    @property
    def ledger(self) -> Ledger:
        """The account's books (read them; only the broker applies fills)."""
        return self._ledger
