"""The output writer process's equity curve for report.html (held, then spooled past a bound)
draws the same points as `equity_view` of the whole curve, wherever the chunks and the bound fall."""

from __future__ import annotations

import numpy as np
import pytest
from app.report.run_charts import equity_view
from app.report.run_files import Equity, StampRows
from app.runtime.outputs_follower import _HeldThenSpooled
from hypothesis import given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.property


def _stamps(n: int) -> np.ndarray:
    text = b"".join(f"2023-01-03T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}-05:00".encode() for i in range(n))
    return np.frombuffer(text, dtype=np.uint8).reshape(n, 25).copy()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 4000), seed=st.integers(0, 2**32 - 1), chunk=st.integers(1, 700),
       rows=st.integers(1, 3000), hold=st.integers(1, 6000), max_points=st.sampled_from([10, 200, 5000]))
def test_held_then_spooled_draws_what_equity_view_draws(tmp_path_factory, n, seed, chunk, rows, hold, max_points):
    rng = np.random.default_rng(seed)
    equity = 1000 + np.cumsum(rng.normal(size=n))
    stamps = _stamps(n)
    curve = _HeldThenSpooled(tmp_path_factory.mktemp("spool"), rows, hold)
    curve.max_points = max_points
    for at in range(0, n, chunk):
        curve.append((stamps[at:at + chunk], equity[at:at + chunk]))

    got, want = curve.view(), equity_view(Equity(StampRows(stamps), equity), max_points)

    assert (got.x, got.equity, got.drawdown, got.total) == (want.x, want.equity, want.drawdown, want.total)
