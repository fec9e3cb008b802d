"""Reusable hypothesis strategies for bars (import as ``from strategies import ...``)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from app.store.bar import BarArrays

NS = 1_000_000_000
MINUTE = 60 * NS
ANCHOR = 1_700_000_000 * NS  # an arbitrary session open, on no particular grid

_SPECIAL = [float("nan"), float("inf"), -float("inf"), 0.0, -1.0, -0.01]


def make_bars(starts, rows) -> BarArrays:
    """Return BarArrays from starts and (open, high, low, close, volume) rows."""
    cols = list(zip(*rows, strict=True)) if rows else [(), (), (), (), ()]
    return BarArrays(
        np.asarray(starts, dtype=np.int64), *(np.asarray(c, dtype=np.float64) for c in cols)
    )


_price = st.integers(1, 100_000)
_row = st.tuples(_price, _price, _price, _price, st.booleans(), st.integers(0, 1_000_000))


def _valid_row(raw: tuple[int, ...]) -> tuple[float, float, float, float, float]:
    four = sorted(raw[:4])
    first, second = (four[2], four[1]) if raw[4] else (four[1], four[2])
    return (first / 100, four[3] / 100, four[0] / 100, second / 100, float(raw[5]))


def ohlcv_rows(n: int) -> st.SearchStrategy[list[tuple[float, float, float, float, float]]]:
    """Draw `n` valid rows: prices in cents > 0, open/close within [low, high], integer volumes.

    Integer-valued volumes make summed volumes exact, so aggregation can be compared with ``==``.
    """
    return st.lists(_row.map(_valid_row), min_size=n, max_size=n)


@st.composite
def grid_bars(draw, n_slots: int, base_ns: int = MINUTE, anchor_ns: int = ANCHOR, fill=None):
    """Draw valid bars on a subset of the ``anchor + j * base`` slots, ``j < n_slots``.

    `fill` biases the draw towards present slots (complete windows are then common).
    """
    if fill is None:
        present = draw(st.lists(st.booleans(), min_size=n_slots, max_size=n_slots))
    else:
        present = [draw(st.floats(0, 1)) < fill for _ in range(n_slots)]
    slots = [j for j, p in enumerate(present) if p]
    rows = draw(ohlcv_rows(len(slots)))
    return make_bars([anchor_ns + j * base_ns for j in slots], rows)


@st.composite
def messy_bars(draw, max_size: int = 40):
    """Draw bars with NaN/inf/non-positive values, inverted ranges, disorder and duplicates."""
    n = draw(st.integers(0, max_size))
    starts = draw(st.lists(st.integers(0, 15), min_size=n, max_size=n))
    rows = []
    for row in draw(ohlcv_rows(n)):
        values = list(row)
        if draw(st.integers(0, 3)) == 0:
            values[draw(st.integers(0, 4))] = draw(st.sampled_from(_SPECIAL))
        if draw(st.integers(0, 5)) == 0:
            values[1], values[2] = values[2], values[1]
        rows.append(tuple(values))
    return make_bars([ANCHOR + s * MINUTE for s in starts], rows)


@st.composite
def series_bars(draw, min_size: int = 0, max_size: int = 60):
    """Draw a time series of valid bars (one per minute) for indicator tests."""
    n = draw(st.integers(min_size, max_size))
    rows = draw(ohlcv_rows(n))
    return make_bars([ANCHOR + j * MINUTE for j in range(n)], rows)


@st.composite
def split_points(draw, n: int) -> list[int]:
    """Draw sorted chunk boundaries ``0 = b0 <= b1 <= ... <= bk = n`` (empty chunks allowed)."""
    inner = draw(st.lists(st.integers(0, n), max_size=8))
    return [0, *sorted(inner), n]
