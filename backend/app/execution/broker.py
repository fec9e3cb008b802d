"""The Broker protocol: what the AnalysisEngine needs from a broker, simulated or real."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from app.execution.orders import Fill, Order, Rejection

__all__ = ["Broker"]


class Broker(Protocol):
    """Accepts orders, reports fills and rejections, and keeps the account.

    Warnings
    --------
    A broker is confined to the thread that drives it (the AnalysisEngine); it is not
    thread-safe.
    """

    def submit(self, order: Order, ref_price: float) -> Rejection | None:
        """Risk-check `order` at `ref_price`; return the Rejection, or None when accepted."""
        ...

    def cancel(self, order_id: int) -> Order | None:
        """Cancel pending order `order_id`; return it, or None when it is not pending."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the pending orders (of `symbol`, or all) in submission order."""
        ...

    def expire_day_orders(self, close_ns: int) -> list[Order]:
        """Expire the pending DAY orders placed before the session close `close_ns`; return them."""
        ...

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel pending orders (of `symbol`, or all) and return them in submission order."""
        ...

    def on_bar(
        self, symbol: str, start_ns: int, open_: float, high: float, low: float, close: float
    ) -> list[Fill]:
        """Match pending orders of `symbol` against a new base bar; return the fills."""
        ...

    def position(self, symbol: str) -> int:
        """Return the signed quantity held in `symbol` (0 when flat)."""
        ...

    @property
    def cash(self) -> float:
        """Cash balance."""
        ...

    @property
    def equity(self) -> float:
        """Cash plus every position valued at its last price."""
        ...

    @property
    def fills(self) -> Sequence[Fill]:
        """Every fill so far, in execution order."""
        ...

    @property
    def rejections(self) -> Sequence[Rejection]:
        """Every rejected order so far, in rejection order."""
        ...
