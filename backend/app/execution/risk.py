"""Pure pre-trade risk checks: (order, reference price, portfolio view, limits) -> reason or None.

No clock, no threads, no I/O. Every reason text starts with the name of the violated rule
(``max_per_trade: ...``, ``no shorting: ...``, ``max_per_symbol: ...``,
``max_open_positions: ...``, ``insufficient cash: ...``, ``short margin: ...``), so a rejected
signal records which rule stopped it.

Buying power (Reg T)
--------------------
Longs are paid in full in cash (no margin loans). A short sale's proceeds are credited to cash
but are **not** buying power: Regulation T's initial margin holds 150% of the short's market
value against it (the proceeds, 100%, plus 50% of the account's own money)::

    buying_power = cash - SHORT_MARGIN * sum(|q| * price for each short position)

so opening a short of value ``v`` uses ``0.5 * v`` (plus commission) of buying power, covering
it frees that, and a long bought with short proceeds is refused. `buying_power_effect` gives
any fill's change; an order whose fill would lower buying power below 0 is refused (orders
that raise it, such as closing a position, never are).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

from app.execution.orders import BUY, LIMIT, SELL, Order

__all__ = [
    "SHORT_MARGIN",
    "Limits",
    "LimitsLike",
    "PortfolioSnapshot",
    "PortfolioView",
    "buying_power_effect",
    "check_and_reserve",
    "check_order",
    "estimate_buy_cost",
    "estimate_commission",
    "estimate_fill_price",
    "shortfall_reason",
]


SHORT_MARGIN: Final = 1.5  # Reg T initial margin on shorts: 150% of their market value


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
        Cash at the start of the run, > 0; also the buying power while no short is held.
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
        Whether a sell may exceed the held quantity (default False); shorts are held to Reg T
        (see the module notes: their proceeds are not buying power).

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
    def buying_power(self) -> float:
        """Buying power not yet committed: cash less the Reg T requirement on shorts, less
        what accepted, unfilled orders set aside."""
        ...

    @property
    def open_positions(self) -> int:
        """Number of symbols with a position or a pending order."""
        ...

    def position(self, symbol: str) -> int:
        """Return the signed quantity held in `symbol` (filled orders only)."""
        ...

    def pending(self, symbol: str) -> tuple[int, int]:
        """Return the quantities of `symbol`'s pending (buys, sells), both >= 0."""
        ...


@dataclass(frozen=True, slots=True)
class PortfolioSnapshot:
    """A fixed PortfolioView: `buying_power`, signed `holdings` and pending quantities per symbol."""

    buying_power: float
    holdings: Mapping[str, int] = field(default_factory=dict)
    pending_buys: Mapping[str, int] = field(default_factory=dict)
    pending_sells: Mapping[str, int] = field(default_factory=dict)

    @property
    def open_positions(self) -> int:
        """Return the number of symbols with a non-zero holding or a pending order."""
        symbols = set(self.holdings) | set(self.pending_buys) | set(self.pending_sells)
        return sum(1 for s in symbols if self.position(s) or any(self.pending(s)))

    def position(self, symbol: str) -> int:
        """Return the signed holding of `symbol` (0 when absent)."""
        return self.holdings.get(symbol, 0)

    def pending(self, symbol: str) -> tuple[int, int]:
        """Return the pending (buys, sells) of `symbol`."""
        return self.pending_buys.get(symbol, 0), self.pending_sells.get(symbol, 0)


def estimate_commission(quantity: int, limits: LimitsLike) -> float:
    """Return the commission of a fill of `quantity` shares: ``max(min, quantity * per_share)``."""
    return max(limits.commission_min, quantity * limits.commission_per_share)


def estimate_fill_price(order: Order, ref_price: float, limits: LimitsLike) -> float:
    """Return the price `order` is expected to fill at, the least favourable for buying power.

    A market order at ``ref_price`` moved by the slippage against it; a limit buy at its limit
    (it never fills higher); a limit sell at the higher of its limit and `ref_price` (a short's
    requirement grows with its price).
    """
    if order.type is LIMIT and order.limit_price is not None:
        if order.side is BUY:
            return order.limit_price
        return max(order.limit_price, ref_price)
    bps = limits.slippage_bps / 1e4
    return ref_price * (1.0 + bps) if order.side is BUY else ref_price * (1.0 - bps)


def estimate_buy_cost(order: Order, ref_price: float, limits: LimitsLike) -> float:
    """Return the cash a BUY order is expected to need, commission included (0 for a SELL).

    A market buy is priced at ``ref_price * (1 + slippage_bps / 1e4)``, a limit buy at its
    limit (it can never fill higher).
    """
    if order.side is SELL:
        return 0.0
    return order.quantity * estimate_fill_price(order, ref_price, limits) + estimate_commission(
        order.quantity, limits)


def buying_power_effect(held: int, signed_quantity: int, price: float, commission: float) -> float:
    """Return how a fill of `signed_quantity` at `price` changes buying power (Reg T).

    The cash it moves (``-signed_quantity * price - commission``) less the change of the
    requirement on the symbol's short, ``SHORT_MARGIN * (short_after - short_before) * price``,
    with ``short = max(0, -position)`` before (`held`) and after the fill.
    """
    short_before = max(0, -held)
    short_after = max(0, -(held + signed_quantity))
    return -signed_quantity * price - commission - SHORT_MARGIN * (short_after - short_before) * price


