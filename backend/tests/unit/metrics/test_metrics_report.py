"""Report rendering (text, line by line) and deterministic JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.metrics.report import (
    RULE,
    format_report,
    format_run_report,
    format_session_report,
    status_line,
    to_json,
    without_metrics,
)
from app.metrics.stats import MIN_SHARPE_DAYS


def _stage(count, total, lo, hi, mean, p50, p99):
    return {
        "count": count, "total_ms": total, "min_ms": lo, "max_ms": hi,
        "mean_ms": mean, "p50_ms": p50, "p99_ms": p99,
    }


QUALITY = {
    "series": {
        "MSFT": {"1m": {"quality_pct": 100.0, "gaps": 0, "missing_bars": 0, "derived": False}},
        "AAPL": {
            "15m": {"quality_pct": 99.74, "gaps": 1, "missing_bars": 1, "derived": True},
            "1m": {"quality_pct": 99.74, "gaps": 1, "missing_bars": 1, "derived": False},
        },
    },
    "rejected_bars": {"nan": 1, "duplicate": 2},
    "derived_bars_skipped": 1,
}

SESSION = {
    "date": "2024-01-02",
    "bars_processed": 780,
    "trading": {
        "equity_start": 100_000.0, "equity_end": 99_876.5, "pnl": -123.5, "return_pct": -0.1235,
        "fills": 4, "trades": 2, "wins": 1, "rejected_orders": 1,
        "rejections": ["max_per_symbol: AAPL exposure 31,000.00 > 30,000.00"],
        "by_symbol": {"MSFT": {"pnl": -150.0, "fills": 1}, "AAPL": {"pnl": 26.5, "fills": 3}},
        "open_positions": {"MSFT": {"quantity": -10, "avg_price": 410.0, "mark": 425.0,
                                    "unrealized_pnl": -150.0}},
    },
    "data_quality": QUALITY,
    "clock": {"mode": "data_driven", "requested_speed": 0.0},
    "metrics": {
        "stages": {
            "analysis_engine": _stage(390, 195.0, 0.01, 12.345, 0.5, 0.45, 3.2),
            "data_processor": _stage(1_560, 78.0, 0.02, 1.5, 0.05, 0.04, 0.9),
            "data_upkeep": _stage(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            "session_gap": _stage(1, 12.5, 12.5, 12.5, 12.5, 12.5, 12.5),
            "session_duration": _stage(1, 2_345.0, 2_345.0, 2_345.0, 2_345.0, 2_345.0, 2_345.0),
        },
        "counters": {
            "backpressure.coordinator_processor": 1_234,
            "backpressure.processor_analysis": 0,
            "overruns.DataProcessor": 0,
        },
        "clock": {"achieved_speed": 1_000.0, "max_lag_s": 0.0},
    },
}

_SESSION_HEAD = [
    "Performance Metrics (Session): 2024-01-02",
    "==================================================",
    "Trading:",
    "  - P&L: -123.50 (-0.12%)",
    "  - Equity: 100,000.00 → 99,876.50",
    "  - Fills: 4 | Trades: 2 | Wins: 1 | Rejected Orders: 1",
    "  - Rejected by Rule: max_per_symbol 1",
    "  - By Symbol: AAPL 26.50 (3 fills) | MSFT -150.00 (1 fill)",
    "  - Open Positions: MSFT -10 @ 410.00 | Mark 425.00 | Unrealised P&L -150.00",
    "Data Quality:",
    "  - AAPL 1m (15m derived): 99.74% | Gaps: 1 | Missing Bars: 1",
    "  - MSFT: 100.00% | Gaps: 0 | Missing Bars: 0",
    "  - Rejected Bars: 3 (duplicate: 2, nan: 1) | Derived Bars Skipped: 1",
]


def test_session_report_puts_trading_first_and_timings_in_one_compact_block():
    assert format_session_report(SESSION).splitlines() == [
        *_SESSION_HEAD,
        "Timings:",
        "  - Analysis Engine: Cycles 390 | Avg 0.50 ms | p99 3.20 ms | Max 12.35 ms",
        "  - Data Processor: Items 1,560 | Avg 0.05 ms | p99 0.90 ms | Max 1.50 ms",
        "  - Session: Duration 2.35 s | Gap 0.01 s",
        "  - Backpressure: Coordinator→Processor 1,234 | Processor→Analysis 0",
        "  - Clock: data_driven | requested max (data-driven) | achieved 1,000.00x | Overruns 0 | Max Lag 0.00 s",
        "==================================================",
    ]


def test_session_report_with_timings_has_the_full_blocks_users_know():
    assert format_session_report(SESSION, timings=True).splitlines() == [
        *_SESSION_HEAD,
        "Analysis Engine:",
        "  - Cycles: 390",
        "  - Min: 0.01 ms | Max: 12.35 ms | Avg: 0.50 ms",
        "  - p50: 0.45 ms | p99: 3.20 ms",
        "Data Processor:",
        "  - Items: 1,560",
        "  - Min: 0.02 ms | Max: 1.50 ms | Avg: 0.05 ms",
        "  - p50: 0.04 ms | p99: 0.90 ms",
        "Session Gap:",
        "  - Sessions: 1",
        "  - Avg: 0.01 s | Min: 0.01 s | Max: 0.01 s",
        "Session Duration:",
        "  - Sessions: 1",
        "  - Avg: 2.35 s | Min: 2.35 s | Max: 2.35 s",
        "Pipeline Backpressure:",
        "  - Coordinator→Processor: 1,234 events",
        "  - Processor→Analysis: 0 events",
        "Clock:",
        "  - Mode: data_driven",
        "  - Speed: requested max (data-driven) | achieved 1,000.00x",
        "  - Overruns: DataProcessor 0",
        "  - Max Lag: 0.00 s",
        "==================================================",
    ]


def test_empty_session_report_has_only_title_and_rules():
    assert format_session_report({"date": "2024-01-03", "metrics": {}}) == (
        "Performance Metrics (Session): 2024-01-03\n" + RULE + "\n" + RULE + "\n"
    )


def test_session_report_names_an_early_close_and_a_flat_book():
    trading = dict(SESSION["trading"], rejections=[], by_symbol={}, open_positions={}, orders_expired=2)
    lines = format_session_report({"date": "2024-07-03", "early_close": True, "trading": trading}).splitlines()

    assert lines[0] == "Performance Metrics (Session): 2024-07-03 (early close)"
    assert lines[5:8] == ["  - Fills: 4 | Trades: 2 | Wins: 1 | Rejected Orders: 1 | Expired Orders: 2",
                          "  - By Symbol: no trades", "  - Open Positions: none"]


def test_session_duration_in_hours_for_long_sessions():
    hours = _stage(2, 0.0, 3_600_000.0, 23_400_000.0, 13_500_000.0, 0.0, 0.0)
    session = {"date": "d", "metrics": {"stages": {"session_duration": hours}}}

    assert "  - Avg: 3.75 hrs | Min: 1.00 hrs | Max: 6.50 hrs" in format_session_report(session, timings=True)
    assert "  - Session: Duration 3.75 hrs" in format_session_report(session).splitlines()


def test_by_symbol_and_positions_wrap_for_many_symbols():
    by_symbol = {f"S{i}": {"pnl": float(i), "fills": 2} for i in range(6)}
    positions = {s: {"quantity": 1, "avg_price": 1.0, "mark": 2.0, "unrealized_pnl": 1.0} for s in ("B", "A")}
    trading = dict(SESSION["trading"], rejections=[], by_symbol=by_symbol, open_positions=positions)
    lines = format_session_report({"date": "d", "trading": trading}).splitlines()

    assert lines[6:10] == [
        "  - By Symbol: S0 0.00 (2 fills) | S1 1.00 (2 fills) | S2 2.00 (2 fills) | S3 3.00 (2 fills)",
        "      S4 4.00 (2 fills) | S5 5.00 (2 fills)",
        "  - Open Positions: A 1 @ 1.00 | Mark 2.00 | Unrealised P&L 1.00",
        "      B 1 @ 1.00 | Mark 2.00 | Unrealised P&L 1.00",
    ]


def test_quality_lines_group_equal_intervals_and_complete_symbols():
    full = {"quality_pct": 100.0, "gaps": 0, "missing_bars": 0}
    series = {f"S{i}": {"1m": dict(full, derived=False), "5m": dict(full, derived=True)} for i in range(7)}
    series["S3"]["5m"] = {"quality_pct": 90.0, "gaps": 0, "missing_bars": 0, "derived": True}
    quality = {"series": series, "rejected_bars": {}, "derived_bars_skipped": 2, "warnings": ["S1 1m: thin"]}
    lines = format_session_report({"date": "d", "data_quality": quality}).splitlines()

    assert lines[2:] == [
        "Data Quality:",
        "  - S3 1m: 100.00% | Gaps: 0 | Missing Bars: 0",
        "  - S3 5m (derived): 90.00% | Gaps: 0 | Missing Bars: 0",
        "  - Other 6 symbols: 100.00% | Gaps: 0 | Missing Bars: 0",
        "  - Rejected Bars: 0 | Derived Bars Skipped: 2",
        "  - Warning: S1 1m: thin",
        RULE,
    ]
    del series["S3"]
    assert "  - All 6 symbols: 100.00% | Gaps: 0 | Missing Bars: 0" in format_session_report(
        {"date": "d", "data_quality": quality}).splitlines()


SUMMARY = {
    "status": "completed",
    "session_name": "demo",
    "first_session": "2024-01-02",
    "last_session": "2024-01-08",
    "sessions_planned": 6,
    "sessions": 5,
    "bars_processed": 3_900,
    "trading": {
        "starting_cash": 100_000.0, "final_equity": 101_234.567, "pnl": 1_234.567,
        "total_return_pct": 1.234567, "sharpe": 1.5, "max_drawdown_pct": 2.345,
        "win_rate_pct": 55.0, "profit_factor": 1.8,
        "trades": 20, "fills": 40, "rejected_orders": 3,
        "by_symbol": {"AAPL": {"pnl": 1_234.567, "fills": 40}},
    },
    "open_positions": {},
    "data_quality": {
        "series": {"AAPL": {"1m": {"quality_pct": 98.5, "gaps": 2, "missing_bars": 6}}},
        "rejected_bars": {},
        "derived_bars_skipped": 0,
    },
    "clock": {"mode": "clock_driven", "requested_speed": 60.0},
    "metrics": {
        "stages": {
            "analysis_engine": _stage(1_950, 975.0, 0.01, 20.0, 0.5, 0.4, 5.0),
            "data_processor": _stage(7_800, 390.0, 0.02, 2.0, 0.05, 0.04, 1.0),
            "data_upkeep": _stage(1_950, 39.0, 0.005, 0.5, 0.02, 0.02, 0.1),
            "data_loading_initial": _stage(1, 1_234.0, 1_234.0, 1_234.0, 1_234.0, 1_234.0, 1_234.0),
            "data_loading_subsequent": _stage(4, 800.0, 150.0, 250.0, 200.0, 200.0, 250.0),
            "session_gap": _stage(4, 40.0, 5.0, 15.0, 10.0, 10.0, 15.0),
            "session_duration": _stage(5, 30_000.0, 5_500.0, 6_500.0, 6_000.0, 6_000.0, 6_500.0),
        },
        "counters": {
            "backpressure.coordinator_processor": 12,
            "backpressure.processor_analysis": 3_456,
            "overruns.DataProcessor": 2,
            "overruns.AnalysisEngine": 7,
        },
        "process": {"cpu_s": 31.456, "rss_mb": 150.25, "peak_rss_mb": 210.5},
        "clock": {"achieved_speed": 59.5, "max_lag_s": 0.25},
        "backtest": {"total_time_s": 32.5, "avg_per_day_s": 6.5, "bars_per_second": 12_345.6},
    },
}


def test_run_report_layout():
    assert format_run_report(SUMMARY).splitlines() == [
        "Run status: COMPLETED",
        "Performance Metrics Summary:",
        "==================================================",
        "Run:",
        "  - demo: 5 of 6 sessions | 2024-01-02 → 2024-01-08",
        "Trading:",
        "  - P&L: 1,234.57 (1.23%)",
        "  - Equity: 100,000.00 → 101,234.57",
        "  - Sharpe: n/a (5 days)",
        "  - Max Drawdown: 2.35%",
        "  - Win Rate: 55.00% (20 trades)",
        "  - Profit Factor: 1.80",
        "  - Fills: 40 | Rejected Orders: 3",
        "  - By Symbol: AAPL 1,234.57 (40 fills)",
        "  - Open Positions: none",
        "Data Quality:",
        "  - AAPL 1m: 98.50% | Gaps: 2 | Missing Bars: 6",
        "  - Rejected Bars: 0 | Derived Bars Skipped: 0",
        "Analysis Engine:",
        "  - Cycles: 1,950",
        "  - Min: 0.01 ms | Max: 20.00 ms | Avg: 0.50 ms",
        "  - p50: 0.40 ms | p99: 5.00 ms",
        "Data Processor:",
        "  - Items: 7,800",
        "  - Min: 0.02 ms | Max: 2.00 ms | Avg: 0.05 ms",
        "  - p50: 0.04 ms | p99: 1.00 ms",
        "Data Upkeep:",
        "  - Cycles: 1,950",
        "  - Min: 0.01 ms | Max: 0.50 ms | Avg: 0.02 ms",
        "  - p50: 0.02 ms | p99: 0.10 ms",
        "Data Loading (All Symbols):",
        "  - Initial Load: 1.23 s",
        "  - Subsequent Load: Avg: 0.20 s | Min: 0.15 s | Max: 0.25 s",
        "Session Lifecycle:",
        "  - Sessions: 5",
        "  - Avg Gap: 0.01 s | Min Gap: 0.01 s | Max Gap: 0.01 s",
        "  - Avg Duration: 6.00 s | Min Duration: 5.50 s | Max Duration: 6.50 s",
        "Backtest Summary:",
        "  - Total Time: 32.50 s",
        "  - Trading Days: 5",
        "  - Avg per Day: 6.50 s",
        "  - Bars per Second: 12,346",
        "Pipeline Backpressure (Bottlenecks):",
        "  - Coordinator→Processor: 12 events",
        "    (DataProcessor slower than Coordinator)",
        "  - Processor→Analysis: 3,456 events",
        "    (AnalysisEngine slower than DataProcessor)",
        "Process:",
        "  - CPU: 31.46 s",
        "  - RSS: 150.25 MB | Peak RSS: 210.50 MB",
        "Clock:",
        "  - Mode: clock_driven",
        "  - Speed: requested 60.00x | achieved 59.50x",
        "  - Overruns: AnalysisEngine 7 | DataProcessor 2",
        "  - Max Lag: 0.25 s",
        "==================================================",
    ]


def test_minimal_run_report_keeps_status_data_loading_and_backpressure():
    assert format_run_report({"sessions": 0, "metrics": {}}).splitlines() == [
        "Run status: COMPLETED",
        "Performance Metrics Summary:",
        RULE,
        "Data Loading (All Symbols):",
        "  - Initial Load: 0.00 s",
        "  - Subsequent Load: none",
        "Pipeline Backpressure (Bottlenecks):",
        "  - Coordinator→Processor: 0 events",
        "    (DataProcessor slower than Coordinator)",
        "  - Processor→Analysis: 0 events",
        "    (AnalysisEngine slower than DataProcessor)",
        RULE,
    ]


@pytest.mark.parametrize(("status", "detail", "line"), [
    ("completed", None, "Run status: COMPLETED"),
    ("ok", None, "Run status: COMPLETED"),
    (None, None, "Run status: COMPLETED"),
    ("failed", "session 2024-01-03 at 10:31, AnalysisEngine: ZeroDivisionError: division by zero",
     "Run status: FAILED — session 2024-01-03 at 10:31, AnalysisEngine: ZeroDivisionError: division by zero"),
    ("failed", None, "Run status: FAILED"),
    ("interrupted", "Ctrl-C in session 2024-01-04", "Run status: INTERRUPTED — Ctrl-C in session 2024-01-04"),
])
def test_the_run_report_and_report_txt_start_with_the_run_status(status, detail, line):
    summary = {"sessions": 1, "metrics": {}}
    if status is not None:
        summary["status"] = status
    if detail is not None:
        summary["status_detail"] = detail

    assert status_line(summary) == line
    assert format_run_report(summary).splitlines()[0] == line
    text = format_report([SESSION], summary)
    assert text.splitlines()[0] == line
    assert text.index("Performance Metrics Summary:") < text.index("Performance Metrics (Session): 2024-01-02")


def test_report_txt_is_the_run_report_then_each_session_compact_unless_timings():
    text = format_report([SESSION, dict(SESSION, date="2024-01-03")], SUMMARY)

    assert text == "\n\n".join([format_run_report(SUMMARY), format_session_report(SESSION),
                                format_session_report(dict(SESSION, date="2024-01-03"))])
    assert format_report([SESSION], SUMMARY, timings=True).endswith(format_session_report(SESSION, timings=True))


@pytest.mark.parametrize(("days", "text"), [
    (0, "n/a (0 days)"), (1, "n/a (1 day)"), (MIN_SHARPE_DAYS - 1, f"n/a ({MIN_SHARPE_DAYS - 1} days)"),
    (MIN_SHARPE_DAYS, "1.50"), (252, "1.50"),
])
def test_sharpe_over_too_few_days_is_not_a_figure(days, text):
    lines = format_run_report(dict(SUMMARY, sessions=days)).splitlines()

    assert f"  - Sharpe: {text}" in lines


def test_a_live_report_shows_no_sharpe_and_no_bars_per_second():
    metrics = {"live": {"total_time_s": 600.0, "avg_per_session_s": 600.0}}
    summary = dict(SUMMARY, sessions=1, clock={"mode": "live"}, metrics=metrics)
    summary["trading"] = dict(SUMMARY["trading"], sharpe=0.0)
    lines = format_run_report(summary).splitlines()

    assert "  - Sharpe: n/a (1 day)" in lines
    assert "  - demo: 1 session | 2024-01-02 → 2024-01-08" in lines  # not "of" the live horizon's
    i = lines.index("Live Summary:")
    assert lines[i:i + 5] == ["Live Summary:", "  - Total Time: 600.00 s", "  - Sessions: 1",
                              "  - Avg per Session: 600.00 s", "  - Bars per Second: n/a (live)"]
    assert not any("Sharpe: 0.00" in line or "Bars per Second: 0" in line for line in lines)


def test_run_report_without_trades_and_data_driven_clock():
    summary = {
        "sessions": 1,
        "trading": dict(SUMMARY["trading"], win_rate_pct=None, profit_factor=None, trades=0),
        "clock": {"mode": "data_driven", "requested_speed": 0.0},
        "metrics": {},
    }
    lines = format_run_report(summary).splitlines()

    assert "  - Win Rate: n/a (0 trades)" in lines
    assert "  - Profit Factor: n/a (no losing trade)" in lines
    assert lines[-4:] == [
        "Clock:", "  - Mode: data_driven", "  - Speed: requested max (data-driven)", RULE,
    ]
    assert "Session Lifecycle:" in lines and "Backtest Summary:" not in lines


def test_to_json_sorts_rounds_and_converts():
    obj = {
        "b": 1.23456789,
        "a": [np.float64(-1e-9), np.int64(7), (True, None)],
        "c": {"z": np.array([0.5]), "y": "s"},
    }

    text = to_json(obj)

    assert text == (
        '{\n  "a": [\n    0.0,\n    7,\n    [\n      true,\n      null\n    ]\n  ],\n'
        '  "b": 1.234568,\n'
        '  "c": {\n    "y": "s",\n    "z": [\n      0.5\n    ]\n  }\n}'
    )
    assert json.loads(to_json(SUMMARY)) == json.loads(to_json(json.loads(to_json(SUMMARY))))


def test_to_json_refuses_non_finite_numbers_naming_the_path():
    message = r"\$\.trading\.sharpe: expected a finite number, received nan"
    with pytest.raises(ValueError, match=message):
        to_json({"trading": {"sharpe": float("nan")}})
    with pytest.raises(ValueError, match=r"\$\.x\[1\]: expected a finite number, received inf"):
        to_json({"x": [1.0, float("inf")]})


def test_to_json_refuses_non_string_keys():
    with pytest.raises(ValueError, match=r"\$\.series: expected str keys, received 1"):
        to_json({"series": {1: "a"}})


def test_without_metrics_drops_every_metrics_key():
    sessions = [SESSION, {"date": "2024-01-03", "metrics": {"x": 1}}]

    stripped = without_metrics({"sessions": sessions, "metrics": {}})

    session_without = {k: v for k, v in SESSION.items() if k != "metrics"}
    assert stripped == {"sessions": [session_without, {"date": "2024-01-03"}]}
    assert "metrics" in SESSION  # the input is not modified
