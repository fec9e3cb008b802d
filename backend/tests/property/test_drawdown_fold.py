"""A run's drawdown and per-symbol P&L folded a session at a time equal the whole-run figures, bit for bit."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
from hypothesis import given

from app.execution.orders import Fill, OrderSide
from app.metrics.stats import Drawdown, fold_fill_cash, max_drawdown_pct, symbol_pnl, symbol_pnl_of

_equity = st.floats(1.0, 1e7, allow_nan=False)


@given(st.lists(_equity, max_size=200), st.lists(st.integers(0, 200), max_size=6), _equity)
def test_drawdown_folded_in_pieces_equals_the_whole_curve(curve, cuts, starting_cash):
    equity = np.array(curve, dtype=np.float64)
    folded = Drawdown(starting_cash)
    bounds = sorted({0, len(curve), *(min(c, len(curve)) for c in cuts)})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        folded.fold(equity[lo:hi])

    assert folded.pct == max_drawdown_pct(equity, starting_cash)
    assert folded.last == (curve[-1] if curve else None)


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.booleans(), st.integers(1, 500),
                          st.floats(0.01, 1e4), st.floats(0, 5)), max_size=60),
       st.lists(st.integers(0, 60), max_size=5))
def test_symbol_pnl_folded_a_session_at_a_time_equals_the_whole_run(rows, cuts):
    fills = [Fill(i, s, OrderSide.BUY if buy else OrderSide.SELL, q, p, c, i) for i, (s, buy, q, p, c) in enumerate(rows)]
    books = {"A": (5, 10.0, 11.5), "B": (0, 0.0, 3.0)}
    cash: dict[str, float] = {}
    count: dict[str, int] = {}
    bounds = sorted({0, len(fills), *(min(c, len(fills)) for c in cuts)})
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        fold_fill_cash(fills[lo:hi], cash, count)

    assert symbol_pnl_of(cash, count, {}, books) == symbol_pnl(fills, {}, books)
