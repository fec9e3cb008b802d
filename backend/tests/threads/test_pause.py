"""Pause and resume (BEHAVIOURS 8, 29): the clock and delivery stop within one step, nothing is lost."""

from __future__ import annotations

import json
import signal
import threading
import time

import pytest
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
from support import recording
from support.runs import make_store, running_cli, wait_for_log, write_config

EARLY_CLOSE = {"start_date": "2024-07-03", "end_date": "2024-07-03"}  # 210 one-minute bars


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("store"))


def _steps(controls: RunControls) -> int:
    return controls._pipeline.engine.results.steps if controls._pipeline else 0  # type: ignore[union-attr]


@pytest.mark.parametrize("speed", [3000, 0])
def test_pause_freezes_clock_and_delivery_and_resume_loses_nothing(store, tmp_path, speed):
    cfg = write_config(tmp_path / "p.yaml", store, symbols=["AAPL"], streams=["1m", "5m"],
                       backtest={**EARLY_CLOSE, "speed_multiplier": speed},
                       run={"batch_steps": 1},
                       strategy={"class": "support.recording:Recorder",
                                 "params": {"fast": 3, "slow": 8, "busy_ms": 0.0 if speed else 2.0}})
    controls = RunControls()
    seen: dict[str, object] = {}

    def operator() -> None:
        deadline = time.monotonic() + 30
        while _steps(controls) < 20 and time.monotonic() < deadline:
            time.sleep(0.002)
        controls.pause()
        time.sleep(0.3)  # let the step in flight finish
        p = controls._pipeline
        seen["steps"], seen["now"] = _steps(controls), p.tm.now_ns()
        time.sleep(0.7)
        seen["steps_later"], seen["now_later"] = _steps(controls), p.tm.now_ns()
        seen["paused"], seen["gate"] = controls.paused, p.coordinator.gate
        controls.resume()

    recording.RECORDS.clear()
    helper = threading.Thread(target=operator)
    helper.start()
    result = run(load_session_config(cfg), tmp_path / "out", controls=controls)
    helper.join(10)
    assert seen["paused"] is True
    assert seen["steps_later"] == seen["steps"] and seen["now_later"] == seen["now"]  # frozen
    assert 20 <= seen["steps"] < 200  # paused mid-session
    [session] = result.records
    bars = session["bars"]["AAPL"]["1m"]
    assert bars == session["quality"]["AAPL"]["present"] > 200  # every stored bar of the day
    starts = [r["bar_start"] for r in recording.RECORDS]
    assert starts == sorted(set(starts)) and len(starts) == bars  # none lost, none repeated
    assert seen["gate"].paused_ns >= 1_000_000_000  # the pause (left out of the achieved speed) was timed


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


def test_sigusr1_pauses_and_resumes_a_clock_driven_cli_run(store, tmp_path):
    cfg = write_config(tmp_path / "c.yaml", store, symbols=["AAPL"], streams=["1m"],
                       backtest={**EARLY_CLOSE, "speed_multiplier": 1500})
    with running_cli(str(cfg), "--output", str(tmp_path / "out"), "-q") as proc:
        wait_for_log(tmp_path / "out", proc)
        time.sleep(1.5)
        proc.send_signal(signal.SIGUSR1)
        time.sleep(1.5)
        proc.send_signal(signal.SIGUSR1)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "paused at 2024-07-03" in err and "resumed at 2024-07-03" in err
    paused = err.split("paused at ")[1].split("\n")[0]
    resumed = err.split("resumed at ")[1].split("\n")[0]
    assert paused == resumed  # the clock did not move while paused
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["bars_processed"] > 200


def test_a_paced_run_reports_its_status_periodically(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"], streams=["1m"],
                       backtest={**EARLY_CLOSE, "speed_multiplier": 6000})
    lines: list[str] = []
    run(load_session_config(cfg), tmp_path / "out", controls=RunControls(on_status=lines.append, every_s=0.3))
    assert len(lines) >= 3  # about 2 s of replay
    assert all(line.startswith("[clock_driven] 2024-07-03") and "| bars " in line for line in lines)
    bars = [int(line.split("| bars ")[1].split(" ")[0].replace(",", "")) for line in lines]
    assert bars == sorted(bars) and bars[-1] > 0


def test_a_failing_status_line_never_takes_the_run_down(store, tmp_path):
    cfg = write_config(tmp_path / "s.yaml", store, symbols=["AAPL"], streams=["1m"],
                       backtest={**EARLY_CLOSE, "speed_multiplier": 6000})

    def broken(line: str) -> None:
        raise ValueError("status sink is broken")

    result = run(load_session_config(cfg), tmp_path / "out", controls=RunControls(on_status=broken, every_s=0.2))
    assert result.summary["status"] == "ok" and len(result.records) == 1
    assert "status heartbeat failed" in (tmp_path / "out" / "run.log").read_text()
