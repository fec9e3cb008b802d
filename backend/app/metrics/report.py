"""Render session and run reports as text (for people) and JSON (for machines), deterministically.

Schema
------
The renderers take plain dicts; the same dicts are written to ``sessions.json`` (a list of
session entries) and ``summary.json``. Everything that depends on wall-clock time lives under
``"metrics"``, so dropping that key (`without_metrics`) leaves values that a data-driven
backtest reproduces byte for byte. Optional keys may be absent; their sections are skipped.

Session entry (``compute_session_stats`` builds ``date``, ``bars_processed`` and ``trading``)::

    {
      "date": "2024-01-02",                  # session label, YYYY-MM-DD
      "bars_processed": 780,                  # base bars streamed in the session
      "trading": {"equity_start": float, "equity_end": float, "pnl": float, "return_pct": float,
                  "fills": int, "trades": int, "wins": int, "rejected_orders": int},
      "data_quality": QUALITY,                # optional
      "clock": CLOCK,                         # optional
      "metrics": METRICS,
    }

Run summary (``compute_run_summary`` builds ``sessions``, ``bars_processed``, ``trading`` and
``metrics.backtest``)::

    {
      "sessions": 5,                          # trading days run
      "bars_processed": 3900,
      "trading": {"starting_cash": float, "final_equity": float, "pnl": float,
                  "total_return_pct": float, "sharpe": float, "max_drawdown_pct": float,
                  "win_rate_pct": float | None, "profit_factor": float | None,
                  "trades": int, "fills": int, "rejected_orders": int},
      "data_quality": QUALITY,                # optional
      "clock": CLOCK,                         # optional
      "metrics": METRICS + {"backtest": {"total_time_s": float, "avg_per_day_s": float,
                                         "bars_per_second": float}},
    }

Shared parts::

    QUALITY = {"series": {symbol: {interval: {"quality_pct": float, "gaps": int,
                                              "missing_bars": int, "derived": bool}}},
               "rejected_bars": {reason: int}, "derived_bars_skipped": int,
               "live": {"streamed_bars", "late_bars", "filled_bars", "no_trades", "unfilled_bars",
                        "refetch_requests", "corrections": int}}           # live runs only
    FEED    = {"messages", "bars", "updated_bars", "duplicates_dropped", "malformed", "unexpected",
               "reconnects", "backfilled_bars": int, "errors": {code: int}}  # summary "feed", live only
    CLOCK   = {"mode": "data_driven" | "clock_driven" | "live", "requested_speed": float}
    # METRICS["stages"] and ["counters"] (and ["process"]) are PerformanceMetrics.as_dict()
    METRICS = {"stages": {stage: {"count": int, "total_ms", "min_ms", "max_ms", "mean_ms",
                                  "p50_ms", "p99_ms": float}},
               "counters": {"backpressure.coordinator_processor": int,
                            "backpressure.processor_analysis": int, "overruns.<edge>": int},
               "process": {"cpu_s": float, "rss_mb": float, "peak_rss_mb": float},  # optional
               "breakdown": {"startup_s", "run_s", "load_s", "outputs_s": float},  # summary only
               "clock": {"achieved_speed": float, "max_lag_s": float,            # optional
                         "max_lag_s_by_edge": {edge: float}}}

Stages are those of ``app.metrics.running.STAGES``, all in milliseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

from app.metrics.json_text import to_json
from app.store.bar import parse_interval

__all__ = ["RULE", "format_run_report", "format_session_report", "to_json", "without_metrics"]

RULE: Final = "=" * 50
_HOUR_S: Final = 3600.0
_EDGES: Final = (
    (
        "backpressure.coordinator_processor",
        "Coordinator→Processor",
        "DataProcessor slower than Coordinator",
    ),
    (
        "backpressure.processor_analysis",
        "Processor→Analysis",
        "AnalysisEngine slower than DataProcessor",
    ),
)

_Lines = list[str]


def format_session_report(session: Mapping[str, Any]) -> str:
    """Return the text report of one session entry (see the module docstring for its shape)."""
    metrics = session.get("metrics", {})
    lines = [f"Performance Metrics (Session): {session.get('date', '?')}", RULE]
    lines += _stage_block(metrics, "analysis_engine", "Analysis Engine", "Cycles")
    lines += _stage_block(metrics, "data_processor", "Data Processor", "Items")
    lines += _stage_block(metrics, "data_upkeep", "Data Upkeep", "Cycles")
    gap, duration = _stage(metrics, "session_gap"), _stage(metrics, "session_duration")
    for title, stat in (("Session Gap", gap), ("Session Duration", duration)):
        if stat["count"]:
            unit = "s" if stat is gap else _duration_unit(stat)
            lines += [f"{title}:", f"  - Sessions: {stat['count']:,}"]
            lines.append("  - " + _avg_min_max(stat, "", unit))
    counters = metrics.get("counters", {})
    if any(counters.get(key, 0) for key, _, _ in _EDGES):
        lines.append("Pipeline Backpressure:")
        lines += [f"  - {label}: {counters.get(key, 0):,} events" for key, label, _ in _EDGES]
    lines += _quality_block(session.get("data_quality"))
    lines += _session_trading_block(session.get("trading"))
    lines += _process_block(metrics.get("process"))
    lines += _clock_block(session.get("clock"), metrics)
    lines.append(RULE)
    return "\n".join(lines) + "\n"


def format_run_report(summary: Mapping[str, Any]) -> str:
    """Return the end-of-run text report (see the module docstring for the summary's shape)."""
    metrics = summary.get("metrics", {})
    sessions = int(summary.get("sessions", 0))
    lines = ["Performance Metrics Summary:", RULE]
    lines += _stage_block(metrics, "analysis_engine", "Analysis Engine", "Cycles")
    lines += _stage_block(metrics, "data_processor", "Data Processor", "Items")
    lines += _stage_block(metrics, "data_upkeep", "Data Upkeep", "Cycles")
    initial = _stage(metrics, "data_loading_initial")
    later = _stage(metrics, "data_loading_subsequent")
    lines.append("Data Loading (All Symbols):")
    lines.append(f"  - Initial Load: {_num(initial['total_ms'] / 1e3)} s")
    subsequent = _avg_min_max(later, "", "s") if later["count"] else "none"
    lines.append(f"  - Subsequent Load: {subsequent}")
    lines += _lifecycle_block(metrics, sessions)
    backtest = metrics.get("backtest")
    if backtest is not None:
        live = (summary.get("clock") or {}).get("mode") == "live"
        lines += [
            "Live Summary:" if live else "Backtest Summary:",
            f"  - Total Time: {_num(backtest['total_time_s'])} s",
            f"  - {'Sessions' if live else 'Trading Days'}: {sessions:,}",
            f"  - Avg per {'Session' if live else 'Day'}: {_num(backtest['avg_per_day_s'])} s",
            f"  - Bars per Second: {round(backtest['bars_per_second']):,}",
        ]
    counters = metrics.get("counters", {})
    lines.append("Pipeline Backpressure (Bottlenecks):")
    for key, label, why in _EDGES:
        lines += [f"  - {label}: {counters.get(key, 0):,} events", f"    ({why})"]
    lines += _quality_block(summary.get("data_quality"))
    lines += _feed_block(summary.get("feed"), metrics)
    lines += _run_trading_block(summary.get("trading"))
    lines += _process_block(metrics.get("process"), metrics.get("breakdown"))
    lines += _clock_block(summary.get("clock"), metrics)
    lines.append(RULE)
    return "\n".join(lines) + "\n"


def without_metrics(obj: Any) -> Any:
    """Return a copy of `obj` with every ``"metrics"`` key removed, at any depth."""
    if isinstance(obj, Mapping):
        return {k: without_metrics(v) for k, v in obj.items() if k != "metrics"}
    if isinstance(obj, (list, tuple)):
        return [without_metrics(v) for v in obj]
    return obj


# -- sections ----------------------------------------------------------------------------


def _stage_block(metrics: Mapping[str, Any], name: str, title: str, noun: str) -> _Lines:
    stat = _stage(metrics, name)
    if not stat["count"]:
        return []
    return [
        f"{title}:",
        f"  - {noun}: {stat['count']:,}",
        f"  - Min: {_num(stat['min_ms'])} ms | Max: {_num(stat['max_ms'])} ms "
        f"| Avg: {_num(stat['mean_ms'])} ms",
        f"  - p50: {_num(stat['p50_ms'])} ms | p99: {_num(stat['p99_ms'])} ms",
    ]


def _lifecycle_block(metrics: Mapping[str, Any], sessions: int) -> _Lines:
    gap, duration = _stage(metrics, "session_gap"), _stage(metrics, "session_duration")
    if not (sessions or gap["count"] or duration["count"]):
        return []
    lines = ["Session Lifecycle:", f"  - Sessions: {sessions:,}"]
    if gap["count"]:
        lines.append("  - " + _avg_min_max(gap, " Gap", "s"))
    if duration["count"]:
        lines.append("  - " + _avg_min_max(duration, " Duration", _duration_unit(duration)))
    return lines


def _quality_block(quality: Mapping[str, Any] | None) -> _Lines:
    if quality is None:
        return []
    lines = ["Data Quality:"]
    series = quality.get("series", {})
    for symbol in sorted(series):
        for interval in sorted(series[symbol], key=_interval_key):
            q = series[symbol][interval]
            derived = " (derived)" if q.get("derived") else ""
            lines.append(
                f"  - {symbol} {interval}{derived}: {_num(q['quality_pct'])}% "
                f"| Gaps: {q['gaps']:,} | Missing Bars: {q['missing_bars']:,}"
            )
    rejected = quality.get("rejected_bars", {})
    detail = ", ".join(f"{reason}: {n:,}" for reason, n in sorted(rejected.items()))
    detail = f" ({detail})" if detail else ""
    lines.append(f"  - Rejected Bars: {sum(rejected.values()):,}{detail}")
    lines.append(f"  - Derived Bars Skipped: {quality.get('derived_bars_skipped', 0):,}")
    lines += [f"  - Warning: {text}" for text in quality.get("warnings", ())]  # no bars, history shortfall
    live = quality.get("live")
    if live:
        lines.append(f"  - Live: Streamed {live['streamed_bars']:,} | Late {live['late_bars']:,} "
                     f"| Filled {live['filled_bars']:,} | No Trades {live['no_trades']:,} "
                     f"| Unfilled {live['unfilled_bars']:,} | Corrections {live['corrections']:,}")
    return lines


def _feed_block(feed: Mapping[str, Any] | None, metrics: Mapping[str, Any]) -> _Lines:
    if feed is None:
        return []
    lines = ["Live Feed:",
             f"  - Messages: {feed['messages']:,} | Bars: {feed['bars']:,} | Updated: {feed['updated_bars']:,} "
             f"| Duplicates Dropped: {feed['duplicates_dropped']:,}",
             f"  - Reconnects: {feed['reconnects']:,} | Backfilled: {feed['backfilled_bars']:,} "
             f"| Malformed: {feed['malformed']:,} | Unexpected: {feed['unexpected']:,}"]
    latency = _stage(metrics, "feed_to_strategy")
    if latency["count"]:
        lines.append(f"  - Socket to Strategy: p50 {_num(latency['p50_ms'])} ms | p99 {_num(latency['p99_ms'])} ms "
                     f"| Max {_num(latency['max_ms'])} ms")
    return lines


def _session_trading_block(trading: Mapping[str, Any] | None) -> _Lines:
    if trading is None:
        return []
    return [
        "Trading:",
        f"  - P&L: {_num(trading['pnl'])} ({_num(trading['return_pct'])}%)",
        f"  - Equity: {_num(trading['equity_start'])} → {_num(trading['equity_end'])}",
        f"  - Fills: {trading['fills']:,} | Trades: {trading['trades']:,} "
        f"| Wins: {trading['wins']:,} | Rejected Orders: {trading['rejected_orders']:,}",
    ]


def _run_trading_block(trading: Mapping[str, Any] | None) -> _Lines:
    if trading is None:
        return []
    win_rate, factor = trading["win_rate_pct"], trading["profit_factor"]
    win_text = "n/a" if win_rate is None else f"{_num(win_rate)}%"
    factor_text = "n/a (no losing trade)" if factor is None else _num(factor)
    return [
        "Trading:",
        f"  - P&L: {_num(trading['pnl'])} ({_num(trading['total_return_pct'])}%)",
        f"  - Equity: {_num(trading['starting_cash'])} → {_num(trading['final_equity'])}",
        f"  - Sharpe: {_num(trading['sharpe'])}",
        f"  - Max Drawdown: {_num(trading['max_drawdown_pct'])}%",
        f"  - Win Rate: {win_text} ({trading['trades']:,} trades)",
        f"  - Profit Factor: {factor_text}",
        f"  - Fills: {trading['fills']:,} | Rejected Orders: {trading['rejected_orders']:,}",
    ]


def _process_block(process: Mapping[str, Any] | None,
                   breakdown: Mapping[str, Any] | None = None) -> _Lines:
    lines = []
    if process is not None:
        lines += [
            f"  - CPU: {_num(process['cpu_s'])} s",
            f"  - RSS: {_num(process['rss_mb'])} MB | Peak RSS: {_num(process['peak_rss_mb'])} MB",
        ]
    if breakdown is not None:
        startup = f"Startup: {_num(breakdown['startup_s'])} s | " if "startup_s" in breakdown else ""
        lines.append(f"  - {startup}Run: {_num(breakdown['run_s'])} s "
                     f"(Loading: {_num(breakdown['load_s'])} s) | Outputs: {_num(breakdown['outputs_s'])} s")
    return ["Process:", *lines] if lines else []


def _clock_block(clock: Mapping[str, Any] | None, metrics: Mapping[str, Any]) -> _Lines:
    clock, timing = clock or {}, metrics.get("clock") or {}
    counters = metrics.get("counters", {})
    overruns = {
        k.removeprefix("overruns."): n for k, n in counters.items() if k.startswith("overruns.")
    }
    if not (clock or timing or overruns):
        return []
    lines = ["Clock:"]
    if "mode" in clock:
        lines.append(f"  - Mode: {clock['mode']}")
    speed = _speed_text(clock, timing)
    if speed:
        lines.append(f"  - Speed: {speed}")
    if overruns:
        parts = (f"{edge} {n:,}" for edge, n in sorted(overruns.items()))
        lines.append("  - Overruns: " + " | ".join(parts))
    by_edge = timing.get("max_lag_s_by_edge") or {}
    if any(by_edge.values()):
        lines.append("  - Worst Lateness: " + " | ".join(f"{edge} {_num(s)} s" for edge, s in sorted(by_edge.items())))
    if "max_lag_s" in timing:
        lines.append(f"  - Max Lag: {_num(timing['max_lag_s'])} s")
    return lines


def _speed_text(clock: Mapping[str, Any], timing: Mapping[str, Any]) -> str:
    parts = []
    if clock.get("mode") == "live":
        return "wall clock"
    if "requested_speed" in clock:
        requested = clock["requested_speed"]
        text = f"requested {_num(requested)}x" if requested else "requested max (data-driven)"
        parts.append(text)
    if "achieved_speed" in timing:
        parts.append(f"achieved {_num(timing['achieved_speed'])}x")
    return " | ".join(parts)


# -- formatting helpers --------------------------------------------------------------------

_EMPTY_STAGE: Final = {"count": 0, "total_ms": 0.0, "min_ms": 0.0, "max_ms": 0.0, "mean_ms": 0.0,
                       "p50_ms": 0.0, "p99_ms": 0.0}


def _stage(metrics: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return metrics.get("stages", {}).get(name) or _EMPTY_STAGE


def _num(value: float) -> str:
    return f"{value:,.2f}"


def _duration_unit(stat: Mapping[str, Any]) -> str:
    # Hours as users know them for live sessions; seconds for fast backtests ("0.00 hrs").
    return "hrs" if stat["max_ms"] / 1e3 >= _HOUR_S else "s"


def _avg_min_max(stat: Mapping[str, Any], label: str, unit: str) -> str:
    scale = 1e3 * (_HOUR_S if unit == "hrs" else 1.0)
    parts = (("Avg", "mean_ms"), ("Min", "min_ms"), ("Max", "max_ms"))
    return " | ".join(f"{name}{label}: {_num(stat[key] / scale)} {unit}" for name, key in parts)


@functools.lru_cache(maxsize=256)  # a few labels, asked once per series in every session report
def _interval_key(label: str) -> tuple[int, str]:
    try:
        return parse_interval(label).ns, label
    except ValueError:
        return 2**63, label
