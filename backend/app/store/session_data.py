"""SessionData: the one store of trailing history and current-session data, per symbol and interval."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from app.store.bar import BarArrays, Interval
from app.store.series import BarSeries, ValueSeries

__all__ = ["SessionData", "SessionState"]

SeriesKey = tuple[str, str]  # (symbol, interval label or indicator key)


@dataclass
class SessionState:
    """Everything known about one session; replaced (never mutated back) when the next begins.

    Ownership (one writer per field, DESIGN.md rule 4):
    - SessionCoordinator: ``history``, ``bars`` for the base interval, ``historical_indicators``,
      ``historical_quality``, ``history_shortfall``, ``rejected``, ``repairs``, ``no_bars``,
      ``stream_start_ns``, ``stream_end_ns``, ``started_ns``, ``ended_ns``, ``late``,
      ``corrections``, ``corrected``, ``decision_fills``;
    - DataProcessor: ``bars`` for derived intervals, ``indicators``, ``derived_skipped``;
    - DataUpkeep: ``quality``, ``fills``.

    Live sessions may stream only part of the session (``stream_start_ns`` is the first step a
    run joining mid-session streams, ``stream_end_ns`` where a stop or ``stop_after_seconds``
    ended it); backtests stream ``[open_ns, close_ns)``. Those are step boundaries; ``started_ns``
    and ``ended_ns`` are the live stream's real start and end (a run started at 02:59:23 starts
    there, not at its step's 02:59:00; ``stop_after_seconds`` ends at its deadline, not at the
    last whole step): `clock_span`, what the session's duration and achieved speed count.
    ``late`` holds live bars that arrived after their step was published (kept and counted,
    never shown out of order), ``corrections`` counts restatements of bars already published
    (``corrected``: their starts), ``fills`` what live gap filling found after the decision,
    ``decision_fills`` what the fill at grace found before it (start -> ``"filled"``: in the
    step the strategy saw, or ``"no_trades"``).
    ``no_bars`` holds the symbols without a base bar in a backtest session (``data.on_missing``
    skip or warn: the policy, the file looked at and what it holds); ``history_shortfall`` the
    (symbol, interval) trailing windows with whole trading days absent: ``(days expected, days
    found, bars expected, bars found)``.
    Keys are added only by their writer before the first event that mentions them is published.

    Warnings
    --------
    Readers (any thread) read series through ``view()`` and scalars by key; they never iterate
    a dict that a writer is still filling (reports read after the session's end is acked).
    """

    session: date
    open_ns: int
    close_ns: int
    early_close: bool
    history: dict[SeriesKey, BarArrays] = field(default_factory=dict)
    bars: dict[SeriesKey, BarSeries] = field(default_factory=dict)
    indicators: dict[SeriesKey, ValueSeries] = field(default_factory=dict)
    historical_indicators: dict[SeriesKey, float] = field(default_factory=dict)
    historical_quality: dict[SeriesKey, float] = field(default_factory=dict)
    quality: dict[SeriesKey, Any] = field(default_factory=dict)
    rejected: dict[str, dict[str, int]] = field(default_factory=dict)
    repairs: dict[str, int] = field(default_factory=dict)
    derived_skipped: dict[SeriesKey, int] = field(default_factory=dict)
    stream_start_ns: int | None = None
    stream_end_ns: int | None = None
    started_ns: int | None = None
    ended_ns: int | None = None
    late: dict[str, list[Any]] = field(default_factory=dict)
    corrections: dict[str, int] = field(default_factory=dict)
    corrected: dict[str, list[int]] = field(default_factory=dict)
    decision_fills: dict[str, dict[int, str]] = field(default_factory=dict)
    fills: dict[str, Any] = field(default_factory=dict)
    no_bars: dict[str, dict[str, str]] = field(default_factory=dict)
    history_shortfall: dict[SeriesKey, tuple[int, int, int, int]] = field(default_factory=dict)

    @property
    def streamed(self) -> tuple[int, int]:
        """The streamed span ``[start, end)``: the whole session unless live cut it short."""
        start = self.open_ns if self.stream_start_ns is None else self.stream_start_ns
        return start, self.close_ns if self.stream_end_ns is None else self.stream_end_ns

    @property
    def clock_span(self) -> tuple[int, int]:
        """The session's time as it ran ``[start, end)``: `streamed`, unless live started or ended
        between step boundaries (``started_ns``, ``ended_ns``)."""
        start, end = self.streamed
        return (start if self.started_ns is None else self.started_ns,
                end if self.ended_ns is None else self.ended_ns)


class SessionData:
    """The run's shared store: which symbols and intervals exist, and the current SessionState.

    Warnings
    --------
    Only the SessionCoordinator calls `begin_session`, and only after every consumer has
    acked the previous session's end; other threads take the state from the session-start
    event they receive, so a reader never sees two sessions mixed.
    """

    def __init__(self, symbols: tuple[str, ...], base: Interval, derived: tuple[Interval, ...]) -> None:
        self.symbols = tuple(sorted(symbols))
        self.base = base
        self.derived = tuple(sorted(derived))
        self.current: SessionState | None = None

    def prepare_session(self, session: date, open_ns: int, close_ns: int, early_close: bool) -> SessionState:
        """Return an empty, not yet visible SessionState (the coordinator fills it while the
        previous session is still being finished downstream)."""
        return SessionState(session, open_ns, close_ns, early_close)

    def activate(self, state: SessionState) -> None:
        """Make `state` current: the previous session's data is dropped (teardown)."""
        self.current = state
