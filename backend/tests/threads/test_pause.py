"""Pause and resume (BEHAVIOURS 8, 29): the clock and delivery stop within one step, nothing is lost."""

from __future__ import annotations

import json
import logging
import os
import signal
from typing import Any

import pytest
from app.backtest import main
from app.config import load_session_config
from app.errors import ConfigError
from app.metrics.collect import RunMetrics
from app.runtime.build import build
from app.runtime.controls import RunControls
from app.runtime.run import run
from app.store.bar import parse_interval
from app.sync.stop import StopToken
from app.threads.pause import PauseGate
from app.threads.step_sources import ClockDrivenSteps, StreamOutcome
from app.timing.clocks import ScaledClock
from app.timing.stopwatch import ManualTime, Stopwatch
from support import scripted
from support.runs import make_store, write_config

EARLY_CLOSE = {"start_date": "2024-07-03", "end_date": "2024-07-03"}  # 210 one-minute bars


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("store"))


def _steps(controls: RunControls | Any) -> int:
    # The engine's steps so far, from the controls' pipeline or a pipeline.
    p = controls._pipeline if isinstance(controls, RunControls) else controls
    return p.engine.results.steps if p else 0


STEP_S_AT_3000 = 0.02  # one 1m step of real time at 3000x


@pytest.mark.parametrize("speed", [3000, 0])
def test_pause_freezes_clock_and_delivery_and_resume_loses_nothing(store, tmp_path, monkeypatch, speed):
    # Arrange: the run's real time is a ManualTime; at 3000x each bar "costs" two steps of it
    # (the clock runs ahead of the engine) and the first step comes due at the session start.
    # The strategy holds inside its 20th bar until released; the gate says who waits at it.
    real = ManualTime()
    script = scripted.install(monkeypatch, real, hold_at=20,
                              kick_s=STEP_S_AT_3000 if speed else 0.0, cost_s=2 * STEP_S_AT_3000 if speed else 0.0)
    cfg = write_config(tmp_path / "p.yaml", store, symbols=["AAPL"], streams=["1m", "5m"],
                       backtest={**EARLY_CLOSE, "speed_multiplier": speed}, run={"batch_steps": 1},
                       strategy={"class": "support.scripted:Scripted", "params": {}})
    controls = RunControls()
    background = scripted.Background(run, load_session_config(cfg), tmp_path / "out", controls=controls)
    try:
        background.wait(script.reached, "the 20th bar")
        p = script.pipeline
        to_engine = p.subscriptions["Processor→Analysis"]
        # SessionStart and steps 1..21 are with the engine, so it will come to the gate.
        scripted.wait_for(lambda: to_engine.statistics().signals >= 22, "step 21 published to the engine")

        # Act: pause while the engine is inside bar 20, let that step finish, wait until the
        # engine waits at the gate; then a minute of real time passes, then resume.
        controls.pause()
        steps_at_pause = _steps(controls)
        script.release.set()
        gate = p.coordinator.gate
        background.wait(gate.waiting("AnalysisEngine"), "the engine waits at the gate")
        if not speed:  # data-driven: the coordinator holds its next hand-off (or has handed off the day)
            close_ns = p.data.current.close_ns
            scripted.wait_for(lambda: gate.waiting("SessionCoordinator").is_set() or p.tm.now_ns() == close_ns,
                              "the coordinator to hold at the gate")
        held = (_steps(controls), p.tm.now_ns(), len(script.bars))
        real.jump(60)
        later = (_steps(controls), p.tm.now_ns(), len(script.bars))
        paused = controls.paused
        controls.resume()
        result = background.result()
    except BaseException:
        background.abandon()
        raise

    # Assert: delivery stopped within one step (the one in flight), the clock stood still for
    # the paused minute, and resuming lost and repeated nothing.
    assert paused is True
    assert steps_at_pause == 19 and held[0] == 20 and held[2] == 20
    assert later == held  # frozen: a minute at 3000x would have moved the scaled clock 50 hours
    [session] = result.records
    bars = session["bars"]["AAPL"]["1m"]
    assert bars == session["quality"]["AAPL"]["present"] > 200  # every stored bar of the day
    starts = [start for start, _, _ in script.bars]
    assert starts == sorted(set(starts)) and len(starts) == bars  # none lost, none repeated
    assert gate.paused_ns == 60 * 10**9  # exactly the paused minute (left out of the achieved speed)


