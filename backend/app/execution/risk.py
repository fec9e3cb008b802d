"""Pure pre-trade risk checks: (order, reference price, portfolio view, limits) -> reason or None.

No clock, no threads, no I/O. Every reason text starts with the name of the violated limit
(``max_per_trade: ...``, ``max_per_symbol: ...``, ``max_open_positions: ...``,
``insufficient cash: ...``, ``no shorting: ...``), so a rejected signal records which limit
stopped it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from app.execution.orders import Order, OrderSide, OrderType

__all__ = [
    "Limits",
    "LimitsLike",
    "PortfolioSnapshot",
    "PortfolioView",
    "check_order",
    "estimate_buy_cost",
    "estimate_commission",
]


class LimitsLike(Protocol):
    """Anything with the trading-limit attributes (``Limits`` here, ``TradingLimits`` in config)."""

    @property
    def starting_cash(self) -> float: ...
    @property
    def max_per_trade(self) -> float: ...
    @property
    def max_per_symbol(self) -> float: ...
    @property
    def max_open_positions(self) -> int: ...
    @property
    def commission_per_share(self) -> float: ...
    @property
    def commission_min(self) -> float: ...
    @property
    def slippage_bps(self) -> float: ...
    @property
    def allow_short(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Trading limits and cost model of a simulated account.

    Parameters
    ----------
    starting_cash : float
        Cash at the start of the run, > 0; also the total buying power.
    max_per_trade : float
        Largest order notional (quantity x reference price), > 0.
    max_per_symbol : float
        Largest absolute position notional per symbol after an order, > 0.
    max_open_positions : int
        Largest number of symbols with a non-zero position, >= 1.
    commission_per_share : float
        Commission per share, >= 0 (default 0).
    commission_min : float
        Minimum commission per fill, >= 0 (default 0).
    slippage_bps : float
        Market orders pay (buy) or give up (sell) this many basis points of the open, >= 0
        (default 0).
    allow_short : bool
        Whether a sell may exceed the held quantity (default False).

    Raises
    ------
    ValueError
        If a field is out of range.
    """

    starting_cash: float
    max_per_trade: float
    max_per_symbol: float
    max_open_positions: int
    commission_per_share: float = 0.0
    commission_min: float = 0.0
    slippage_bps: float = 0.0
    allow_short: bool = False

    def __post_init__(self) -> None:
        for name in ("starting_cash", "max_per_trade", "max_per_symbol"):
            _require(name, getattr(self, name), positive=True)
        for name in ("commission_per_share", "commission_min", "slippage_bps"):
            _require(name, getattr(self, name), positive=False)
        n = self.max_open_positions
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"Limits.max_open_positions: expected an int >= 1, received {n!r}")


def _require(name: str, value: float, *, positive: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > 0 if positive else value >= 0)
    if not ok:
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"Limits.{name}: expected a number {bound}, received {value!r}")


class PortfolioView(Protocol):
    """What the risk check needs to know about an account (pending orders included)."""

    @property
    def available_cash(self) -> float:
        """Cash not yet committed to accepted, unfilled buy orders."""
        ...

    @property
    def open_positions(self) -> int:
        """Number of symbols whose committed exposure is non-zero."""
        ...

    def exposure(self, symbol: str) -> int:
        """Return the held quantity of `symbol` plus the signed quantity of its pending orders."""
        ...


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """A fixed PortfolioView: `available_cash` and signed `holdings` per symbol."""

    available_cash: float
    holdings: Mapping[str, int] = field(default_factory=dict)

    @property
    def open_positions(self) -> int:
        """Return the number of symbols with a non-zero holding."""
        return sum(1 for qty in self.holdings.values() if qty != 0)

    def exposure(self, symbol: str) -> int:
        """Return the signed holding of `symbol` (0 when absent)."""
        return self.holdings.get(symbol, 0)


def estimate_commission(quantity: int, limits: LimitsLike) -> float:
    """Return the commission of a fill of `quantity` shares: ``max(min, quantity * per_share)``."""
    return max(limits.commission_min, quantity * limits.commission_per_share)


def estimate_buy_cost(order: Order, ref_price: float, limits: LimitsLike) -> float:
    """Return the cash a BUY order is expected to need, commission included (0 for a SELL).

    A market buy is priced at ``ref_price * (1 + slippage_bps / 1e4)``, a limit buy at its
    limit (it can never fill higher).
    """
    if order.side is OrderSide.SELL:
        return 0.0
    if order.type is OrderType.LIMIT and order.limit_price is not None:
        price = order.limit_price
    else:
        price = ref_price * (1.0 + limits.slippage_bps / 1e4)
    return order.quantity * price + estimate_commission(order.quantity, limits)


def check_order(
    order: Order, ref_price: float, portfolio: PortfolioView, limits: LimitsLike
) -> str | None:
    """Return why `order` breaks a limit, or None when it may be sent.

    Rules, checked in this order (notional = quantity x `ref_price`):

    1. ``max_per_trade``: the order notional exceeds `limits.max_per_trade`.
    2. ``no shorting``: a sell larger than the exposure while `allow_short` is false.
    3. ``max_per_symbol``: the absolute exposure after the order, valued at `ref_price`,
       exceeds `limits.max_per_symbol` and the order increases the absolute exposure (an
       order that only reduces a position is never refused by this rule).
    4. ``max_open_positions``: the order opens a position in a symbol with no exposure while
       `limits.max_open_positions` symbols already have one.
    5. ``insufficient cash``: a buy's estimated cost (see `estimate_buy_cost`) exceeds
       `portfolio.available_cash`.

    Parameters
    ----------
    order : Order
        The order to check.
    ref_price : float
        The price to value it at (the last close of `order.symbol`), > 0.
    portfolio : PortfolioView
        Cash and exposure, pending orders included.
    limits : LimitsLike
        The account's limits.

    Returns
    -------
    str or None
        The reason text, starting with the violated limit, or None.
    """
    qty, symbol = order.quantity, order.symbol
    what = f"{order.side.value} {qty:,} {symbol} at {ref_price:,.2f}"
    notional = qty * ref_price
    if notional > limits.max_per_trade:
        return (
            f"max_per_trade: order notional {notional:,.2f} exceeds "
            f"{limits.max_per_trade:,.2f} ({what})"
        )
    held = portfolio.exposure(symbol)
    after = held + order.signed_quantity
    if order.side is OrderSide.SELL and not limits.allow_short and qty > held:
        return (
            f"no shorting: sell {qty:,} {symbol} exceeds position {held:,} "
            "(allow_short is false)"
        )
    after_notional = abs(after) * ref_price
    if abs(after) > abs(held) and after_notional > limits.max_per_symbol:
        return (
            f"max_per_symbol: {symbol} position notional {after_notional:,.2f} after the order "
            f"exceeds {limits.max_per_symbol:,.2f} ({what})"
        )
    if held == 0 and portfolio.open_positions >= limits.max_open_positions:
        return (
            f"max_open_positions: opening {symbol} would make "
            f"{portfolio.open_positions + 1:,} open positions, limit {limits.max_open_positions:,}"
        )
    cost = estimate_buy_cost(order, ref_price, limits)
    if cost > portfolio.available_cash:
        commission = estimate_commission(qty, limits)
        return (
            f"insufficient cash: buy {qty:,} {symbol} needs {cost:,.2f} including commission "
            f"{commission:,.2f}, available {portfolio.available_cash:,.2f}"
        )
    return None
