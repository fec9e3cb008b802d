"""SimulatedBroker: deterministic paper trading against base bars (no clock, no threads).

Fill rules
----------
* An order placed at clock time ``t`` may fill only on a bar whose ``start >= t``, so a
  signal computed on bar ``k`` fills on bar ``k + 1`` at the earliest (no look-ahead).
* MARKET: fills at the bar's open; a buy pays ``open * (1 + bps / 1e4)``, a sell receives
  ``open * (1 - bps / 1e4)``.
* LIMIT: a buy fills when ``low <= limit`` at ``min(open, limit)``; a sell fills when
  ``high >= limit`` at ``max(open, limit)``; no slippage. Unfilled limits stay pending
  until filled or cancelled.
* Commission per fill: ``max(commission_min, quantity * commission_per_share)``.
* At fill time a buy whose cost plus commission exceeds cash, or a sell that would go short
  while shorting is not allowed, is rejected with a reason instead of filled.

Accounting is the Ledger's (average-cost method, see ``app.execution.ledger``): after every
call ``equity == cash + sum(q * last) == starting_cash + realized_pnl + unrealized_pnl -
total_commission``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Final, cast

from app.execution.ledger import ClosedTrade, Ledger, Position
from app.execution.orders import Fill, Order, OrderSide, OrderType, Rejection
from app.execution.risk import LimitsLike, check_order, estimate_buy_cost, estimate_commission

__all__ = ["SimulatedBroker"]

_BPS: Final = 1e4


class _Pending:
    __slots__ = ("order", "reserve")

    def __init__(self, order: Order, reserve: float) -> None:
        self.order = order
        self.reserve = reserve


class _RiskView:
    # The PortfolioView the risk check sees: holdings plus pending orders.
    __slots__ = ("_broker",)

    def __init__(self, broker: SimulatedBroker) -> None:
        self._broker = broker

    @property
    def available_cash(self) -> float:
        b = self._broker
        return b.cash - sum(p.reserve for pending in b._pending.values() for p in pending)

    @property
    def open_positions(self) -> int:
        b = self._broker
        symbols = set(b._ledger.positions) | set(b._pending)
        return sum(1 for s in symbols if self.exposure(s) != 0)

    def exposure(self, symbol: str) -> int:
        b = self._broker
        return b._ledger.position(symbol) + b._pending_qty.get(symbol, 0)


class SimulatedBroker:
    """A paper account that fills orders from the next base bars, deterministically.

    Parameters
    ----------
    limits : LimitsLike
        Starting cash, risk limits and the cost model (commission, slippage, shorting).

    Warnings
    --------
    Single-threaded: only the AnalysisEngine thread calls it. It never reads a clock; all
    times come from orders and bars. Call `on_bar` for every new base bar, in time order,
    before the strategy sees that bar.
    """

    def __init__(self, limits: LimitsLike) -> None:
        self._limits = limits
        self._bps = limits.slippage_bps / _BPS
        self._ledger = Ledger(limits.starting_cash)
        self._last: dict[str, float] = {}
        self._pending: dict[str, list[_Pending]] = {}
        self._pending_qty: dict[str, int] = {}
        self._fills: list[Fill] = []
        self._rejections: list[Rejection] = []
        self._view = _RiskView(self)

    # -- orders -------------------------------------------------------------------------

    def submit(self, order: Order, ref_price: float) -> Rejection | None:
        """Risk-check `order` against `ref_price` (the last close) and queue it.

        Pending orders count towards every limit: their quantity is added to the symbol's
        exposure and a pending buy's estimated cost is set aside from the available cash
        (proceeds of pending sells are not counted).

        Returns
        -------
        Rejection or None
            The rejection (also appended to `rejections`), or None when the order is pending.

        Raises
        ------
        ValueError
            If `ref_price` is not a finite number > 0.
        """
        if not (isinstance(ref_price, (int, float)) and math.isfinite(ref_price) and ref_price > 0):
            raise ValueError(
                f"order {order.id} ({order.symbol}): expected ref_price > 0, received {ref_price!r}"
            )
        reason = check_order(order, ref_price, self._view, self._limits)
        if reason is not None:
            rejection = Rejection(order, reason, order.placed_at_ns)
            self._rejections.append(rejection)
            return rejection
        reserve = estimate_buy_cost(order, ref_price, self._limits)
        self._pending.setdefault(order.symbol, []).append(_Pending(order, reserve))
        signed = order.signed_quantity
        self._pending_qty[order.symbol] = self._pending_qty.get(order.symbol, 0) + signed
        return None

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel the pending orders of `symbol` (all symbols when None); return them."""
        symbols = list(self._pending) if symbol is None else [symbol]
        cancelled: list[Order] = []
        for s in symbols:
            cancelled.extend(p.order for p in self._pending.pop(s, ()))
            self._pending_qty.pop(s, None)
        return cancelled

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
        pending = self._pending.get(symbol)
        fills = self._match(pending, symbol, start_ns, open_, high, low) if pending else []
        self._last[symbol] = close
        return fills

    def mark(self, bar: tuple[str, int, float, float, float, float, float]) -> None:
        """`on_bar` for a `Bar` (the engine's per-bar path: no list of fills is built)."""
        symbol, start_ns, open_, high, low, close, _ = bar
        pending = self._pending.get(symbol)
        if pending:
            self._match(pending, symbol, start_ns, open_, high, low)
        self._last[symbol] = close

    def account(self) -> tuple[float, float]:
        """Return ``(equity, cash)`` in one call (the engine's equity point per step)."""
        return self._ledger.account(self._last)

    def account_probe(self) -> Callable[[], tuple[float, float]]:
        """Return a no-argument callable equal to `account` (one frame less on the per-step path)."""
        return partial(self._ledger.account, self._last)

    def _match(
        self,
        pending: list[_Pending],
        symbol: str,
        start_ns: int,
        open_: float,
        high: float,
        low: float,
    ) -> list[Fill]:
        fills: list[Fill] = []
        keep: list[_Pending] = []
        for item in pending:
            order = item.order
            price = self._trigger_price(order, start_ns, open_, high, low)
            if price is None:
                keep.append(item)
                continue
            self._pending_qty[symbol] -= order.signed_quantity
            fill = self._execute(order, price, start_ns)
            if fill is not None:
                fills.append(fill)
        if keep:
            self._pending[symbol] = keep
        else:
            del self._pending[symbol]
            del self._pending_qty[symbol]
        return fills

    def _trigger_price(
        self, order: Order, start_ns: int, open_: float, high: float, low: float
    ) -> float | None:
        if order.placed_at_ns > start_ns:
            return None  # placed after this bar opened: filling here would look ahead
        buy = order.side is OrderSide.BUY
        if order.type is OrderType.MARKET:
            return open_ * (1.0 + self._bps) if buy else open_ * (1.0 - self._bps)
        limit = cast(float, order.limit_price)  # set for every LIMIT order (Order.__post_init__)
        if buy:
            return min(open_, limit) if low <= limit else None
        return max(open_, limit) if high >= limit else None

    def _execute(self, order: Order, price: float, at_ns: int) -> Fill | None:
        qty, symbol = order.quantity, order.symbol
        commission = estimate_commission(qty, self._limits)
        reason = None
        if order.side is OrderSide.BUY:
            cost = qty * price + commission
            if cost > self._ledger.cash:
                reason = (
                    f"insufficient cash at fill: buy {qty:,} {symbol} at {price:,.2f} "
                    f"needs {cost:,.2f} including commission {commission:,.2f}, "
                    f"cash {self._ledger.cash:,.2f}"
                )
        elif not self._limits.allow_short and qty > self.position(symbol):
            reason = (
                f"no shorting at fill: sell {qty:,} {symbol} exceeds position "
                f"{self.position(symbol):,} (allow_short is false)"
            )
        if reason is not None:
            self._rejections.append(Rejection(order, reason, at_ns))
            return None
        self._ledger.apply(symbol, order.signed_quantity, price, commission, at_ns)
        fill = Fill(order.id, symbol, order.side, qty, price, commission, at_ns)
        self._fills.append(fill)
        return fill

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

    @property
    def fills(self) -> list[Fill]:
        """Every fill so far, in execution order (the broker's own list: do not modify)."""
        return self._fills

    @property
    def rejections(self) -> list[Rejection]:
        """Every rejection so far, at submission or at fill (do not modify)."""
        return self._rejections

    @property
    def closed_trades(self) -> list[ClosedTrade]:
        """Every completed round trip, in closing order (do not modify)."""
        return self._ledger.closed_trades

    @property
    def ledger(self) -> Ledger:
        """The account's books (read them; only the broker applies fills)."""
        return self._ledger