def test_a_live_run_cannot_be_paused(store, tmp_path, monkeypatch):
    monkeypatch.setenv("K", "k")
    monkeypatch.setenv("S", "s")
    cfg = write_config(tmp_path / "l.yaml", store, mode="live", calendar="24/7",
                       live={"stream_url": "ws://127.0.0.1:9/v2/iex", "rest_url": "http://127.0.0.1:9",
                             "key_env": "K", "secret_env": "S"})
    pipeline = build(load_session_config(cfg), lambda i, s: None)
    controls = RunControls()
    controls.bind(pipeline)
    with pytest.raises(ConfigError, match="live sessions cannot be paused"):
        controls.pause()
    assert controls.toggle().startswith("live sessions cannot be paused")
    assert not controls.paused
    pipeline.coordinator.steps.close()


def test_scaled_clock_pause_stops_virtual_time_and_resume_continues_from_there():
    real = ManualTime()  # real time moves only when the test says so (trio MockClock style)
    clock = ScaledClock(1000.0, start_ns=0, real_ns=real)
    real.jump(0.01)
    clock.pause()
    frozen = clock.now_ns()
    assert frozen == 10 * 10**9  # 10 ms at 1000x
    real.jump(60)
    assert clock.now_ns() == frozen and clock.paused
    assert clock.real_seconds_until(frozen + 1) == float("inf") and clock.real_seconds_until(frozen) == 0.0
    clock.resume()
    assert clock.now_ns() == frozen  # from where it stopped: the paused minute is not replayed
    real.jump(0.01)
    assert clock.now_ns() == frozen + 10 * 10**9
    assert not clock.paused and clock.real_seconds_until(clock.now_ns() + 10**9) == 1e-3


def test_pause_gate_freezes_its_owner_clock_and_times_the_pause_on_its_stopwatch():
    real = ManualTime()
    clock = ScaledClock(60.0, start_ns=0, real_ns=real)
    gate = PauseGate(on_pause=clock.pause, on_resume=clock.resume, stopwatch=Stopwatch(real))
    real.jump(1)
    gate.pause()
    gate.pause()  # idempotent: the pause is timed from the first call
    assert gate.paused and not gate.wait_open(0)
    real.jump(30)
    assert clock.now_ns() == 60 * 10**9  # frozen at one real second
    gate.resume()
    gate.resume()
    assert not gate.paused and gate.wait_open(0)
    assert gate.paused_ns == 30 * 10**9  # left out of the achieved speed
    real.jump(1)
    assert clock.now_ns() == 120 * 10**9


def test_a_clock_driven_step_comes_due_only_when_the_scaled_clock_reaches_its_end():
    # ClockDrivenSteps' pacing on a ManualTime: a drain request makes every wait answer at once
    # (DRAINED: not due yet, None: due), so nothing here sleeps.
    real = ManualTime()
    clock = ScaledClock(60.0, start_ns=0, real_ns=real)
    steps = ClockDrivenSteps(None, ("AAPL",), parse_interval("1m"), (), RunMetrics("clock_driven", 60.0),
                             StopToken(), clock, Stopwatch(real))
    steps.request_drain()
    minute = 60 * 10**9
    assert steps._wait_until(minute) is StreamOutcome.DRAINED
    real.jump(0.999)
    assert steps._wait_until(minute) is StreamOutcome.DRAINED
    real.jump(0.001)
    assert steps._wait_until(minute) is None  # one real second = the step's minute at 60x
    steps.pause()
    real.jump(3600)
    assert steps._wait_until(2 * minute) is StreamOutcome.DRAINED  # paused: never comes due
    steps.resume()
    real.jump(1)
    assert steps._wait_until(2 * minute) is None
    assert steps.gate.paused_ns == 3600 * 10**9


