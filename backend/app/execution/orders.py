"""Order, Fill and Rejection: the immutable values a strategy and a broker exchange."""

from __future__ import annotations

import enum
import math
import numbers
from dataclasses import dataclass

__all__ = ["BUY", "DAY", "LIMIT", "MARKET", "SELL", "Fill", "Order", "OrderSide", "OrderType", "Rejection",
           "TimeInForce", "describe_order", "whole_shares"]


class OrderSide(enum.Enum):
    """Direction of an order: BUY adds to a position, SELL reduces it (or shorts)."""

    BUY = "buy"
    SELL = "sell"


class OrderType(enum.Enum):
    """MARKET fills at the next bar's open; LIMIT fills when a bar trades through the limit."""

    MARKET = "market"
    LIMIT = "limit"


class TimeInForce(enum.Enum):
    """How long an unfilled order stays pending.

    DAY (the default) expires at the close of its session; an order placed at the close (on
    the session's last bar, or in ``on_session_end``) is for the next session, as a broker
    queues an after-hours day order, and expires at that session's close. GTC stays pending
    until it fills or is cancelled.
    """

    DAY = "day"
    GTC = "gtc"


# Enum members as module constants, for the order path (an enum member's look-up, OrderSide.BUY,
# costs ~0.15 us in Python 3.11; these are plain globals).
BUY, SELL = OrderSide.BUY, OrderSide.SELL
MARKET, LIMIT = OrderType.MARKET, OrderType.LIMIT
DAY = TimeInForce.DAY


@dataclass(frozen=True, slots=True)
class Order:
    """A request to trade `quantity` shares of `symbol`.

    Parameters
    ----------
    id : int
        Caller-chosen identifier, unique within a run; fills and rejections refer to it.
    symbol : str
        The instrument.
    side : OrderSide
        BUY or SELL.
    quantity : int
        Number of shares, > 0 (the side gives the sign).
    type : OrderType
        MARKET (default) or LIMIT.
    limit_price : float or None
        Required (> 0) for LIMIT orders, None for MARKET orders.
    placed_at_ns : int
        Clock time (ns UTC) at which the order was placed; it can fill only on a bar that
        starts at or after this time, so an order never fills on the bar that triggered it.
    tif : TimeInForce
        DAY (default) or GTC.

    Raises
    ------
    ValueError
        If `quantity` is not an int > 0, or `limit_price` does not match `type`.
    """

    id: int
    symbol: str
    side: OrderSide
    quantity: int
    type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    placed_at_ns: int = 0
    tif: TimeInForce = TimeInForce.DAY

    def __post_init__(self) -> None:
        qty = self.quantity
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise ValueError(
                f"order {self.id} ({self.symbol}): expected quantity to be an int > 0, "
                f"received {qty!r}"
            )
        if self.type is LIMIT:
            price = self.limit_price
            if price is None or not math.isfinite(price) or price <= 0:
                raise ValueError(
                    f"order {self.id} ({self.symbol}): expected limit_price > 0 for a LIMIT order, "
                    f"received {price!r}"
                )
        elif self.limit_price is not None:
            raise ValueError(
                f"order {self.id} ({self.symbol}): expected limit_price None for a MARKET order, "
                f"received {self.limit_price!r}"
            )

    @property
    def signed_quantity(self) -> int:
        """Return `quantity` for a BUY and `-quantity` for a SELL."""
        return self.quantity if self.side is BUY else -self.quantity


@dataclass(frozen=True, slots=True)
class Fill:
    """An executed order: `quantity` shares at `price`, plus `commission` (in cash units)."""

    order_id: int
    symbol: str
    side: OrderSide
    quantity: int
    price: float
    commission: float
    filled_at_ns: int


@dataclass(frozen=True, slots=True)
class Rejection:
    """An order refused at submission or at fill (`at_fill`); `reason` names the violated rule first."""

    order: Order
    reason: str
    at_ns: int
    at_fill: bool = False

    @property
    def rule(self) -> str:
        """Return the name of the violated rule: the reason's text before its first colon,
        without the ``" at fill"`` of a rejection at fill (``"insufficient cash"``)."""
        return self.reason.partition(":")[0].removesuffix(" at fill")


def whole_shares(quantity: object) -> int | None:
    """Return `quantity` as a whole number of shares > 0, or None when it is not one.

    Integers (numpy's too) are taken as they are and floats without a fractional part
    (``10.0``) as their value; fractions (``2.5``), NaN, infinities, bools, strings and
    quantities <= 0 give None: a fractional quantity is refused, never truncated.
    """
    if type(quantity) is int:  # the common case, without the ABC checks below
        return quantity if quantity > 0 else None
    if isinstance(quantity, bool):
        return None
    if isinstance(quantity, numbers.Integral):
        shares = int(quantity)
    elif isinstance(quantity, numbers.Real) and math.isfinite(value := float(quantity)) and value.is_integer():
        shares = int(value)
    else:
        return None
    return shares if shares > 0 else None


def describe_order(order: Order) -> str:
    """Return a one-line description, e.g. ``"buy 10 AAPL limit 99.50 day"``."""
    kind = f"limit {order.limit_price:,.2f}" if order.limit_price is not None else "market"
    return f"{order.side.value} {order.quantity:,} {order.symbol} {kind} {order.tif.value}"
