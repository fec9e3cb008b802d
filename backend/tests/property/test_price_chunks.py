"""report.html's price line read a few row groups at a time equals the line from the whole file."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from app.report.prices import SessionSpans, price_line, read_symbol_bars, symbol_price_line
from app.store.bar import BarArrays, parse_interval
from app.store.files import bar_path, write_bars
from hypothesis import given, settings
from hypothesis import strategies as st

_NS = 1_000_000_000
_MIN = 60 * _NS


def _spans(days: int, minutes: int) -> SessionSpans:
    opens = np.array([(d * 1440 + 570) * _MIN for d in range(days)], dtype=np.int64)
    return SessionSpans(opens, opens + minutes * _MIN, np.full(days, -4 * 3600, dtype=np.int64),
                        [f"2024-01-{d + 1:02d}" for d in range(days)])


@pytest.mark.property
@settings(max_examples=30, deadline=None)
@given(days=st.integers(1, 6), minutes=st.integers(1, 40), rows=st.integers(0, 400),
       group_rows=st.integers(1, 64), at_once=st.integers(1, 3), max_points=st.integers(2, 120),
       seed=st.integers(0, 2**32 - 1))
def test_the_line_read_in_chunks_equals_the_line_of_the_whole_file(days, minutes, rows, group_rows, at_once,
                                                                    max_points, seed):
    # Minute bars at random minutes of the days (in and out of the sessions, some repeated),
    # in time order, written in small row groups: every way a bucket can be cut by a chunk.
    rng = np.random.default_rng(seed)
    spans = _spans(days, minutes)
    day = rng.integers(0, days, rows)
    minute = rng.integers(-3, minutes + 3, rows)  # mostly in the sessions, a few just outside
    starts = np.sort(day * 1440 + 570 + minute).astype(np.int64) * _MIN
    closes = np.round(rng.uniform(10, 20, rows), 2)
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp)
        path = write_bars(store, parse_interval("1m"), "X", BarArrays(starts, closes, closes, closes, closes,
                                                                       np.ones(rows)))
        pq.write_table(pq.read_table(path), path, row_group_size=group_rows)
        assert bar_path(store, parse_interval("1m"), "X") == path
        want = price_line(*read_symbol_bars(store, "1m", "X", spans), spans, 60, max_points)
        got = symbol_price_line(store, "1m", "X", spans, 60, max_points, groups_at_once=at_once)
    assert (got.x, got.y, got.step_s, got.bars) == (want.x, want.y, want.step_s, want.bars)


@pytest.mark.unit
def test_rows_out_of_time_order_are_read_whole_and_sorted(tmp_path):
    spans = _spans(2, 30)
    starts = (np.array([1, 0, 3, 2, 1445, 1441], dtype=np.int64) + 570) * _MIN
    closes = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    path = write_bars(tmp_path, parse_interval("1m"), "X", BarArrays(starts, closes, closes, closes, closes,
                                                                      np.ones(6)))
    pq.write_table(pq.read_table(path), path, row_group_size=2)
    order = np.argsort(starts, kind="stable")
    want = price_line(starts[order], closes[order], spans, 60)
    for at_once in (1, 16):  # several chunks, and one
        got = symbol_price_line(tmp_path, "1m", "X", spans, 60, groups_at_once=at_once)
        assert (got.x, got.y) == (want.x, want.y) and got.y[:4] == [2.0, 1.0, 4.0, 3.0]
