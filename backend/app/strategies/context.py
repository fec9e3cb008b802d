"""StrategyContext: what user code sees -- views bounded by the engine's cursor, the clock, orders.

The no-lookahead rule lives here (DESIGN.md rule 1). The AnalysisEngine moves the context's
cursor with `begin_session`, `begin_batch`, `advance` (a step), `reveal_all` (its bars) and `finish`;
every view, indicator value and quality figure the strategy reads is cut at that cursor.

Visibility within a step, one rule: every bar closed by `now_ns` -- base or derived, of every
symbol -- is visible to every callback of that step, and nothing that ends after `now_ns` is.
So the engine reveals all of a step's base bars (and the broker marks them) before the step's
first ``on_bar``: during AAPL's ``on_bar`` MSFT's 1m bar ending now is visible, as is its 5m bar.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING

import numpy as np

from app.bars.quality import live_quality
from app.execution.orders import (
    BUY,
    LIMIT,
    MARKET,
    SELL,
    Order,
    OrderSide,
    Rejection,
    TimeInForce,
    describe_order,
    whole_shares,
)
from app.store.bar import Bar, BarArrays, empty_bars, parse_interval

if TYPE_CHECKING:
    from app.execution.paper import SimulatedBroker
    from app.store.series import ValueSeries
    from app.store.session_data import SessionState
    from app.timing.time_manager import TimeManager

__all__ = ["StrategyContext"]


log = logging.getLogger("app.strategy")

_NAN = math.nan

REJECTIONS_LOGGED = 10
"""Rejections logged one by one per rule and session; the rest are counted in one line at its end
(a strategy refused on every bar would otherwise fill run.log, at ~30 us a line)."""
_TIF: dict[object, TimeInForce] = {**{t.value: t for t in TimeInForce}, **{t: t for t in TimeInForce}}


def _tif_of(tif: object) -> TimeInForce | None:
    # "day" / "gtc" or a TimeInForce -> the member (TimeInForce(tif) without the enum call), else None.
    try:
        return _TIF.get(tif)
    except TypeError:  # unhashable
        return None


class StrategyContext:
    """The strategy's window on the run: views bounded by the engine's clock, and orders.

    Everything returned reflects only bars whose interval has closed at or before ``now_ns``
    (DESIGN.md rule 1), and within a step every such bar of every symbol, base or derived, is
    visible to every callback; arrays are read-only views, never copies.

    Orders: `buy` / `sell` / `close` return the order's id (None when a rule refused it), which
    `cancel` takes; `open_orders` lists what is pending. Quantities are whole shares (a
    fractional quantity raises ValueError; it is never truncated). Time in force is ``"day"``
    (the default: an unfilled order expires at its session's close, is logged and appears in
    the session record's ``trading.expired``; one placed at the close is for the next session)
    or ``"gtc"`` (pending until filled or cancelled). Every rejection, at submission or at fill,
    is logged as a warning naming the rule, and counted in the session record.

    Warnings
    --------
    Used on the AnalysisEngine thread only.
    """

    def __init__(self, symbols: tuple[str, ...], base_label: str, indicator_intervals: dict[str, str],
                 broker: SimulatedBroker, tm: TimeManager) -> None:
        self.symbols = symbols
        self.now_ns = 0
        self._index = {s: i for i, s in enumerate(symbols)}
        self._base = base_label
        self._base_ns = parse_interval(base_label).ns
        self._ind_interval = indicator_intervals
        self._broker = broker
        self._tm = tm
        self._state: SessionState | None = None
        self._base_count = [0] * len(symbols)
        self._derived: dict[str, np.ndarray] = {}
        self._row = 0
        self._final = False
        # symbol -> key -> (values copied so far, symbol index, interval or None for base, series)
        self._lookup: dict[str, dict[str, tuple[list[float], int, str | None, ValueSeries]]] = {}
        self._next_order_id = 1
        broker.on_rejection = self._log_rejection
        self.on_order: Callable[[Order, bool], None] | None = None  # recording: each order, accepted or not
        self._rejections_logged: dict[str, int] = {}  # rule -> rejections this session (end_session)

    # -- clock and session ------------------------------------------------------------------
    @property
    def now(self) -> datetime:
        """The engine's clock as an exchange-local aware datetime."""
        return self._tm.to_local(self.now_ns)

    @property
    def base_interval(self) -> str:
        """Label of the streamed base interval, e.g. ``"1m"``."""
        return self._base

    @property
    def session(self) -> date:
        assert self._state is not None
        return self._state.session

    @property
    def session_open_ns(self) -> int:
        assert self._state is not None
        return self._state.open_ns

    @property
    def session_close_ns(self) -> int:
        assert self._state is not None
        return self._state.close_ns

    # -- data -------------------------------------------------------------------------------
    def _visible(self, symbol: str, label: str) -> int:
        s = self._index[symbol]
        if label == self._base:
            return self._base_count[s]
        if self._final:
            return len(self._state.bars[(symbol, label)])  # type: ignore[union-attr]
        counts = self._derived.get(label)
        return int(counts[self._row, s]) if counts is not None else 0

    def bars(self, symbol: str, interval: str | None = None) -> BarArrays:
        """Return this session's closed bars of `symbol` (read-only views)."""
        label = interval or self._base
        series = self._state.bars.get((symbol, label)) if self._state else None
        if series is None:
            raise KeyError(f"no {label} bars for {symbol!r}; streams are {sorted({k[1] for k in self._state.bars})}")  # type: ignore[union-attr]
        return series.view(self._visible(symbol, label))

    def last_bar(self, symbol: str, interval: str | None = None) -> Bar | None:
        """Return the newest closed bar of `symbol`, or None before the first one."""
        view = self.bars(symbol, interval)
        if not len(view):
            return None
        i = len(view) - 1
        return Bar(symbol, int(view.start[i]), float(view.open[i]), float(view.high[i]),
                   float(view.low[i]), float(view.close[i]), float(view.volume[i]))

    def history(self, symbol: str, interval: str) -> BarArrays:
        """Return the trailing history loaded before this session (empty if none configured)."""
        assert self._state is not None
        return self._state.history.get((symbol, interval), empty_bars())

    def indicator(self, symbol: str, key: str) -> float:
        """Return the newest visible value of session indicator `key` (NaN while warming up)."""
        try:
            values, s, label, series = self._lookup[symbol][key]
        except KeyError:
            raise KeyError(f"no indicator {key!r} for {symbol!r}; configured: {sorted(self._ind_interval)}") from None
        n = self._base_count[s] if label is None else self._visible(symbol, label)
        if n <= 0:
            return _NAN
        try:
            return values[n - 1]
        except IndexError:  # copy what the processor has written since, as Python floats, once
            have = len(values)
            values.extend(series.view()[have:].tolist())
            return values[n - 1] if n <= len(values) else _NAN

    # -- the cursor (moved by the AnalysisEngine only) ---------------------------------------
    def begin_session(self, state: SessionState) -> None:
        """Bind `state`'s series; nothing of it is visible yet and the clock stands at its open."""
        self._state, self._final, self._derived, self._row = state, False, {}, 0
        self._rejections_logged = {}
        self._base_count = [0] * len(self.symbols)
        self.now_ns = state.open_ns
        self._lookup = {
            symbol: {key: ([], s, None if label == self._base else label, state.indicators[(symbol, key)])
                     for key, label in self._ind_interval.items()}
            for s, symbol in enumerate(self.symbols)
        }

    def begin_batch(self, derived: dict[str, np.ndarray]) -> None:
        """Take a published batch: how many bars of each derived interval are visible per step."""
        self._derived = derived

    def advance(self, now_ns: int, row: int) -> None:
        """Move the clock to the end of the batch's step `row` (its bars are not revealed yet)."""
        self.now_ns = now_ns
        self._row = row

    def step(self, now_ns: int, row: int, s: int, count: int) -> None:
        """`advance`, then symbol `s` shows `count` base bars, in one call (steps that hold a single bar)."""
        self.now_ns = now_ns
        self._row = row
        self._base_count[s] = count

    @property
    def base_counts(self) -> list[int]:
        """How many base bars each symbol (in `symbols` order) shows now (a copy)."""
        return list(self._base_count)

    def reveal_all(self, counts: list[int]) -> None:
        """Every symbol now shows ``counts[s]`` base bars (a step's bars, revealed at once; kept, not copied)."""
        self._base_count = counts

    def finish(self, now_ns: int) -> None:
        """The session is over at `now_ns`: everything built for it is visible (``on_session_end``)."""
        self.now_ns = now_ns
        self._final = True

    def indicator_values(self, symbol: str, key: str) -> np.ndarray:
        """Return the visible values of session indicator `key` (read-only view)."""
        n = self._visible(symbol, self._ind_interval[key])
        return self._state.indicators[(symbol, key)].view(n)  # type: ignore[union-attr]

    def session_quality(self, symbol: str) -> float:
        """Return the base interval's quality so far: bars seen / bars due by now, in percent.

        100 before the first bar is due (BEHAVIOURS.md 13); computed from this context's own
        view, so it is the same in every run of a backtest.
        """
        assert self._state is not None
        st = self._state
        return live_quality(st.open_ns, st.close_ns, self.now_ns, self._base_ns,
                            self._base_count[self._index[symbol]])

    def historical_indicator(self, symbol: str, key: str) -> float:
        """Return a historical (context) indicator computed before the session."""
        return self._state.historical_indicators[(symbol, key)]  # type: ignore[union-attr]

    # -- portfolio and orders ---------------------------------------------------------------
    def position(self, symbol: str) -> int:
        """Return the signed share quantity held in `symbol`."""
        return self._broker.position(symbol)

    @property
    def cash(self) -> float:
        return self._broker.cash

    @property
    def equity(self) -> float:
        return self._broker.equity

    @property
    def buying_power(self) -> float:
        """Cash less the Reg T requirement on shorts (150% of their value at the last close).

        Short-sale proceeds are in `cash` but not in buying power; what pending orders set
        aside is not deducted here (see ``app.execution.risk``).
        """
        return self._broker.buying_power

    def buy(self, symbol: str, quantity: int, limit: float | None = None,
            tif: str | TimeInForce = "day") -> int | None:
        """Submit a buy (market, or limit when `limit` is given).

        Parameters
        ----------
        symbol : str
            One of `symbols`.
        quantity : int
            Whole shares, > 0 (``10.0`` is accepted as 10; ``2.5`` is refused).
        limit : float or None
            Limit price, or None for a market order.
        tif : {"day", "gtc"}
            Time in force (default ``"day"``: expires at the session's close).

        Returns
        -------
        int or None
            The order id (for `cancel`), or None when a rule refused it (logged and reported).

        Raises
        ------
        ValueError
            If `quantity` is not a whole number > 0, `tif` is unknown, or `symbol` has no bar
            yet (no price to check the order against).
        KeyError
            If `symbol` is not traded in this session.
        """
        return self._submit(symbol, BUY, quantity, limit, tif)

    def sell(self, symbol: str, quantity: int, limit: float | None = None,
             tif: str | TimeInForce = "day") -> int | None:
        """Submit a sell; parameters, return value and errors as for `buy`."""
        return self._submit(symbol, SELL, quantity, limit, tif)

    def close(self, symbol: str) -> int | None:
        """Flatten the position in `symbol` with a market day order (None when already flat)."""
        qty = self.position(symbol)
        if qty == 0:
            return None
        return self._submit(symbol, SELL if qty > 0 else BUY, abs(qty), None, "day")

    def cancel(self, order_id: int) -> bool:
        """Cancel pending order `order_id`; return False when it is not pending (it filled, was
        rejected, expired or cancelled already, or no order has that id)."""
        order = self._broker.cancel(order_id)
        if order is None:
            return False
        log.info("order %d cancelled at %s: %s", order.id, self._tm.format_ns(self.now_ns), describe_order(order))
        return True

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Return the pending orders (of `symbol`, or of every symbol) in submission order."""
        return self._broker.open_orders(symbol)

    def expire_day_orders(self, close_ns: int) -> list[str]:
        """Expire the DAY orders placed before the session close `close_ns`, log each, and
        return their descriptions (the AnalysisEngine calls this after ``on_session_end``)."""
        expired = self._broker.expire_day_orders(close_ns)
        if not expired:
            return []
        at = self._tm.format_ns(self.now_ns)
        out = []
        for order in expired:
            text = f"{describe_order(order)} (order {order.id}, placed {self._tm.format_ns(order.placed_at_ns)})"
            log.info("order expired at %s (time in force day): %s", at, text)
            out.append(text)
        return out

    def _submit(self, symbol: str, side: OrderSide, quantity: object, limit: float | None,
                tif: str | TimeInForce) -> int | None:
        if symbol not in self._index:
            raise KeyError(f"unknown symbol {symbol!r}; the session trades {list(self.symbols)}")
        shares = whole_shares(quantity)
        if shares is None:
            raise ValueError(f"cannot {side.value} {quantity!r} {symbol} at {self._tm.format_ns(self.now_ns)}: "
                             f"expected a whole number of shares > 0, received {quantity!r} "
                             "(fractional shares are not supported)")
        time_in_force = _tif_of(tif)
        if time_in_force is None:
            raise ValueError(f"cannot {side.value} {shares} {symbol} at {self._tm.format_ns(self.now_ns)}: "
                             f"expected tif 'day' or 'gtc', received {tif!r}")
        price = self._broker.last_price(symbol)
        if price is None:
            raise ValueError(f"cannot order {symbol} at {self._tm.format_ns(self.now_ns)}: it has no bar yet, "
                             f"so there is no price to check the order against")
        order = Order(self._next_order_id, symbol, side, shares,
                      LIMIT if limit is not None else MARKET, limit, self.now_ns,
                      time_in_force)
        self._next_order_id += 1
        rejected = self._broker.submit(order, price) is not None
        if self.on_order is not None:
            self.on_order(order, not rejected)
        return None if rejected else order.id

    def end_session(self, stopped: bool = False) -> None:
        """Log what the session's log left out: the rejections past `REJECTIONS_LOGGED` per rule.

        The AnalysisEngine calls this once the session is over (after ``on_session_end`` and the
        expiries); every rejection is in the session's record (sessions.json) whatever the log
        holds. `stopped`: the run stopped inside the session (a failure, a second Ctrl-C), which
        then has no record, so the log's count is all there is.
        """
        session = self._state.session.isoformat() if self._state is not None else "?"
        where = ("the session stopped before its end, so it has no record in sessions.json" if stopped
                 else "sessions.json lists every rejection")
        for rule, count in self._rejections_logged.items():
            if count > REJECTIONS_LOGGED:
                log.warning("%d more orders rejected by rule %r in session %s (the first %d are logged above; %s)",
                            count - REJECTIONS_LOGGED, rule, session, REJECTIONS_LOGGED, where)
        self._rejections_logged = {}

    def _log_rejection(self, rejection: Rejection) -> None:
        # Called by the broker for every rejection, at submission or at fill: the first
        # REJECTIONS_LOGGED per rule and session are logged one by one, the rest counted.
        rule = rejection.rule
        count = self._rejections_logged[rule] = self._rejections_logged.get(rule, 0) + 1
        if count > REJECTIONS_LOGGED:
            return
        order = rejection.order
        log.warning("order rejected %s by rule %r at %s: %s %d %s (order %d): %s",
                    "at fill" if rejection.at_fill else "at submission", rejection.rule,
                    self._tm.format_ns(rejection.at_ns), order.side.value, order.quantity, order.symbol,
                    order.id, rejection.reason)
