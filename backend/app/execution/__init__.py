"""Orders, pre-trade risk checks and brokers.

``orders`` holds the immutable values (Order, Fill, Rejection, TimeInForce), ``risk`` the pure
limit checks and the Reg T buying-power rule (every reason names the violated rule first),
``ledger`` the average-cost books, ``book`` the pending orders, ``broker`` the Broker protocol
the AnalysisEngine talks to, and ``paper`` the deterministic SimulatedBroker that fills orders
from the next base bars.
Nothing here reads a clock or imports threading; a broker is confined to the AnalysisEngine
thread.
"""

from __future__ import annotations

from app.execution.broker import Broker
from app.execution.ledger import ClosedTrade, Ledger, Position
from app.execution.orders import Fill, Order, OrderSide, OrderType, Rejection, TimeInForce
from app.execution.paper import SimulatedBroker
from app.execution.risk import (
    SHORT_MARGIN,
    Limits,
    LimitsLike,
    PortfolioSnapshot,
    PortfolioView,
    buying_power_effect,
    check_order,
)

__all__ = [
    "SHORT_MARGIN",
    "Broker",
    "ClosedTrade",
    "Fill",
    "Ledger",
    "Limits",
    "LimitsLike",
    "Order",
    "OrderSide",
    "OrderType",
    "PortfolioSnapshot",
    "PortfolioView",
    "Position",
    "Rejection",
    "SimulatedBroker",
    "TimeInForce",
    "buying_power_effect",
    "check_order",
]
