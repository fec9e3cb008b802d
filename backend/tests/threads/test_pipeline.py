"""The four threads in-process: a failure in each one, no lookahead, determinism under a shaken schedule."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from app.config import load_session_config
from app.errors import SessionAborted
from app.runtime.run import run
from app.store.bar import parse_interval
from app.store.files import bar_path, read_bars_file
from app.timing.stopwatch import ManualTime
from support import recording, scripted
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
    # Arrange: a clock-driven run slow enough to interrupt mid-session (a step per second at 60x),
    # interrupted once its strategy has seen three steps (six bars: AAPL and SPY).
    cfg = write_config(tmp_path / "s.yaml", store, backtest={"speed_multiplier": 60},
                       strategy={"class": "support.scripted:LogsAtBar", "params": {"n": 6}})
    with running_cli(str(cfg), "--output", str(tmp_path / "out")) as proc:
        wait_for_log(tmp_path / "out", proc, "LogsAtBar: bar 6 seen")

        # Act
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)

    # Assert: the session in progress ended cleanly after the bars shown, with its report.
    assert proc.returncode == 130, err
    assert "interrupted; partial report written to" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "interrupted"
    [session] = json.loads((tmp_path / "out" / "sessions.json").read_text())
    assert session["clock"] == {"mode": "clock_driven", "requested_speed": 60.0}
    assert session["metrics"]["clock"]["achieved_speed"] > 0  # reported (pacing: the ManualTime tests below)
    q = session["quality"]["AAPL"]
    assert q["expected"] == q["present"] + q["missing"] and 3 <= q["expected"] < 390  # up to where it ended
    assert session["bars"]["AAPL"]["1m"] >= 3
    assert "Speed: requested 60.00x | achieved" in (tmp_path / "out" / "report.txt").read_text()


MINUTE_NS = 60 * 10**9
STEP_S_AT_6000 = 0.01  # one 1m step of real time at 6000x
EARLY_CLOSE = {"start_date": "2024-07-03", "end_date": "2024-07-03", "speed_multiplier": 6000}  # 210 minutes


def _step_ends(store: Path, symbol: str, open_ns: int, close_ns: int) -> np.ndarray:
    # One symbol's steps in a session: each stored bar ends a minute after its start.
    return read_bars_file(bar_path(store, parse_interval("1m"), symbol), open_ns, close_ns).start + MINUTE_NS


def _paced_run(store, tmp_path, monkeypatch):
    # A clock-driven run at 6000x on a ManualTime: no step comes due until the test moves real time.
    real = ManualTime()
    script = scripted.install(monkeypatch, real)
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"], streams=["1m", "5m"], backtest=EARLY_CLOSE,
                       strategy={"class": "support.scripted:Scripted", "params": {}})
    background = scripted.Background(_run, cfg, tmp_path / "out")
    try:
        background.wait(script.started, "the session start")
    except BaseException:
        background.abandon()
        raise
    p = script.pipeline
    state = p.data.current
    return real, script, background, p, _step_ends(store, "AAPL", state.open_ns, state.close_ns), state.open_ns


def test_clock_driven_run_reports_achieved_speed_and_counts_overruns_of_a_slow_strategy(store, tmp_path, monkeypatch):
    # Arrange: the first step comes due; the engine holds inside its bar (a slow strategy).
    real, script, background, p, ends, open_ns = _paced_run(store, tmp_path, monkeypatch)
    to_engine = p.subscriptions["Processor→Analysis"]
    try:
        scripted.wait_for(lambda: to_engine.backlog == 0, "the engine to take the session start")
        script.hold_at = 1
        real.jump((ends[0] - open_ns) / MINUTE_NS * STEP_S_AT_6000)
        background.wait(script.reached, "the first bar")

        # Act: five more minutes of the clock pass while the engine is busy with the first bar.
        real.jump(5 * STEP_S_AT_6000)
        late = int(np.count_nonzero(ends[1:] <= ends[0] + 5 * MINUTE_NS))
        scripted.wait_for(lambda: to_engine.statistics().signals == 2 + late, "the due steps to reach the engine")
        overruns, lag_ns = to_engine.overruns, to_engine.max_lag_ns
        script.release.set()
        real.jump(10)  # the rest of the session comes due at once (2.1 s of real time at 6000x)
        result = background.result()
    except BaseException:
        background.abandon()
        raise

    # Assert: each step handed to the busy engine was an overrun, late by the clock's lead over
    # the step it was busy with; no bar was dropped for being late.
    assert late == 5 and overruns == late and lag_ns == 5 * MINUTE_NS
    session = result.records[0]
    assert session["bars"]["AAPL"]["1m"] == session["quality"]["AAPL"]["present"] == len(ends)
    assert result.summary["bars_processed"] == len(ends) == len(script.bars)
    counters = session["metrics"]["counters"]
    assert counters["overruns.Processor→Analysis"] >= late  # and more when the rest came due at once
    assert counters["backpressure.processor_analysis"] == counters["overruns.Processor→Analysis"]
    assert session["clock"] == {"mode": "clock_driven", "requested_speed": 6000.0}
    clock = session["metrics"]["clock"]
    # 210 minutes of the clock over the 10.06 s of real time the test let pass.
    assert clock["achieved_speed"] == pytest.approx(210 * 60 / 10.06, rel=0.01)
    lateness = clock["max_lag_s_by_edge"]  # the worst lateness per stage edge
    assert lateness["Processor→Analysis"] >= 5 * 60 and clock["max_lag_s"] == max(lateness.values())
    assert "Worst Lateness: " in (tmp_path / "out" / "report.txt").read_text()


def test_clock_driven_run_never_runs_ahead_of_the_requested_speed(store, tmp_path, monkeypatch):
    # Arrange: the clock-driven session on a ManualTime; the strategy will hold at the last bar due
    # after 20 minutes of the clock.
    real, script, background, p, ends, open_ns = _paced_run(store, tmp_path, monkeypatch)
    due = int(np.count_nonzero(ends <= open_ns + 20 * MINUTE_NS))
    to_engine = p.subscriptions["Processor→Analysis"]
    try:
        script.hold_at = due

        # Act: 20 minutes of the clock pass (0.2 s of real time at 6000x), then the rest of the session.
        real.jump(20 * STEP_S_AT_6000)
        background.wait(script.reached, f"bar {due}")
        handed = to_engine.statistics().signals - 1  # steps handed to the engine (after the session start)
        clock_at_hold = p.tm.now_ns()
        script.release.set()
        real.jump(10)
        result = background.result()
    except BaseException:
        background.abandon()
        raise

    # Assert: no step was handed over before the paced clock reached its end.
    assert clock_at_hold == open_ns + 20 * MINUTE_NS
    assert handed == due  # the next step is not due: it was not handed over
    assert [end for _, end, _ in script.bars] == ends.tolist()
    assert all(start + MINUTE_NS == end <= clock for start, end, clock in script.bars)
    achieved = result.records[0]["metrics"]["clock"]["achieved_speed"]
    assert 0 < achieved <= 6000


def test_a_strategy_that_ignores_stop_is_interrupted_and_the_run_ends_with_its_reports(store, tmp_path):
    # Arrange: the engine hangs inside user code (a Python loop); Ctrl-C asks everything to stop.
    cfg = write_config(tmp_path / "s.yaml", store, run={"join_timeout_s": 5},
                       strategy={"class": "support.recording:IgnoresStop", "params": {}})
    with running_cli(str(cfg), "--output", str(tmp_path / "out"), "--quiet") as proc:
        wait_for_log(tmp_path / "out", proc, "IgnoresStop: stuck in on_bar")  # inside user code

        # Act
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)

    # Assert: no hang; the stuck callback was interrupted, every thread joined, reports written.
    assert proc.returncode == 130, err
    assert "did not stop" not in err
    assert (tmp_path / "out" / "report.txt").read_text().startswith("Run status: INTERRUPTED")


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
