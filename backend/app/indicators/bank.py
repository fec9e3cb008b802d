"""IndicatorBank: one incremental indicator state per (symbol, indicator) for the current session."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.indicators.base import IndicatorState
from app.indicators.registry import indicator_key, make_indicator
from app.store.bar import Interval
from app.store.series import ValueSeries
from app.store.session_data import SessionState

__all__ = ["IndicatorBank", "SessionIndicator"]


@dataclass(frozen=True)
class SessionIndicator:
    """A real-time indicator: `name(period)` of `field` on bars of `interval`."""

    name: str
    period: int
    interval: Interval
    field: str = "close"
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        """The name strategies use, e.g. ``sma_10_1m``."""
        return indicator_key(self.name, self.period, self.interval.label)


class IndicatorBank:
    """Keeps each session's indicator states and appends their values as bars arrive.

    A session starts with fresh states warmed up on the trailing history of the same
    interval (when configured), so values never depend on an earlier session's stream
    (BEHAVIOURS.md 3) and are the same whether bars arrive one at a time or in batches.

    Warnings
    --------
    Used by the DataProcessor thread only; it is the sole writer of ``state.indicators``.
    """

    def __init__(self, specs: Sequence[SessionIndicator]) -> None:
        self.specs = tuple(specs)
        self._by_interval: dict[str, list[str]] = {}  # interval label -> indicator keys
        for spec in self.specs:
            self._by_interval.setdefault(spec.interval.label, []).append(spec.key)
        self._states: dict[tuple[str, str], IndicatorState] = {}

    def begin_session(self, state: SessionState, symbols: Sequence[str]) -> None:
        """Create warmed-up states and empty value series for every symbol and indicator."""
        self._states = {}
        for spec in self.specs:
            for symbol in symbols:
                ind = make_indicator(spec.name, spec.period, spec.field, spec.params)
                history = state.history.get((symbol, spec.interval.label))
                if history is not None and len(history):
                    ind.warm_up(history)
                self._states[(symbol, spec.key)] = ind
                state.indicators[(symbol, spec.key)] = ValueSeries(f"{symbol}/{spec.key}")

    def update(self, state: SessionState, symbol: str, label: str, lo: int, hi: int) -> None:
        """Feed rows ``[lo, hi)`` of `symbol`'s `label` series to its indicators."""
        keys = self._by_interval.get(label)
        if not keys or hi <= lo:
            return
        bars = state.bars[(symbol, label)].view(hi).slice(lo, hi)
        for key in keys:
            values = self._states[(symbol, key)].update(bars)
            state.indicators[(symbol, key)].append(values)
