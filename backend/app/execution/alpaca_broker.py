"""AlpacaBroker: a live run's orders routed to the Alpaca Trading API; the books follow the broker.

The engine and the strategy context use it exactly as they use the SimulatedBroker (it is one,
with matching replaced): the same risk checks run before anything is sent, and the ledger,
`fills` (fills.csv) and the reports hold what the broker reported -- its prices, quantities
and times, partial fills one by one -- never what the model predicted. What the model would
have filled is kept beside each fill for the report's slippage comparison.

Flow: `submit` risk-checks, picks the order's ``client_order_id`` (run id + sequence, chosen
before sending, so a retry never makes a second order) and POSTs it (bounded: at most 2
attempts of ``broker.timeout_s``, each followed by a lookup when unanswered). Events from
the TradeUpdates thread wait on `inbox` and are applied on the engine's thread at the next bar
(`sync`): an execution is the growth of the
order's cumulative ``filled_qty``, so a repeated event or a fill learnt both from the stream and
from REST is applied once (`alpaca_state`). After every connect of either stream, and every
``broker.poll_s`` while orders are open, the open orders and the positions are read from REST
(`reconcile`). A position the run did not open is reported and left alone.

Commission is 0 on broker fills (Alpaca charges none on US equities; regulatory fees on sells
are not on the stream).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from app.execution.alpaca_ids import client_order_id, sequence_of
from app.execution.alpaca_orders import order_body, order_from_wire
from app.execution.alpaca_positions import broker_positions, foreign_positions, position_mismatches
from app.execution.alpaca_state import BrokerStats, Execution, OrderTracker, decimal_or_none, wire_time_ns
from app.execution.alpaca_trading import BrokerError, BrokerRejectedError, TradingClient
from app.execution.kill_switch import KillSwitch
from app.execution.orders import Fill, Order, OrderSide, OrderType, Rejection, TimeInForce, describe_order
from app.execution.paper import SimulatedBroker
from app.execution.risk import LimitsLike, buying_power_effect, estimate_commission, estimate_fill_price

__all__ = ["AlpacaBroker", "BrokerStats"]

log = logging.getLogger(__name__)

INTERNAL_IDS = 1_000_000_000  # ids of the orders the kill switch sends (the strategy's count from 1)


class AlpacaBroker(SimulatedBroker):
    """The SimulatedBroker's interface over the Alpaca Trading API (live runs, ``broker.kind: alpaca``).

    Parameters
    ----------
    limits : LimitsLike
        The ``trading:`` section (starting cash and risk limits: the run's budget).
    client : TradingClient
        REST access to the account.
    run_id : str
        Prefix of the client order ids.
    inbox : queue.SimpleQueue
        ``("connected", n)`` and ``("event", data)`` items put by the TradeUpdates thread.
    now_ns, format_ns : callable
        The run's clock and its time formatter (logs, rejections).
    market_open : callable
        ``market_open(t_ns)``: whether `t_ns` is in a session (the calendar's answer).

    Warnings
    --------
    Confined to the AnalysisEngine thread while the pipeline runs (`start` before, `close`
    after, on the main thread). Only `inbox` is shared with another thread.
    """

    steady_between_fills: ClassVar[bool] = False  # broker events move the account at any bar

    def __init__(self, limits: LimitsLike, client: TradingClient, run_id: str,
                 inbox: queue.SimpleQueue[tuple[str, Any]], *, now_ns: Callable[[], int],
                 format_ns: Callable[[int], str], market_open: Callable[[int], bool], poll_s: float = 5.0,
                 extended_hours: bool = False, max_daily_loss: float | None = None,
                 flatten_on_kill: bool = False, feed_reconnects: Callable[[], int] | None = None) -> None:
        super().__init__(limits)
        self.client, self.run_id, self.inbox = client, run_id, inbox
        self._now_ns, self._format_ns, self._market_open = now_ns, format_ns, market_open
        self._poll_ns = int(poll_s * 1e9)
        self._extended, self._flatten = extended_hours, flatten_on_kill
        self.kill_switch = KillSwitch(max_daily_loss)
        self._feed_reconnects = feed_reconnects
        self._feed_seen = feed_reconnects() if feed_reconnects is not None else 0
        self.stats = BrokerStats()
        self.tracker = OrderTracker()
        self._orders: dict[str, Order] = {}  # client id -> the order as sent
        self._cid: dict[int, str] = {}  # order id -> client id
        self._seq = 0
        self._internal = INTERNAL_IDS
        self._unknown: set[str] = set()  # client ids whose submit got no answer
        self._cancel_sent: set[str] = set()  # client ids whose cancel the broker accepted (204)
        self._awaiting_model: dict[int, Order] = {}
        self.model_price: dict[int, float] = {}  # order id -> the SimulatedBroker's fill price
        self.compared: list[tuple[Fill, str]] = []  # every broker fill and how it was learnt
        self.foreign: dict[str, int] = {}  # positions held before the run (not its own)
        self.mismatches: dict[str, tuple[int, int]] = {}  # symbol -> (broker's, expected), while they differ
        self.kill: dict[str, Any] | None = None
        self._newest_bar_ns = 0  # start of the newest bar marked (the kill switch's orders follow it)
        self._last_poll_ns = 0
        self._reconcile_due = False

    # -- start and end ----------------------------------------------------------------------

    def start(self, after_iso: str) -> None:
        """Check the keys, adopt this run id's orders placed after `after_iso`, read the positions.

        Raises
        ------
        BrokerError
            The account cannot be read (keys, URL) or the orders and positions cannot.
        """
        self.client.read_attempts = 3  # the main thread, before the run: a blip need not end it
        try:
            self._adopt(after_iso)
        finally:
            self.client.read_attempts = 1
        self._last_poll_ns = self._now_ns()

    def _adopt(self, after_iso: str) -> None:
        self.client.account()
        for wire in self.client.orders("all", after=after_iso):
            cid = wire.get("client_order_id")
            if not isinstance(cid, str):
                continue
            seq = sequence_of(cid, self.run_id)
            if seq is None or cid in self.tracker:
                continue
            self._seq = max(self._seq, seq)
            order = order_from_wire(wire, -seq, wire_time_ns(wire.get("created_at"), self._now_ns()))
            if order is None:
                log.warning("order %s of run %s is not a whole-share market or limit order: not adopted", cid,
                            self.run_id)
                continue
            self._track(cid, order)
            if wire.get("status") not in ("filled", "canceled", "expired", "rejected", "replaced"):
                self._book_add(order)
            self.stats.adopted_from_earlier += 1
            log.info("adopted order %s from an earlier process of run %s: %s (%s)", cid, self.run_id,
                     describe_order(order), wire.get("status"))
            self._apply_wire(wire, "rest")
        self._check_positions(self.client.positions(), first=True)

    def close(self, cancel_open: bool) -> None:
        """At the run's end (threads joined): apply what is queued, cancel open orders if asked, reconcile."""
        self.sync(poll=False)
        if cancel_open:
            cancelled = self.cancel_all()
            if cancelled:
                log.info("cancelled %d open order(s) at the run's end (broker.cancel_on_exit)", len(cancelled))
        elif self._pending:
            log.warning("%d order(s) left open at the broker (broker.cancel_on_exit is false)",
                        len(self.open_orders()))
        self.reconcile()

    # -- orders -------------------------------------------------------------------------

    def submit(self, order: Order, ref_price: float) -> Rejection | None:
        """Risk-check `order` as the SimulatedBroker does, then send it (see the module notes)."""
        self.sync(poll=False)
        refusal = self._refusal(order)
        if refusal is not None:
            return self._reject(Rejection(order, refusal, order.placed_at_ns))
        rejection = super().submit(order, ref_price)
        if rejection is not None:
            return rejection
        return self._send(order)

    def cancel(self, order_id: int) -> Order | None:
        """Ask the broker to cancel `order_id`; return it when the broker took the request.

        A fill that crosses the cancel is still applied when the broker reports it.
        """
        cid = self._cid.get(order_id)
        if cid is None or order_id not in self._book:
            return None
        tracked = self.tracker.get(cid)
        assert tracked is not None
        try:
            if tracked.broker_id is None:
                wire = self.client.order_by_client_id(cid)
                if wire is None:  # it never reached the broker
                    self._unknown.discard(cid)
                    self.tracker.mark_ended(cid, "canceled")
                    return self._book.cancel(order_id)
                self._apply_wire(wire, "rest")
                if tracked.broker_id is None or order_id not in self._book:
                    return None
            accepted = self.client.cancel(tracked.broker_id)
            if not accepted:  # not cancelable: it filled or ended; learn how
                wire = self.client.order(tracked.broker_id)
                if wire is not None:
                    self._apply_wire(wire, "rest")
                return None
        except BrokerError as e:
            log.warning("cancel of order %d (%s) failed: %s; it stays open", order_id, cid, e.message)
            return None
        self._cancel_sent.add(cid)
        return self._book.cancel(order_id)

    def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel the open orders (of `symbol`, or all); return those the broker took the request for."""
        return [o for o in self._book.orders(symbol) if self.cancel(o.id) is not None]

    def expire_day_orders(self, close_ns: int) -> list[Order]:
        """At a session's close: cancel the DAY orders placed before it (reported as expired).

        Also resets the kill switch and the day's starting equity for the next session. A
        session that ends before its close (the run stops: ``stop_after_seconds``, Ctrl-C) leaves
        the orders alone: ``broker.cancel_on_exit`` decides at the run's end.
        """
        self.sync(poll=False)
        if self._now_ns() < close_ns:
            return []
        due = [o for o in self._book.orders() if o.tif is TimeInForce.DAY and o.placed_at_ns < close_ns]
        expired = [o for o in due if self.cancel(o.id) is not None]
        self._expired.extend(expired)
        self.kill_switch.new_session()
        return expired

    def _refusal(self, order: Order) -> str | None:
        if self.kill_switch.reason is not None:
            return self.kill_switch.reason
        if self._market_open(order.placed_at_ns):
            return None
        at = self._format_ns(order.placed_at_ns)
        if not self._extended:
            return f"market closed: {describe_order(order)} at {at} is outside the session " \
                   "(trading.extended_hours is false)"
        if order.type is OrderType.MARKET:
            return f"extended hours: a market order cannot be sent at {at} (outside the session); use a limit"
        return None

    def _send(self, order: Order) -> Rejection | None:
        self._seq += 1
        cid = client_order_id(self.run_id, self._seq)
        self._track(cid, order)
        self._awaiting_model[order.id] = order
        extended = self._extended and not self._market_open(order.placed_at_ns)
        self.stats.orders_sent += 1
        try:
            reply = self.client.submit(order_body(order, cid, extended_hours=extended))
        except BrokerRejectedError as e:
            self._book.cancel(order.id)
            self.tracker.mark_ended(cid, "rejected")
            self.stats.rejected_by_broker += 1
            return self._reject(Rejection(order, f"broker: {e.message}", order.placed_at_ns))
        except BrokerError as e:
            self._unknown.add(cid)
            self.stats.unknown_after_submit += 1
            log.warning("order %d (%s): %s; its state is read at the next reconcile", order.id, cid, e.message)
            return None
        log.info("order %d sent as %s: %s", order.id, cid, describe_order(order))
        self._apply_wire(reply, "rest")
        return None

    def _track(self, cid: str, order: Order) -> None:
        self.tracker.register(cid)
        self._orders[cid] = order
        self._cid[order.id] = cid

    def _book_add(self, order: Order) -> None:
        # What SimulatedBroker.submit sets aside for a pending order.
        buys, sells = self._book.quantities(order.symbol)
        before = self._ledger.position(order.symbol) + (buys if order.side is OrderSide.BUY else -sells)
        ref = self._last.get(order.symbol) or order.limit_price or 0.0
        price = estimate_fill_price(order, ref, self._limits) if ref > 0 else 0.0
        effect = buying_power_effect(before, order.signed_quantity, price,
                                     estimate_commission(order.quantity, self._limits))
        self._book.add(order, max(0.0, -effect))

    # -- what the broker reports ------------------------------------------------------------

    def sync(self, poll: bool = True) -> None:
        """Apply the queued stream events; reconcile after a connect of either stream, or when due.

        With ``poll=False`` only the events are applied; a reconcile a connect asked for waits for
        the next call that polls.
        """
        reconcile = self._reconcile_due
        while True:
            try:
                kind, payload = self.inbox.get_nowait()
            except queue.Empty:
                break
            if kind == "connected":
                self.stats.stream_connects = payload
                reconcile = True
            else:
                self._on_event(payload)
        if self._feed_reconnects is not None and (n := self._feed_reconnects()) != self._feed_seen:
            self._feed_seen, reconcile = n, True
            log.info("market-data stream reconnected: reconciling orders and positions")
        self._reconcile_due = reconcile
        if not poll:
            return
        if reconcile or (self._now_ns() - self._last_poll_ns >= self._poll_ns and self.tracker.open_ids()):
            self.reconcile()

    def reconcile(self) -> None:
        """Read every open order of the run and the positions from REST; apply what was missed."""
        self._last_poll_ns = self._now_ns()
        self._reconcile_due = False
        self.stats.reconciles += 1
        try:
            mine = self.tracker.open_ids()
            # One list call for the orders still open; one call each for those that closed since
            # (their last state), so a poll costs 2 requests while nothing changes (200/min limit).
            still_open = {o.get("client_order_id"): o for o in self.client.orders("open")} if mine else {}
            for cid in mine:
                tracked = self.tracker.get(cid)
                assert tracked is not None
                if cid in still_open:
                    wire: dict[str, Any] | None = still_open[cid]
                elif tracked.broker_id is not None:
                    wire = self.client.order(tracked.broker_id)
                else:
                    wire = self.client.order_by_client_id(cid)
                if wire is None:
                    self._lost(cid)
                    continue
                self._unknown.discard(cid)
                self._apply_wire(wire, "rest")
            self._check_positions(self.client.positions(), first=False)
        except BrokerError as e:
            self.stats.reconcile_failures += 1
            log.warning("reconcile failed (%s); tried again in %.1f s", e.message, self._poll_ns / 1e9)

    def _lost(self, cid: str) -> None:
        # The broker has no order with this id: its submit never reached it.
        order = self._orders[cid]
        self._unknown.discard(cid)
        if self.tracker.mark_ended(cid, "rejected"):
            self._book.cancel(order.id)
            self.stats.rejected_by_broker += 1
            self._reject(Rejection(order, "broker: no such order at the broker (its submit got no answer)",
                                   self._now_ns(), at_fill=True))

    def _on_event(self, data: Any) -> None:
        wire = data.get("order") if isinstance(data, dict) else None
        if not isinstance(wire, dict):
            self.stats.malformed_events += 1
            return
        execution_id = data.get("execution_id") if isinstance(data.get("execution_id"), str) else None
        tracked = self.tracker.get(str(wire.get("client_order_id")))
        if tracked is None:
            self.stats.other_orders_events += 1
            return
        if execution_id is not None and execution_id in tracked.executions:
            self.stats.duplicate_events += 1
            return
        at = wire_time_ns(data.get("timestamp"), None) or wire_time_ns(wire.get("updated_at"), self._now_ns())
        self._apply_wire(wire, "stream", at, execution_id, data.get("price"), data.get("qty"))

    def _apply_wire(self, wire: dict[str, Any], source: str, at_ns: int | None = None,
                    execution_id: str | None = None, price: Any = None, qty: Any = None) -> None:
        if at_ns is None:
            at_ns = wire_time_ns(wire.get("filled_at"), None) or wire_time_ns(wire.get("updated_at"), self._now_ns())
        update = self.tracker.apply(wire, at_ns, source=source, execution_id=execution_id, price=price, qty=qty)
        if update is None:
            return
        order = self._orders[update.client_id]
        for execution in update.executions:
            self._book_fill(order, execution)
        if update.ended is not None:
            self._end(order, update.ended, at_ns)

    def _book_fill(self, order: Order, ex: Execution) -> None:
        tracked = self.tracker.get(ex.client_id)
        assert tracked is not None
        if order.id in self._book:
            self._book.cancel(order.id)
            remaining = order.quantity - tracked.filled_qty
            if remaining > 0 and not tracked.ended:
                self._book_add(dataclasses.replace(order, quantity=remaining))
        if ex.client_id in self._cancel_sent:
            log.warning("order %d (%s) filled %d after its cancel was accepted: the cancel lost the race; "
                        "the fill is booked", order.id, ex.client_id, ex.quantity)
        signed = ex.quantity if order.side is OrderSide.BUY else -ex.quantity
        self._last.setdefault(order.symbol, ex.price)  # an adopted order's symbol may have no bar yet
        self._ledger.apply(order.symbol, signed, ex.price, 0.0, ex.at_ns)
        fill = Fill(order.id, order.symbol, order.side, ex.quantity, ex.price, 0.0, ex.at_ns)
        self._fills.append(fill)
        self.compared.append((fill, ex.source))
        if ex.source == "stream":
            self.stats.fills_from_stream += 1
        else:
            self.stats.fills_from_rest += 1
        log.info("fill from the broker (%s): %s %d %s at %.4f (order %d, %s, %d of %d)", ex.source,
                 order.side.value, ex.quantity, order.symbol, ex.price, order.id, ex.client_id,
                 tracked.filled_qty, order.quantity)

    def _end(self, order: Order, status: str, at_ns: int) -> None:
        self._book.cancel(order.id)
        if status == "rejected":
            self.stats.rejected_by_broker += 1
            self._reject(Rejection(order, "broker: rejected (trade_updates)", at_ns, at_fill=True))
        elif status == "expired":
            self._expired.append(order)
            log.info("order %d expired at the broker: %s", order.id, describe_order(order))
        elif status == "canceled":
            self.stats.canceled += 1
            log.info("order %d cancelled at the broker: %s", order.id, describe_order(order))

    def _check_positions(self, positions: list[dict[str, Any]], *, first: bool) -> None:
        held = broker_positions(positions)
        ours = {s: p.quantity for s, p in self._ledger.positions.items()}
        if first:
            self.foreign = foreign_positions(held, ours)
            for symbol, qty in self.foreign.items():
                log.warning("position not opened by this run: %s %+d (the broker holds %+d, this run %+d); "
                            "left alone", symbol, qty, held.get(symbol, 0), ours.get(symbol, 0))
            for symbol in ours:  # adopted positions are marked until their first bar
                if symbol not in self._last:
                    mark = next((decimal_or_none(p.get("current_price")) for p in positions
                                 if p.get("symbol") == symbol), None)
                    self._last[symbol] = mark or self._ledger.positions[symbol].avg_price
            return
        mismatches = position_mismatches(held, ours, self.foreign)
        for symbol, (theirs, expected) in mismatches.items():
            if self.mismatches.get(symbol) != (theirs, expected):
                log.warning("position mismatch in %s: the broker holds %+d, expected %+d (this run %+d)",
                            symbol, theirs, expected, ours.get(symbol, 0))
        self.mismatches = mismatches

    # -- bars ---------------------------------------------------------------------------

    def mark(self, bar: tuple[str, int, float, float, float, float, float]) -> bool:
        """Take a new base bar: the model's price for waiting orders, the mark, broker events, the kill switch.

        Returns True: broker events may have moved the account at any bar (`steady_between_fills`
        is False).
        """
        symbol, start_ns, open_, high, low, close, _ = bar
        self._newest_bar_ns = max(self._newest_bar_ns, start_ns)
        for oid, order in list(self._awaiting_model.items()):
            if order.symbol == symbol:
                price = self._trigger_price(order, start_ns, open_, high, low)
                if price is not None:
                    self.model_price[oid] = price
                    del self._awaiting_model[oid]
        self._last[symbol] = close
        self.sync()
        reason = self.kill_switch.check(self.equity) if self.kill_switch.max_loss is not None else None
        if reason is not None:
            self._kill(reason)
        return True

    def mark_all(self, bars: Sequence[tuple[str, int, float, float, float, float, float]]) -> None:
        """`mark` each bar in order (broker events and the kill switch are checked at every bar)."""
        for bar in bars:
            self.mark(bar)

    def on_bar(self, symbol: str, start_ns: int, open_: float, high: float, low: float, close: float) -> list[Fill]:
        """`mark` for one bar; return the broker fills applied meanwhile."""
        n = len(self._fills)
        self.mark((symbol, start_ns, open_, high, low, close, 0.0))
        return self._fills[n:]

    def _kill(self, reason: str) -> None:
        now = self._now_ns()
        log.error("%s at %s", reason, self._format_ns(now))
        cancelled = self.cancel_all()
        flattened = []
        if self._flatten:
            for symbol, pos in sorted(self._ledger.positions.items()):
                self._internal += 1
                side = OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY
                # Placed after the newest bar, as a strategy's order is: the model prices it on the next
                order = Order(self._internal, symbol, side, abs(pos.quantity), placed_at_ns=self._newest_bar_ns + 1)
                self._book_add(order)
                self._send(order)
                flattened.append(describe_order(order))
        ks = self.kill_switch
        assert ks.start is not None and ks.max_loss is not None
        self.kill = {"at": self._format_ns(now), "equity": self.equity, "loss": ks.start - self.equity,
                     "max_daily_loss": ks.max_loss, "orders_cancelled": len(cancelled), "flatten_orders": flattened}
