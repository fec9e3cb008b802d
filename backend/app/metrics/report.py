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
                                              "missing_bars": int, "derived": bool,
                                              "at_decision_pct": float}}},   # live, when below
                                                                             # quality_pct
               "rejected_bars": {reason: int}, "derived_bars_skipped": int,
               "warnings": [str],                                     # optional
               "live": {"streamed_bars", "late_bars", "filled_bars", "no_trades", "unfilled_bars",
                        "refetch_requests", "corrections", "filled_at_decision", "seen_at_decision",
                        "expected": int, "complete_at_decision_pct": float}}  # live runs only
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
               "threads": {thread: {"cpu_s": float}},  # summary only: each pipeline thread's CPU time
               "clock": {"achieved_speed": float, "max_lag_s": float,            # optional
                         "max_lag_s_by_edge": {edge: float}}}

Stages are those of ``app.metrics.running.STAGES``, all in milliseconds.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Final

from app.metrics.broker_report import broker_lines
from app.metrics.json_text import to_json
from app.metrics.report_timings import num as _num
from app.metrics.report_timings import run_timings, session_timing_compact, session_timing_detail, stage
from app.metrics.stats import MIN_SHARPE_DAYS
from app.store.bar import parse_interval

__all__ = ["RULE", "format_report", "format_run_report", "format_session_report", "status_line", "to_json",
           "without_metrics"]

RULE: Final = "=" * 50
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
        lines += session_timing_detail(metrics, session.get("clock"))
    else:
        lines += session_timing_compact(metrics, session.get("clock"))
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
    lines += broker_lines(summary.get("broker"))
    lines += run_timings(summary, metrics, sessions)
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
        if "seen_at_decision" in live:  # what the strategy saw, then what exists now (after all fills)
            lines.append(f"  - Live: Complete at decision {_num(live['complete_at_decision_pct'])}% "
                         f"({live['seen_at_decision']:,} of {live['expected']:,} bars seen by the strategy, "
                         f"{live['filled_at_decision']:,} filled at grace)")
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
    # Live: a figure below the headline's when the strategy decided without bars that exist now.
    seen = f" (at decision {_num(q['at_decision_pct'])}%)" if "at_decision_pct" in q else ""
    return f"{_num(q['quality_pct'])}%{seen} | Gaps: {q['gaps']:,} | Missing Bars: {q['missing_bars']:,}"


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
    latency = stage(metrics, "feed_to_strategy")
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


# -- formatting helpers --------------------------------------------------------------------


@functools.lru_cache(maxsize=256)  # a few labels, asked once per series in every session report
def _interval_key(label: str) -> tuple[int, str]:
    try:
        return parse_interval(label).ns, label
    except ValueError:
        return 2**63, label
