"""IndicatorBank: the current session's indicator states, per (symbol, indicator)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.indicators.base import IndicatorState
from app.indicators.panel import Panel, make_panel
from app.indicators.registry import indicator_key, make_indicator
from app.store.bar import BarArrays, Interval
from app.store.series import ValueSeries
from app.store.session_data import SessionState
from app.store.value_panel import ValuePanel

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


@dataclass
class _Group:
    # The indicators of one interval: per key, the symbols' states and value series (in the
    # session's symbol order) and, when every indicator has one, the panels.
    keys: list[str]
    states: list[list[IndicatorState]]
    series: list[list[ValueSeries]]
    panels: list[Panel] | None  # built on the first `update_step` (batch-only sessions never need them)
    active: bool = False  # the panels hold the state (since the last `update_step`)
    specs: list[SessionIndicator] = dataclasses.field(default_factory=list)
    n_symbols: int = 0
    built: bool = False
    capacity: int = 0  # values a series can hold this session (one per bar of the interval)
    tables: list[ValuePanel] | None = None  # with the panels: each key's values of all symbols in one table


class IndicatorBank:
    """Keeps each session's indicator states and appends their values as bars arrive.

    A session starts with fresh states warmed up on the trailing history of the same
    interval (when configured), so values never depend on an earlier session's stream
    (BEHAVIOURS.md 3) and are the same whether bars arrive one at a time or in batches.

    Two ways in, mixed freely: `update` feeds rows of one symbol (vectorised over time: a
    backtest batch), `update_step` one bar for each of many symbols (vectorised over the
    symbols, through `app.indicators.panel`: a live step). The values are the same bit for bit.

    Warnings
    --------
    Used by the DataProcessor thread only; it is the sole writer of ``state.indicators``.
    """

    def __init__(self, specs: Sequence[SessionIndicator]) -> None:
        self.specs = tuple(specs)
        self._by_interval: dict[str, list[SessionIndicator]] = {}
        for spec in self.specs:
            self._by_interval.setdefault(spec.interval.label, []).append(spec)
        self._keys = {label: [s.key for s in specs] for label, specs in self._by_interval.items()}
        self._states: dict[tuple[str, str], IndicatorState] = {}
        self._groups: dict[str, _Group] = {}
        # Every state ever built, per (symbol, interval, spec): `begin_session` resets and
        # re-warms these rather than building new ones through the registry each session.
        self._kept: dict[tuple[str, str, int], IndicatorState] = {}

    def begin_session(self, state: SessionState, symbols: Sequence[str]) -> None:
        """Create warmed-up states and empty value series for every symbol and indicator.

        A state is fresh each session: the one kept from an earlier session is `reset`
        (exactly a new state) before its warm-up on this session's trailing history.
        """
        self._states = states_by_key = {}
        self._groups = {}
        kept = self._kept
        history = state.history
        indicators = state.indicators
        for label, specs in self._by_interval.items():
            interval = specs[0].interval
            capacity = 1 if interval.is_daily else int((state.close_ns - state.open_ns) // interval.ns + 1)
            keys = self._keys[label]
            group = _Group(keys, [], [], [], specs=list(specs), n_symbols=len(symbols),
                           capacity=capacity)
            for j, (spec, key) in enumerate(zip(specs, keys, strict=True)):
                states, series = [], []
                for symbol in symbols:
                    ind = kept.get((symbol, label, j))  # one per spec, as if built each session
                    if ind is None:
                        ind = kept[(symbol, label, j)] = make_indicator(spec.name, spec.period, spec.field, spec.params)
                    else:
                        ind.reset()
                    bars = history.get((symbol, label))
                    if bars is not None and len(bars):
                        ind.warm_up(bars)
                    states_by_key[(symbol, key)] = ind
                    values = indicators[(symbol, key)] = ValueSeries(f"{symbol}/{key}")
                    states.append(ind)
                    series.append(values)
                group.states.append(states)
                group.series.append(series)
            self._groups[label] = group

    def update(self, state: SessionState, symbol: str, label: str, lo: int, hi: int) -> None:
        """Feed rows ``[lo, hi)`` of `symbol`'s `label` series to its indicators."""
        group = self._groups.get(label)
        if group is None or hi <= lo:
            return
        if group.active:
            self._hand_back(group)
        bars = state.bars[(symbol, label)].view(hi)
        if lo:
            bars = bars.slice(lo, hi)
        for key in group.keys:
            values = self._states[(symbol, key)].update(bars)
            state.indicators[(symbol, key)].append(values)

    def update_step(self, label: str, idx: np.ndarray | None, bars: BarArrays) -> None:
        """Feed one bar to each symbol in `idx` (positions in the session's symbols; None: all).

        Row ``j`` of `bars` is the new `label` bar of symbol ``idx[j]``, the row after every row
        fed before (for that symbol and interval).
        """
        group = self._groups.get(label)
        if group is None or len(bars) == 0:
            return
        ready = group.active and group.tables is not None  # the usual live step: nothing to set up
        if not ready and not self._activate(group):
            self._step_each(group, range(len(bars)) if idx is None else idx.tolist(), bars)
            return
        assert group.panels is not None
        if group.tables is not None:  # one row write per indicator for every symbol of the step
            for panel, table in zip(group.panels, group.tables, strict=True):
                table.append_step(idx, panel.step(idx, bars).reshape(-1))
            return
        rows = range(len(bars)) if idx is None else idx.tolist()
        for panel, series in zip(group.panels, group.series, strict=True):
            values = panel.step(idx, bars).reshape(-1).tolist()  # float64 -> float -> float64: exact
            if idx is None:
                for one, value in zip(series, values, strict=True):
                    one.append_one(value)
            else:
                for s, value in zip(rows, values, strict=True):
                    series[s].append_one(value)

    def prepare_steps(self, labels: Sequence[str]) -> None:
        """Build the cross-symbol panels of `labels`' indicators and load their states now.

        A live (or paced) session calls this at its start, before the open: otherwise its first
        step pays for it (1-1.7 ms at 100 symbols). Backtests' batches never need the panels.
        """
        for label in labels:
            group = self._groups.get(label)
            if group is not None:
                self._activate(group)

    @staticmethod
    def _activate(group: _Group) -> bool:
        # The group's panels built (once) and holding the states; False when one indicator has none.
        if not group.built:
            group.panels = _panels(group)
            group.built = True
            if group.panels is not None and not any(len(v) for series in group.series for v in series):
                group.tables = [ValuePanel(series, group.capacity) for series in group.series]
        if group.panels is None:
            return False
        if not group.active:
            for panel, states in zip(group.panels, group.states, strict=True):
                panel.load(states)
            group.active = True
            if group.tables is not None:  # the per-symbol path may have written since
                if all(table.owns_all() for table in group.tables):
                    for table in group.tables:
                        table.resync()
                else:  # a series grew out of its table: one value at a time from now on
                    group.tables = None
        return True

    @staticmethod
    def _step_each(group: _Group, rows: Sequence[int], bars: BarArrays) -> None:
        # Some indicator of the interval has no panel: one symbol at a time.
        for states, series in zip(group.states, group.series, strict=True):
            for j, s in enumerate(rows):
                series[s].append(states[s].update(bars.slice(j, j + 1)))

    def _hand_back(self, group: _Group) -> None:
        assert group.panels is not None
        for panel, states in zip(group.panels, group.states, strict=True):
            panel.store(states)
        group.active = False


def _panels(group: _Group) -> list[Panel] | None:
    # One panel per indicator of the interval, or None when one of them has no panel form.
    panels = []
    for spec in group.specs:
        panel = make_panel(make_indicator(spec.name, spec.period, spec.field, spec.params), group.n_symbols)
        if panel is None:
            return None
        panels.append(panel)
    return panels
