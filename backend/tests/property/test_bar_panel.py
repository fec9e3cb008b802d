"""BarPanel: a step's bars written for all symbols at once equal per-symbol appends, row for row;
published rows never change; a bar not after its symbol's last, or past the capacity, is refused."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from app.errors import InvariantError
from app.store.bar import BarArrays
from app.store.panel import BarPanel
from app.store.series import BarSeries
from hypothesis import example, given, settings
from hypothesis import strategies as st
from strategies import ANCHOR, MINUTE, ohlcv_rows


def columns(starts, rows) -> BarArrays:
    values = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return BarArrays(np.array(starts, dtype=np.int64), *(values[:, j].copy() for j in range(5)))


@st.composite
def stepped(draw, max_symbols=6, max_steps=12):
    """Per step, which symbols have a bar and their values."""
    n = draw(st.integers(1, max_symbols))
    steps = draw(st.integers(0, max_steps))
    present = [draw(st.lists(st.booleans(), min_size=n, max_size=n)) for _ in range(steps)]
    values = [draw(ohlcv_rows(sum(p))) for p in present]
    return n, present, values


def write_step(panel, idx, which, cols, rows, *, row_write, via_series):
    """One step's bars into `panel`, one of three ways; return (the row written for all, or None;
    each symbol's row written)."""
    n = len(panel.series)
    before = [len(s) for s in panel.series]
    if idx is None and row_write:  # the row write for all symbols (None when lengths differ)
        row = panel.append_all(int(cols.start[0]), [list(col) for col in zip(*rows, strict=True)])
        if row is not None:
            return row, np.full(n, row)
    if via_series and idx is not None:  # the per-symbol way in: BarSeries.append on the row's series
        for j, s in enumerate(which):
            panel.series[s].append(cols.slice(j, j + 1))
        return None, np.array([before[s] for s in which])
    return None, panel.append_step(idx, cols)


@settings(deadline=None)
@given(case=stepped(), all_index=st.booleans(), by_symbol=st.booleans(), via_series=st.booleans())
@example(case=(2, [[True, True]] * 3, [[(1, 2, 1, 1, 5), (2, 3, 2, 2, 6)]] * 3), all_index=True, by_symbol=False,
         via_series=False)
def test_panel_steps_equal_per_symbol_appends_and_views_never_change(case, all_index, by_symbol, via_series):
    # Arrange: a panel and, as the reference, one BarSeries per symbol fed with append_one
    n, present, values = case
    panel = BarPanel([f"S{i}/1m" for i in range(n)], capacity=len(present) + 1, by_symbol=by_symbol)
    ref = [BarSeries(f"S{i}/1m", capacity=1) for i in range(n)]
    seen: list[tuple[int, BarArrays, BarArrays]] = []  # (symbol, view taken, its copy)
    for k, (have, rows) in enumerate(zip(present, values, strict=True)):
        which = [s for s in range(n) if have[s]]
        start = ANCHOR + k * MINUTE
        cols = columns([start] * len(which), rows)
        # Act: one step for every symbol with a bar (None when all of them have one)
        idx = None if (all_index and len(which) == n) else np.array(which, dtype=np.int64)
        before = [len(s) for s in panel.series]
        row, written = write_step(panel, idx, which, cols, rows, row_write=k % 2 == 0, via_series=via_series)
        for j, s in enumerate(which):
            ref[s].append_one(start, *rows[j])
        # Assert: the rows written are each symbol's length before; the views equal the reference
        assert written.tolist() == [before[s] for s in which]
        assert panel.lens.tolist() == [len(s) for s in ref]
        for s in range(n):
            got, want = panel.series[s].view(), ref[s].view()
            assert len(panel.series[s]) == len(ref[s])
            for a, b in zip(got, want, strict=True):
                np.testing.assert_array_equal(a, b)
            if len(want):
                assert panel.series[s].row(len(want) - 1) == ref[s].row(len(want) - 1)
        if row is not None:  # the step's row for all symbols, as written
            assert panel.row(row).start.tolist() == [start] * n
            assert [c.tolist() for c in panel.row(row)[1:]] == [list(c) for c in zip(*rows, strict=True)]
            view = panel.series[s].view()
            seen.append((s, view, BarArrays(*(c.copy() for c in view))))
            assert not by_symbol or all(c.flags.c_contiguous for c in view)
    # Every view taken along the way still shows what it showed (no published row rewritten)
    for _, view, copy in seen:
        for a, b in zip(view, copy, strict=True):
            np.testing.assert_array_equal(a, b)
            assert not a.flags.writeable


