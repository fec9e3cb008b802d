"""ValuePanel: one indicator's values for every symbol of a live session, appended a step at a time.

A live step gives each symbol with a bar one new indicator value. Appending them one
`ValueSeries.append_one` at a time costs a Python call and a numpy scalar write per symbol and
indicator (200 calls a step at 100 symbols and two indicators); the panel keeps the values of
all the symbols as one ``(capacity, n_symbols)`` table, row-major by step, and writes a step's
values with one vector write (`append_step`). Each symbol's `ValueSeries` keeps its own object,
published length and readers (``view()``, ``value()``, ``len()``): its array is the table's
column, so a reader sees exactly what it saw before, and rows below a published length are never
written again (DESIGN.md rule 4).

The table is taken on only while every series is empty (a session's start); the per-symbol
path (`ValueSeries.append`, a backtest batch or a step the panel path hands back) keeps writing
the same column, and `resync` takes the lengths back from the series before the next step.

Warnings
--------
One writer thread (the DataProcessor). The capacity is fixed: at most one value per bar of the
session's interval.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from itertools import repeat

import numpy as np

from app.errors import InvariantError
from app.store.panel import PRETOUCH_ROWS, _lazy, publish_rows
from app.store.series import ValueSeries, snapshot_slot

__all__ = ["ValuePanel", "common_value"]

# The slot a ValueSeries' snapshot ``(array, length)`` lives in (replaced by one assignment).
_SET_SNAP, _GET_SNAP = snapshot_slot(ValueSeries)


class ValuePanel:
    """The values of one indicator for `series` (one per symbol, all empty), `capacity` rows each.

    Raises
    ------
    InvariantError
        If a series already holds values (the table is taken on at a session's start only).
    """

    def __init__(self, series: Sequence[ValueSeries], capacity: int) -> None:
        if any(len(one) for one in series):
            raise InvariantError("a value panel takes on empty series only (a session's start)")
        n, cap = len(series), max(1, capacity)
        self.table = _lazy((cap, n), np.float64)
        self.table[:PRETOUCH_ROWS] = np.nan  # the first rows' pages resident now, not in a live step
        self.series = list(series)
        self._cols = [self.table[:, i] for i in range(n)]
        for one, col in zip(self.series, self._cols, strict=True):
            _SET_SNAP(one, (col, 0))
        # Each series' length; while they are all equal, `_even` (and `lens` may lag behind it).
        self._lens = np.zeros(n, dtype=np.int64)
        self._all = np.arange(n, dtype=np.int64)
        self._even = 0  # every series' length when they are all equal, else -1

    @property
    def capacity(self) -> int:
        return int(self.table.shape[0])

    def owns_all(self) -> bool:
        """True while every series' array is still its column of the table (none has grown out)."""
        return all(_GET_SNAP(one)[0] is col for one, col in zip(self.series, self._cols, strict=True))

    def resync(self) -> None:
        """Take each series' length back from the series (after the per-symbol path wrote some)."""
        self._lens[:] = [len(one) for one in self.series]
        self._even = common_value(self._lens)

    def append_step(self, idx: np.ndarray | None, values: np.ndarray) -> None:
        """Append ``values[j]`` to the series of symbol ``idx[j]`` (None: ``values[j]`` to symbol
        ``j``, every symbol) and publish them."""
        series = self.series
        if not series:
            return
        series[0]._owner.check()  # one writer: the thread that writes the panel writes every series
        r = self._even
        if idx is None and r >= 0:  # the usual live step: one plain row write, one length for all
            if r >= self.table.shape[0]:
                raise InvariantError(f"value series {series[0].name}: full ({r} rows)")
            self.table[r] = values  # the row at every published length: never a published row
            self._even = r + 1  # `lens` is behind while the lengths are even (brought up below)
            deque(map(_SET_SNAP, series, zip(self._cols, repeat(r + 1))), maxlen=0)
            return
        if r >= 0:
            self._lens.fill(r)
        which = self._all if idx is None else idx
        rows = self._lens[which]
        if rows.shape[0] and int(rows.max()) >= self.table.shape[0]:
            raise InvariantError(f"value series {series[0].name}: full ({self.table.shape[0]} rows)")
        self.table[rows, which] = values  # rows at each published length: never a published row
        after = rows + 1
        self._lens[which] = after
        self._even = common_value(self._lens)
        publish_rows(_SET_SNAP, series, self._cols, idx, after)


def common_value(values: np.ndarray) -> int:
    """The value every item of `values` (non-negative ints) has, or -1 when they differ (or none)."""
    return int(values[0]) if values.shape[0] and int(values.min()) == int(values.max()) else -1
