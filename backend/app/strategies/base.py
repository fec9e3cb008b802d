"""Strategy base class and StrategyContext: what user code sees (bounded views, clock, orders)."""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from app.execution.orders import Order, OrderSide, OrderType
from app.bars.quality import live_quality
from app.store.bar import Bar, BarArrays, empty_bars, parse_interval

if TYPE_CHECKING:
    from app.execution.paper import SimulatedBroker
    from app.store.session_data import SessionState
    from app.timing.time_manager import TimeManager

__all__ = ["Strategy", "StrategyContext"]

log = logging.getLogger("app.strategy")


class Strategy:
    """Base class for user strategies.

    Subclasses declare their parameters with defaults in ``params`` (the config's
    ``strategy.params`` may set only these; unknown names are config errors) and read them
    as ``self.p["name"]``. Override any of the hooks; each runs on the AnalysisEngine thread.

    Attributes
    ----------
    params : dict
        Parameter names and their defaults.
    """

    params: ClassVar[dict[str, Any]] = {}

    def __init__(self, **params: Any) -> None:
        self.p: dict[str, Any] = {**self.params, **params}

    @classmethod
    def indicators(cls, params: dict[str, Any], base_interval: str) -> list[dict[str, Any]]:
        """Return the session indicators this strategy needs, e.g. ``{"name": "sma", "period": 10}``.

        They are added to the config's ``indicators`` (the interval defaults to the base one).
        """
        return []

    def on_session_start(self, ctx: StrategyContext) -> None:
        """Called once per session after history is loaded, before the first bar."""

    def on_bar(self, ctx: StrategyContext, bar: Bar) -> None:
        """Called for each new base bar, in (time, symbol) order, once the bar has closed."""

    def on_session_end(self, ctx: StrategyContext) -> None:
        """Called once per session with the clock at the close."""


class StrategyContext:
    """The strategy's window on the run: views bounded by the engine's clock, and orders.

    Everything returned reflects only bars whose interval has closed at or before ``now_ns``
    (DESIGN.md rule 1); arrays are read-only views, never copies.

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
        self._lookup: dict[str, dict[str, tuple[Any, str | None]]] = {}
        self._next_order_id = 1

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
        series = self._state.bars.get((symbol, label)) if self._state else None  # type: ignore[union-attr]
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
            series, label = self._lookup[symbol][key]
        except KeyError:
            raise KeyError(f"no indicator {key!r} for {symbol!r}; configured: {sorted(self._ind_interval)}") from None
        n = self._base_count[self._index[symbol]] if label is None else self._visible(symbol, label)
        return series.value(n - 1)  # type: ignore[no-any-return]

    def _begin_session(self, state: SessionState) -> None:
        # Called by the engine: bind this session's series (one dict hop per lookup later).
        self._state, self._final, self._derived = state, False, {}
        self._base_count = [0] * len(self.symbols)
        self.now_ns = state.open_ns
        self._lookup = {
            symbol: {key: (state.indicators[(symbol, key)], None if label == self._base else label)
                     for key, label in self._ind_interval.items()}
            for symbol in self.symbols
        }

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

    def buy(self, symbol: str, quantity: int, limit: float | None = None) -> int | None:
        """Submit a buy (market, or limit when `limit` is given); return its id, None if rejected."""
        return self._submit(symbol, OrderSide.BUY, quantity, limit)

    def sell(self, symbol: str, quantity: int, limit: float | None = None) -> int | None:
        """Submit a sell; return its id, None if rejected (reason logged and reported)."""
        return self._submit(symbol, OrderSide.SELL, quantity, limit)

    def close(self, symbol: str) -> int | None:
        """Flatten the position in `symbol` with a market order (None when already flat)."""
        qty = self.position(symbol)
        if qty == 0:
            return None
        return self._submit(symbol, OrderSide.SELL if qty > 0 else OrderSide.BUY, abs(qty), None)

    def _submit(self, symbol: str, side: OrderSide, quantity: int, limit: float | None) -> int | None:
        if symbol not in self._index:
            raise KeyError(f"unknown symbol {symbol!r}; the session trades {list(self.symbols)}")
        price = self._broker.last_price(symbol)
        if price is None:
            raise ValueError(f"cannot order {symbol} at {self._tm.format_ns(self.now_ns)}: it has no bar yet, "
                             f"so there is no price to check the order against")
        order = Order(self._next_order_id, symbol, side, int(quantity),
                      OrderType.LIMIT if limit is not None else OrderType.MARKET, limit, self.now_ns)
        self._next_order_id += 1
        rejection = self._broker.submit(order, price)
        if rejection is not None:
            log.info("order rejected at %s: %s %d %s: %s", self._tm.format_ns(self.now_ns),
                     side.name, quantity, symbol, rejection.reason)
            return None
        return order.id
