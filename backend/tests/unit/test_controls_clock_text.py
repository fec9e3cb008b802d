"""RunControls' lines before the first session show no clock time (it would read 1969-12-31 19:00)."""

from __future__ import annotations

from types import SimpleNamespace

from app.runtime.controls import RunControls
from app.timing.clocks import SteppedClock
from app.timing.time_manager import TimeManager


def _pipeline(current):
    tm = TimeManager("XNYS", SteppedClock())
    gate = SimpleNamespace(paused=False)
    coordinator = SimpleNamespace(gate=gate, pause=lambda: None, resume=lambda: None)
    results = SimpleNamespace(bars=0, steps=0, log=SimpleNamespace(last_equity=lambda: None))
    return SimpleNamespace(tm=tm, data=SimpleNamespace(current=current), coordinator=coordinator,
                           engine=SimpleNamespace(results=results), metrics=SimpleNamespace(mode="clock_driven"),
                           rollup=SimpleNamespace(count=0),
                           config=SimpleNamespace(trading=SimpleNamespace(starting_cash=1000.0)))


def test_status_and_pause_before_the_first_session_name_no_time():
    # Arrange
    controls = RunControls()
    controls.bind(_pipeline(current=None))
    # Act
    status, paused, resumed = controls.status(), controls.pause(), controls.resume()
    # Assert
    assert status.startswith("[clock_driven] before the first session | bars 0 |"), status
    assert paused == "paused before the first session"
    assert resumed == "resumed before the first session"
    assert "1969" not in status + paused + resumed


def test_status_during_a_session_shows_the_clock():
    # Arrange
    pipeline = _pipeline(current=SimpleNamespace(open_ns=0))
    pipeline.tm.clock.advance_to(1_719_840_600_000_000_000)  # 2024-07-01 09:30 New York
    controls = RunControls()
    controls.bind(pipeline)
    # Act / Assert
    assert controls.status().startswith("[clock_driven] 2024-07-01 09:30:00 America/New_York | bars 0 |")
