"""Preload a session: trailing history, historical indicators and historical quality."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.bars.quality import historical_quality
from app.feeds.base import BarSource
from app.indicators.registry import compute_historical
from app.store.bar import Interval
from app.store.session_data import SessionState
from app.timing.time_manager import TimeManager

__all__ = ["HistoricalIndicatorSpec", "HistorySpec", "preload_history"]


@dataclass(frozen=True)
class HistorySpec:
    """Load `trailing_days` of `intervals` for `symbols` before every session."""

    trailing_days: int
    intervals: tuple[Interval, ...]
    symbols: tuple[str, ...]


@dataclass(frozen=True)
class HistoricalIndicatorSpec:
    """A context indicator computed once per session on trailing bars of `interval`."""

    key: str
    name: str
    period: int
    interval: Interval


def preload_history(
    source: BarSource,
    tm: TimeManager,
    state: SessionState,
    specs: Sequence[HistorySpec],
    indicators: Sequence[HistoricalIndicatorSpec],
    symbols: Sequence[str],
    enable_quality: bool,
) -> None:
    """Fill `state`'s history, historical indicators and historical quality (coordinator only)."""
    for spec in specs:
        days = tm.trailing_trading_days(state.session, spec.trailing_days)
        for symbol in spec.symbols:
            for interval in spec.intervals:
                load = source.history(symbol, interval, days)
                state.history[(symbol, interval.label)] = load.bars
                quality = historical_quality(list(load.per_day)) if enable_quality else 100.0
                state.historical_quality[(symbol, interval.label)] = quality
                for reason, count in load.rejected.items():
                    bucket = state.rejected.setdefault(symbol, {})
                    bucket[f"history:{reason}"] = bucket.get(f"history:{reason}", 0) + count
    for ind in indicators:
        for symbol in symbols:
            hist = state.history.get((symbol, ind.interval.label))
            value = float("nan")
            if hist is not None and len(hist):
                value = compute_historical(ind.name, hist, ind.period)
            state.historical_indicators[(symbol, ind.key)] = value