@pytest.mark.unit
def test_a_bar_not_after_the_last_or_past_the_capacity_is_refused_and_nothing_is_written():
    # Arrange: two symbols, capacity 2, one step written
    panel = BarPanel(["A/1m", "B/1m"], capacity=2)
    panel.append_step(None, columns([ANCHOR, ANCHOR], [(1, 2, 1, 1, 5)] * 2))
    # Act / Assert: B's bar at the same start is refused; A's row is not written either
    with pytest.raises(InvariantError, match=r"series B/1m: appended bar at .* is not after"):
        panel.append_step(None, columns([ANCHOR + MINUTE, ANCHOR], [(1, 2, 1, 1, 5)] * 2))
    assert panel.lens.tolist() == [1, 1] and [len(s) for s in panel.series] == [1, 1]
    panel.append_step(np.array([0]), columns([ANCHOR + MINUTE], [(3, 4, 3, 3, 5)]))
    with pytest.raises(InvariantError, match=r"series A/1m: full \(2 rows\)"):
        panel.append_step(np.array([0]), columns([ANCHOR + 2 * MINUTE], [(3, 4, 3, 3, 5)]))
    assert panel.series[0].view().open.tolist() == [1.0, 3.0]


@pytest.mark.threads
def test_a_second_writer_thread_is_refused():
    # Arrange: the main thread writes first (it owns the panel)
    panel = BarPanel(["A/1m"], capacity=4)
    panel.append_step(None, columns([ANCHOR], [(1, 2, 1, 1, 5)]))
    errors: list[BaseException] = []

    def other() -> None:
        try:
            panel.append_step(None, columns([ANCHOR + MINUTE], [(1, 2, 1, 1, 5)]))
        except InvariantError as e:
            errors.append(e)

    # Act
    t = threading.Thread(target=other)
    t.start()
    t.join()
    # Assert
    assert len(errors) == 1 and "second writer" in str(errors[0]) and len(panel.series[0]) == 1


@pytest.mark.unit
def test_the_row_write_for_all_symbols_needs_equal_lengths_and_a_later_start():
    # Arrange: two symbols, one step each via the row write
    panel = BarPanel(["A/1m", "B/1m"], capacity=4)
    assert panel.append_all(ANCHOR, [[1.0, 2.0], [2.0, 3.0], [1.0, 2.0], [1.0, 2.0], [5.0, 6.0]]) == 0
    # Act / Assert: a start not after the latest is refused (nothing written)
    assert panel.append_all(ANCHOR, [[1.0, 2.0]] * 5) is None
    # only A gets the next bar: lengths differ, so the row write is refused until B catches up
    panel.append_step(np.array([0]), columns([ANCHOR + MINUTE], [(3, 4, 3, 3, 5)]))
    assert panel.append_all(ANCHOR + 2 * MINUTE, [[1.0, 2.0]] * 5) is None
    panel.append_step(np.array([1]), columns([ANCHOR + 2 * MINUTE], [(3, 4, 3, 3, 5)]))
    assert panel.append_all(ANCHOR + 3 * MINUTE, [[7.0, 8.0]] * 5) == 2
    assert panel.lens.tolist() == [3, 3]
    assert panel.series[0].view().open.tolist() == [1.0, 3.0, 7.0]
    assert panel.series[1].view().start.tolist() == [ANCHOR, ANCHOR + 2 * MINUTE, ANCHOR + 3 * MINUTE]
    assert panel.series[1].view().open.tolist() == [2.0, 3.0, 8.0]
    assert not panel.row(2).open.flags.writeable
