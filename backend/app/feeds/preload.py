"""Preload a session: trailing history, historical indicators and historical quality."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from app.bars.quality import historical_quality
from app.feeds.base import BarSource
from app.indicators.registry import compute_historical
from app.store.bar import Interval
from app.store.session_data import SessionState
from app.timing.time_manager import TimeManager

__all__ = ["HistoricalIndicatorSpec", "HistorySpec", "history_shortfall", "preload_history"]

log = logging.getLogger(__name__)


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


def history_shortfall(per_day: Sequence[tuple[int, int]]) -> tuple[int, int, int, int] | None:
    """Return ``(days expected, days found, bars expected, bars found)`` when a trailing window
    lacks whole trading days (a day with no bar at all), else None.

    A day with some bars is found (its gaps are historical quality, not a shortfall).
    """
    days_found = sum(1 for expected, present in per_day if present > 0 or expected == 0)
    if days_found == len(per_day):
        return None
    return (len(per_day), days_found, sum(e for e, _ in per_day), sum(p for _, p in per_day))


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
                short = history_shortfall(load.per_day)
                if short is not None:
                    state.history_shortfall[(symbol, interval.label)] = short
                    log.warning("history shortfall before session %s: %s %s has %d of %d trailing days "
                                "(%d of %d bars)", state.session, symbol, interval, short[1], short[0],
                                short[3], short[2])
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
