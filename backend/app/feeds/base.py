"""BarSource: where a run's bars come from (the only mode-specific input, DESIGN.md rule 7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from app.store.bar import BarArrays, Interval

__all__ = ["BarSource", "HistoryLoad", "SessionLoad"]


@dataclass(frozen=True)
class SessionLoad:
    """A session's base bars after checks, and what the checks rejected (by reason)."""

    bars: BarArrays
    rejected: dict[str, int] = field(default_factory=dict)
    repairs: int = 0


@dataclass(frozen=True)
class HistoryLoad:
    """Trailing bars for one (symbol, interval) and (expected, present) counts per day."""

    bars: BarArrays
    per_day: tuple[tuple[int, int], ...]
    rejected: dict[str, int] = field(default_factory=dict)


class BarSource(Protocol):
    """Stored or live bars for the SessionCoordinator."""

    def begin_session(self, session: date) -> None:
        """Say which session the next calls load for (a windowed source reads ahead here)."""
        ...

    def history(self, symbol: str, interval: Interval, days: tuple[date, ...]) -> HistoryLoad:
        """Return checked bars of `interval` for the given trading days."""
        ...

    def session_bars(self, symbol: str, session: date) -> SessionLoad:
        """Return the checked base bars of one session (backtests: all of them, up front)."""
        ...
