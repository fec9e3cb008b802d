"""A batch's base bars as Bar tuples in time-step order (the AnalysisEngine's many-symbol walk; pure)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any

import numpy as np

from app.store.bar import Bar, BarArrays
from app.store.series import BarSeries

__all__ = ["step_bars", "symbol_bars"]

_new_tuple = tuple.__new__


def step_bars(symbols: Sequence[str], series: Sequence[BarSeries], base_idx: np.ndarray,
              counts_before: Sequence[int], columns: BarArrays | None = None, every_row: int = -1,
              ) -> tuple[list[Any], list[int], list[list[int]]]:
    """Return a batch's bars as Bar tuples in (step, symbol) order, each step's first index, and the counts.

    Step k's bars are ``flat[bounds[k]:bounds[k + 1]]``; ``counts[k][s]`` is how many base bars
    symbol s shows once step k is revealed (carried over from `counts_before` while it has none).
    Built column-wise: each symbol's rows in the batch are contiguous in its series, so one
    permutation puts the concatenated columns in step order, and the tuples are made in C.
    A one-step batch may bring its bars as `columns` already (live: ``StepBatch.bars``, row j
    the bar of the j-th symbol present), else each is read from its series; with `every_row`
    (``StepBatch.every_row``: every symbol's bar at that row, `columns` in the symbols' order)
    nothing of `base_idx` is read.
    """
    if every_row >= 0 and columns is not None:  # the usual live step
        flat = list(map(_new_tuple, repeat(Bar), zip(symbols, *(c.tolist() for c in columns), strict=True)))
        return flat, [0, len(flat)], [[every_row + 1] * len(symbols)]
    base_idx = base_idx.astype(np.int64, copy=False)  # the step sources' int32 would wrap the sentinel below
    if base_idx.shape[0] == 0:
        return [], [0], []
    if base_idx.shape[0] == 1:  # one step (live, clock-driven): read each row directly
        return _one_step(symbols, series, base_idx[0].tolist(), counts_before, columns)
    present = base_idx >= 0
    ks, ss = np.nonzero(present)  # row-major: by step, then symbol
    rows = base_idx[ks, ss]
    parts: list[list[np.ndarray]] = [[] for _ in BarArrays._fields]
    first = np.where(present, base_idx, np.iinfo(np.int64).max).min(axis=0)
    last = base_idx.max(axis=0)
    offset = np.zeros(len(symbols), dtype=np.int64)
    taken = 0
    for s, (lo, hi) in enumerate(zip(first.tolist(), (last + 1).tolist(), strict=True)):
        if hi <= 0:  # no bar of this symbol in the batch
            continue
        view = series[s].view(hi).slice(lo, hi)
        for out, c in zip(parts, view, strict=True):
            out.append(c)
        offset[s] = taken
        taken += hi - lo
    order = offset[ss] + (rows - first[ss])  # each bar's place in the symbol-major concatenation
    names = [symbols[s] for s in ss.tolist()]
    cols = [np.concatenate(c)[order].tolist() if c else [] for c in parts]
    flat = list(map(_new_tuple, repeat(Bar), zip(names, *cols, strict=True)))
    bounds = np.concatenate(([0], np.cumsum(present.sum(axis=1)))).tolist()
    seen = np.where(present, base_idx + 1, 0)
    counts = np.maximum.accumulate(np.vstack((np.asarray(counts_before, dtype=np.int64), seen)), axis=0)[1:]
    return flat, bounds, counts.tolist()


def _one_step(symbols: Sequence[str], series: Sequence[BarSeries], rows: list[int],
              counts_before: Sequence[int], columns: BarArrays | None,
              ) -> tuple[list[Any], list[int], list[list[int]]]:
    if columns is not None:
        names = [symbols[s] for s, row in enumerate(rows) if row >= 0]
        flat = list(map(_new_tuple, repeat(Bar), zip(names, *(c.tolist() for c in columns), strict=True)))
    else:
        flat = [_new_tuple(Bar, (symbols[s], *series[s].row(row))) for s, row in enumerate(rows) if row >= 0]
    counts = [row + 1 if row >= 0 else c for row, c in zip(rows, counts_before, strict=True)]
    return flat, [0, len(flat)], [counts]


def symbol_bars(symbols: Sequence[str], series: Sequence[BarSeries],
                base_idx: np.ndarray) -> list[tuple[list[Any], int] | None]:
    """Return, per symbol, a batch's bars as Bar tuples and the row of the first (None: no bar).

    Each symbol's rows in a batch are contiguous in its series: they are made into tuples in one
    C-level pass, so the engine's per-bar path only indexes a list. A one-step batch (live,
    clock-driven) reads each symbol's row directly.
    """
    out: list[tuple[list[Any], int] | None] = []
    if base_idx.shape[0] == 1:
        for s, row in enumerate(base_idx[0].tolist()):
            out.append(None if row < 0 else ([_new_tuple(Bar, (symbols[s], *series[s].row(row)))], row))
        return out
    for s, symbol in enumerate(symbols):
        col = base_idx[:, s]
        present = col[col >= 0]
        if not present.shape[0]:
            out.append(None)
            continue
        first, last = int(present[0]), int(present[-1]) + 1
        view = series[s].view(last).slice(first, last)
        rows = zip(repeat(symbol), *(c.tolist() for c in view))
        out.append((list(map(_new_tuple, repeat(Bar), rows)), first))
    return out
