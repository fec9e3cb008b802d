"""ValuePanel: a step's indicator values written for all symbols at once equal per-symbol appends
(mixed with per-symbol batches, as the processor mixes its two paths); published rows never
change; a full table and series that are not empty are refused."""

from __future__ import annotations

import numpy as np
import pytest
from app.errors import InvariantError
from app.store.series import ValueSeries
from app.store.value_panel import ValuePanel
from hypothesis import given
from hypothesis import strategies as st

_values = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def schedules(draw, max_symbols=5, max_ops=15):
    """Per operation: a step (which symbols and their values) or one symbol's batch of values."""
    n = draw(st.integers(1, max_symbols))
    ops = []
    for _ in range(draw(st.integers(0, max_ops))):
        if draw(st.booleans()):
            present = draw(st.lists(st.booleans(), min_size=n, max_size=n))
            ops.append(("step", present, draw(st.lists(_values, min_size=sum(present), max_size=sum(present)))))
        else:
            ops.append(("batch", draw(st.integers(0, n - 1)), draw(st.lists(_values, max_size=4))))
    return n, ops


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@given(schedules())
def test_steps_through_the_table_equal_per_symbol_appends_and_old_views_never_change(schedule):
    n, ops = schedule
    capacity = sum(len(op[2]) for op in ops) + 1
    ours = [ValueSeries(f"S{s}") for s in range(n)]
    theirs = [ValueSeries(f"S{s}") for s in range(n)]
    panel = ValuePanel(ours, capacity)
    seen: list[tuple[int, np.ndarray]] = []
    for kind, which, values in ops:
        if kind == "step":
            idx = [s for s in range(n) if which[s]]
            whole = len(idx) == n
            panel.append_step(None if whole else np.asarray(idx, dtype=np.int64), np.asarray(values, dtype=np.float64))
            for s, v in zip(idx, values, strict=True):
                theirs[s].append_one(v)
        else:  # the per-symbol path writes the same column; the panel takes the lengths back
            ours[which].append(np.asarray(values, dtype=np.float64))
            theirs[which].append(np.asarray(values, dtype=np.float64))
            assert panel.owns_all()
            panel.resync()
        for s in range(n):
            view = ours[s].view()
            seen.append((s, view.copy()))
            assert _same(view, theirs[s].view()) and len(ours[s]) == len(theirs[s])
    for s, before in seen:  # rows below a published length are never written again
        assert _same(ours[s].view()[: before.shape[0]], before)


def test_a_full_table_is_refused_and_nothing_is_written():
    series = [ValueSeries("A"), ValueSeries("B")]
    panel = ValuePanel(series, 1)
    panel.append_step(None, np.array([1.0, 2.0]))

    with pytest.raises(InvariantError, match="full"):
        panel.append_step(None, np.array([3.0, 4.0]))

    assert [s.view().tolist() for s in series] == [[1.0], [2.0]]


def test_series_that_hold_values_are_not_taken_on():
    full = ValueSeries("A")
    full.append_one(1.0)

    with pytest.raises(InvariantError, match="empty series only"):
        ValuePanel([full, ValueSeries("B")], 10)


def test_a_series_that_grows_out_of_its_column_is_no_longer_owned():
    series = [ValueSeries("A")]
    panel = ValuePanel(series, 2)
    series[0].append(np.arange(5, dtype=np.float64))  # past the table's rows: the series grows its own array

    assert not panel.owns_all()
    assert series[0].view().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
