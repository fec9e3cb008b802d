"""Render session and run reports as text (for people) and JSON (for machines), deterministically.

Layout
------
``report.txt`` (`format_report`) starts with the run's status line (``Run status: COMPLETED``,
``FAILED — <where>`` or ``INTERRUPTED — <where>``), then the run report, then one block per
session. Each block puts what a trader reads first: ``Trading:`` (P&L, equity, fills, rejections,
P&L by symbol, open positions with mark and unrealised P&L), then ``Data Quality:``, then the
engine timings: a compact ``Timings:`` block per session (the full per-stage blocks with
``timings=True``, the CLI's ``--timings``); the run report always carries the full sections.

Schema
------
The renderers take plain dicts; the same dicts are written to ``sessions.json`` (a list of
session entries) and ``summary.json``. Everything that depends on wall-clock time lives under
``"metrics"``, so dropping that key (`without_metrics`) leaves values that a data-driven
backtest reproduces byte for byte. Optional keys may be absent; their sections are skipped.

Session entry (``compute_session_stats`` builds ``date``, ``bars_processed`` and ``trading``)::

    {
      "date": "2024-01-02",                  # session label, YYYY-MM-DD
      "early_close": bool,                    # optional
      "bars_processed": 780,                  # base bars streamed in the session
      "trading": {"equity_start": float, "equity_end": float, "pnl": float, "return_pct": float,
                  "fills": int, "trades": int, "wins": int, "rejected_orders": int,
                  "rejections": [str],                 # optional: reasons, "<rule>: <detail>"
                  "orders_expired": int,               # optional: DAY orders unfilled at the close
                  "by_symbol": BY_SYMBOL,              # optional
                  "open_positions": POSITIONS},        # optional: at the session's end
      "data_quality": QUALITY,                # optional
      "clock": CLOCK,                         # optional
      "metrics": METRICS,
    }

Run summary (``compute_run_summary`` builds ``sessions``, ``bars_processed`` and ``trading``;
``RunMetrics.run_report`` the ``metrics``)::

    {
      "status": "completed" | "failed" | "interrupted",   # "ok" is read as completed
      "status_detail": str,                   # optional: where a failed / interrupted run stopped
      "session_name": str, "first_session": str | None, "last_session": str | None,  # optional
      "sessions_planned": int,                # optional
      "sessions": 5,                          # trading days run
      "bars_processed": 3900,
      "trading": {"starting_cash": float, "final_equity": float, "pnl": float,
                  "total_return_pct": float, "sharpe": float, "max_drawdown_pct": float,
                  "win_rate_pct": float | None, "profit_factor": float | None,
                  "trades": int, "fills": int, "rejected_orders": int,
                  "by_symbol": BY_SYMBOL},             # optional
      "open_positions": POSITIONS,            # optional: at the run's end
      "data_quality": QUALITY,                # optional
      "clock": CLOCK,                         # optional
      "metrics": METRICS + {"backtest": {"total_time_s": float, "avg_per_day_s": float,
                                         "bars_per_second": float}}  # a live run instead has
                         # {"live": {"total_time_s": float, "avg_per_session_s": float}}
    }

The Sharpe ratio is shown as ``n/a (N days)`` below `MIN_SHARPE_DAYS` sessions (the JSON keeps
the figure); a live run's throughput as ``n/a``.

Shared parts::

    BY_SYMBOL = {symbol: {"pnl": float, "fills": int}}   # symbols that traded or held a position
    POSITIONS = {symbol: {"quantity": int, "avg_price": float, "mark": float,
                          "unrealized_pnl": float}}
    QUALITY = {"series": {symbol: {interval: {"quality_pct": float, "gaps": int,
                                              "missing_bars": int, "derived": bool}}},
               "rejected_bars": {reason: int}, "derived_bars_skipped": int,
               "warnings": [str],                                     # optional
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
from collections.abc import Mapping, Sequence
from typing import Any, Final

from app.metrics.json_text import to_json
from app.metrics.stats import MIN_SHARPE_DAYS
from app.store.bar import parse_interval

__all__ = ["RULE", "format_report", "format_run_report", "format_session_report", "status_line", "to_json",
           "without_metrics"]

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
_STATUS: Final = {"ok": "COMPLETED", "completed": "COMPLETED", "failed": "FAILED", "interrupted": "INTERRUPTED"}
_PER_LINE: Final = 4  # symbols per "By Symbol" line
_LISTED: Final = 5  # symbols whose data is complete are named on their shared line up to this many

_Lines = list[str]


def format_report(records: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], *,
                  timings: bool = False) -> str:
    """Return ``report.txt``: the run report (its first line is the run's status), then each session's."""
    blocks = [format_run_report(summary), *(format_session_report(r, timings=timings) for r in records)]
    return "\n\n".join(blocks)


def status_line(summary: Mapping[str, Any]) -> str:
    """Return ``Run status: COMPLETED`` (or ``FAILED — <detail>``, ``INTERRUPTED — <detail>``).

    Reads ``summary["status"]`` (``"ok"`` is a completed run; absent reads as completed) and the
    optional one-line ``summary["status_detail"]``.
    """
    status = str(summary.get("status") or "completed")
    text = f"Run status: {_STATUS.get(status, status.upper())}"
    detail = summary.get("status_detail")
    return f"{text} — {detail}" if detail else text


def format_session_report(session: Mapping[str, Any], *, timings: bool = False) -> str:
    """Return the text report of one session entry (see the module docstring for its shape).

    Trading first, then data quality, then a compact timings block (`timings`: the full
    per-stage blocks instead).
    """
    metrics = session.get("metrics", {})
    early = " (early close)" if session.get("early_close") else ""
    lines = [f"Performance Metrics (Session): {session.get('date', '?')}{early}", RULE]
    lines += _session_trading_block(session.get("trading"))
    lines += _quality_block(session.get("data_quality"))
    if timings:
        lines += _session_timing_detail(metrics)
        lines += _process_block(metrics.get("process"))
        lines += _clock_block(session.get("clock"), metrics)
    else:
        lines += _session_timing_compact(metrics, session.get("clock"))
    lines.append(RULE)
    return "\n".join(lines) + "\n"


def format_run_report(summary: Mapping[str, Any]) -> str:
    """Return the end-of-run text report (see the module docstring for the summary's shape).

    Its first line is the run's status (`status_line`); then the run, its trading and data
    quality, then every timing section of the layout users know.
    """
    metrics = summary.get("metrics", {})
    sessions = int(summary.get("sessions", 0))
    lines = [status_line(summary), "Performance Metrics Summary:", RULE]
    lines += _run_block(summary, sessions)
    lines += _run_trading_block(summary.get("trading"), sessions, summary.get("open_positions"))
    lines += _quality_block(summary.get("data_quality"))
    lines += _feed_block(summary.get("feed"), metrics)
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
    lines += _throughput_block(summary, metrics, sessions)
    counters = metrics.get("counters", {})
    lines.append("Pipeline Backpressure (Bottlenecks):")
    for key, label, why in _EDGES:
        lines += [f"  - {label}: {counters.get(key, 0):,} events", f"    ({why})"]
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


def _run_block(summary: Mapping[str, Any], sessions: int) -> _Lines:
    # What was run: name, sessions (of those planned) and their dates.
    name = summary.get("session_name")
    first, last = summary.get("first_session"), summary.get("last_session")
    if name is None and first is None:
        return []
    planned = summary.get("sessions_planned")
    live = (summary.get("clock") or {}).get("mode") == "live"  # plans every session of its horizon
    of = f" of {planned:,}" if planned is not None and planned != sessions and not live else ""
    span = f" | {first} → {last}" if first else ""
    label = f"{name}: " if name is not None else ""
    noun = "session" if sessions == 1 and not of else "sessions"
    return ["Run:", f"  - {label}{sessions:,}{of} {noun}{span}"]


def _quality_block(quality: Mapping[str, Any] | None) -> _Lines:
    if quality is None:
        return []
    lines = ["Data Quality:"]
    series = quality.get("series", {})
    complete = []
    for symbol in sorted(series):
        groups = _quality_groups(series[symbol])
        if len(groups) == 1 and _is_complete(groups[0][1]):
            complete.append(symbol)  # listed together below
            continue
        for labels, q in groups:
            derived = f" ({', '.join(labels[1:])} derived)" if len(labels) > 1 else ""
            derived = " (derived)" if len(labels) == 1 and q.get("derived") else derived
            lines.append(f"  - {symbol} {labels[0]}{derived}: {_quality_text(q)}")
    if complete:  # every interval of these symbols complete: one line for all of them
        if len(complete) <= _LISTED:
            names = ", ".join(complete)
        else:
            names = f"{'All' if len(complete) == len(series) else 'Other'} {len(complete):,} symbols"
        lines.append(f"  - {names}: {_quality_text(series[complete[0]][next(iter(series[complete[0]]))])}")
    rejected = quality.get("rejected_bars", {})
    detail = ", ".join(f"{reason}: {n:,}" for reason, n in sorted(rejected.items()))
    detail = f" ({detail})" if detail else ""
    lines.append(f"  - Rejected Bars: {sum(rejected.values()):,}{detail} "
                 f"| Derived Bars Skipped: {quality.get('derived_bars_skipped', 0):,}")
    lines += [f"  - Warning: {text}" for text in quality.get("warnings", ())]  # no bars, history shortfall
    live = quality.get("live")
    if live:
        lines.append(f"  - Live: Streamed {live['streamed_bars']:,} | Late {live['late_bars']:,} "
                     f"| Filled {live['filled_bars']:,} | No Trades {live['no_trades']:,} "
                     f"| Unfilled {live['unfilled_bars']:,} | Corrections {live['corrections']:,}")
    return lines


def _quality_groups(by_interval: Mapping[str, Mapping[str, Any]]) -> list[tuple[list[str], Mapping[str, Any]]]:
    # A symbol's intervals with the same figures on one line (derived intervals report the
    # base's score): the streamed interval first, then the derived ones, each by length.
    order = sorted(by_interval, key=lambda label: (bool(by_interval[label].get("derived")), _interval_key(label)))
    groups: list[tuple[list[str], Mapping[str, Any]]] = []
    for label in order:
        q = by_interval[label]
        for labels, first in groups:
            if _quality_text(first) == _quality_text(q):
                labels.append(label)
                break
        else:
            groups.append(([label], q))
    return groups


def _quality_text(q: Mapping[str, Any]) -> str:
    return f"{_num(q['quality_pct'])}% | Gaps: {q['gaps']:,} | Missing Bars: {q['missing_bars']:,}"


def _is_complete(q: Mapping[str, Any]) -> bool:
    return _quality_text(q) == "100.00% | Gaps: 0 | Missing Bars: 0"


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
    expired = trading.get("orders_expired")
    expired_text = f" | Expired Orders: {expired:,}" if expired else ""
    lines = [
        "Trading:",
        f"  - P&L: {_num(trading['pnl'])} ({_num(trading['return_pct'])}%)",
        f"  - Equity: {_num(trading['equity_start'])} → {_num(trading['equity_end'])}",
        f"  - Fills: {trading['fills']:,} | Trades: {trading['trades']:,} "
        f"| Wins: {trading['wins']:,} | Rejected Orders: {trading['rejected_orders']:,}{expired_text}",
    ]
    lines += _rejections_line(trading.get("rejections"))
    lines += _by_symbol_lines(trading.get("by_symbol"))
    lines += _positions_lines(trading.get("open_positions"))
    return lines


def _run_trading_block(trading: Mapping[str, Any] | None, sessions: int,
                       positions: Mapping[str, Any] | None) -> _Lines:
    if trading is None:
        return []
    win_rate, factor = trading["win_rate_pct"], trading["profit_factor"]
    win_text = "n/a" if win_rate is None else f"{_num(win_rate)}%"
    factor_text = "n/a (no losing trade)" if factor is None else _num(factor)
    lines = [
        "Trading:",
        f"  - P&L: {_num(trading['pnl'])} ({_num(trading['total_return_pct'])}%)",
        f"  - Equity: {_num(trading['starting_cash'])} → {_num(trading['final_equity'])}",
        f"  - Sharpe: {_sharpe_text(trading['sharpe'], sessions)}",
        f"  - Max Drawdown: {_num(trading['max_drawdown_pct'])}%",
        f"  - Win Rate: {win_text} ({trading['trades']:,} trades)",
        f"  - Profit Factor: {factor_text}",
        f"  - Fills: {trading['fills']:,} | Rejected Orders: {trading['rejected_orders']:,}",
    ]
    lines += _by_symbol_lines(trading.get("by_symbol"))
    lines += _positions_lines(positions)
    return lines


def _sharpe_text(sharpe: float, days: int) -> str:
    # An annualised ratio of a few daily returns is noise: no figure below MIN_SHARPE_DAYS.
    if days < MIN_SHARPE_DAYS:
        return f"n/a ({days:,} day{'' if days == 1 else 's'})"
    return _num(sharpe)


def _rejections_line(reasons: Sequence[str] | None) -> _Lines:
    # Rejected orders by the rule they broke (the reason's text before its first colon).
    if not reasons:
        return []
    rules: dict[str, int] = {}
    for reason in reasons:
        rule = reason.partition(":")[0]
        rules[rule] = rules.get(rule, 0) + 1
    return ["  - Rejected by Rule: " + " | ".join(f"{rule} {n:,}" for rule, n in sorted(rules.items()))]


def _by_symbol_lines(by_symbol: Mapping[str, Mapping[str, Any]] | None) -> _Lines:
    if by_symbol is None:
        return []
    if not by_symbol:
        return ["  - By Symbol: no trades"]
    items = [f"{symbol} {_num(v['pnl'])} ({v['fills']:,} fill{'' if v['fills'] == 1 else 's'})"
             for symbol, v in sorted(by_symbol.items())]
    return _wrapped("  - By Symbol: ", items, _PER_LINE)


def _positions_lines(positions: Mapping[str, Mapping[str, Any]] | None) -> _Lines:
    # Held at the end (of the session, or of the run), marked at the last close.
    if positions is None:
        return []
    title = "Open Positions"
    if not positions:
        return [f"  - {title}: none"]
    items = [f"{symbol} {p['quantity']:,} @ {_num(p['avg_price'])} | Mark {_num(p['mark'])} "
             f"| Unrealised P&L {_num(p['unrealized_pnl'])}" for symbol, p in sorted(positions.items())]
    return _wrapped(f"  - {title}: ", items, 1)


def _wrapped(head: str, items: list[str], per_line: int) -> _Lines:
    # `head` then the items joined by " | ", `per_line` to a line; later lines indented under it.
    rows = [" | ".join(items[i : i + per_line]) for i in range(0, len(items), per_line)]
    return [head + rows[0], *("      " + row for row in rows[1:])]


def _session_timing_compact(metrics: Mapping[str, Any], clock: Mapping[str, Any] | None) -> _Lines:
    # One line per engine stage, the session's clock and any backpressure: the full blocks
    # are behind `timings=True`.
    lines = []
    for name, title, noun in (("analysis_engine", "Analysis Engine", "Cycles"),
                              ("data_processor", "Data Processor", "Items"),
                              ("data_upkeep", "Data Upkeep", "Cycles")):
        stat = _stage(metrics, name)
        if stat["count"]:
            lines.append(f"  - {title}: {noun} {stat['count']:,} | Avg {_num(stat['mean_ms'])} ms "
                         f"| p99 {_num(stat['p99_ms'])} ms | Max {_num(stat['max_ms'])} ms")
    gap, duration = _stage(metrics, "session_gap"), _stage(metrics, "session_duration")
    parts = []
    if duration["count"]:
        unit = _duration_unit(duration)
        parts.append(f"Duration {_num(duration['mean_ms'] / 1e3 / (_HOUR_S if unit == 'hrs' else 1.0))} {unit}")
    if gap["count"]:
        parts.append(f"Gap {_num(gap['mean_ms'] / 1e3)} s")
    if parts:
        lines.append("  - Session: " + " | ".join(parts))
    counters = metrics.get("counters", {})
    if any(counters.get(key, 0) for key, _, _ in _EDGES):
        lines.append("  - Backpressure: " + " | ".join(f"{label} {counters.get(key, 0):,}"
                                                      for key, label, _ in _EDGES))
    lines += _compact_clock(clock or {}, metrics)
    return ["Timings:", *lines] if lines else []


def _compact_clock(clock: Mapping[str, Any], metrics: Mapping[str, Any]) -> _Lines:
    # The Clock block on one line: mode, speed, overruns (per edge only when any), worst lag.
    timing = metrics.get("clock") or {}
    overruns = {k.removeprefix("overruns."): n for k, n in metrics.get("counters", {}).items()
                if k.startswith("overruns.")}
    parts = [clock["mode"]] if "mode" in clock else []
    speed = _speed_text(clock, timing)
    if speed:
        parts.append(speed)
    if any(overruns.values()):
        parts.append("Overruns " + ", ".join(f"{edge} {n:,}" for edge, n in sorted(overruns.items()) if n))
    elif overruns:
        parts.append("Overruns 0")
    if "max_lag_s" in timing:
        parts.append(f"Max Lag {_num(timing['max_lag_s'])} s")
    return ["  - Clock: " + " | ".join(parts)] if parts else []


def _session_timing_detail(metrics: Mapping[str, Any]) -> _Lines:
    # The per-stage blocks of the layout users know (session report).
    lines = _stage_block(metrics, "analysis_engine", "Analysis Engine", "Cycles")
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
    return lines


def _throughput_block(summary: Mapping[str, Any], metrics: Mapping[str, Any], sessions: int) -> _Lines:
    live = (summary.get("clock") or {}).get("mode") == "live"
    run = metrics.get("live") if live else None
    run = run if run is not None else metrics.get("backtest")  # summaries written before metrics.live
    if run is None:
        return []
    if live:  # paced by the wall clock: bars per second says nothing about the engine
        per = run.get("avg_per_session_s", run.get("avg_per_day_s", 0.0))
        return ["Live Summary:", f"  - Total Time: {_num(run['total_time_s'])} s", f"  - Sessions: {sessions:,}",
                f"  - Avg per Session: {_num(per)} s", "  - Bars per Second: n/a (live)"]
    return [
        "Backtest Summary:",
        f"  - Total Time: {_num(run['total_time_s'])} s",
        f"  - Trading Days: {sessions:,}",
        f"  - Avg per Day: {_num(run['avg_per_day_s'])} s",
        f"  - Bars per Second: {round(run['bars_per_second']):,}",
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
