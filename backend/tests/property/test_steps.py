"""build_steps: every bar lands on exactly one step, steps strictly increase."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
from hypothesis import given

from app.bars.steps import build_steps

MIN = 60_000_000_000


@given(st.lists(st.sets(st.integers(0, 50), max_size=30), min_size=1, max_size=4))
def test_steps_cover_every_bar_once_in_time_order(per_symbol):
    starts = [np.array(sorted(s), dtype=np.int64) * MIN for s in per_symbol]
    ends, idx = build_steps(starts, MIN)
    naive_steps = sorted(set().union(*per_symbol))
    assert (ends // MIN - 1).tolist() == naive_steps
    for s, sym_starts in enumerate(starts):
        rows = idx[:, s]
        assert rows[rows >= 0].tolist() == list(range(sym_starts.shape[0]))
        for k, row in enumerate(rows.tolist()):
            if row >= 0:
                assert sym_starts[row] + MIN == ends[k]


def test_no_bars_means_no_steps():
    ends, idx = build_steps([np.empty(0, np.int64), np.empty(0, np.int64)], MIN)
    assert ends.shape == (0,) and idx.shape == (0, 2)
