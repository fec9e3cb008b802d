"""Time steps of a session: the union of bar starts across symbols, in time order (pure)."""

from __future__ import annotations

import numpy as np

__all__ = ["build_steps"]


def build_steps(per_symbol_starts: list[np.ndarray], base_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(ends, base_idx)`` for a session's base bars.

    A step exists for every start at which at least one symbol has a bar ("no trade, no bar":
    the clock jumps over minutes without any). ``ends[k]`` is step k's start plus the base
    interval, the clock time at which its bars become visible. ``base_idx[k, s]`` is the row of
    symbol s's bar at step k in that symbol's (sorted, duplicate-free) starts, or -1.
    """
    n_sym = len(per_symbol_starts)
    if n_sym == 1:  # one symbol: a step per bar
        starts = per_symbol_starts[0]
        return starts + np.int64(base_ns), np.arange(starts.shape[0], dtype=np.int32).reshape(-1, 1)
    nonempty = [s for s in per_symbol_starts if s.shape[0]]
    if not nonempty:
        return np.empty(0, np.int64), np.empty((0, n_sym), np.int32)
    starts = np.unique(np.concatenate(nonempty)) if len(nonempty) > 1 else nonempty[0].copy()
    base_idx = np.full((starts.shape[0], n_sym), -1, dtype=np.int32)
    for s, sym_starts in enumerate(per_symbol_starts):
        if sym_starts.shape[0]:
            rows = np.searchsorted(starts, sym_starts)
            base_idx[rows, s] = np.arange(sym_starts.shape[0], dtype=np.int32)
    return starts + np.int64(base_ns), base_idx
