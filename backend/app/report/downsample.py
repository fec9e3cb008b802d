"""Thin long series for a web page without hiding what a trader looks for (pure functions).

A page with a million points is slow to open and no sharper than one with a few thousand:
`extreme_indices` keeps, per bucket of consecutive points, the ones where each given series is
lowest and highest, so peaks and the bottom of every drawdown stay on the chart.
`coarser_step` and `bucket_last` thin price bars to a coarser interval (the fills are drawn at
their exact time and price, not from the thinned bars).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MAX_POINTS", "PRICE_STEPS_S", "bucket_last", "coarser_step", "extreme_indices", "no_all_nan"]

MAX_POINTS = 5_000
"""Points per curve on a page, at most (about; `extreme_indices` says exactly)."""

PRICE_STEPS_S = (60, 300, 900, 1800, 3600, 7200, 14400, 86400)
"""Intervals a price chart may be thinned to, in seconds (1m ... 1d)."""


def extreme_indices(series: Sequence[np.ndarray], max_points: int = MAX_POINTS) -> np.ndarray:
    """Return sorted indices into the series (all of one length) to draw at most `max_points` points.

    Short series come back whole. Otherwise the points are cut into buckets of consecutive
    indices and each bucket keeps the index of its minimum and of its maximum in every series
    (2 per series per bucket), plus the first and last point. The indices are unique and sorted.
    """
    n = int(series[0].shape[0]) if series else 0
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    per_bucket = 2 * len(series)
    buckets = max(1, (max_points - 2) // per_bucket)
    size = -(-n // buckets)  # ceil: the last bucket may be short
    full = n // size
    picks: list[np.ndarray] = [np.array([0, n - 1], dtype=np.int64)]
    base = np.arange(full, dtype=np.int64) * size
    for values in series:
        head = values[: full * size].reshape(full, size)
        picks.append(base + np.nanargmin(no_all_nan(head), axis=1))
        picks.append(base + np.nanargmax(no_all_nan(head), axis=1))
        if full * size < n:
            tail = values[full * size:]
            if not np.all(np.isnan(tail)):
                picks.append(np.array([full * size + np.nanargmin(tail), full * size + np.nanargmax(tail)],
                                      dtype=np.int64))
    # Sorted and unique, without np.unique (its first call imports numpy.ma: ~25 ms in a run's process).
    out = np.sort(np.concatenate(picks))
    return out[np.r_[True, out[1:] != out[:-1]]]


def no_all_nan(block: np.ndarray) -> np.ndarray:
    """`block` (buckets x points) with each all-NaN row's first point made 0: nanargmin raises on
    a row of NaN only, so such a bucket keeps its first point."""
    bad = np.all(np.isnan(block), axis=1)
    if not bad.any():
        return block
    block = block.copy()
    block[bad, 0] = 0.0
    return block


def coarser_step(n_bars: int, base_s: int, max_points: int = MAX_POINTS) -> int:
    """Return the bar interval (seconds) to draw `n_bars` bars of `base_s` seconds in about `max_points`.

    `base_s` itself when the bars fit; else the smallest of `PRICE_STEPS_S` (above `base_s`) that
    brings the count under the limit, estimated as ``n_bars * base_s / step``; the largest when none does.
    """
    if n_bars <= max_points:
        return base_s
    for step in PRICE_STEPS_S:
        if step < base_s:
            continue
        if n_bars * base_s / step <= max_points:
            return step
    return max(PRICE_STEPS_S[-1], base_s)


def bucket_last(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (first index of each run of equal `keys`, last value of that run).

    `keys` are sorted bucket numbers (e.g. a bar's local time // step); the result keeps each
    bucket's opening index (its time label) and its closing value (the close of the bucket).
    """
    if keys.shape[0] == 0:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=values.dtype)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], keys.shape[0]] - 1
    return starts.astype(np.int64), values[ends]
