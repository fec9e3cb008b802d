"""Run metrics: timing statistics, trading statistics and the reports people and machines read.

``running`` keeps fixed-memory timing statistics and counters per run (callers pass durations;
nothing here reads a clock), ``stats`` computes P&L, Sharpe, drawdown and trade statistics as
pure functions, and ``report`` renders session and run reports as text (its timing sections in
``report_timings``) and as deterministic JSON. ``stats`` imports no threads, clocks or I/O.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.metrics.report import format_report, format_run_report, format_session_report, to_json, without_metrics
    from app.metrics.running import STAGES, PerformanceMetrics, RunningStat
    from app.metrics.stats import compute_run_summary, compute_session_stats

__all__ = [
    "STAGES",
    "PerformanceMetrics",
    "RunningStat",
    "compute_run_summary",
    "compute_session_stats",
    "format_report",
    "format_run_report",
    "format_session_report",
    "to_json",
    "without_metrics",
]

# Imported on first use (PEP 562): a run imports app.metrics.collect long before it needs the
# reports, and importing them all with the package cost a backtest's start-up ~10 ms.
_HOME = {"STAGES": "running", "PerformanceMetrics": "running", "RunningStat": "running",
         "compute_run_summary": "stats", "compute_session_stats": "stats"}


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOME.get(name, 'report')}"), name)
