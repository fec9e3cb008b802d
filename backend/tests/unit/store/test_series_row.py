"""BarSeries.row: one published row as Python scalars (the engine's one-step path)."""

from __future__ import annotations

import pytest
from app.store.series import BarSeries


def test_row_returns_a_published_row_as_python_scalars_and_refuses_unpublished_ones():
    series = BarSeries("X/1m", capacity=4)
    series.append_one(60, 1.0, 2.0, 0.5, 1.5, 10.0)

    row = series.row(0)

    assert row == (60, 1.0, 2.0, 0.5, 1.5, 10.0)
    assert [type(v) for v in row] == [int, float, float, float, float, float]
    with pytest.raises(IndexError, match="row 1 of 1 published"):
        series.row(1)
