"""A daily base interval runs like any other: one step per session, at the close."""

from __future__ import annotations

from datetime import date

import pytest
from app.config import load_session_config
from app.runtime.run import run
from support.runs import make_store, write_config


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    return make_store(tmp_path_factory.mktemp("store"), start=date(2024, 6, 3), end=date(2024, 7, 9))


def test_a_daily_base_backtest_shows_one_bar_per_session_at_its_close(store, tmp_path):
    cfg = write_config(tmp_path / "d.yaml", store, streams=["1d"],
                       backtest={"start_date": "2024-07-01", "end_date": "2024-07-05"},
                       historical={"data": [{"trailing_days": 10, "intervals": ["1d"]}]},
                       strategy={"class": "app.strategies.sma_cross:SmaCross", "params": {"fast": 2, "slow": 5, "quantity": 5}})
    result = run(load_session_config(cfg), tmp_path / "out")
    assert [r["date"] for r in result.records] == ["2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05"]
    for record in result.records:
        for symbol in ("AAPL", "SPY"):
            assert record["bars"][symbol] == {"1d": 1}
            q = record["quality"][symbol]
            assert (q["expected"], q["present"], q["quality_pct"]) == (1, 1, 100.0)
            assert q["historical_quality_pct"]["1d"] == 100.0
    assert result.summary["steps"] == 4
