"""DecisionTap: the engine's orders, fills and rejections, written with the step each came from."""

from __future__ import annotations

from bisect import bisect_right
from datetime import date
from typing import Any

from app.execution.orders import Order, Rejection
from app.execution.paper import SimulatedBroker
from app.recording.writer import RecordingWriter
from app.store.session_data import SessionState

__all__ = ["DecisionTap"]


class DecisionTap:
    """Writes the ``orders``, ``fills`` and ``rejections`` tables (AnalysisEngine thread only).

    Orders come from the StrategyContext's `on_order`, rejections from the broker's
    `on_rejection` (chained after the context's log), fills from the broker's list; all are
    written with the step they came from after each batch (`after_steps`) and at the end.
    """

    def __init__(self, writer: RecordingWriter, broker: SimulatedBroker, ctx: Any) -> None:
        self.broker = broker
        t = writer.table
        self._orders, self._fills, self._rejections = t("orders"), t("fills"), t("rejections")
        self._new_orders: list[tuple[Order, bool]] = []
        self._new_rejections: list[Rejection] = []
        self._fills_seen = broker.filled_count
        self._session: date | None = None
        self._phase = "session_start"
        ctx.on_order = self._order
        previous = broker.on_rejection

        def on_rejection(rejection: Rejection) -> None:
            previous(rejection)
            self._new_rejections.append(rejection)

        broker.on_rejection = on_rejection

    def _order(self, order: Order, accepted: bool) -> None:
        self._new_orders.append((order, accepted))

    def begin(self, state: SessionState) -> None:
        self._session = state.session
        self._phase = "session_start"

    def after_steps(self, lo: int, ends: list[int]) -> None:
        """Write what the steps ``lo, lo + 1, ...`` (ending at `ends`) decided and filled; flush."""
        self._phase = "step"
        self._write(lo, ends)

    def end(self) -> None:
        """Write what the session's end decided (``on_session_end``, expiries); flush."""
        self._phase = "session_end"
        self._write(-1, [])

    def _write(self, lo: int, ends: list[int]) -> None:
        session = self._session

        def step_at(t: int, exact: bool) -> int:
            i = bisect_right(ends, t) - (1 if exact else 0)
            return lo + i if 0 <= i < len(ends) and (not exact or ends[i] == t) else -1

        for order, accepted in self._new_orders:
            step = step_at(order.placed_at_ns, True) if self._phase == "step" else -1
            phase = "session_start" if self._phase == "step" and step < 0 else self._phase  # before the first step
            limit = order.limit_price if order.limit_price is not None else float("nan")
            self._orders.add((session, step, phase, order.placed_at_ns, order.id, order.symbol, order.side.value,
                              order.quantity, order.type.value, limit, order.tif.value, accepted))
        for r in self._new_rejections:
            step = step_at(r.at_ns, not r.at_fill) if ends else -1
            self._rejections.add((session, step, r.order.id, r.order.symbol, r.at_ns, r.at_fill, r.rule, r.reason))
        new = self.broker.filled_count - self._fills_seen
        fills = self.broker.fills
        for f in (fills[len(fills) - new:] if new else ()):
            self._fills.add((session, step_at(f.filled_at_ns, False) if ends else -1, f.order_id, f.symbol,
                             f.side.value, f.quantity, f.price, f.commission, f.filled_at_ns))
        self._fills_seen += new
        self._new_orders, self._new_rejections = [], []
        for table in (self._orders, self._fills, self._rejections):
            table.flush()
