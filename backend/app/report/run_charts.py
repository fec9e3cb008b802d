"""The run report's figures and tables, each from the run's files (plain dicts for plotly.js)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from app.report.downsample import MAX_POINTS, extreme_indices
from app.report.run_files import Equity, Fills

__all__ = ["SESSION_AXIS", "EquityView", "equity_figure", "equity_view", "fill_markers", "group_fills",
           "headline_metrics", "latency_rows", "plotly_time", "quality_grid", "session_pnl"]

GREEN, RED, BLUE, GREY = "#1f9d55", "#d64545", "#2f6fb0", "#8a94a6"

SESSION_AXIS = {"type": "category", "nticks": 24}
"""An x axis of session dates: one slot per session (no weekends), at most about 24 labels."""

LATENCY_SKIP = ("session_duration", "session_gap")
"""Stage timings that are not a latency (a session's length, the time between sessions)."""


def plotly_time(stamp: str) -> str:
    """Return a local ISO timestamp ("2024-06-24T09:31:00-04:00") as plotly's "2024-06-24 09:31:00"."""
    return stamp[:19].replace("T", " ")


class EquityView:
    """An equity curve thinned for the page, with its drawdown (percent below the running peak)."""

    def __init__(self, x: list[str], equity: list[float], drawdown: list[float], total: int) -> None:
        self.x = x
        self.equity = equity
        self.drawdown = drawdown
        self.total = total

    @property
    def thinned(self) -> bool:
        """True when fewer points are drawn than the run has."""
        return len(self.x) < self.total


def equity_view(equity: Equity | EquityView, max_points: int = MAX_POINTS) -> EquityView:
    """Thin `equity` to at most about `max_points` points, keeping each bucket's highs and lows of
    equity and drawdown (so the deepest drawdown is drawn exactly). A view (thinned as the run
    wrote equity.csv: `app.report.equity_thin`) is returned as it is."""
    if isinstance(equity, EquityView):
        return equity
    eq = equity.equity
    if eq.shape[0] == 0:
        return EquityView([], [], [], 0)
    peak = np.maximum.accumulate(np.where(np.isnan(eq), -np.inf, eq))
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = np.where(peak > 0, (eq / peak - 1.0) * 100.0, 0.0)
    idx = extreme_indices([eq, dd], max_points)
    x = [plotly_time(s) for s in equity.stamps.at(idx)]
    return EquityView(x, np.round(eq[idx], 4).tolist(), np.round(dd[idx], 4).tolist(), int(eq.shape[0]))


def equity_figure(view: EquityView, breaks: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return (data, layout): equity on top, drawdown (%) below on a shared time axis."""
    data = [
        {"type": "scatter", "mode": "lines", "name": "equity", "x": view.x, "y": view.equity,
         "line": {"color": BLUE, "width": 1.5}, "yaxis": "y"},
        {"type": "scatter", "mode": "lines", "name": "drawdown %", "x": view.x, "y": view.drawdown,
         "fill": "tozeroy", "line": {"color": RED, "width": 1}, "yaxis": "y2"},
    ]
    layout = {"title": {"text": "Equity and drawdown"},
              "xaxis": {"type": "date", "rangebreaks": breaks, "anchor": "y2"},
              "yaxis": {"domain": [0.35, 1.0], "title": {"text": "equity"}},
              "yaxis2": {"domain": [0.0, 0.28], "title": {"text": "drawdown %"}},
              "legend": {"orientation": "h", "y": 1.08}}
    return data, layout


def headline_metrics(summary: dict[str, Any]) -> list[tuple[str, Any]]:
    """Return the headline figures (label, value) a trader reads first; absent ones are left out."""
    t = summary.get("trading", {}) or {}
    m = summary.get("metrics", {}) or {}
    backtest = m.get("backtest", {}) or {}
    breakdown = m.get("breakdown", {}) or {}
    rows: list[tuple[str, Any]] = [
        ("Total return %", t.get("total_return_pct")),
        ("P&L", t.get("pnl")),
        ("Starting cash", t.get("starting_cash")),
        ("Final equity", t.get("final_equity")),
        ("Sharpe", t.get("sharpe")),
        ("Max drawdown %", t.get("max_drawdown_pct")),
        ("Trades", t.get("trades")),
        ("Win rate %", t.get("win_rate_pct")),
        ("Profit factor", t.get("profit_factor")),
        ("Fills", t.get("fills")),
        ("Rejected orders", t.get("rejected_orders")),
        ("Sessions", summary.get("sessions")),
        ("Sessions planned", summary.get("sessions_planned")),
        ("Bars processed", summary.get("bars_processed")),
        ("Bars per second", backtest.get("bars_per_second")),
        ("Run time s", breakdown.get("run_s", backtest.get("total_time_s"))),
        ("Start-up s", breakdown.get("startup_s")),
    ]
    return [(k, v) for k, v in rows if v is not None]


def session_pnl(records: Iterable[Mapping[str, Any]], symbols: list[str]) -> tuple[list[str], dict[str, list[float]],
                                                                                    list[float]]:
    """Return (session dates, P&L per symbol per session, the session's total P&L), in one pass over `records`."""
    dates: list[str] = []
    per: dict[str, list[float]] = {s: [] for s in symbols}
    totals: list[float] = []
    for i, r in enumerate(records):
        dates.append(str(r.get("date", i)))
        trading = r.get("trading", {}) or {}
        by_symbol = trading.get("by_symbol", {}) or {}
        for s in symbols:
            per[s].append(float((by_symbol.get(s) or {}).get("pnl", 0.0)))
        totals.append(float(trading.get("pnl", 0.0)))
    return dates, per, totals


def quality_grid(records: Iterable[Mapping[str, Any]], symbols: list[str]
                 ) -> tuple[list[str], list[list[float | None]], list[list[str]]]:
    """Return (dates, z[symbol][session] quality %, hover text) from each record's ``quality`` block (one pass)."""
    dates: list[str] = []
    z: list[list[float | None]] = [[] for _ in symbols]
    text: list[list[str]] = [[] for _ in symbols]
    for i, r in enumerate(records):
        dates.append(str(r.get("date", i)))
        quality = r.get("quality", {}) or {}
        for row, s in enumerate(symbols):
            q = quality.get(s)
            if not isinstance(q, dict) or q.get("quality_pct") is None:
                z[row].append(None)
                text[row].append("no quality figures")
                continue
            z[row].append(float(q["quality_pct"]))
            gaps = q.get("gaps") or []
            text[row].append(f"{q.get('present', '?')} of {q.get('expected', '?')} bars, "
                             f"{q.get('missing', 0)} missing in {len(gaps)} gap(s)")
    return dates, z, text


def latency_rows(stages: dict[str, Any]) -> list[tuple[str, dict[str, float]]]:
    """Return the stages that timed something (count > 0), latencies only, as (name, stats)."""
    out = []
    for name, stats in stages.items():
        if name in LATENCY_SKIP or not isinstance(stats, dict) or not stats.get("count"):
            continue
        out.append((name, stats))
    return out


def group_fills(fills: Fills) -> dict[tuple[str, str], list[int]]:
    """Return the row numbers of the fills per (symbol, side)."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(fills.symbol, fills.side, strict=True)):
        groups.setdefault(key, []).append(i)
    return groups


def fill_markers(fills: Fills, groups: dict[tuple[str, str], list[int]], symbol: str) -> list[dict[str, Any]]:
    """Return the buy and sell marker traces of `symbol`'s fills (exact time and price); empty sides left out.

    `groups` is `group_fills(fills)`.
    """
    traces = []
    for side, color, marker in (("buy", GREEN, "triangle-up"), ("sell", RED, "triangle-down")):
        rows = groups.get((symbol, side), [])
        if not rows:
            continue
        traces.append({
            "type": "scatter", "mode": "markers", "name": f"{side} ({len(rows)})",
            "x": [plotly_time(fills.timestamp[i]) for i in rows], "y": [fills.price[i] for i in rows],
            "customdata": [[fills.quantity[i], fills.commission[i]] for i in rows],
            "hovertemplate": (f"%{{x}}<br>{side} %{{customdata[0]}} @ %{{y:.4f}}"
                              "<br>commission %{customdata[1]:.2f}<extra></extra>"),
            "marker": {"color": color, "symbol": marker, "size": 8, "line": {"width": 0.5, "color": "#333"}},
        })
    return traces
