"""Hand-written calendar answers (the oracle is a person reading the NYSE calendar, not our code)."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from app.errors import InvariantError
from app.store.bar import parse_interval
from app.timing.calendar import TradingCalendar, UnknownCalendarError
from app.timing.clocks import ScaledClock, SteppedClock
from app.timing.stopwatch import ManualTime
from app.timing.time_manager import TimeManager


def _ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=timezone.utc).timestamp() * 1e9)


@pytest.fixture(scope="module")
def tm() -> TimeManager:
    return TimeManager("XNYS")


def test_day_after_thanksgiving_closes_at_13_00_eastern(tm):
    assert tm.is_early_close(date(2024, 11, 29))
    assert tm.session_bounds_ns(date(2024, 11, 29)) == (_ns(2024, 11, 29, 14, 30), _ns(2024, 11, 29, 18, 0))
    assert len(tm.expected_bar_starts(date(2024, 11, 29), parse_interval("1m"))) == 210
    assert len(tm.expected_bar_starts(date(2024, 11, 27), parse_interval("1m"))) == 390
    assert len(tm.expected_bar_starts(date(2024, 11, 27), parse_interval("5m"))) == 78


def test_holidays_weekends_and_first_trading_date(tm):
    assert not tm.is_trading_day(date(2024, 7, 4))
    assert tm.get_first_trading_date(date(2024, 11, 30)) == date(2024, 12, 2)
    assert tm.get_first_trading_date(date(2024, 12, 2)) == date(2024, 12, 2)
    assert tm.next_trading_date(date(2024, 7, 3)) == date(2024, 7, 5)
    assert tm.previous_trading_date(date(2024, 7, 5)) == date(2024, 7, 3)


def test_monday_trailing_window_reaches_back_over_the_weekend_and_holiday(tm):
    assert tm.trailing_trading_days(date(2024, 7, 8), 3) == (date(2024, 7, 2), date(2024, 7, 3), date(2024, 7, 5))


def test_timezone_and_local_formatting(tm):
    assert tm.timezone == "America/New_York"
    assert tm.format_ns(_ns(2024, 7, 3, 17, 0)) == "2024-07-03 13:00:00 America/New_York"


def test_unknown_calendar_suggests_a_close_name():
    with pytest.raises(UnknownCalendarError, match="unknown exchange calendar 'XNYZ'; did you mean 'XNZE'"):
        TradingCalendar("XNYZ")


def test_not_a_session_is_a_clear_error(tm):
    with pytest.raises(ValueError, match="2024-07-04 is not a XNYS trading day"):
        tm.session_bounds_ns(date(2024, 7, 4))


def test_stepped_clock_refuses_to_step_back():
    clock = SteppedClock(100)
    clock.advance_to(200)
    with pytest.raises(InvariantError, match="clock stepped back from 200 to 150 ns"):
        clock.advance_to(150)


def test_scaled_clock_never_goes_back_across_rate_changes_and_jumps():
    real = ManualTime()  # the test moves real time itself
    clock = ScaledClock(rate=1000.0, start_ns=0, real_ns=real)
    seen = [clock.now_ns()]
    for rate in (10.0, 5000.0, 1.0):
        real.jump(0.001)
        clock.set_rate(rate)
        seen.append(clock.now_ns())
        clock.jump_to(seen[-1] - 1_000)  # a jump back is ignored
        seen.append(clock.now_ns())
    assert seen == sorted(seen)
    # each rate counts from its change on: 1 ms of real time at 1000x, then at 10x, then at 5000x
    assert seen[1::2] == [10**9, 10**9 + 10**7, 10**9 + 10**7 + 5 * 10**9]


def test_scaled_clock_jumps_forward_and_runs_on_from_there():
    real = ManualTime(5 * 10**9)
    clock = ScaledClock(rate=60.0, start_ns=100, real_ns=real)
    assert clock.now_ns() == 100
    clock.jump_to(10**12)  # the next session's open
    assert clock.now_ns() == 10**12
    real.jump(1.0)
    assert clock.now_ns() == 10**12 + 60 * 10**9
    assert clock.real_seconds_until(10**12 + 120 * 10**9) == 1.0


def test_a_pause_from_another_thread_while_the_clock_jumps_is_not_lost():
    # The gate's pause comes from the main thread (SIGUSR1) while the coordinator jumps to the
    # next open. The pause is made to land in the middle of the jump (from inside its real-time
    # reading): it must wait for the jump, then stop the clock, not be overwritten by it.
    import threading

    real = ManualTime(10**9)
    pauser: list[threading.Thread] = []
    readings = 0

    def reading() -> int:
        nonlocal readings
        readings += 1
        if readings == 3:  # the jump's second reading: its new origin (1: construction, 2: its check)
            t = threading.Thread(target=clock.pause)
            pauser.append(t)
            t.start()
            t.join(0.2)  # without the clock's lock the pause completes here, inside the jump
        return real()

    clock = ScaledClock(rate=60.0, start_ns=0, real_ns=reading)
    clock.jump_to(10**12)
    pauser[0].join(5)

    assert not pauser[0].is_alive()
    assert clock.paused
    real.jump(1.0)
    assert clock.now_ns() == 10**12  # frozen at the open it jumped to
