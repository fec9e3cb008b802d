"""Report rendering (text, line by line) and deterministic JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.metrics.report import (
    RULE,
    format_run_report,
    format_session_report,
    to_json,
    without_metrics,
)


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
    },
    "data_quality": QUALITY,
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
        },
    },
}


def test_session_report_layout():
    assert format_session_report(SESSION).splitlines() == [
        "Performance Metrics (Session): 2024-01-02",
        "==================================================",
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
        "Data Quality:",
        "  - AAPL 1m: 99.74% | Gaps: 1 | Missing Bars: 1",
        "  - AAPL 15m (derived): 99.74% | Gaps: 1 | Missing Bars: 1",
        "  - MSFT 1m: 100.00% | Gaps: 0 | Missing Bars: 0",
        "  - Rejected Bars: 3 (duplicate: 2, nan: 1)",
        "  - Derived Bars Skipped: 1",
        "Trading:",
        "  - P&L: -123.50 (-0.12%)",
        "  - Equity: 100,000.00 → 99,876.50",
        "  - Fills: 4 | Trades: 2 | Wins: 1 | Rejected Orders: 1",
        "==================================================",
    ]


def test_empty_session_report_has_only_title_and_rules():
    assert format_session_report({"date": "2024-01-03", "metrics": {}}) == (
        "Performance Metrics (Session): 2024-01-03\n" + RULE + "\n" + RULE + "\n"
    )


def test_session_duration_in_hours_for_long_sessions():
    hours = _stage(2, 0.0, 3_600_000.0, 23_400_000.0, 13_500_000.0, 0.0, 0.0)
    text = format_session_report({"date": "d", "metrics": {"stages": {"session_duration": hours}}})

    assert "  - Avg: 3.75 hrs | Min: 1.00 hrs | Max: 6.50 hrs" in text.splitlines()


SUMMARY = {
    "sessions": 5,
    "bars_processed": 3_900,
    "trading": {
        "starting_cash": 100_000.0, "final_equity": 101_234.567, "pnl": 1_234.567,
        "total_return_pct": 1.234567, "sharpe": 1.5, "max_drawdown_pct": 2.345,
        "win_rate_pct": 55.0, "profit_factor": 1.8,
        "trades": 20, "fills": 40, "rejected_orders": 3,
    },
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
        "Performance Metrics Summary:",
        "==================================================",
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
        "Data Quality:",
        "  - AAPL 1m: 98.50% | Gaps: 2 | Missing Bars: 6",
        "  - Rejected Bars: 0",
        "  - Derived Bars Skipped: 0",
        "Trading:",
        "  - P&L: 1,234.57 (1.23%)",
        "  - Equity: 100,000.00 → 101,234.57",
        "  - Sharpe: 1.50",
        "  - Max Drawdown: 2.35%",
        "  - Win Rate: 55.00% (20 trades)",
        "  - Profit Factor: 1.80",
        "  - Fills: 40 | Rejected Orders: 3",
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


def test_minimal_run_report_keeps_data_loading_and_backpressure():
    assert format_run_report({"sessions": 0, "metrics": {}}).splitlines() == [
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
