"""RunMetrics.run_report: a run's time under metrics.backtest, or metrics.live for a live run."""

from __future__ import annotations

import pytest

from app.metrics.collect import RunMetrics


@pytest.mark.parametrize("mode", ["data_driven", "clock_driven"])
def test_a_backtest_reports_its_time_and_throughput_under_backtest(mode):
    out = RunMetrics(mode, 0.0).run_report(elapsed_s=4.0, bars=1_000, sessions=2)

    assert out["backtest"] == {"total_time_s": 4.0, "avg_per_day_s": 2.0, "bars_per_second": 250.0}
    assert "live" not in out


def test_a_live_run_reports_its_time_under_live_without_throughput():
    out = RunMetrics("live", 0.0).run_report(elapsed_s=600.0, bars=120, sessions=1)

    assert out["live"] == {"total_time_s": 600.0, "avg_per_session_s": 600.0}
    assert "backtest" not in out


def test_a_run_without_sessions_or_time_reports_zeros():
    assert RunMetrics("data_driven", 0.0).run_report(0.0, 0, 0)["backtest"] == {
        "total_time_s": 0.0, "avg_per_day_s": 0.0, "bars_per_second": 0.0}
    assert RunMetrics("live", 0.0).run_report(0.0, 0, 0)["live"] == {"total_time_s": 0.0, "avg_per_session_s": 0.0}