def test_sigusr1_pauses_and_resumes_a_clock_driven_cli_run(store, tmp_path, monkeypatch, capsys):
    # Arrange: the CLI in this process (its SIGUSR1 handler runs on this, the main, thread), on a
    # ManualTime as above; the strategy holds inside its 20th bar, and a helper thread sends the
    # signals once the run is there (the main thread is inside the CLI).
    real = ManualTime()
    script = scripted.install(monkeypatch, real, hold_at=20, kick_s=STEP_S_AT_3000, cost_s=2 * STEP_S_AT_3000)
    cfg = write_config(tmp_path / "c.yaml", store, symbols=["AAPL"], streams=["1m"],
                       backtest={**EARLY_CLOSE, "speed_multiplier": 3000},
                       strategy={"class": "support.scripted:Scripted", "params": {}})
    seen: dict[str, object] = {}

    def operator() -> None:
        try:
            assert script.reached.wait(scripted.WAIT_S), "the run never reached its 20th bar"
            p = script.pipeline
            gate = p.coordinator.gate
            os.kill(os.getpid(), signal.SIGUSR1)
            scripted.wait_for(lambda: gate.paused, "SIGUSR1 to pause the run")
            script.release.set()
            assert gate.waiting("AnalysisEngine").wait(scripted.WAIT_S), "the engine never stopped at the gate"
            seen["held"] = (_steps(p), p.tm.now_ns())
            real.jump(60)  # a paused minute: the clock would move 50 hours at 3000x
            seen["later"] = (_steps(p), p.tm.now_ns())
            os.kill(os.getpid(), signal.SIGUSR1)
            scripted.wait_for(lambda: not gate.paused, "SIGUSR1 to resume the run")
        except BaseException:
            script.release.set()
            if script.pipeline is not None:
                script.pipeline.stop.set(reason="the test failed")
            raise

    handler = signal.getsignal(signal.SIGUSR1)
    formatters = [(h, h.formatter) for h in logging.getLogger().handlers]  # main() sets its own
    helper = scripted.Background(operator)
    try:
        # Act
        code = main([str(cfg), "--output", str(tmp_path / "out"), "-q"])
    finally:
        signal.signal(signal.SIGUSR1, handler)
        for h, f in formatters:
            h.setFormatter(f)
        helper.result()

    # Assert: the CLI said where the clock stood at each signal: the same instant, since the
    # paused minute did not move it; delivery stopped; the run then went on to its end.
    err = capsys.readouterr().err
    assert code == 0, err
    paused = err.split("paused at ")[1].split("\n")[0]
    resumed = err.split("resumed at ")[1].split("\n")[0]
    assert paused.startswith("2024-07-03") and paused == resumed
    assert seen["later"] == seen["held"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["bars_processed"] > 200


STEP_S_AT_6000 = 0.01  # one 1m step of real time at 6000x


def _status_run(store, tmp_path, monkeypatch, on_status):
    # A clock-driven run on a ManualTime whose first five steps come due at the session start and
    # whose strategy holds inside its 5th bar; status lines are due every 1 ms of real time (6 s
    # of the clock at 6000x), so only this test's jumps make them due.
    real = ManualTime()
    script = scripted.install(monkeypatch, real, kick_s=5 * STEP_S_AT_6000, hold_at=5)
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"], streams=["1m"],
                       backtest={**EARLY_CLOSE, "speed_multiplier": 6000},
                       strategy={"class": "support.scripted:Scripted", "params": {}})
    controls = scripted.ObservedControls(on_status=on_status, every_s=0.001)
    background = scripted.Background(run, load_session_config(cfg), tmp_path / "out", controls=controls)
    return real, script, controls, background


def test_a_paced_run_reports_its_status_periodically(store, tmp_path, monkeypatch):
    lines = scripted.Lines()
    real, script, controls, background = _status_run(store, tmp_path, monkeypatch, lines)
    try:
        background.wait(script.reached, "the 5th bar")
        controls.wait_ticks(2)  # a line due before the hold is out; the next is due 1 ms later
        before = len(lines.lines)

        # Act: three periods of real time pass while the engine is held, one at a time.
        for period in range(1, 4):
            real.jump(0.001)
            lines.wait_count(before + period)
        controls.wait_ticks(2)  # real time stands still: more ticks, no more lines
        during = lines.lines[before:]
        script.release.set()
        real.jump(10)  # the rest of the session (2.1 s of real time at 6000x)
        background.result()
    except BaseException:
        background.abandon()
        raise

    # Assert: one line per period, each with the clock (moved 6 s per period) and the progress.
    p = script.pipeline
    hold_ns = p.data.current.open_ns + 5 * 60 * 10**9
    assert [line.split(" | ")[0] for line in during] == [
        f"[clock_driven] {p.tm.format_ns(hold_ns + k * 6 * 10**9)}" for k in (1, 2, 3)]
    assert all(" | bars 4 | steps 4 | " in line for line in during), during
    bars = [int(line.split("| bars ")[1].split(" ")[0].replace(",", "")) for line in lines.lines]
    assert bars == sorted(bars)


def test_a_failing_status_line_never_takes_the_run_down(store, tmp_path, monkeypatch):
    lines = scripted.Lines(fail_with=ValueError("status sink is broken"))
    real, script, controls, background = _status_run(store, tmp_path, monkeypatch, lines)
    try:
        background.wait(script.reached, "the 5th bar")
        controls.wait_ticks(2)
        real.jump(0.001)  # a status line comes due, and its sink raises
        scripted.wait_for(lambda: controls.tick_errors, "the status line to fail")
        script.release.set()
        real.jump(10)
        result = background.result()
    except BaseException:
        background.abandon()
        raise
    assert result.summary["status"] == "completed" and len(result.records) == 1
    assert "status heartbeat failed" in (tmp_path / "out" / "run.log").read_text()
    assert len(lines.lines) == len(controls.tick_errors) == 1  # no status line after the failure