def check_order(
    order: Order, ref_price: float, portfolio: PortfolioView, limits: LimitsLike
) -> str | None:
    """Return why `order` breaks a rule, or None when it may be sent.

    Rules, checked in this order (notional = quantity x `ref_price`; pending orders count the
    way that is worst for the rule: a buy adds to the position plus its pending buys, a sell
    takes from the position less its pending sells):

    1. ``max_per_trade``: the order notional exceeds `limits.max_per_trade`.
    2. ``no shorting``: while `allow_short` is false, a sell larger than the position less the
       pending sells (pending buys are not shares held and never make a sell possible).
    3. ``max_per_symbol``: the absolute position after the order (and the pending orders on
       its side), valued at `ref_price`, exceeds `limits.max_per_symbol` and the order increases
       it (an order that only reduces a position is never refused by this rule).
    4. ``max_open_positions``: the order opens a position in a symbol with neither a position
       nor a pending order while `limits.max_open_positions` symbols already have one.
    5. ``insufficient cash`` (a buy) or ``short margin`` (a sell that opens or adds to a
       short): the fill would use more than `portfolio.buying_power`
       (`buying_power_effect` at `estimate_fill_price`; Reg T, see the module notes).

    Parameters
    ----------
    order : Order
        The order to check.
    ref_price : float
        The price to value it at (the last close of `order.symbol`), > 0.
    portfolio : PortfolioView
        Buying power, positions and pending orders.
    limits : LimitsLike
        The account's limits.

    Returns
    -------
    str or None
        The reason text, starting with the violated rule, or None.
    """
    return check_and_reserve(order, ref_price, portfolio, limits)[0]


def check_and_reserve(
    order: Order, ref_price: float, portfolio: PortfolioView, limits: LimitsLike
) -> tuple[str | None, float]:
    """Return `check_order`'s reason and, for an order it accepts, the buying power to set aside.

    The reserve is what the fill is expected to use, ``max(0, -buying_power_effect(...))`` at
    `estimate_fill_price` (0 when the order frees buying power); 0.0 with a reason. One pass:
    the broker's submission path (``SimulatedBroker.submit``).
    """
    qty, symbol, buy = order.quantity, order.symbol, order.side is BUY
    notional = qty * ref_price
    if notional > limits.max_per_trade:
        return (
            f"max_per_trade: order notional {notional:,.2f} exceeds "
            f"{limits.max_per_trade:,.2f} ({_what(order, ref_price)})"
        ), 0.0
    held = portfolio.position(symbol)
    buys, sells = portfolio.pending(symbol)
    if not buy and not limits.allow_short and qty > held - sells:
        pending = f" less pending sells {sells:,}" if sells else ""
        return (
            f"no shorting: sell {qty:,} {symbol} exceeds position {held:,}{pending} "
            "(allow_short is false)"
        ), 0.0
    before = held + buys if buy else held - sells
    signed = qty if buy else -qty
    after = before + signed
    after_notional = abs(after) * ref_price
    if abs(after) > abs(before) and after_notional > limits.max_per_symbol:
        return (
            f"max_per_symbol: {symbol} position notional {after_notional:,.2f} after the order "
            f"exceeds {limits.max_per_symbol:,.2f} ({_what(order, ref_price)})"
        ), 0.0
    if held == 0 and buys == 0 and sells == 0:
        opened = portfolio.open_positions
        if opened >= limits.max_open_positions:
            return (
                f"max_open_positions: opening {symbol} would make "
                f"{opened + 1:,} open positions, limit {limits.max_open_positions:,}"
            ), 0.0
    price = estimate_fill_price(order, ref_price, limits)
    commission = estimate_commission(qty, limits)
    need = -buying_power_effect(before, signed, price, commission)
    if need > 0 and need > portfolio.buying_power:
        return shortfall_reason(order, price, need, commission, portfolio.buying_power, before, "available"), 0.0
    return None, max(0.0, need)


def _what(order: Order, ref_price: float) -> str:
    return f"{order.side.value} {order.quantity:,} {order.symbol} at {ref_price:,.2f}"


def shortfall_reason(order: Order, price: float, need: float, commission: float, available: float,
                     held: int, label: str, stage: str = "") -> str:
    """Return the reason of a buying-power refusal (``insufficient cash`` or ``short margin``).

    `need` is the buying power the fill would use, `available` what there is (called `label`),
    `held` the position the order applies to; `stage` is ``""`` at submission, ``" at fill"``
    at fill.
    """
    qty, symbol = order.quantity, order.symbol
    if order.side is BUY:
        at = f" at {price:,.2f}" if stage else ""  # at submission the price is an estimate
        return (
            f"insufficient cash{stage}: buy {qty:,} {symbol}{at} needs {need:,.2f} "
            f"including commission {commission:,.2f}, {label} {available:,.2f}"
        )
    opened = max(0, -(held - qty)) - max(0, -held)
    return (
        f"short margin{stage}: sell {qty:,} {symbol} at {price:,.2f} opens a short of {opened:,}; "
        f"Reg T holds 150% of its value {opened * price:,.2f} against its proceeds, which needs "
        f"{need:,.2f} of buying power including commission {commission:,.2f}, {label} {available:,.2f}"
    )
