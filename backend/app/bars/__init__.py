"""Pure functions on bars: checks, aggregation, gaps, quality and session steps.

Everything here works on `app.store.bar.BarArrays` columns with vectorised numpy and knows
nothing about threads, clocks or I/O: it must not import threading, time, app.timing clocks,
app.sync, app.threads or app.feeds. Callers (the pipeline threads, the importer, the feeds)
pass the calendar's answers in as arrays of int64 ns starts.
"""

from app.bars.aggregate import AggregateResult, aggregate_bars, aggregate_daily
from app.bars.checks import CheckResult, RejectReason, check_bars
from app.bars.gaps import Gap, find_gaps, missing_mask
from app.bars.quality import (
    QualityReport,
    compute_quality,
    historical_quality,
    live_quality,
    session_quality,
)
from app.bars.steps import build_steps

__all__ = [
    "AggregateResult",
    "CheckResult",
    "Gap",
    "QualityReport",
    "RejectReason",
    "aggregate_bars",
    "aggregate_daily",
    "build_steps",
    "check_bars",
    "compute_quality",
    "find_gaps",
    "historical_quality",
    "live_quality",
    "missing_mask",
    "session_quality",
]
