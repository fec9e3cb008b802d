"""Pure run and session statistics from equity, trades and counts (no clock, no threads, no I/O).

The dicts returned here are pieces of the report schema documented in ``app.metrics.report``:
deterministic values at the top level, wall-clock timings under ``"metrics"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, Protocol

import numpy as np

from app.execution.orders import OrderSide

__all__ = [
    "MIN_SHARPE_DAYS",
    "TRADING_DAYS_PER_YEAR",
    "Book",
    "Drawdown",
    "FillLike",
    "TradeLike",
    "compute_run_summary",
    "compute_session_stats",
    "fold_fill_cash",
    "max_drawdown_pct",
    "open_positions",
    "profit_factor",
    "sharpe_ratio",
    "symbol_pnl",
    "symbol_pnl_of",
    "win_rate_pct",
]

TRADING_DAYS_PER_YEAR: Final = 252
MIN_SHARPE_DAYS: Final = 20
"""Daily returns below which an annualised Sharpe ratio is noise: reports show "n/a (N days)"."""

Book = tuple[int, float, float | None]
"""A symbol's ``(quantity, average price, mark)``: signed quantity, entry average (0.0 when
flat) and last close (None before its first bar)."""


class TradeLike(Protocol):
    """A closed round trip; only its net `pnl` (commissions included) matters here."""

    @property
    def pnl(self) -> float: ...


class FillLike(Protocol):
    """An executed order (``app.execution.orders.Fill``)."""

    @property
    def symbol(self) -> str: ...

    @property
    def side(self) -> OrderSide: ...

    @property
    def quantity(self) -> int: ...

    @property
    def price(self) -> float: ...

    @property
    def commission(self) -> float: ...


def symbol_pnl(fills: Iterable[FillLike], start: Mapping[str, Book],
               end: Mapping[str, Book], also: tuple[dict[str, float], dict[str, int]] | None = None,
               ) -> dict[str, dict[str, Any]]:
    """Return each symbol's P&L and fill count over a span (a session, or the run).

    A symbol's P&L is the cash its fills moved (sales minus purchases minus commissions) plus
    its position's value at the end minus its value at the start (quantity times mark), so the
    symbols' P&L add up to the account's equity change over the span. Symbols that neither
    traded nor held a position are left out; the result is in symbol order.

    `also`: another ``(cash, count)`` pair the same fills are folded into, in the same pass
    (`fold_fill_cash`: the run's totals, as a session's fills are folded into them).
    """
    cash: dict[str, float] = {}
    count: dict[str, int] = {}
    if also is None:
        fold_fill_cash(fills, cash, count)
    else:
        _fold_twice(fills, cash, count, *also)
    return symbol_pnl_of(cash, count, start, end)


def _fold_twice(fills: Iterable[FillLike], cash: dict[str, float], count: dict[str, int],
                cash2: dict[str, float], count2: dict[str, int]) -> None:
    # fold_fill_cash into two pairs at once: each fill's flow worked out once, added to both.
    buy = OrderSide.BUY
    for f in fills:
        symbol = f.symbol
        flow = f.quantity * f.price * (-1.0 if f.side is buy else 1.0) - f.commission
        cash[symbol] = cash.get(symbol, 0.0) + flow
        count[symbol] = count.get(symbol, 0) + 1
        cash2[symbol] = cash2.get(symbol, 0.0) + flow
        count2[symbol] = count2.get(symbol, 0) + 1


def fold_fill_cash(fills: Iterable[FillLike], cash: dict[str, float], count: dict[str, int]) -> None:
    """Add each fill's cash flow (sales minus purchases minus commission) and count to its symbol's.

    Folding a run's fills a session at a time, in order, gives the same floats as folding them
    all at once (each symbol's sum is the same sequence of additions).
    """
    buy = OrderSide.BUY
    for f in fills:
        symbol = f.symbol
        cash[symbol] = cash.get(symbol, 0.0) + (f.quantity * f.price * (-1.0 if f.side is buy else 1.0) - f.commission)
        count[symbol] = count.get(symbol, 0) + 1


def symbol_pnl_of(cash: Mapping[str, float], count: Mapping[str, int], start: Mapping[str, Book],
                  end: Mapping[str, Book]) -> dict[str, dict[str, Any]]:
    """`symbol_pnl` from folded cash flows and counts (`fold_fill_cash`)."""
    out = {}
    for symbol in sorted({*cash, *(s for s, b in (*start.items(), *end.items()) if b[0])}):
        q0, _, m0 = start.get(symbol, (0, 0.0, None))
        q1, _, m1 = end.get(symbol, (0, 0.0, None))
        value0 = q0 * m0 if q0 and m0 is not None else 0.0
        value1 = q1 * m1 if q1 and m1 is not None else 0.0
        out[symbol] = {"pnl": cash.get(symbol, 0.0) + value1 - value0, "fills": count.get(symbol, 0)}
    return out


def open_positions(books: Mapping[str, Book]) -> dict[str, dict[str, Any]]:
    """Return the non-flat positions of `books`, in symbol order, with their unrealised P&L.

    Each is ``{"quantity", "avg_price", "mark", "unrealized_pnl"}``; the unrealised P&L is
    ``quantity * (mark - avg_price)`` (commissions excluded, as the ledger computes it).
    """
    out = {}
    for symbol in sorted(books):
        quantity, avg, mark = books[symbol]
        if quantity:
            price = avg if mark is None else mark
            out[symbol] = {"quantity": int(quantity), "avg_price": float(avg), "mark": float(price),
                           "unrealized_pnl": quantity * (price - avg)}
    return out


def max_drawdown_pct(equity: np.ndarray, starting_cash: float) -> float:
    """Return the largest peak-to-trough fall of ``[starting_cash, *equity]``, in % of the peak.

    0.0 when equity never falls below an earlier peak. The result is >= 0 (a 12.5 % fall
    returns 12.5).

    Raises
    ------
    ValueError
        If `starting_cash` is not > 0.
    """
    if not starting_cash > 0:
        raise ValueError(f"expected starting_cash > 0, received {starting_cash!r}")
    series = np.concatenate(([float(starting_cash)], np.asarray(equity, dtype=np.float64)))
    peaks = np.maximum.accumulate(series)
    return float(np.max((peaks - series) / peaks) * 100.0)


class Drawdown:
    """`max_drawdown_pct` folded over an equity curve a piece at a time (the same float).

    Each point's fall from its running peak is computed exactly as over the whole curve, so the
    maximum over the pieces is the maximum over the whole.
    """

    __slots__ = ("last", "peak", "starting_cash", "worst")

    def __init__(self, starting_cash: float, peak: float | None = None, worst: float = 0.0,
                 last: float | None = None) -> None:
        if not starting_cash > 0:
            raise ValueError(f"expected starting_cash > 0, received {starting_cash!r}")
        self.starting_cash = float(starting_cash)
        self.peak = float(starting_cash) if peak is None else peak
        self.worst = worst  # the largest (peak - value) / peak so far
        self.last: float | None = last  # the newest point folded

    def fold(self, equity: np.ndarray) -> None:
        """Fold the next points of the curve, in order."""
        series = np.asarray(equity, dtype=np.float64)
        if not series.shape[0]:
            return
        # The running peak of ``[peak, *series]`` without its first point: that point's fall is
        # 0.0 (or NaN, with an infinite or NaN peak, as every later point's then), which never
        # raises `worst` (``max(worst, nan)`` keeps `worst`).
        peaks = np.maximum.accumulate(series)
        np.maximum(peaks, self.peak, out=peaks)
        fall = np.subtract(peaks, series)
        np.divide(fall, peaks, out=fall)
        self.worst = max(self.worst, float(fall.max()))
        self.peak = float(peaks[-1])
        self.last = float(series[-1])

    @property
    def pct(self) -> float:
        """The maximum drawdown so far, in % of the peak (as `max_drawdown_pct`)."""
        return float(np.float64(self.worst) * 100.0)


def sharpe_ratio(session_end_equity: Sequence[float], starting_cash: float) -> float:
    """Return the annualised Sharpe ratio of daily returns (risk-free rate 0).

    Session ``i``'s return is ``end[i] / end[i - 1] - 1``, with ``end[-1] = starting_cash``;
    the ratio is ``mean / std(ddof=1) * sqrt(252)``. 0.0 with fewer than 2 sessions or
    when the returns do not vary.
    """
    if len(session_end_equity) < 2:
        return 0.0
    ends = np.asarray([starting_cash, *session_end_equity], dtype=np.float64)
    returns = ends[1:] / ends[:-1] - 1.0
    std = float(np.std(returns, ddof=1))
    if std == 0.0 or not math.isfinite(std):
        return 0.0
    return float(np.mean(returns) / std * math.sqrt(TRADING_DAYS_PER_YEAR))


def win_rate_pct(closed_trades: Sequence[TradeLike]) -> float | None:
    """Return the percentage of trades with ``pnl > 0``, or None without trades."""
    if not closed_trades:
        return None
    return 100.0 * sum(1 for t in closed_trades if t.pnl > 0) / len(closed_trades)


def profit_factor(closed_trades: Sequence[TradeLike]) -> float | None:
    """Return gross profit / gross loss of the trades, or None when no trade lost."""
    loss = -sum(t.pnl for t in closed_trades if t.pnl < 0)
    if loss == 0:
        return None
    return sum(t.pnl for t in closed_trades if t.pnl > 0) / loss


def compute_run_summary(
    equity_ns: np.ndarray,
    equity: np.ndarray,
    session_end_equity: Sequence[float],
    closed_trades: Sequence[TradeLike],
    starting_cash: float,
    fills_count: int,
    bars_processed: int,
    *,
    rejected_orders: int = 0,
    drawdown: Drawdown | None = None,
) -> dict[str, object]:
    """Return the run-level part of ``summary.json``.

    With `drawdown` (the curve folded a session at a time, `equity` then holding only the points
    not folded yet) the maximum drawdown and final equity come from it and `equity` together.

    Parameters
    ----------
    equity_ns, equity : numpy.ndarray
        The equity series (clock time in ns, account equity), one point per step.
    session_end_equity : sequence of float
        Equity at the end of each session, in session order.
    closed_trades : sequence of TradeLike
        Every round trip of the run.
    starting_cash : float
        Opening cash, > 0.
    fills_count, bars_processed, rejected_orders : int
        Totals of the run.

    Returns
    -------
    dict
        ``{"sessions", "bars_processed", "trading": {...}}``, deterministic (the run's timings
        and throughput come from ``RunMetrics.run_report``); see ``app.metrics.report`` for
        every key.

    Raises
    ------
    ValueError
        If `equity_ns` and `equity` differ in length, or `starting_cash` is not > 0.
    """
    if len(equity_ns) != len(equity):
        raise ValueError(
            "expected equity_ns and equity of equal length, "
            f"received {len(equity_ns)} and {len(equity)}"
        )
    if drawdown is not None:
        folded = Drawdown(starting_cash, drawdown.peak, drawdown.worst, drawdown.last)
        folded.fold(equity)
        drawdown_pct, last = folded.pct, folded.last
    else:
        drawdown_pct = max_drawdown_pct(equity, starting_cash)
        last = float(equity[-1]) if len(equity) else None
    if last is not None:
        final = last
    else:
        final = float(session_end_equity[-1]) if session_end_equity else float(starting_cash)
    sessions = len(session_end_equity)
    trading = {
        "starting_cash": float(starting_cash),
        "final_equity": final,
        "pnl": final - starting_cash,
        "total_return_pct": (final / starting_cash - 1.0) * 100.0,
        "sharpe": sharpe_ratio(session_end_equity, starting_cash),
        "max_drawdown_pct": drawdown_pct,
        "win_rate_pct": win_rate_pct(closed_trades),
        "profit_factor": profit_factor(closed_trades),
        "trades": len(closed_trades),
        "fills": int(fills_count),
        "rejected_orders": int(rejected_orders),
    }
    return {"sessions": sessions, "bars_processed": int(bars_processed), "trading": trading}


def compute_session_stats(
    date: str,
    equity_start: float,
    equity_end: float,
    fills_count: int,
    closed_trades: Sequence[TradeLike],
    *,
    rejected_orders: int = 0,
    bars_processed: int = 0,
) -> dict[str, Any]:
    """Return the deterministic part of one ``sessions.json`` entry.

    Returns
    -------
    dict
        ``{"date", "bars_processed", "trading": {"equity_start", "equity_end", "pnl",
        "return_pct", "fills", "trades", "wins", "rejected_orders"}}``, where ``pnl`` is
        ``equity_end - equity_start`` and `closed_trades` are the trades closed in the session.
    """
    pnl = equity_end - equity_start
    return {
        "date": date,
        "bars_processed": int(bars_processed),
        "trading": {
            "equity_start": float(equity_start),
            "equity_end": float(equity_end),
            "pnl": float(pnl),
            "return_pct": pnl / equity_start * 100.0 if equity_start else 0.0,
            "fills": int(fills_count),
            "trades": len(closed_trades),
            "wins": sum(1 for t in closed_trades if t.pnl > 0),
            "rejected_orders": int(rejected_orders),
        },
    }
