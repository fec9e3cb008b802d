"""Pure, incremental indicators: one state per (symbol, indicator, interval).

Real-time indicators (`SESSION_INDICATORS`) are `IndicatorState` objects: the DataProcessor
feeds each new bar once with ``update(new_rows)`` and appends the returned values; chunked
feeding gives exactly the one-shot values, and a value never depends on later rows.
`compute_indicator` is the stateless twin used for one-shot work and tests. Historical
context indicators (`HISTORICAL_INDICATORS`) are single floats over trailing bars
(`compute_historical`). This package must not import threading, clocks, app.sync,
app.threads or app.feeds.
"""

from app.indicators.base import IndicatorState
from app.indicators.recursive import AtrState, EmaState, RsiState, VwapState
from app.indicators.registry import (
    HISTORICAL_INDICATORS,
    SESSION_INDICATORS,
    compute_historical,
    compute_indicator,
    make_indicator,
)
from app.indicators.window import BollingerState, SmaState

__all__ = [
    "HISTORICAL_INDICATORS",
    "SESSION_INDICATORS",
    "AtrState",
    "BollingerState",
    "EmaState",
    "IndicatorState",
    "RsiState",
    "SmaState",
    "VwapState",
    "compute_historical",
    "compute_indicator",
    "make_indicator",
]
