"""The four threads in-process: a failure in each one, no lookahead, determinism under a shaken schedule."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from app.config import load_session_config
from app.errors import SessionAborted
from app.runtime.run import run
from support import recording
from support.runs import make_store, running_cli, wait_for_log, write_config


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    return make_store(tmp_path_factory.mktemp("store"))


def _run(cfg_path: Path, out: Path):
    return run(load_session_config(cfg_path), out)


def _boom(*args, **kwargs):
    raise RuntimeError("injected failure")


@pytest.mark.parametrize(
    ("thread", "target"),
    [
        ("SessionCoordinator", "app.feeds.window.WindowedBarSource.session_bars"),
        ("DataProcessor", "app.threads.processor.aggregate_bars"),
        ("DataUpkeep", "app.threads.upkeep.compute_quality"),
    ],
)
def test_failure_in_each_thread_stops_the_run_and_names_it(store, tmp_path, monkeypatch, thread, target):
    # Arrange
    cfg = write_config(tmp_path / "s.yaml", store)
    monkeypatch.setattr(target, _boom)

    # Act
    with pytest.raises(SessionAborted) as info:
        _run(cfg, tmp_path / "out")

    # Assert: the right thread is named with its cause, outputs exist, nothing left running.
    assert info.value.thread == thread
    assert f"{thread} failed" in str(info.value)
    assert "RuntimeError: injected failure" in str(info.value)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert (tmp_path / "out" / "summary.json").is_file()
    assert not [t for t in threading.enumerate() if t.name in
                ("SessionCoordinator", "DataProcessor", "DataUpkeep", "AnalysisEngine")]


def test_failure_in_the_engine_is_reported_with_clock_and_session(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store,
                       strategy={"class": "support.recording:FailAtBar", "params": {"n": 5}})
    with pytest.raises(SessionAborted, match=r"AnalysisEngine failed at 2024-07-01 09:33:00 America/New_York "
                                             r"\(session 2024-07-01\): ZeroDivisionError"):
        _run(cfg, tmp_path / "out")


def test_strategy_never_sees_a_bar_that_has_not_closed(store, tmp_path):
    # Arrange
    recording.RECORDS.clear()
    cfg = write_config(tmp_path / "s.yaml", store,
                       strategy={"class": "support.recording:Recorder",
                                 "params": {"fast": 3, "slow": 6, "quantity": 1, "derived": "5m"}})

    # Act
    _run(cfg, tmp_path / "out")

    # Assert: every visible base and derived bar had ended by the engine's clock.
    minute, five = 60_000_000_000, 300_000_000_000
    assert len(recording.RECORDS) > 2000
    for r in recording.RECORDS:
        assert r["bar_start"] + minute == r["now"]
        assert r["base_newest_start"] + minute <= r["now"]
        if r["derived_newest_start"] is not None:
            assert r["derived_newest_start"] + five <= r["now"]
        assert r["sma_len"] == r["base_len"]
        due = (r["now"] - r["open"]) // minute  # bars due by now (naive BEHAVIOURS 13 reference)
        assert r["quality"] == pytest.approx(min(100.0, 100.0 * r["base_len"] / due))
    derived_seen = [r for r in recording.RECORDS if r["derived_newest_start"] is not None]
    # A 5m bar appears exactly at its end, not later either (it is complete by then).
    assert any(r["derived_newest_start"] + five == r["now"] for r in derived_seen)


def test_determinism_under_a_shaken_thread_schedule(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL", "SPY"])
    baseline = _run(cfg, tmp_path / "a")
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        shaken = _run(cfg, tmp_path / "b")
    finally:
        sys.setswitchinterval(old)
    for name in ("fills.csv", "equity.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert baseline.summary["trading"] == shaken.summary["trading"]


def test_sigint_ends_a_clock_driven_run_cleanly_with_reports(store, tmp_path):
    # Arrange: a clock-driven run slow enough to interrupt mid-session.
    cfg = write_config(tmp_path / "s.yaml", store, backtest={"speed_multiplier": 60})
    with running_cli(str(cfg), "--output", str(tmp_path / "out")) as proc:
        wait_for_log(tmp_path / "out", proc)
        time.sleep(3.0)  # about three market minutes at 60x

        # Act
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)

    # Assert: the session in progress ended cleanly at the last step shown, with its report.
    assert proc.returncode == 130, err
    assert "interrupted; partial report written to" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    [session] = json.loads((tmp_path / "out" / "sessions.json").read_text())
    assert session["clock"] == {"mode": "clock_driven", "requested_speed": 60.0}
    assert 0 < session["metrics"]["clock"]["achieved_speed"] <= 60 * 1.01  # reported; pacing never runs ahead
    q = session["quality"]["AAPL"]
    assert q["expected"] == q["present"] + q["missing"] and q["expected"] < 390  # up to where it ended
    assert "Speed: requested 60.00x | achieved" in (tmp_path / "out" / "report.txt").read_text()


def test_clock_driven_run_reports_achieved_speed_and_counts_overruns_of_a_slow_strategy(store, tmp_path):
    # Arrange: one early-close session (210 minutes) at 6,000x -> a step is due every 10 ms,
    # while the strategy burns 25 ms per bar: the engine must fall behind.
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"], streams=["1m", "5m"],
                       backtest={"start_date": "2024-07-03", "end_date": "2024-07-03", "speed_multiplier": 6000},
                       strategy={"class": "support.recording:SlowStrategy", "params": {"busy_ms": 25.0}})

    # Act
    result = _run(cfg, tmp_path / "out")

    # Assert: bars are never dropped for being late; lateness is counted on the engine's edge.
    session = result.records[0]
    assert session["bars"]["AAPL"]["1m"] == session["quality"]["AAPL"]["present"]
    assert result.summary["bars_processed"] == session["bars"]["AAPL"]["1m"]
    counters = session["metrics"]["counters"]
    assert counters["overruns.Processor→Analysis"] > 10
    assert counters["backpressure.processor_analysis"] == counters["overruns.Processor→Analysis"]
    assert session["clock"] == {"mode": "clock_driven", "requested_speed": 6000.0}
    clock = session["metrics"]["clock"]
    assert 0 < clock["achieved_speed"] < 6000
    lateness = clock["max_lag_s_by_edge"]  # the worst lateness per stage edge
    assert lateness["Processor→Analysis"] > 0 and clock["max_lag_s"] == max(lateness.values())
    assert "Worst Lateness: " in (tmp_path / "out" / "report.txt").read_text()


def test_clock_driven_run_never_runs_ahead_of_the_requested_speed(store, tmp_path):
    # How close it gets is measured by verify/clock_pacing.py, not asserted on a shared machine.
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"], streams=["1m"],
                       backtest={"start_date": "2024-07-03", "end_date": "2024-07-03", "speed_multiplier": 6000})
    result = _run(cfg, tmp_path / "out")
    achieved = result.records[0]["metrics"]["clock"]["achieved_speed"]
    assert 0 < achieved <= 6000 * 1.01


def test_a_thread_that_ignores_stop_ends_the_process_with_a_stuck_thread_report(store, tmp_path):
    # Arrange: the engine hangs inside user code; Ctrl-C asks everything to stop.
    cfg = write_config(tmp_path / "s.yaml", store, run={"join_timeout_s": 1},
                       strategy={"class": "support.recording:IgnoresStop", "params": {}})
    with running_cli(str(cfg), "--output", str(tmp_path / "out")) as proc:
        wait_for_log(tmp_path / "out", proc, "IgnoresStop: stuck in on_bar")  # inside user code

        # Act
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)

    # Assert: no hang; the stuck thread is named and its stack dumped.
    assert proc.returncode == 1, err
    assert "error: thread AnalysisEngine did not stop within 1 s; giving up" in err
    assert 'Thread' in err and "on_bar" in err


def test_a_failure_while_writing_outputs_does_not_hide_the_runs_own_failure(store, tmp_path, monkeypatch):
    import app.runtime.run as run_module

    def broken_outputs(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(run_module, "write_outputs", broken_outputs)
    cfg = write_config(tmp_path / "s.yaml", store,
                       strategy={"class": "support.recording:FailAtBar", "params": {"n": 5}})
    with pytest.raises(SessionAborted, match="AnalysisEngine failed"):
        _run(cfg, tmp_path / "out")
    assert "writing the outputs also failed: OSError: disk full" in (tmp_path / "out" / "run.log").read_text()
